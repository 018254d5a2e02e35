"""MixPath plugin: multi-path space, path sampling, Shadow BN, calibration, NSGA-II, studies."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter

import pandas as pd
import pytest
import torch
from scipy.stats import chisquare

from nas_harness.api import ArchitectureError, ConfigError, Context
from nas_harness.cli import main
from nas_harness.config import parse_config
from nas_harness.costs import count_flops
from nas_harness.run.store import Store
from nas_harness.spaces.masked import MaskedNetwork
from nas_harness.spaces.masks import is_single_path, single_path_mask
from nas_harness.spaces.multipath import MultiPathSpace
from nas_harness.spaces.nb201 import OPS, NB201Space
from nas_harness.supernets.calibration import batchnorms, recalibrate_bn
from nas_harness.track.publish import run_study
from nas_harness_plugins.mixpath.estimator import ESTIMATORS, MixPathNoCalibration, MixPathSupernet
from nas_harness_plugins.mixpath.nsga2 import MixPathNSGA2
from nas_harness_plugins.mixpath.pareto import crowding_distance, dominates, non_dominated_sort, select_survivors
from nas_harness_plugins.mixpath.shadow_bn import ExponentialBN, ShadowBN, shadow_statistics, variant_network
from nas_harness_plugins.spos.estimator import SPOSSupernet
from tests.helpers.images import one_torch_thread, tiny_provider
from tests.helpers.multipath_fakes import PathCounter
from tests.helpers.studies import TINY_SUPERNET

SPACE = NB201Space()
POINTS = SPACE.choice_points()
NONE, SKIP, CONV1, CONV3, POOL = (OPS.index(o) for o in OPS)
TINY = TINY_SUPERNET


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def tiny_data(seed: int = 0):
    return tiny_provider(seed, per_class=16, valid_size=0.25, pixel_seed=11)


def sbn_supernet(m: int, variant: str = "sbn", C: int = 2):
    combine, norm = variant_network(variant, m, OPS)
    torch.manual_seed(0)
    return SPACE.build_supernet(C=C, N=1, num_classes=4, edge_combine=combine, edge_norm=norm)


# --------------------------------------------------------------------------- the multi-path space


def test_multipath_strings_round_trip_and_single_paths_keep_their_nb201_identity():
    space = MultiPathSpace(SPACE, 3)
    arch = ((CONV1, CONV3), (SKIP,), (NONE,), (SKIP, CONV1, POOL), (CONV3,), (POOL,))
    text = space.to_str(arch)
    assert text == (
        "|nor_conv_1x1,nor_conv_3x3~0|+|skip_connect~0|none~1|"
        "+|skip_connect,nor_conv_1x1,avg_pool_3x3~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    )
    assert space.parse(text) == arch and space.to_base(arch) is None
    rng = random.Random(0)
    for _ in range(50):
        base = SPACE.sample(rng)
        single = space.from_base(base)
        assert space.to_str(single) == SPACE.to_str(base) and space.to_base(single) == base
        assert space.parse(SPACE.to_str(base)) == single


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown option 'conv_9x9'"),
        ("|none,skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|", "none may only stand alone"),
        (
            "|skip_connect,nor_conv_1x1,nor_conv_3x3,avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "accepted 1..3",
        ),
        ("|nor_conv_3x3,skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|", "canonical"),
        ("|skip_connect,skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|", "distinct"),
        ("|skip_connect~0|+|none~0|", "node groups"),
    ],
)
def test_bad_multipath_strings_name_the_problem(text, match):
    with pytest.raises(ArchitectureError, match=match):
        MultiPathSpace(SPACE, 3).parse(text)


def test_multipath_space_size_matches_its_enumeration_per_point():
    space = MultiPathSpace(SPACE, 4)
    per_point = len(space.point_options(0))
    assert per_point == 5 + 6 + 4 + 1  # each op alone, then 2, 3 and 4 of the four non-none ops
    assert space.size() == per_point**6
    assert MultiPathSpace(SPACE, 1).size() == SPACE.size()
    with pytest.raises(ValueError, match="exceeds"):
        MultiPathSpace(SPACE, 5)


def test_path_count_is_uniform_in_1_to_m_and_ops_are_distinct_and_never_none():
    space = MultiPathSpace(SPACE, 3)
    rng = random.Random(0)
    draws = [space.sample_point(i % 6, rng) for i in range(6000)]
    counts = Counter(len(d) for d in draws)
    assert set(counts) == {1, 2, 3} and chisquare([counts[k] for k in (1, 2, 3)]).pvalue > 1e-3
    assert all(len(set(d)) == len(d) and NONE not in d for d in draws)
    ops = Counter(op for d in draws for op in d)
    assert chisquare([ops[o] for o in (SKIP, CONV1, CONV3, POOL)]).pvalue > 1e-3


def test_with_m_1_training_paths_are_single_paths_and_the_supernet_is_the_single_path_one():
    est = MixPathSupernet(preset="cpu-small", m=1, **TINY)
    ctx = Context(space=SPACE, seed=0, data=tiny_data())
    est._points = POINTS
    sampler, _ = est.path_sampler(ctx)
    masks = [sampler(0, s) for s in range(200)]
    assert all(is_single_path(m) for m in masks)
    # one shadow BN per edge; fresh, in eval mode it is the identity (up to eps), so the output is
    # the plain single-path supernet's with the same weights
    net = sbn_supernet(1).eval()
    assert all(len(m.bns) == 1 for m in net.modules() if isinstance(m, ShadowBN))
    plain = SPACE.build_supernet(C=2, N=1, num_classes=4).eval()
    missing = plain.load_state_dict(net.state_dict(), strict=False)
    assert not missing.missing_keys
    x = torch.randn(3, 3, 8, 8)
    for mask in masks[:5]:
        assert torch.allclose(net(x, mask), plain(x, mask), atol=1e-4)


# --------------------------------------------------------------------------- shadow BN


def _calls(net):
    seen = []
    hooks = [
        bn.register_forward_hook(lambda mod, i, o, name=name: seen.append(name))
        for name, bn in net.named_modules()
        if isinstance(bn, torch.nn.BatchNorm2d) and (".bns." in name or name.endswith(".bn"))
    ]
    return seen, hooks


def test_the_shadow_bn_for_the_number_of_active_paths_is_used():
    net = sbn_supernet(3).train()
    x = torch.randn(4, 3, 8, 8)
    for k in (1, 2, 3):
        ops = (SKIP, CONV1, CONV3)[:k]
        mask = tuple(tuple(j in ops for j in range(len(OPS))) for _ in POINTS)
        seen, hooks = _calls(net)
        net(x, mask)
        for h in hooks:
            h.remove()
        assert seen and all(name.endswith(f".bns.{k - 1}") for name in seen), (k, set(seen))
        assert len(seen) == 18  # one per edge of each stage's cell


def test_exponential_sbn_uses_one_bn_per_op_combination_and_none_skips_the_norm():
    net = sbn_supernet(2, "exponential").train()
    edge_norm = net.cells[0].edges[0].norm
    assert isinstance(edge_norm, ExponentialBN) and len(edge_norm.bns) == 4 + 6
    mask = ((False, True, False, True, False),) + tuple(single_path_mask(POINTS, (NONE,) * 6)[1:])
    seen, hooks = _calls(net)
    net(torch.randn(2, 3, 8, 8), mask)
    for h in hooks:
        h.remove()
    # edge 0 of each stage's cell; the 'none' edges output zeros and skip the norm
    assert seen == [f"cells.{c}.edges.0.norm.bns.ops_1_3" for c in (0, 2, 4)]


def test_scaling_variant_averages_paths_without_bn():
    combine, norm = variant_network("scaling", 2, OPS)
    assert (combine, norm) == ("mean", None)
    with pytest.raises(ValueError, match="accepted"):
        variant_network("other", 2, OPS)


def test_calibration_changes_running_statistics_only():
    net = sbn_supernet(2).train()
    params = {k: v.clone() for k, v in net.named_parameters()}
    stats = {k: v.clone() for k, v in net.named_buffers() if "running" in k}
    mask = tuple(tuple(j in (SKIP, CONV3) for j in range(len(OPS))) for _ in POINTS)
    recalibrate_bn(net, mask, list(tiny_data().calibration_batches(2, 8)))
    assert all(torch.equal(v, dict(net.named_parameters())[k]) for k, v in params.items())
    changed = [k for k, v in net.named_buffers() if "running" in k and not torch.equal(v, stats[k])]
    assert any(".bns.1." in k for k in changed)  # the 2-path SBNs were recomputed


def test_shadow_statistics_report_the_ratios_to_the_single_path_bn():
    net = sbn_supernet(3)
    for module in net.modules():
        if isinstance(module, ShadowBN):
            for k, bn in enumerate(module.bns, start=1):
                bn.running_mean.fill_(0.5 * k)
                bn.running_var.fill_(1.5 * k * k)
    stats = shadow_statistics(net)
    assert stats == pytest.approx({"sbn_mean_ratio_2": 2.0, "sbn_var_ratio_2": 4.0,
                                   "sbn_mean_ratio_3": 3.0, "sbn_var_ratio_3": 9.0})  # fmt: skip


# --------------------------------------------------------------------------- estimators


def test_every_variant_trains_and_scores_and_sbn_reports_its_statistics(tmp_path):
    data = tiny_data()
    archs = SPACE.sample_unique(4, random.Random(0))
    for cls in ESTIMATORS:
        ctx = Context(space=SPACE, seed=0, data=data, workdir=str(tmp_path / cls.name))
        est = cls(preset="cpu-small", m=2, **TINY)
        est.prepare(ctx)
        scores = [est.score(a, ctx) for a in archs]
        assert all(0.0 <= s <= 100.0 for s in scores), cls.name
        last = est.prepare_log()[-1]
        assert ("sbn_mean_ratio_2" in last) == (cls.variant == "sbn"), cls.name


def test_no_calibration_variant_scores_with_the_training_statistics(tmp_path):
    ctx = Context(space=SPACE, seed=0, data=tiny_data(), workdir=str(tmp_path))
    est = MixPathNoCalibration(preset="cpu-small", m=2, **TINY)
    est.prepare(ctx)
    before = [b.running_mean.clone() for b in batchnorms(est.net)]
    est.score(SPACE.sample(random.Random(1)), ctx)
    assert all(torch.equal(a, b.running_mean) for a, b in zip(before, batchnorms(est.net), strict=True))


def test_bad_mixpath_options_name_the_value():
    with pytest.raises(ConfigError, match="m = 0"):
        MixPathSupernet(m=0)
    with pytest.raises(ConfigError, match="calibrate = 'yes'"):
        MixPathSupernet(calibrate="yes")
    with pytest.raises(ConfigError, match="cost = 'latency'"):
        MixPathNSGA2(cost="latency")


# --------------------------------------------------------------------------- NSGA-II


def test_non_dominated_sort_matches_brute_force_on_a_known_bi_objective_problem():
    rng = random.Random(0)
    # ZDT1-like: f1 = x, f2 = 1 - sqrt(x) on the optimal curve, pushed up by g >= 1 elsewhere
    pts = []
    for _ in range(120):
        x, g = rng.random(), 1 + 9 * rng.random() * (rng.random() < 0.7)
        pts.append((x, g * (1 - (x / g) ** 0.5)))
    fronts = non_dominated_sort(pts)
    brute = {i for i, p in enumerate(pts) if not any(dominates(q, p) for q in pts)}
    assert set(fronts[0]) == brute
    assert sorted(itertools.chain(*fronts)) == list(range(len(pts)))
    for r, front in enumerate(fronts[1:], start=1):  # every later point is dominated by one a front earlier
        assert all(any(dominates(pts[q], pts[p]) for q in fronts[r - 1]) for p in front)
    crowd = crowding_distance([pts[i] for i in fronts[0]])
    assert sorted(crowd)[-2:] == [float("inf")] * 2
    keep = select_survivors(pts, 30)
    assert (len(keep) == 30 and brute <= set(keep)) or set(keep) <= brute


def test_nsga2_returns_the_non_dominated_front_of_everything_it_evaluated():
    est = PathCounter()
    searcher = MixPathNSGA2(population=12, generations=4, cost_net={"C": 2, "N": 1})
    result = searcher.search(est, Context(space=SPACE, seed=0))
    space = MultiPathSpace(SPACE, 2)
    keys = [space.to_str(tuple(tuple(j for j, on in enumerate(ops) if on) for ops in m)) for m in est.calls]
    assert len(keys) == len(set(keys)) == result.evaluations  # nothing scored twice
    supernet = SPACE.build_supernet(C=2, N=1, num_classes=10)

    def objectives(text):
        mask = space.to_mask(space.parse(text))
        return (-sum(ops[CONV1] + ops[CONV3] for ops in mask), count_flops(MaskedNetwork(supernet, mask)) / 1e6)

    evaluated = {k: objectives(k) for k in keys}
    brute = {k for k, o in evaluated.items() if not any(dominates(p, o) for p in evaluated.values())}
    front = {space.to_str(a) for a in result.front}
    assert front == brute and result.space is not None
    assert space.to_str(result.best) == min(front, key=lambda k: evaluated[k])
    assert [h["generation"] for h in result.history] == [0, 1, 2, 3]


def test_nsga2_refuses_an_estimator_without_a_multipath_supernet():
    with pytest.raises(ConfigError, match="multi-path supernet"):
        MixPathNSGA2().search(SPOSSupernet(preset="cpu-small"), Context(space=SPACE, seed=0))


# --------------------------------------------------------------------------- a study


def test_study_ranks_variants_side_by_side_and_judges_the_front(tmp_path):
    estimators = [{"name": cls.name, "options": {"preset": "cpu-small", "m": 2, **TINY, "eval_images": 100}}
                  for cls in ESTIMATORS[:2]]  # fmt: skip
    raw = {
        "study": {
            "name": "mix",
            "seeds": [0],
            "sample_size": 12,
            "output": str(tmp_path / "run"),
            "leaderboard_dir": str(tmp_path / "boards"),
            "bootstrap": 50,
        },
        "benchmark": {"name": "nb201.digits"},
        "data": {"name": "digits", "options": {"valid_size": 0.25}},
        "estimators": estimators,
        "searchers": [
            {
                "name": "mixpath.nsga2",
                "estimator": "mixpath.supernet",
                "options": {"population": 6, "generations": 2, "cost_net": {"C": 2, "N": 1}},
            }
        ],
    }
    cfg = parse_config(raw, str(tmp_path / "mix.toml"))
    run_study(cfg, progress=False)
    board = pd.read_csv(tmp_path / "boards" / "mix" / "estimators.csv")
    assert set(board.estimator) == {"mixpath.supernet", "mixpath.sbn_nocal"} and (board.n_archs == 12).all()
    assert (board.prepare_s > 0).all()
    searchers = pd.read_csv(tmp_path / "boards" / "mix" / "searchers.csv")
    row = searchers.iloc[0]
    assert row.failures == 0 and row.front_size_mean >= 1
    store = Store(cfg.store_path)
    front = json.loads(store.searches_frame().front_json.iloc[0])
    singles = [a for a in front if "," not in a]
    multis = [a for a in front if "," in a]
    assert row.front_with_truth <= len(singles)
    if "," in row.archs:
        assert "no ground truth" in str(row.errors)
    series = pd.read_sql_query("SELECT * FROM series", store.conn)
    assert {"loss", "train_acc", "sbn_mean_ratio_2"} <= set(series.key) and multis is not None
    store.close()


def test_curves_command_prints_the_recorded_training_curves(tmp_path, capsys):
    store = Store(tmp_path / "results.sqlite")
    for epoch, loss in ((1, 2.0), (2, 1.5)):
        store.add_series("mixpath.supernet", 0, epoch, {"epoch": epoch, "loss": loss, "train_acc": 10.0 * epoch})
    store.add_series("spos.supernet", 0, 1, {"epoch": 1, "loss": 2.2})
    store.close()
    assert main(["curves", str(tmp_path), "--estimator", "mixpath.supernet", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split(",")[:3] == ["owner", "seed", "step"] and len(lines) == 3
    assert lines[2].startswith("mixpath.supernet,0,2,") and ",1.5," in lines[2]
    assert main(["curves", str(tmp_path), "--estimator", "nope"]) == 2
    assert "recorded: mixpath.supernet, spos.supernet" in capsys.readouterr().err
