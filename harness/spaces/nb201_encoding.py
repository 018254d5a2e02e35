"""NAS-Bench-201's cell encoding: the five ops, the six edges, the official string form and the official
architecture index (no networks here: :mod:`nas_harness.spaces.nb201_net` builds them,
:mod:`nas_harness.spaces.nb201` is the space).
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Sequence

from nas_harness.api import ArchitectureError

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_NODES = 4
#: (from, to) of each edge, in the official string's order
EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for j in range(1, NUM_NODES) for i in range(j))
NUM_ARCHS = len(OPS) ** len(EDGES)
#: the canonical string layout, which :func:`parse` accepts exactly
FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"

# The official index order: NAS-Bench-201's generator enumerates cells with
# CellStructure.gen_all (lexicographic over edges in string order, ops in OPS
# order) and then shuffles them with random.seed(88) (AutoDL-Projects,
# exps/NAS-Bench-201/main.py, generate_meta_info). Verified against all 15,625
# rows of the official table in tests/test_nb201_realdata.py.
_OFFICIAL_SHUFFLE_SEED = 88


@functools.cache
def official_order() -> tuple[tuple[int, ...], ...]:
    """Architectures (op-index tuples) in official NAS-Bench-201 index order."""
    archs = list(itertools.product(range(len(OPS)), repeat=len(EDGES)))
    random.Random(_OFFICIAL_SHUFFLE_SEED).shuffle(archs)
    return tuple(archs)


@functools.cache
def _official_index() -> dict[tuple[int, ...], int]:
    return {arch: i for i, arch in enumerate(official_order())}


def arch_to_index(arch: tuple[int, ...]) -> int:
    """The official NAS-Bench-201 index of ``arch``."""
    return _official_index()[validate(arch)]


def index_to_arch(index: int) -> tuple[int, ...]:
    """Inverse of :func:`arch_to_index`."""
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < NUM_ARCHS:
        raise ArchitectureError(f"NAS-Bench-201 index {index!r} is out of range; accepted: 0..{NUM_ARCHS - 1}")
    return official_order()[index]


def validate(arch: object) -> tuple[int, ...]:
    """``arch`` as a tuple of 6 op indices, or an :class:`ArchitectureError` naming the problem."""
    if not isinstance(arch, tuple | list) or len(arch) != len(EDGES):
        raise ArchitectureError(
            f"NAS-Bench-201 architecture {arch!r} must be a tuple of {len(EDGES)} op indices "
            f"(edges {', '.join(f'{i}->{j}' for i, j in EDGES)})"
        )
    for k, op in enumerate(arch):
        if not isinstance(op, int) or isinstance(op, bool) or not 0 <= op < len(OPS):
            raise ArchitectureError(
                f"NAS-Bench-201 architecture {tuple(arch)!r}: op index {op!r} on edge {k} "
                f"is not in 0..{len(OPS) - 1} ({', '.join(OPS)})"
            )
    return tuple(arch)


def to_str(arch: tuple[int, ...]) -> str:
    """The official string of ``arch``."""
    return format_edges([OPS[op] for op in validate(arch)])


def format_edges(labels: Sequence[str]) -> str:
    """The official string layout with ``labels[e]`` in place of edge ``e``'s op name."""
    groups = []
    k = 0
    for j in range(1, NUM_NODES):
        groups.append("|" + "|".join(f"{labels[k + i]}~{i}" for i in range(j)) + "|")
        k += j
    return "+".join(groups)


def parse(text: str) -> tuple[int, ...]:
    """Parse the official string; errors name the bad part and what is accepted."""
    arch = []
    for (i, j), op in zip(EDGES, parse_edges(text), strict=True):
        if op not in OPS:
            raise ArchitectureError(
                f"NAS-Bench-201 architecture {text!r}: unknown op {op!r} on edge {i}->{j}; "
                f"accepted ops: {', '.join(OPS)}"
            )
        arch.append(OPS.index(op))
    return tuple(arch)


def parse_edges(text: str) -> list[str]:
    """The label of each edge (in :data:`EDGES` order) of a string in the official layout.

    Checks the layout only (groups, ``~`` and input numbers), exactly as :func:`format_edges`
    writes it: no surrounding spaces, inputs written ``~0``, ``~1``, ``~2``. The labels are the
    caller's to check.
    """
    if not isinstance(text, str):
        raise ArchitectureError(f"NAS-Bench-201 architecture must be a string, got {type(text).__name__} {text!r}")
    if text != text.strip():
        raise ArchitectureError(
            f"NAS-Bench-201 architecture {text!r} has leading or trailing whitespace; expected exactly the form {FORM}"
        )
    groups = text.split("+")
    if len(groups) != NUM_NODES - 1:
        raise ArchitectureError(
            f"NAS-Bench-201 architecture {text!r} has {len(groups)} '+'-separated node groups; "
            f"expected {NUM_NODES - 1} in the form {FORM}"
        )
    labels: list[str] = []
    for j, group in enumerate(groups, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
            raise ArchitectureError(
                f"NAS-Bench-201 architecture {text!r}: node {j} group {group!r} must start and end with '|' "
                f"(form {FORM})"
            )
        edges = group[1:-1].split("|")
        if len(edges) != j:
            raise ArchitectureError(
                f"NAS-Bench-201 architecture {text!r}: node {j} has {len(edges)} input edges "
                f"({group!r}); expected {j} (inputs 0..{j - 1})"
            )
        labels += [_edge_label(text, edge, i, j) for i, edge in enumerate(edges)]
    return labels


def _edge_label(text: str, edge: str, i: int, j: int) -> str:
    """The label of ``edge``, which must read ``label~i`` as input ``i`` of node ``j``."""
    op, sep, source = edge.rpartition("~")
    if not sep:
        raise ArchitectureError(
            f"NAS-Bench-201 architecture {text!r}: edge {edge!r} of node {j} lacks '~'; expected 'op~input'"
        )
    if not source.isdigit() or int(source) >= j:
        raise ArchitectureError(
            f"NAS-Bench-201 architecture {text!r}: node {j} references input {source!r}; "
            f"node {j} takes inputs 0..{j - 1}"
        )
    if int(source) != i:
        raise ArchitectureError(
            f"NAS-Bench-201 architecture {text!r}: node {j} lists input {source} in position {i}; "
            f"inputs must be listed in order 0..{j - 1}"
        )
    if source != str(i):
        raise ArchitectureError(
            f"NAS-Bench-201 architecture {text!r}: edge {edge!r} of node {j} writes input {i} as {source!r}; "
            f"expected '~{i}' (form {FORM})"
        )
    return op


def is_disconnected(arch: tuple[int, ...]) -> bool:
    """True when no path of non-``none`` edges joins the input (node 0) to the output (node 3).

    Such cells compute a constant (zero) cell output; NAS-Bench-201 still trains
    them and reports near-chance accuracy, so they stay in the space.
    """
    arch = validate(arch)
    reachable = {0}
    for (i, j), op in zip(EDGES, arch, strict=True):  # EDGES is topologically ordered by j
        if op != OPS.index("none") and i in reachable:
            reachable.add(j)
    return NUM_NODES - 1 not in reachable
