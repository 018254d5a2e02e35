"""MixPath's NAS-Bench-101 subspace S4: the space, its NB101 cells, its supernet, SPOS and MixPath on it."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
import torch

from nas_harness.api import ArchitectureError, CapabilityError, Context
from nas_harness.registry import get_registry
from nas_harness.spaces.masked import MaskedNetwork
from nas_harness.spaces.masks import single_path_mask
from nas_harness.spaces.nb101 import INPUT, OPS, OUTPUT, make_cell, module_hash
from nas_harness.spaces.nb101_net import build_network, trainable_parameters
from nas_harness.spaces.nb101_s4 import FUSION_OP, SLOT_OPTIONS, SLOTS, S4Space, to_nb101
from nas_harness_plugins.mixpath.estimator import MixPathSupernet, MixPathVanilla
from nas_harness_plugins.mixpath.shadow_bn import variant_network
from nas_harness_plugins.spos.estimator import SPOSSupernet
from tests.helpers.images import one_torch_thread, tiny_provider
from tests.helpers.studies import TINY_SUPERNET

SPACE = S4Space()
POINTS = SPACE.choice_points()
C3, C1, MP = (SLOT_OPTIONS.index(op) for op in OPS)
TINY = TINY_SUPERNET | {"C": 4}  # NB101 cells split C between vertices


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def official_matrix(arch):
    """The official MixPath code's ModelSpec (``conv_2_matrix``): 7 vertices, inactive slots left
    dangling with a placeholder op, fusion at vertex 5, output at 6."""
    matrix = [[0] * 7 for _ in range(7)]
    ops = [INPUT] + ["conv1x1-bn-relu"] * 4 + [FUSION_OP, OUTPUT]
    for slot, option in enumerate(arch):
        if option:
            matrix[0][slot + 1] = matrix[slot + 1][5] = 1
            ops[slot + 1] = SLOT_OPTIONS[option]
    matrix[5][6] = 1
    return matrix, ops


def test_size_enumeration_strings_and_bad_input():
    archs = list(SPACE.enumerate())
    assert len(archs) == SPACE.size() == 255 and len(set(archs)) == 255
    for arch in archs:
        assert SPACE.parse(SPACE.to_str(arch)) == arch
    assert SPACE.to_str((C3, 0, MP, 0)) == "conv3x3-bn-relu+none+maxpool3x3+none"
    with pytest.raises(ArchitectureError, match="no active path"):
        SPACE.parse("none+none+none+none")
    with pytest.raises(ArchitectureError, match="has 3 slots"):
        SPACE.parse("none+none+maxpool3x3")
    with pytest.raises(ArchitectureError, match="unknown ops"):
        SPACE.parse("conv5x5+none+none+none")
    with pytest.raises(ArchitectureError):
        SPACE.from_choices((0, 0, 0, 0))


def test_every_arch_maps_to_the_official_nb101_cell_and_there_are_34_graphs():
    hashes = Counter()
    for arch in SPACE.enumerate():
        cell = to_nb101(arch)
        assert module_hash(cell) == module_hash(make_cell(*official_matrix(arch)))
        assert cell.num_edges == 2 * sum(1 for o in arch if o) + 1
        hashes[module_hash(cell)] += 1
    assert len(hashes) == 34  # multisets of 1..4 ops out of 3
    # slot order does not matter to NB101: the 4 single-conv3x3 archs are one graph
    assert hashes[module_hash(to_nb101((C3, 0, 0, 0)))] == 4


def test_sampling_mutation_and_crossover_stay_in_the_space():
    rng = random.Random(0)
    for _ in range(300):
        a, b = SPACE.sample(rng), SPACE.sample(rng)
        assert any(a) and SPACE.mutate(a, rng) != a and any(SPACE.crossover(a, b, rng))


def test_mixpath_sampler_draws_k_uniformly_in_1_to_m():
    rng = random.Random(1)
    for m in (1, 2, 4):
        counts = Counter(sum(1 for o in SPACE.sample_paths(rng, m) if o) for _ in range(4000))
        assert set(counts) == set(range(1, m + 1))
        expected = 4000 / m
        assert sum((c - expected) ** 2 / expected for c in counts.values()) < 20  # chi-square, m-1 <= 3 dof


def test_single_and_multi_path_parameters_equal_the_nb101_network():
    """Without a fusion norm (SPOS), a path of the supernet has exactly the layers of the NB101
    network of its cell: input projection + op per active slot, the fusion conv, stem, classifier."""
    net = SPACE.build_supernet(C=8, N=1, num_classes=10)
    rng = random.Random(2)
    for arch in rng.sample(list(SPACE.enumerate()), 25):
        mask = single_path_mask(POINTS, SPACE.to_choices(arch))
        assert MaskedNetwork(net, mask).active_parameters() == trainable_parameters(SPACE.build(arch, C=8, N=1))
        assert SPACE.build(arch, C=8, N=1).classifier.out_features == 10
    assert trainable_parameters(build_network(to_nb101((C1, 0, 0, 0)), C=8, N=1)) > 0


def test_shadow_bn_indexed_by_the_number_of_active_slots():
    combine, norm = variant_network("sbn", 4, SPACE.fusion_paths, solo_names=())
    torch.manual_seed(0)
    net = SPACE.build_supernet(C=4, N=1, num_classes=4, edge_combine=combine, edge_norm=norm).train()
    x = torch.randn(2, 3, 8, 8)
    for arch in [(C3, 0, 0, 0), (0, MP, C1, 0), (C1, C1, C3, 0), (MP, MP, MP, MP)]:
        k = sum(1 for o in arch if o)
        seen = []
        hooks = [
            bn.register_forward_hook(lambda mod, i, o, name=name, seen=seen: seen.append(name))
            for name, bn in net.named_modules()
            if ".bns." in name
        ]
        net(x, single_path_mask(POINTS, arch))
        for h in hooks:
            h.remove()
        assert len(seen) == 3 and all(name.endswith(f"norm.bns.{k - 1}") for name in seen), (arch, seen)


def test_supernet_refuses_empty_and_doubled_slots():
    net = SPACE.build_supernet(C=4, N=1, num_classes=4)
    x = torch.randn(1, 3, 8, 8)
    empty = tuple(tuple(j == 0 for j in range(len(SLOT_OPTIONS))) for _ in range(SLOTS))
    with pytest.raises(ValueError, match="no slot"):
        net(x, empty)
    doubled = (tuple(j in (C3, C1) for j in range(len(SLOT_OPTIONS))),) + empty[1:]
    with pytest.raises(ValueError, match="activates 2"):
        net(x, doubled)


@pytest.mark.parametrize("cls", [SPOSSupernet, MixPathSupernet, MixPathVanilla])
def test_spos_and_mixpath_train_on_s4_and_score_its_architectures(cls, tmp_path):
    options = dict(TINY, m=4) if cls is not SPOSSupernet else dict(TINY)
    est = cls(preset="cpu-small", **options)
    ctx = Context(space=SPACE, seed=0, data=tiny_provider(0, per_class=16, valid_size=0.25), workdir=str(tmp_path))
    est.prepare(ctx)
    scores = [est.score(arch, ctx) for arch in [(C3, 0, 0, 0), (C3, C1, MP, C3)]]
    assert all(0.0 <= s <= 100.0 and math.isfinite(s) for s in scores)
    assert est.prepare_log() and est.prepare_log()[-1]["epoch"] == 1


def test_training_paths_are_architectures_of_s4():
    ctx = Context(space=SPACE, seed=3)
    spos = SPOSSupernet(preset="cpu-small")
    spos._points = POINTS
    sampler, _ = spos.path_sampler(ctx)
    ks = Counter(sum(any(ops[1:]) for ops in sampler(0, step)) for step in range(600))
    assert 0 not in ks and set(ks) == {1, 2, 3, 4}
    mix = MixPathSupernet(preset="cpu-small", m=2)
    sampler, sampler_id = mix.path_sampler(ctx)
    assert sampler_id == "mixpath-fusion-k-m2"
    ks = Counter(sum(any(ops[1:]) for ops in sampler(0, step)) for step in range(600))
    assert set(ks) == {1, 2}


def test_registered():
    assert isinstance(get_registry().create("search_space", "nb101.s4"), S4Space)


# --------------------------------------------------------------------------- ground truth and a study


def s4_graphs():
    """One (matrix, ops) per distinct NB101 graph of S4, in a fixed order."""
    cells = {}
    for arch in SPACE.enumerate():
        cell = to_nb101(arch)
        cells.setdefault(module_hash(cell), (cell.matrix, cell.ops))
    return list(cells.values())


@pytest.fixture
def s4_records(tmp_path):
    from tests.helpers.nb101_fixtures import fixture_records, write_nb101_tfrecord

    graphs = s4_graphs()
    return write_nb101_tfrecord(tmp_path / "s4.tfrecord", fixture_records(graphs, epochs=(108,))), graphs


def test_s4_benchmark_answers_with_the_nb101_record_of_each_cell(s4_records):
    from nas_harness.benchmarks.nb101_s4 import NB101S4Benchmark
    from tests.helpers.nb101_fixtures import fixture_run

    path, graphs = s4_records
    bench = NB101S4Benchmark(path=path, progress=False)
    assert len(bench) == 255 and sorted(bench.archs()) == sorted(SPACE.enumerate())
    index = {module_hash(make_cell(m, o)): i for i, (m, o) in enumerate(graphs)}
    for arch in [(C3, 0, 0, 0), (0, 0, 0, C3), (MP, C1, 0, C3), (C3, MP, C1, 0)]:
        runs = [fixture_run(index[module_hash(to_nb101(arch))], 108, r)["test_accuracy"] * 100 for r in range(3)]
        assert bench.accuracy(arch) == pytest.approx(sum(runs) / 3)
    assert bench.accuracy((C3, 0, 0, 0)) == bench.accuracy((0, 0, C3, 0))  # isomorphic cells, one record


def test_s4_benchmark_refuses_a_table_without_s4_cells(tmp_path):
    from nas_harness.api import BenchmarkError
    from nas_harness.benchmarks.nb101_s4 import NB101S4Benchmark
    from tests.helpers.nb101_fixtures import fixture_records, write_nb101_tfrecord

    path = write_nb101_tfrecord(tmp_path / "other.tfrecord", fixture_records(epochs=(108,)))
    with pytest.raises(BenchmarkError, match="none of the 34"):
        NB101S4Benchmark(path=path, progress=False)


def test_a_study_on_s4_runs_spos_and_mixpath_through_the_runner(s4_records, tmp_path):
    from nas_harness.config import parse_config
    from nas_harness.track.publish import run_study

    path, _ = s4_records
    raw = {
        "study": {"name": "s4", "seeds": [0], "sample_size": 20, "output": str(tmp_path / "run"),
                  "leaderboard_dir": str(tmp_path / "boards"), "bootstrap": 50, "torch_threads": 1},
        "benchmark": {"name": "nb101.s4", "options": {"path": str(path), "progress": False}},
        "data": {"name": "digits", "options": {"valid_size": 0.25}},
        "estimators": [
            {"name": "spos.supernet", "options": {"preset": "cpu-small", **TINY}},
            {"name": "mixpath.supernet", "options": {"preset": "cpu-small", "m": 4, **TINY}},
            {"name": "baselines.params", "options": {"C": 8, "N": 1}},
        ],
    }  # fmt: skip
    outcome = run_study(parse_config(raw, str(tmp_path / "s4.toml")), progress=False)
    assert outcome.failed == 0 and outcome.scored == 3 * 20
    board = (tmp_path / "boards" / "s4" / "estimators.csv").read_text()
    assert "spos.supernet" in board and "mixpath.supernet" in board


def test_supernets_on_the_full_nb101_space_point_to_s4():
    from nas_harness.spaces.nb101 import NB101Space

    with pytest.raises(CapabilityError, match=r"WeightSharing capability .*'nb101' does not have it: .*'nb101\.s4'"):
        SPOSSupernet(preset="cpu-small").prepare(Context(space=NB101Space(), seed=0, data=tiny_provider()))
