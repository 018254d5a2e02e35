"""SPOS plugin: uniform sampling, single-path updates, BN recalibration, resumable training, evolution."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
import torch
from scipy.stats import chisquare

from nas_harness.api import ConfigError, Context, Direction, Estimator, HarnessError
from nas_harness.costs import params_millions
from nas_harness.data import BatchProvider
from nas_harness.registry import get_registry
from nas_harness.spaces.masks import single_path_mask
from nas_harness.spaces.nb201 import OPS, NB201Space
from nas_harness.supernets.calibration import accuracy, batchnorms, recalibrate_bn
from nas_harness.supernets.estimator import CHECKPOINT
from nas_harness.supernets.training import TrainSettings, make_optimizer, train_step, train_supernet
from nas_harness_plugins.spos.estimator import SPOSSupernet
from nas_harness_plugins.spos.evolution import SPOSEvolution
from nas_harness_plugins.spos.sampling import step_choices, uniform_choices
from tests.helpers.images import one_torch_thread, tiny_provider
from tests.helpers.studies import TINY_SUPERNET

SPACE = NB201Space()
POINTS = SPACE.choice_points()


def SAMPLER(epoch, step):  # noqa: N802 - a constant-like module-level sampler
    return single_path_mask(POINTS, step_choices(POINTS, 0, epoch, step))


CONV3, CONV1, SKIP = OPS.index("nor_conv_3x3"), OPS.index("nor_conv_1x1"), OPS.index("skip_connect")


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def tiny_data(seed: int = 0) -> BatchProvider:
    return tiny_provider(seed, per_class=16, valid_size=0.25, pixel_seed=7)


def tiny_supernet(seed: int = 0, classes: int = 4):
    torch.manual_seed(seed)
    return SPACE.build_supernet(C=2, N=1, num_classes=classes)


TINY = TINY_SUPERNET | {"epochs": 2}


# --------------------------------------------------------------------------- sampling


def test_path_sampling_is_uniform_over_every_choice_point():
    draws = [step_choices(POINTS, seed=0, epoch=e, step=s) for e in range(4) for s in range(1000)]
    for i, point in enumerate(POINTS):
        counts = Counter(d[i] for d in draws)
        observed = [counts[j] for j in range(len(point.options))]
        assert chisquare(observed).pvalue > 1e-3, (point.name, observed)
    # whole paths too: 4,000 draws over 15,625 architectures barely repeat
    assert len(set(draws)) > 3400


def test_a_biased_sampler_fails_the_same_chi_square():
    rng = random.Random(0)
    draws = [min(uniform_choices(POINTS, rng)[0], rng.randrange(5)) for _ in range(4000)]
    counts = Counter(draws)
    assert chisquare([counts[j] for j in range(5)]).pvalue < 1e-3


def test_step_paths_depend_only_on_seed_and_position():
    assert step_choices(POINTS, 3, 1, 7) == step_choices(POINTS, 3, 1, 7)
    assert len({step_choices(POINTS, 3, 1, s) for s in range(50)}) > 40
    assert step_choices(POINTS, 3, 1, 7) != step_choices(POINTS, 4, 1, 7) or step_choices(
        POINTS, 3, 1, 8
    ) != step_choices(POINTS, 4, 1, 8)


# --------------------------------------------------------------------------- single-path updates


def _params(net):
    return {k: v.detach().clone() for k, v in net.named_parameters()}


def _edge_op(name: str) -> tuple[int, int] | None:
    """(edge, op) of a parameter inside a cell edge's candidate op, else None (shared)."""
    parts = name.split(".")
    if "edges" not in parts:
        return None
    i = parts.index("edges")
    return int(parts[i + 1]), int(parts[i + 3])


def test_a_training_step_updates_only_the_sampled_path_and_no_decay_or_momentum_elsewhere():
    net = tiny_supernet()
    settings = TrainSettings(lr=0.1, momentum=0.9, weight_decay=0.1)
    opt = make_optimizer(net, settings)
    data = tiny_data()
    batch = data.train_batch(0, 8)
    first = (CONV3,) * 6
    before = _params(net)
    train_step(net, opt, batch, single_path_mask(POINTS, first), grad_clip=5.0)
    after_first = _params(net)
    for name, value in before.items():
        where = _edge_op(name)
        changed = not torch.equal(value, after_first[name])
        if where is None:
            assert changed, f"shared parameter {name} was not trained"
        else:
            assert changed == (where[1] == CONV3), name
    # second step on another path: the first path's ops keep their weights although they carry
    # momentum and weight decay would shrink them; shared parts move again
    second = (CONV1,) * 6
    train_step(net, opt, data.train_batch(1, 8), single_path_mask(POINTS, second), grad_clip=5.0)
    after_second = _params(net)
    for name, value in after_first.items():
        where = _edge_op(name)
        changed = not torch.equal(value, after_second[name])
        assert changed == (where is None or where[1] == CONV1), name


def test_supernet_single_path_equals_the_standalone_network():
    torch.manual_seed(0)
    net = SPACE.build_supernet(C=4, N=1, num_classes=3).eval()
    arch = SPACE.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|")
    standalone = SPACE.build(arch, C=4, N=1, num_classes=3).eval()
    mapped = {}
    for name in standalone.state_dict():
        parts = name.split(".")
        if "layers" in parts:  # InferCell.layers[e] <-> SearchCell.edges[e].ops[chosen op]
            i = parts.index("layers")
            e = int(parts[i + 1])
            parts[i : i + 2] = ["edges", str(e), "ops", str(arch[e])]
        mapped[name] = ".".join(parts)
    standalone.load_state_dict({k: net.state_dict()[v] for k, v in mapped.items()})
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(net(x, single_path_mask(POINTS, SPACE.to_choices(arch))), standalone(x), atol=1e-6)


# --------------------------------------------------------------------------- BN recalibration


def test_bn_recalibration_resets_and_recomputes_statistics_from_the_batches():
    net = tiny_supernet()
    for bn in batchnorms(net):  # stale statistics from "training"
        bn.running_mean.fill_(7.0)
        bn.running_var.fill_(9.0)
        bn.momentum = 0.3
    data = tiny_data()
    batches = list(data.calibration_batches(3, 8))
    mask = single_path_mask(POINTS, (CONV3, SKIP, CONV1, SKIP, CONV3, CONV1))
    assert recalibrate_bn(net, mask, batches) == 24
    assert not net.training
    # the stem BN sees conv(x) of every image: cumulative average of the per-batch moments
    with torch.no_grad():
        feats = [net.stem[0](x) for x, _ in batches]
    stem_bn = net.stem[1]
    expected_mean = torch.stack([f.mean((0, 2, 3)) for f in feats]).mean(0)
    expected_var = torch.stack([f.var((0, 2, 3), unbiased=True) for f in feats]).mean(0)
    assert torch.allclose(stem_bn.running_mean, expected_mean, atol=1e-5)
    assert torch.allclose(stem_bn.running_var, expected_var, atol=1e-5)
    assert int(stem_bn.num_batches_tracked) == 3 and stem_bn.momentum == 0.3
    # an op the path does not use was reset to the initial statistics and not touched
    unused = net.cells[0].edges[0].ops[CONV1].op[2]
    assert torch.equal(unused.running_mean, torch.zeros_like(unused.running_mean))
    assert torch.equal(unused.running_var, torch.ones_like(unused.running_var))
    assert int(unused.num_batches_tracked) == 0


def test_recalibration_changes_accuracy_only_through_bn_and_is_repeatable():
    net = tiny_supernet()
    data = tiny_data()
    calib = list(data.calibration_batches(2, 8))
    evals = list(data.eval_batches("valid", 8))
    mask = single_path_mask(POINTS, (CONV3,) * 6)
    recalibrate_bn(net, mask, calib)
    first = accuracy(net, mask, evals)
    other = single_path_mask(POINTS, (CONV1,) * 6)
    recalibrate_bn(net, other, calib)
    recalibrate_bn(net, mask, calib)
    assert accuracy(net, mask, evals) == first and 0.0 <= first <= 100.0
    with pytest.raises(ValueError, match="no batches"):
        recalibrate_bn(net, mask, [])


# --------------------------------------------------------------------------- training and resume


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    settings = TrainSettings(epochs=3, batch_size=8, lr=0.05)
    data = tiny_data()
    straight = tiny_supernet()
    state = train_supernet(straight, SAMPLER, data, settings, seed=5, checkpoint=tmp_path / "a.pt")
    assert [row["epoch"] for row in state.curve] == [1, 2, 3]
    assert all(math.isfinite(row["loss"]) and 0 <= row["train_acc"] <= 100 for row in state.curve)

    class Killed(Exception):
        pass

    def kill_after_first(row):
        if row["epoch"] == 1:
            raise Killed

    resumed = tiny_supernet()
    with pytest.raises(Killed):
        train_supernet(
            resumed, SAMPLER, data, settings, seed=5, checkpoint=tmp_path / "b.pt", on_epoch=kill_after_first
        )
    fresh = tiny_supernet(seed=99)  # a new process: other initial weights, all replaced by the checkpoint
    again = train_supernet(fresh, SAMPLER, data, settings, seed=5, checkpoint=tmp_path / "b.pt")
    assert [row["epoch"] for row in again.curve] == [1, 2, 3]
    for (name, a), (_, b) in zip(straight.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    # a finished checkpoint trains nothing more
    done = tiny_supernet(seed=1)
    assert train_supernet(done, SAMPLER, data, settings, seed=5, checkpoint=tmp_path / "a.pt").curve == state.curve


def test_a_checkpoint_from_other_settings_is_refused_with_the_reason(tmp_path):
    data = tiny_data()
    train_supernet(
        tiny_supernet(), SAMPLER, data, TrainSettings(epochs=1, batch_size=8), 0, checkpoint=tmp_path / "c.pt"
    )
    with pytest.raises(HarnessError, match="settings"):
        train_supernet(
            tiny_supernet(), SAMPLER, data, TrainSettings(epochs=2, batch_size=8), 0, checkpoint=tmp_path / "c.pt"
        )
    wider = SPACE.build_supernet(C=3, N=1, num_classes=4)
    with pytest.raises(HarnessError, match="network"):
        train_supernet(wider, SAMPLER, data, TrainSettings(epochs=1, batch_size=8), 0, checkpoint=tmp_path / "c.pt")
    with pytest.raises(HarnessError, match="sampler"):
        train_supernet(tiny_supernet(), SAMPLER, data, TrainSettings(epochs=1, batch_size=8), 0,
                       sampler_id="another rule", checkpoint=tmp_path / "c.pt")  # fmt: skip
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(HarnessError, match="could not be read"):
        train_supernet(
            tiny_supernet(), SAMPLER, data, TrainSettings(epochs=1, batch_size=8), 0, checkpoint=tmp_path / "junk.pt"
        )


def test_divergence_is_reported_with_where_it_happened():
    with pytest.raises(HarnessError, match="diverged"):
        train_supernet(tiny_supernet(), SAMPLER, tiny_data(), TrainSettings(epochs=2, batch_size=8, lr=1e12, lr_min=0,
                                                                           grad_clip=None), 0)  # fmt: skip


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"preset": "huge"}, "preset = 'huge'"),
        ({"epochs": 0}, "epochs = 0"),
        ({"lr": -1}, "lr = -1"),
        ({"grad_clip": 0}, "grad_clip = 0"),
        ({"eval_images": 0}, "eval_images = 0"),
        ({"typo": 1}, "unknown option"),
        ({"lr": 0.01, "lr_min": 0.1}, "lr_min"),
    ],
)
def test_bad_options_name_the_value(options, match):
    with pytest.raises(ConfigError, match=match):
        SPOSSupernet(**options)


# --------------------------------------------------------------------------- the estimator


def test_estimator_trains_once_scores_from_inherited_weights_and_reloads(tmp_path, monkeypatch):
    ctx = Context(space=SPACE, seed=0, data=tiny_data(), workdir=str(tmp_path))
    est = SPOSSupernet(preset="cpu-small", **TINY)
    est.prepare(ctx)
    assert (tmp_path / CHECKPOINT).is_file() and [r["epoch"] for r in est.prepare_log()] == [1, 2]
    archs = SPACE.sample_unique(6, random.Random(0))
    scores = [est.score(a, ctx) for a in archs]
    assert all(0.0 <= s <= 100.0 for s in scores)
    assert [est.score(a, ctx) for a in archs] == scores  # recalibration makes a score independent of order
    # a second process loads the finished supernet instead of training
    import nas_harness.supernets.training as training

    monkeypatch.setattr(training, "train_step", lambda *a, **k: pytest.fail("retrained a finished supernet"))
    again = SPOSSupernet(preset="cpu-small", **TINY)
    again.prepare(ctx)
    assert [again.score(a, ctx) for a in archs] == scores


def test_estimator_without_data_says_how_to_add_it():
    with pytest.raises(ConfigError, match=r"\[data\]"):
        SPOSSupernet(**TINY).prepare(Context(space=SPACE, seed=0))


def test_registered_through_the_entry_point():
    reg = get_registry()
    assert reg.plugins["spos"].version
    assert isinstance(reg.create("supernet", "spos.supernet", preset="cpu-small"), SPOSSupernet)
    assert isinstance(reg.create("searcher", "spos.evolution"), SPOSEvolution)


# --------------------------------------------------------------------------- evolution


class CountingEstimator(Estimator):
    """Score = how many conv ops the cell has (plus a tie-break); records every call."""

    name = "count"
    direction = Direction.MAXIMIZE

    def __init__(self):
        self.calls: list[str] = []

    def score(self, arch, ctx):
        self.calls.append(SPACE.to_str(arch))
        return sum(op in (CONV3, CONV1) for op in arch) + 0.01 * arch.count(CONV3)


def test_evolution_never_scores_an_architecture_twice_and_finds_the_optimum():
    est = CountingEstimator()
    result = SPOSEvolution(generations=8).search(est, Context(space=SPACE, seed=0))
    assert len(est.calls) == len(set(est.calls)) == result.evaluations
    assert result.evaluations <= 50 * 8
    assert SPACE.to_str(result.best) == SPACE.to_str((CONV3,) * 6)
    best = [h["best_score"] for h in result.history]
    assert best == sorted(best) and len(result.history) == 8
    again = SPOSEvolution(generations=8).search(CountingEstimator(), Context(space=SPACE, seed=0))
    assert again.best == result.best and again.history == result.history


def test_evolution_respects_the_params_constraint():
    net_cfg = {"C": 2, "N": 1}
    sizes = sorted(params_millions(SPACE.build(a, **net_cfg)) for a in SPACE.sample_unique(60, random.Random(1)))
    limit = sizes[len(sizes) // 3]
    est = CountingEstimator()
    result = SPOSEvolution(population=20, parents=5, mutations=8, crossovers=8, generations=4, max_params=limit,
                           constraint_net=net_cfg).search(est, Context(space=SPACE, seed=0))  # fmt: skip
    assert est.calls and all(params_millions(SPACE.build(SPACE.parse(a), **net_cfg)) <= limit for a in est.calls)
    assert params_millions(SPACE.build(result.best, **net_cfg)) <= limit
    # without the constraint it would pick the all-conv cell, which is over the limit
    assert params_millions(SPACE.build((CONV3,) * 6, **net_cfg)) > limit


def test_evolution_searches_only_the_benchmarks_architectures_when_given():
    candidates = SPACE.sample_unique(40, random.Random(3))
    allowed = {SPACE.to_str(a) for a in candidates}
    est = CountingEstimator()
    result = SPOSEvolution(population=10, parents=3, mutations=4, crossovers=4, generations=3).search(
        est, Context(space=SPACE, seed=0, candidates=candidates)
    )
    assert set(est.calls) <= allowed and SPACE.to_str(result.best) in allowed


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"population": 0}, "population = 0"),
        ({"mutations": 40, "crossovers": 40}, "exceeds population"),
        ({"mutation_prob": 1.5}, "mutation_prob = 1.5"),
        ({"max_params": -1}, "max_params = -1"),
    ],
)
def test_evolution_bad_options_name_the_value(options, match):
    with pytest.raises(ConfigError, match=match):
        SPOSEvolution(**options)
