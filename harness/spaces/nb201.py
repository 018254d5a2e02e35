"""NAS-Bench-201 cell search space (Dong & Yang, ICLR 2020, section 2.1).

A cell has 4 nodes and 6 edges i->j (i < j); each edge holds one of 5 ops,
so there are 5**6 = 15,625 architectures. An architecture is a tuple of six op
indices in the official string's edge order: 0->1, 0->2, 1->2, 0->3, 1->3, 2->3.

The official string is ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: one ``+``-separated
group per node 1..3, each listing ``op~i`` for its inputs i = 0..j-1.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from harness.api import ArchitectureError, ChoicePoint, SearchSpace

if TYPE_CHECKING:
    import torch

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


class NB201Space(SearchSpace):
    """The NAS-Bench-201 cell space as a :class:`~harness.api.SearchSpace`.

    Architectures are tuples of six op indices (edge order of :data:`EDGES`);
    :meth:`enumerate` yields them in official index order.
    """

    name = "nb201"

    def parse(self, text: str) -> tuple[int, ...]:
        return parse(text)

    def to_str(self, arch: tuple[int, ...]) -> str:
        return to_str(arch)

    def size(self) -> int:
        return NUM_ARCHS

    def enumerate(self) -> Iterator[tuple[int, ...]]:
        return iter(official_order())

    def index(self, arch: tuple[int, ...]) -> int:
        """The official NAS-Bench-201 index (0..15,624) of ``arch``."""
        return arch_to_index(arch)

    def from_index(self, index: int) -> tuple[int, ...]:
        return index_to_arch(index)

    def sample(self, rng: random.Random) -> tuple[int, ...]:
        return tuple(rng.randrange(len(OPS)) for _ in EDGES)

    def mutate(self, arch: tuple[int, ...], rng: random.Random) -> tuple[int, ...]:
        """Change the op of one uniformly chosen edge to a different op (REA's mutation, NB201 section 5)."""
        arch = validate(arch)
        edge = rng.randrange(len(EDGES))
        new_op = rng.choice([op for op in range(len(OPS)) if op != arch[edge]])
        return arch[:edge] + (new_op,) + arch[edge + 1 :]

    def crossover(self, a: tuple[int, ...], b: tuple[int, ...], rng: random.Random) -> tuple[int, ...]:
        """Uniform crossover: each edge's op comes from either parent with probability 1/2."""
        a, b = validate(a), validate(b)
        return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b, strict=True))

    def neighbours(self, arch: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The 24 architectures that differ from ``arch`` on exactly one edge."""
        arch = validate(arch)
        return [
            arch[:edge] + (op,) + arch[edge + 1 :]
            for edge in range(len(EDGES))
            for op in range(len(OPS))
            if op != arch[edge]
        ]

    def choice_points(self) -> list[ChoicePoint]:
        return [ChoicePoint(f"edge_{i}->{j}", OPS) for i, j in EDGES]

    def format_labels(self, labels: Sequence[str]) -> str:
        return format_edges(labels)

    def parse_labels(self, text: str) -> list[str]:
        return parse_edges(text)

    def build_supernet(self, **net_cfg: Any) -> torch.nn.Module:
        """The weight-sharing supernet over every edge's five ops (``C=16, N=5`` by default)."""
        from harness.spaces.nb201_supernet import NB201Supernet

        return NB201Supernet(**{"C": 16, "N": 5, **net_cfg})

    def to_choices(self, arch: tuple[int, ...]) -> tuple[int, ...]:
        return validate(arch)

    def from_choices(self, choices: Sequence[int]) -> tuple[int, ...]:
        return validate(tuple(choices))

    def is_disconnected(self, arch: tuple[int, ...]) -> bool:
        return is_disconnected(arch)

    def build(self, arch: tuple[int, ...], **net_cfg: Any) -> torch.nn.Module:
        """The NAS-Bench-201 evaluation network (``C=16, N=5, num_classes=10`` by default)."""
        from harness.spaces.nb201_net import NB201Network  # torch is imported only when a network is built

        return NB201Network(validate(arch), **net_cfg)
