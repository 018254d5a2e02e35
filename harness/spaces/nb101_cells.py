"""NAS-Bench-101 cells: the adjacency matrix + op labels, validation, canonical (isomorphism-aware) form, the
official module hash and the string form (no networks here: :mod:`nas_harness.spaces.nb101_net` builds them,
:mod:`nas_harness.spaces.nb101` is the space).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nas_harness.api import ArchitectureError

INPUT, OUTPUT = "input", "output"
#: the interior ops in the official ``config['available_ops']`` order, which the hash labels by index
OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
MAX_VERTICES = 7
MAX_EDGES = 9
#: op codes of the reference JSON keys (zero-cost-nas / NASLib layout)
KEY_OP_CODES: dict[int, str] = {0: INPUT, 1: OUTPUT, 2: "maxpool3x3", 3: "conv1x1-bn-relu", 4: "conv3x3-bn-relu"}
_ACCEPTED = (
    f"a DAG of <= {MAX_VERTICES} vertices and <= {MAX_EDGES} edges (after pruning), upper-triangular 0/1 "
    f"adjacency, labels {INPUT!r}, interior ops from {', '.join(OPS)}, {OUTPUT!r}"
)


@dataclass(frozen=True)
class Cell:
    """A pruned NAS-Bench-101 cell: ``matrix[i][j] == 1`` is an edge i -> j (i < j)."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))

    def edges(self) -> list[tuple[int, int]]:
        n = self.num_vertices
        return [(i, j) for i in range(n) for j in range(i + 1, n) if self.matrix[i][j]]


def _problem(matrix: Any, ops: Any, why: str) -> ArchitectureError:
    return ArchitectureError(f"NAS-Bench-101 cell (matrix={matrix!r}, ops={ops!r}): {why}; accepted: {_ACCEPTED}")


def _as_rows(matrix: Any, ops: Sequence[str]) -> list[list[int]]:
    """``matrix`` as a square list of 0/1 ints matching ``ops``, upper-triangular; errors name the problem."""
    try:
        rows = [[int(v) for v in row] for row in (matrix.tolist() if hasattr(matrix, "tolist") else matrix)]
    except (TypeError, ValueError) as exc:
        raise _problem(matrix, ops, f"the matrix is not a square array of 0/1 ints ({exc})") from None
    n = len(rows)
    if any(len(row) != n for row in rows):
        raise _problem(matrix, ops, "the matrix is not square")
    if len(ops) != n:
        raise _problem(matrix, ops, f"{len(ops)} labels for a {n}x{n} matrix")
    for i, j in itertools.product(range(n), repeat=2):
        if rows[i][j] not in (0, 1):
            raise _problem(matrix, ops, f"entry [{i}][{j}] = {rows[i][j]} is not 0 or 1")
        if rows[i][j] and j <= i:
            raise _problem(matrix, ops, f"edge {i}->{j} is not upper-triangular (edges go from lower to higher vertex)")
    return rows


def _check_labels(matrix: Any, ops: Sequence[str]) -> None:
    if len(ops) < 2 or ops[0] != INPUT or ops[-1] != OUTPUT:
        raise _problem(matrix, ops, f"the first label must be {INPUT!r} and the last {OUTPUT!r}")
    for v, op in enumerate(ops[1:-1], start=1):
        if op not in OPS:
            raise _problem(matrix, ops, f"vertex {v} has op {op!r}")


def _reachable(rows: list[list[int]], start: int, forward: bool) -> set[int]:
    n = len(rows)
    seen, frontier = {start}, [start]
    while frontier:
        v = frontier.pop()
        nxt = (w for w in range(n) if (rows[v][w] if forward else rows[w][v]))
        for w in nxt:
            if w not in seen:
                seen.add(w)
                frontier.append(w)
    return seen


def make_cell(matrix: Any, ops: Sequence[str]) -> Cell:
    """The pruned cell of ``(matrix, ops)`` (vertices off every input->output path removed), checked."""
    ops = list(ops)
    rows = _as_rows(matrix, ops)
    _check_labels(matrix, ops)
    n = len(rows)
    keep = sorted(_reachable(rows, 0, True) & _reachable(rows, n - 1, False))
    if n - 1 not in keep or 0 not in keep:
        raise _problem(matrix, ops, "no path joins the input to the output")
    pruned = tuple(tuple(rows[i][j] for j in keep) for i in keep)
    cell = Cell(pruned, tuple(ops[i] for i in keep))
    if cell.num_vertices > MAX_VERTICES:
        raise _problem(matrix, ops, f"{cell.num_vertices} vertices after pruning")
    if cell.num_edges > MAX_EDGES:
        raise _problem(matrix, ops, f"{cell.num_edges} edges after pruning")
    return cell


def _sort_key(cell: Cell) -> tuple[tuple[int, ...], tuple[int, ...]]:
    labels = tuple(OPS.index(op) for op in cell.ops[1:-1])
    return labels, tuple(bit for row in cell.matrix for bit in row)


def canonical(cell: Cell) -> Cell:
    """The smallest upper-triangular relabelling of ``cell`` (interior vertices permuted; input and
    output stay first and last): isomorphic cells have the same canonical form."""
    n = cell.num_vertices
    best = cell
    for interior in itertools.permutations(range(1, n - 1)):
        order = (0, *interior, n - 1)  # new vertex k is old vertex order[k]
        if any(cell.matrix[order[i]][order[j]] for i in range(n) for j in range(i)):
            continue  # an edge would point backwards: not a valid labelling
        candidate = Cell(
            tuple(tuple(cell.matrix[order[i]][order[j]] for j in range(n)) for i in range(n)),
            tuple(cell.ops[k] for k in order),
        )
        if _sort_key(candidate) < _sort_key(best):
            best = candidate
    return best


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def module_hash(cell: Cell) -> str:
    """The official NAS-Bench-101 graph hash (``ModelSpec.hash_spec(available_ops)``).

    Weisfeiler-Lehman-style: each vertex starts from md5 of ``(out-degree, in-degree, label)``
    (label -1 input, -2 output, else the index in :data:`OPS`) and is rehashed ``V`` times
    with its sorted in- and out-neighbours' hashes; the cell's hash is md5 of the sorted list.
    Written from the algorithm of google-research/nasbench ``lib/graph_util.hash_module``;
    tests check it against that code and against hashes published with the benchmark.
    """
    n = cell.num_vertices
    labels = [-1] + [OPS.index(op) for op in cell.ops[1:-1]] + [-2]
    out_degree = [sum(row) for row in cell.matrix]
    in_degree = [sum(cell.matrix[i][j] for i in range(n)) for j in range(n)]
    hashes = [_md5(str((out_degree[v], in_degree[v], labels[v]))) for v in range(n)]
    for _ in range(n):
        hashes = [
            _md5(
                "".join(sorted(hashes[w] for w in range(n) if cell.matrix[w][v]))
                + "|"
                + "".join(sorted(hashes[w] for w in range(n) if cell.matrix[v][w]))
                + "|"
                + hashes[v]
            )
            for v in range(n)
        ]
    return _md5(str(sorted(hashes)))


def cell_from_flat(raw_adjacency: str, raw_ops: str) -> Cell:
    """A cell from the official record fields: row-major '0'/'1' string and comma-separated labels."""
    ops = raw_ops.split(",")
    n = len(ops)
    if len(raw_adjacency) != n * n or set(raw_adjacency) - {"0", "1"}:
        raise _problem(raw_adjacency, raw_ops, f"the adjacency must be {n * n} '0'/'1' characters for {n} labels")
    return make_cell([[int(c) for c in raw_adjacency[i * n : (i + 1) * n]] for i in range(n)], ops)


def cell_from_key(key: str) -> Cell:
    """A cell from a reference-table key: ``"(a00, a01, ..., a66, op0, ..., op6)"``, 49 adjacency ints
    row-major then 7 op codes (:data:`KEY_OP_CODES`)."""
    text = key.strip()
    try:
        values = [int(v) for v in text.strip("()[]").split(",")]
    except ValueError:
        raise ArchitectureError(f"NAS-Bench-101 key {key!r} is not a tuple of ints") from None
    size = MAX_VERTICES * MAX_VERTICES + MAX_VERTICES
    if len(values) != size:
        raise ArchitectureError(f"NAS-Bench-101 key {key!r} has {len(values)} ints; expected {size} (49 + 7)")
    flat, codes = values[: MAX_VERTICES * MAX_VERTICES], values[MAX_VERTICES * MAX_VERTICES :]
    unknown = [c for c in codes if c not in KEY_OP_CODES]
    if unknown:
        raise ArchitectureError(f"NAS-Bench-101 key {key!r}: op codes {unknown} not in {KEY_OP_CODES}")
    rows = [flat[i * MAX_VERTICES : (i + 1) * MAX_VERTICES] for i in range(MAX_VERTICES)]
    return make_cell(rows, [KEY_OP_CODES[c] for c in codes])


def to_str(cell: Cell) -> str:
    rows = "-".join("".join(map(str, row)) for row in cell.matrix)
    return f"{rows};{','.join(cell.ops)}"


def parse(text: str) -> Cell:
    """A canonical cell from its string (or from a 56-int reference key)."""
    if not isinstance(text, str):
        raise ArchitectureError(f"NAS-Bench-101 architecture must be a string, got {type(text).__name__} {text!r}")
    if text != text.strip():
        raise ArchitectureError(
            f"NAS-Bench-101 architecture {text!r} has leading or trailing whitespace; expected exactly "
            f"'ROWS;LABELS' (e.g. '011-001-000;input,conv3x3-bn-relu,output') or a 56-int reference key"
        )
    if text.startswith(("(", "[")):
        return canonical(cell_from_key(text))
    rows, sep, labels = text.partition(";")
    if not sep:
        raise ArchitectureError(
            f"NAS-Bench-101 architecture {text!r} lacks ';': expected adjacency rows as bit strings joined by '-', "
            f"';', then labels joined by ',' (e.g. '011-001-000;input,conv3x3-bn-relu,output')"
        )
    bits = rows.split("-")
    if any(set(row) - {"0", "1"} or len(row) != len(bits) for row in bits):
        raise ArchitectureError(
            f"NAS-Bench-101 architecture {text!r}: adjacency {rows!r} must be {len(bits)} rows of {len(bits)} '0'/'1'"
        )
    return canonical(make_cell([[int(c) for c in row] for row in bits], labels.split(",")))


def validate(arch: object) -> Cell:
    if not isinstance(arch, Cell):
        raise ArchitectureError(f"NAS-Bench-101 architecture must be a Cell, got {type(arch).__name__} {arch!r}")
    return arch


def padded(cell: Cell, rng: random.Random) -> tuple[list[list[int]], list[str]]:
    """``cell`` as a 7-vertex labelling: pruned-away slots come back as dangling vertices with random ops."""
    n = cell.num_vertices
    size = MAX_VERTICES
    place = list(range(n - 1)) + [size - 1]  # old vertex k sits at place[k]; output stays last
    rows = [[0] * size for _ in range(size)]
    for i, j in cell.edges():
        rows[place[i]][place[j]] = 1
    ops = [INPUT] + [rng.choice(OPS) for _ in range(size - 2)] + [OUTPUT]
    for k in range(1, n - 1):
        ops[place[k]] = cell.ops[k]
    return rows, ops


def _reaches(cell: Cell, source: int, target: int) -> bool:
    """Whether a directed path leads from ``source`` to ``target`` in ``cell``."""
    rows = [list(row) for row in cell.matrix]
    return target in _reachable(rows, source, True)


def _from_edges(ops: Sequence[str], edges: set[tuple[int, int]]) -> Cell:
    """The canonical cell of the DAG ``edges`` on vertices labelled ``ops`` (input first, output last),
    relabelled in a topological order so that its matrix is upper-triangular; raises
    :class:`ArchitectureError` when the cell is invalid (disconnected, over :data:`MAX_EDGES` edges)."""
    n = len(ops)
    order: list[int] = []
    indegree = [sum((u, v) in edges for u in range(n)) for v in range(n)]
    ready = [v for v in range(n) if indegree[v] == 0]
    while ready:  # Kahn's algorithm, smallest ready vertex first: deterministic
        ready.sort()
        u = ready.pop(0)
        order.append(u)
        for v in range(n):
            if (u, v) in edges:
                indegree[v] -= 1
                if indegree[v] == 0:
                    ready.append(v)
    # input (vertex 0) has no in-edge and output (vertex n - 1) no out-edge, and while another vertex is
    # left one of them is ready, so smallest-first keeps input first and output last, as make_cell needs
    rows = [[int((order[i], order[j]) in edges) for j in range(n)] for i in range(n)]
    return canonical(make_cell(rows, [ops[v] for v in order]))


def one_edit_variants(cell: Cell) -> list[Cell]:
    """The valid canonical cells one edit away from ``cell``, in the order of
    :meth:`nas_harness.spaces.nb101.NB101Space.neighbours`, which removes repeats and ``cell`` itself.

    Edits: (1) every interior vertex's op changed to each other op of :data:`OPS`; (2) for every ordered
    pair of vertices ``(u, v)`` in row-major order, removing the edge ``u -> v`` if it exists, else adding
    it when ``v`` does not reach ``u`` (so the graph stays acyclic). Adding ``u -> v`` for ``u > v`` is an
    edge flip of another upper-triangular labelling of the same graph. Invalid results are skipped.
    """
    n = cell.num_vertices
    variants: list[Cell] = []
    for v in range(1, n - 1):
        for op in OPS:
            if op != cell.ops[v]:
                ops = cell.ops[:v] + (op,) + cell.ops[v + 1 :]
                variants.append(canonical(Cell(cell.matrix, ops)))
    edges = set(cell.edges())
    for u, v in itertools.product(range(n), repeat=2):
        if u == v:
            continue
        if (u, v) in edges:
            changed = edges - {(u, v)}
        elif not _reaches(cell, v, u):
            changed = edges | {(u, v)}
        else:
            continue
        try:
            variants.append(_from_edges(cell.ops, changed))
        except ArchitectureError:
            continue
    return variants
