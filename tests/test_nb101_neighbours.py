"""``NB101Space.neighbours``: naszilla's NAS-Bench-101 neighbourhood (White et al., "Local Search is State
of the Art for NAS Benchmarks"; naszilla ``nas_bench_101/cell_101.py`` ``adj_neighborhood``), checked
against a brute force that edits every 7x7 upper-triangular labelling of a cell once and keeps the valid
results by the official hash."""

from __future__ import annotations

import itertools
import random

import pytest

from nas_harness.api import ArchitectureError, Context, HasNeighbours, Proxy, require
from nas_harness.search.local_search import LocalSearch
from nas_harness.spaces.nb101 import (
    INPUT,
    MAX_EDGES,
    MAX_VERTICES,
    OPS,
    OUTPUT,
    Cell,
    NB101Space,
    canonical,
    make_cell,
    module_hash,
    parse,
)

SPACE = NB101Space()
CONV3, POOL = OPS[0], OPS[2]
# 7 vertices, 9 edges: the chain input -> 1 -> ... -> 5 -> output plus input -> 2, 2 -> 4 and 4 -> output
FULL = (
    "0110000-0010000-0001100-0000100-0000011-0000001-0000000;"
    "input,conv3x3-bn-relu,conv1x1-bn-relu,maxpool3x3,conv3x3-bn-relu,conv1x1-bn-relu,output"
)
CELLS = [
    "010-001-000;input,conv3x3-bn-relu,output",
    "0110-0001-0001-0000;input,conv3x3-bn-relu,maxpool3x3,output",
    "01100-00010-00011-00001-00000;input,conv1x1-bn-relu,conv1x1-bn-relu,maxpool3x3,output",
    FULL,
]


def labellings(cell: Cell):
    """Every 7x7 upper-triangular labelling of ``cell``: its interior vertices placed on slots 1..5 in every
    order that keeps edges pointing forward, the other slots isolated (with every op, which cannot matter
    but the brute force does not assume it)."""
    n = cell.num_vertices
    interior = range(1, n - 1)
    for slots in itertools.permutations(range(1, MAX_VERTICES - 1), n - 2):
        place = {0: 0, n - 1: MAX_VERTICES - 1} | dict(zip(interior, slots, strict=True))
        if any(place[i] >= place[j] for i, j in cell.edges()):
            continue
        rows = [[0] * MAX_VERTICES for _ in range(MAX_VERTICES)]
        for i, j in cell.edges():
            rows[place[i]][place[j]] = 1
        free = [s for s in range(1, MAX_VERTICES - 1) if s not in slots]
        for fill in itertools.product(OPS, repeat=len(free)):
            ops = [INPUT] + [CONV3] * (MAX_VERTICES - 2) + [OUTPUT]
            for k in interior:
                ops[place[k]] = cell.ops[k]
            for s, op in zip(free, fill, strict=True):
                ops[s] = op
            yield rows, ops


def one_edit(rows, ops, *, ops_only=False):
    """Every single op change and (unless ``ops_only``) every single upper-triangular edge flip."""
    size = len(ops)
    for v in range(1, size - 1):
        for op in OPS:
            if op != ops[v]:
                yield rows, ops[:v] + [op] + ops[v + 1 :]
    if ops_only:
        return
    for i, j in itertools.combinations(range(size), 2):
        flipped = [list(r) for r in rows]
        flipped[i][j] = 1 - flipped[i][j]
        yield flipped, ops


def brute_force(cell: Cell, *, ops_only=False) -> set[str]:
    """Hashes of the valid cells one edit away from some labelling of ``cell``, ``cell`` excluded."""
    found = set()
    for rows, ops in labellings(cell):
        for new_rows, new_ops in one_edit(rows, ops, ops_only=ops_only):
            try:
                found.add(module_hash(make_cell(new_rows, new_ops)))
            except ArchitectureError:
                continue
    return found - {module_hash(cell)}


def sampled_cells(count: int, seed: int) -> list[Cell]:
    rng = random.Random(seed)
    return [SPACE.sample(rng) for _ in range(count)]


@pytest.mark.parametrize("cell", [parse(text) for text in CELLS] + sampled_cells(3, seed=7), ids=str)
def test_neighbours_are_the_brute_force_one_edit_cells_without_duplicates(cell):
    neighbours = SPACE.neighbours(cell)
    hashes = [module_hash(n) for n in neighbours]
    assert len(hashes) == len(set(hashes))  # deduplicated by the official hash
    assert set(hashes) == brute_force(cell)
    assert module_hash(cell) not in hashes


def test_the_order_is_op_changes_then_edge_flips_by_ordered_pair():
    """Hand-worked: input -> conv3x3 -> output has two op changes and one edge addition (input -> output);
    removing either edge disconnects it, and any other flip would point an edge backwards."""
    cell = parse("010-001-000;input,conv3x3-bn-relu,output")
    assert [SPACE.to_str(n) for n in SPACE.neighbours(cell)] == [
        "010-001-000;input,conv1x1-bn-relu,output",
        "010-001-000;input,maxpool3x3,output",
        "011-001-000;input,conv3x3-bn-relu,output",
    ]
    assert SPACE.neighbours(parse("01-00;input,output")) == []  # no interior op, its only edge is needed


def test_two_parallel_vertices_get_an_edge_either_way():
    """naszilla flips the edges of one labelling; every labelling counts here, so both a -> b and b -> a."""
    cell = parse("0110-0001-0001-0000;input,conv3x3-bn-relu,maxpool3x3,output")
    a_to_b = canonical(make_cell([[0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]], cell.ops))
    swapped = (INPUT, POOL, CONV3, OUTPUT)  # maxpool first, so the same matrix is maxpool -> conv3x3
    b_to_a = canonical(make_cell([[0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]], swapped))
    assert module_hash(a_to_b) != module_hash(b_to_a)
    assert {a_to_b, b_to_a} <= set(SPACE.neighbours(cell))


def test_neighbours_are_canonical_valid_cells_and_deterministic():
    for cell in sampled_cells(6, seed=3):
        neighbours = SPACE.neighbours(cell)
        assert neighbours == SPACE.neighbours(cell)
        for n in neighbours:
            assert SPACE.parse(SPACE.to_str(n)) == n == canonical(n)
            assert n.num_vertices <= MAX_VERTICES and n.num_edges <= MAX_EDGES


def test_the_neighbourhood_is_symmetric_unless_an_edit_prunes_a_vertex():
    """Removing a vertex's last in- or out-edge prunes it (and its other edges); no single edit adds it back."""
    pruning = 0
    for cell in sampled_cells(3, seed=11):
        for n in SPACE.neighbours(cell):
            assert (cell in SPACE.neighbours(n)) == (n.num_vertices == cell.num_vertices)
            pruning += n.num_vertices < cell.num_vertices
    assert pruning  # the sample exercises both cases


def test_a_full_cell_gets_no_edge_adding_neighbour():
    full = parse(FULL)
    assert (full.num_vertices, full.num_edges) == (MAX_VERTICES, MAX_EDGES)
    op_changes = brute_force(full, ops_only=True)
    nine_edges = {module_hash(n) for n in SPACE.neighbours(full) if n.num_edges == MAX_EDGES}
    assert nine_edges == op_changes  # at 9 edges only the op changes; every flip removes an edge
    assert all(n.num_edges < MAX_EDGES for n in SPACE.neighbours(full) if module_hash(n) not in op_changes)
    # one edge fewer: adding an edge back is allowed
    out_degree, in_degree = [sum(r) for r in full.matrix], [sum(c) for c in zip(*full.matrix, strict=True)]
    i, j = next((i, j) for i, j in full.edges() if out_degree[i] > 1 and in_degree[j] > 1)  # prunes nothing
    fewer_rows = [list(r) for r in full.matrix]
    fewer_rows[i][j] = 0
    fewer = canonical(make_cell(fewer_rows, full.ops))
    assert fewer.num_edges == MAX_EDGES - 1
    assert any(n.num_edges == MAX_EDGES and n.num_vertices == MAX_VERTICES for n in SPACE.neighbours(fewer))


class HashScore(Proxy):
    """A fixed pseudo-random score per cell (from its official hash): a landscape with local optima."""

    name = "test.hash_score"

    def score(self, arch, ctx):
        return int(module_hash(arch)[:8], 16) / 16**8


def test_local_search_climbs_nb101_neighbours_to_local_optima():
    assert require(SPACE, HasNeighbours, "local_search") is SPACE
    est = HashScore()
    result = LocalSearch(budget=120, num_init=3).search(est, Context(space=SPACE, seed=0))
    assert result.evaluations == 120 and result.history
    for run in result.history:
        path = [SPACE.parse(text) for text in run["path"]]
        for before, after in itertools.pairwise(path):
            assert after in SPACE.neighbours(before) and est.score(after, None) > est.score(before, None)
        if run["local_optimum"]:
            assert all(est.score(n, None) < est.score(path[-1], None) for n in SPACE.neighbours(path[-1]))
    assert any(run["local_optimum"] for run in result.history)
