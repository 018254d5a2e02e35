"""NAS-Bench-101 cells: validity, pruning, canonical form, the official hash, sampling, mutation, networks.

Reference values and where they come from:
- ``OFFICIAL_CELL``: the Inception-like cell of the google-research/nasbench README (``api.ModelSpec``
  example). Its record, as printed by the official ``nasbench.query`` in the nasbench example
  output, stores it relabelled as ``OFFICIAL_STORED`` with ``trainable_parameters: 2694282``.
- ``OFFICIAL_HASH``: Google Research's FEC evaluator tests for NAS-Bench-101 mock that same
  ModelSpec with ``graph_hash = "28cfc7874f6d200472e1a9dcd8650aa0"`` (the key of its records in
  their computed-stats test data).
- The hash algorithm itself is checked on random cells against ``graph_util.hash_module``, the
  official code that the ``nasbench-pytorch`` package ships unchanged.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from nasbench_pytorch.model import Network
from nasbench_pytorch.model.graph_util import hash_module

from nas_harness.api import ArchitectureError
from nas_harness.registry import get_registry
from nas_harness.spaces.nb101 import (
    INPUT,
    MAX_EDGES,
    OPS,
    OUTPUT,
    Cell,
    NB101Space,
    canonical,
    cell_from_flat,
    cell_from_key,
    make_cell,
    module_hash,
    parse,
    to_str,
)
from nas_harness.spaces.nb101_net import OFFICIAL_BN_MOMENTUM, build_network, trainable_parameters

C3, C1, MP = OPS
OFFICIAL_CELL = (
    [
        [0, 1, 1, 1, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ],
    [INPUT, C1, C3, C3, C3, MP, OUTPUT],
)
OFFICIAL_STORED = (
    [
        [0, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ],
    [INPUT, C3, C1, MP, C3, C3, OUTPUT],
)
OFFICIAL_HASH = "28cfc7874f6d200472e1a9dcd8650aa0"
OFFICIAL_PARAMS = 2_694_282

SPACE = NB101Space()


def official_hash(cell: Cell) -> str:
    labels = [-1] + [OPS.index(op) for op in cell.ops[1:-1]] + [-2]
    return hash_module(np.array(cell.matrix), labels)


def relabel(cell: Cell, rng: random.Random) -> Cell:
    """A random other upper-triangular labelling of ``cell`` (a topological order of its DAG)."""
    n = cell.num_vertices
    placed, order = {0}, [0]
    while len(order) < n - 1:
        inputs_placed = [all(not cell.matrix[u][v] or u in placed for u in range(n)) for v in range(n)]
        ready = [v for v in range(1, n - 1) if v not in placed and inputs_placed[v]]
        v = rng.choice(ready)
        placed.add(v)
        order.append(v)
    order.append(n - 1)
    matrix = [[cell.matrix[order[i]][order[j]] for j in range(n)] for i in range(n)]
    return make_cell(matrix, [cell.ops[k] for k in order])


def test_official_cell_hash_and_stored_relabelling():
    readme, stored = make_cell(*OFFICIAL_CELL), make_cell(*OFFICIAL_STORED)
    assert module_hash(readme) == module_hash(stored) == OFFICIAL_HASH
    assert canonical(readme) == canonical(stored)
    assert readme != stored  # two labellings, one architecture


def test_hash_matches_the_official_code_on_random_cells():
    rng = random.Random(1)
    for _ in range(200):
        cell = SPACE.sample(rng)
        assert module_hash(cell) == official_hash(cell)


def test_relabelled_isomorphic_cells_share_hash_and_canonical_form():
    rng = random.Random(2)
    checked = 0
    for _ in range(100):
        cell = SPACE.sample(rng)
        other = relabel(cell, rng)
        assert module_hash(other) == module_hash(cell)
        assert canonical(other) == cell
        checked += other != cell
    assert checked > 5  # the relabelling really changed some cells (small cells have one order only)


def test_different_cells_get_different_hashes():
    rng = random.Random(3)
    cells = {SPACE.sample(rng) for _ in range(300)}
    assert len({module_hash(c) for c in cells}) == len(cells)
    a = make_cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [INPUT, C3, OUTPUT])
    b = make_cell([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [INPUT, C1, OUTPUT])
    assert module_hash(a) != module_hash(b)


def test_pruning_removes_vertices_off_the_input_output_paths():
    # vertex 2 has no input, vertex 3 no output: both go
    matrix = [
        [0, 1, 0, 1, 0],
        [0, 0, 0, 1, 1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ]
    cell = make_cell(matrix, [INPUT, C3, C1, MP, OUTPUT])
    assert cell == Cell(((0, 1, 0), (0, 0, 1), (0, 0, 0)), (INPUT, C3, OUTPUT))


@pytest.mark.parametrize(
    ("matrix", "ops", "message"),
    [
        ([[0, 1], [0, 0]], [INPUT, C3], "last 'output'"),
        ([[0, 1], [0, 0]], [C3, OUTPUT], "first label must be 'input'"),
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [INPUT, "conv5x5", OUTPUT], "vertex 1 has op 'conv5x5'"),
        ([[0, 1, 0], [0, 0, 0], [0, 0, 0]], [INPUT, C3, OUTPUT], "no path joins the input to the output"),
        ([[0, 1, 0], [1, 0, 1], [0, 0, 0]], [INPUT, C3, OUTPUT], "not upper-triangular"),
        ([[0, 2], [0, 0]], [INPUT, OUTPUT], "is not 0 or 1"),
        ([[0, 1, 1], [0, 0, 1]], [INPUT, C3, OUTPUT], "not square"),
        ([[0, 1], [0, 0]], [INPUT, C3, OUTPUT], "3 labels for a 2x2 matrix"),
        ([[int(j > i) for j in range(8)] for i in range(8)], [INPUT] + [C3] * 6 + [OUTPUT], "8 vertices"),
        ([[int(j > i) for j in range(6)] for i in range(6)], [INPUT] + [C3] * 4 + [OUTPUT], "15 edges"),
    ],
)
def test_invalid_cells_are_named(matrix, ops, message):
    with pytest.raises(ArchitectureError, match=message):
        make_cell(matrix, ops)


def test_edge_limit_is_nine():
    # input -> 1..4, 1..4 -> output, 1 -> 2: 9 edges is valid, one more is not
    rows = [[0] * 6 for _ in range(6)]
    for v in range(1, 5):
        rows[0][v] = rows[v][5] = 1
    rows[1][2] = 1
    assert make_cell(rows, [INPUT, C3, C3, C1, MP, OUTPUT]).num_edges == MAX_EDGES
    rows[2][3] = 1
    with pytest.raises(ArchitectureError, match="10 edges after pruning"):
        make_cell(rows, [INPUT, C3, C3, C1, MP, OUTPUT])


def test_strings_round_trip_and_bad_strings_are_named():
    rng = random.Random(4)
    for _ in range(50):
        cell = SPACE.sample(rng)
        assert SPACE.parse(SPACE.to_str(cell)) == cell
    assert to_str(canonical(make_cell([[0, 1], [0, 0]], [INPUT, OUTPUT]))) == "01-00;input,output"
    for text, message in [
        ("0110-0001", "lacks ';'"),
        ("011-00-000;input,conv3x3-bn-relu,output", "must be 3 rows of 3"),
        ("012-001-000;input,conv3x3-bn-relu,output", "must be 3 rows of 3"),
        ("011-001-000;input,conv9x9,output", "op 'conv9x9'"),
        ("(0, 1)", "expected 56"),
    ]:
        with pytest.raises(ArchitectureError, match=message):
            parse(text)
    with pytest.raises(ArchitectureError, match="must be a string"):
        parse(None)


def test_official_record_fields_and_reference_keys():
    flat = "".join(str(v) for row in OFFICIAL_STORED[0] for v in row)
    assert module_hash(cell_from_flat(flat, ",".join(OFFICIAL_STORED[1]))) == OFFICIAL_HASH
    with pytest.raises(ArchitectureError, match="49 '0'/'1' characters"):
        cell_from_flat(flat[:-1], ",".join(OFFICIAL_STORED[1]))
    key = str(tuple([v for row in OFFICIAL_CELL[0] for v in row] + [0, 3, 4, 4, 4, 2, 1]))
    assert module_hash(cell_from_key(key)) == OFFICIAL_HASH
    assert SPACE.parse(key) == canonical(make_cell(*OFFICIAL_CELL))
    with pytest.raises(ArchitectureError, match=r"op codes \[7\]"):
        cell_from_key(key[:-2] + "7)")


def test_sampling_is_seeded_valid_and_covers_every_size():
    a = [SPACE.sample(random.Random(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    cells = [SPACE.sample(random.Random(seed)) for seed in range(400)]
    assert {c.num_vertices for c in cells} >= {2, 3, 4, 5, 6, 7}
    assert all(c.num_edges <= MAX_EDGES and canonical(c) == c for c in cells)
    assert len(SPACE.sample_unique(50, random.Random(6))) == 50


def test_mutation_is_local_valid_and_different():
    rng = random.Random(7)
    distances = []
    for _ in range(200):
        parent = SPACE.sample(rng)
        child = SPACE.mutate(parent, rng)
        assert child != parent and canonical(child) == child
        distances.append(abs(child.num_edges - parent.num_edges))
    # a rate of 1 flips about one of the 21 possible edges: most children change few edges
    assert np.median(distances) <= 2
    with pytest.raises(ArchitectureError, match="must be a Cell"):
        SPACE.mutate("not a cell", rng)


def test_registered_as_nb101():
    assert isinstance(get_registry().create("search_space", "nb101"), NB101Space)


def test_official_parameter_count_of_the_readme_cell():
    for cell in (make_cell(*OFFICIAL_CELL), make_cell(*OFFICIAL_STORED)):
        assert trainable_parameters(build_network(cell)) == OFFICIAL_PARAMS


@pytest.mark.realdata
def test_parameter_counts_of_reference_cells(shared_data):
    """The reference table's ``params`` were counted on each key's own labelling by a PyTorch port
    without placeholder parameters: the harness's count equals them exactly, and raw
    ``nasbench-pytorch`` counts one extra scalar per ``Placeholder`` (vertex 0's op slot, vertex 0's
    input-projection slot and every other vertex without an input projection), 9 cells per network."""
    table = json.loads((shared_data / "nb101" / "nb101_cifar10_500.json").read_text())["nasbench101"]["cifar10"]
    rng = random.Random(8)
    for key in rng.sample(sorted(table), 12):
        cell = cell_from_key(key)
        ours = trainable_parameters(build_network(cell))
        assert ours == round(table[key]["params"] * 1e6)
        raw = Network((np.array(cell.matrix), list(cell.ops)))
        placeholders_per_cell = 2 + sum(1 for v in range(1, cell.num_vertices) if not cell.matrix[0][v])
        assert sum(p.numel() for p in raw.parameters()) - ours == 9 * placeholders_per_cell


def test_network_forward_shapes_and_settings():
    cell = canonical(make_cell(*OFFICIAL_CELL))
    net = build_network(cell, C=16, N=1, num_classes=7)
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 7)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.momentum == pytest.approx(OFFICIAL_BN_MOMENTUM) for m in bns)
    out.sum().backward()  # every remaining parameter is used: nothing left without a gradient
    assert all(p.grad is not None for p in net.parameters() if p.numel())
    with pytest.raises(ValueError, match="too narrow"):
        build_network(cell, C=4)


def test_space_build_uses_the_nb101_network():
    cell = SPACE.parse("01-00;input,output")
    net = SPACE.build(cell, C=8, N=1)
    assert trainable_parameters(net) == trainable_parameters(build_network(cell, C=8, N=1))
    with pytest.raises(ArchitectureError):
        SPACE.build("01-00;input,output")
