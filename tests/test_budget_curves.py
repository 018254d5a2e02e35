"""Supernet budget curves, shared trainings and reduced-resolution batches (issue 16)."""

from __future__ import annotations

import io
import random

import numpy as np
import pandas as pd
import pytest
import torch

import nas_harness.supernets.training as training
from nas_harness.api import ConfigError, Context, HarnessError
from nas_harness.cli import main
from nas_harness.config import parse_config
from nas_harness.data import BatchProvider
from nas_harness.data.dataset import DataError, ImageDataset
from nas_harness.run.shards import ShardPlan, ShardSpec
from nas_harness.run.store import Store
from nas_harness.run.world import World
from nas_harness.seeding import derived_seed
from nas_harness.spaces.nb201 import NB201Space
from nas_harness.supernets.calibration import accuracy, recalibrate_bn
from nas_harness.supernets.training import train_supernet
from nas_harness.track.publish import run_study
from nas_harness_plugins.mixpath.estimator import MixPathNoCalibration, MixPathSupernet, MixPathVanilla
from nas_harness_plugins.spos.estimator import SPOSSupernet
from tests.helpers.images import one_torch_thread, tiny_provider
from tests.helpers.studies import TINY_SUPERNET

SPACE = NB201Space()
TINY = TINY_SUPERNET | {"epochs": 3}


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def tiny_data(seed: int = 0, size: int = 8) -> BatchProvider:
    return tiny_provider(seed, per_class=16, valid_size=0.25, pixel_seed=7, size=size)


def shared_context(tmp_path, label: str, data=None, seed: int = 0) -> Context:
    return Context(
        space=SPACE, seed=seed, data=data or tiny_data(), workdir=str(tmp_path / label),
        shared_workdir=str(tmp_path / "shared"),
    )  # fmt: skip


def count_epochs(monkeypatch) -> list[int]:
    """Record every training epoch run (by epoch index), through the training loop's epoch function."""
    epochs: list[int] = []
    real = training._train_epoch

    def counted(net, optimizer, sampler, data, settings, epoch, *rest):
        epochs.append(epoch)
        return real(net, optimizer, sampler, data, settings, epoch, *rest)

    monkeypatch.setattr(training, "_train_epoch", counted)
    return epochs


# --------------------------------------------------------------------------- resolution


def test_resolution_pools_the_images_and_changes_the_fingerprint():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 8, 8, 3), dtype=np.uint8)
    ds = ImageDataset("tiny", ["a", "b"], images, np.arange(8) % 2, images[:2], np.arange(2))
    full = BatchProvider(ds, seed=0, valid_size=0)
    half = full.at_resolution(4)
    assert half.input_shape == (3, 4, 4) and half.padding == 0 and full.padding == 1  # padding follows H // 8
    x_full, y_full = next(full.eval_batches("test", 2))
    x_half, y_half = next(half.eval_batches("test", 2))
    assert torch.equal(y_full, y_half) and x_half.shape == (2, 3, 4, 4)
    # pooling then normalising = normalising then pooling, up to the uint8 rounding of the pooled pixels
    pooled = torch.nn.functional.avg_pool2d(x_full, 2)
    assert torch.allclose(pooled, x_half, atol=0.5 / 255 / min(full.std) + 1e-6)
    assert full.fingerprint() != half.fingerprint()
    assert half.at_resolution(4) is half and full.at_resolution(None) is full


@pytest.mark.parametrize("resolution", [3, 0, 16, "4", True])
def test_a_resolution_that_does_not_divide_the_images_is_refused_with_the_choices(resolution):
    with pytest.raises(DataError, match="resolution"):
        tiny_data().at_resolution(resolution)


def test_a_supernet_trains_at_its_resolution(tmp_path):
    est = SPOSSupernet(preset="cpu-small", resolution=4, **TINY)
    ctx = shared_context(tmp_path, "spos")
    est.prepare(ctx)
    assert all(x.shape[-1] == 4 for x, _ in est._evaluation)
    assert 0 <= est.score(SPACE.sample(random.Random(0)), ctx) <= 100


# --------------------------------------------------------------------------- budget points


def test_scoring_a_kept_epoch_equals_a_supernet_trained_to_that_epoch(tmp_path):
    """The point of a budget curve at epoch 2 of a 3-epoch run = the same run stopped after epoch 2."""
    data = tiny_data()
    archs = SPACE.sample_unique(4, random.Random(1))
    point = SPOSSupernet(preset="cpu-small", score_at=[2], score_epoch=2, **TINY)
    ctx = shared_context(tmp_path, "point", data)
    point.prepare(ctx)
    from_curve = [point.score(a, ctx) for a in archs]
    assert [row["epoch"] for row in point.prepare_log()] == [1, 2]

    class Stop(Exception):
        pass

    def stop_after_two(row):
        if row["epoch"] == 2:
            raise Stop

    reference = SPOSSupernet(preset="cpu-small", **TINY)
    torch.manual_seed(training_init_seed(reference))
    net = reference.build_network(ctx, data.num_classes)
    reference._points = SPACE.choice_points()  # what prepare() sets before asking for the sampler
    sampler, sampler_id = reference.path_sampler(ctx)
    with pytest.raises(Stop):
        train_supernet(net, sampler, data, reference.train_settings, 0, sampler_id=sampler_id, on_epoch=stop_after_two)
    calibration = list(data.calibration_batches(TINY["calibration_batches"], TINY["calibration_batch_size"]))
    evaluation = list(data.eval_batches("valid", TINY["eval_batch_size"], TINY["eval_images"]))
    from_scratch = []
    for arch in archs:
        mask = reference.score_mask(arch, ctx)
        recalibrate_bn(net, mask, calibration)
        from_scratch.append(accuracy(net, mask, evaluation))
    assert from_curve == from_scratch


def training_init_seed(estimator) -> int:
    return derived_seed(estimator.family, "init", 0)


def test_budget_points_and_the_final_estimator_share_one_training(tmp_path, monkeypatch):
    epochs = count_epochs(monkeypatch)
    final = SPOSSupernet(preset="cpu-small", score_at=[1, 2], **TINY)
    final.prepare(shared_context(tmp_path, "final"))
    for epoch in (1, 2):
        point = SPOSSupernet(preset="cpu-small", score_at=[1, 2], score_epoch=epoch, **TINY)
        point.prepare(shared_context(tmp_path, f"point{epoch}"))
        assert [r["epoch"] for r in point.prepare_log()] == list(range(1, epoch + 1))
        assert point.prepare_seconds() == pytest.approx(sum(r["seconds"] for r in final.curve[:epoch]))
    assert epochs == [0, 1, 2]  # trained once


def test_a_budget_point_that_training_did_not_keep_says_how_to_retrain(tmp_path):
    SPOSSupernet(preset="cpu-small", **TINY).prepare(shared_context(tmp_path, "final"))
    later = SPOSSupernet(preset="cpu-small", score_at=[1], score_epoch=1, **TINY)
    with pytest.raises(HarnessError, match=r"epoch 1.*delete the folder to retrain"):
        later.prepare(shared_context(tmp_path, "point"))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"score_at": [3]}, "score_at = \\[3\\].*between 1 and 2"),
        ({"score_at": [0]}, "score_at"),
        ({"score_at": "2"}, "score_at"),
        ({"score_at": [1], "score_epoch": 2}, "score_epoch = 2"),
        ({"resolution": 0}, "resolution"),
    ],
)
def test_bad_budget_options_name_the_value(options, match):
    with pytest.raises(ConfigError, match=match):
        SPOSSupernet(preset="cpu-small", **(TINY | options))


# --------------------------------------------------------------------------- shared trainings


def test_sbn_with_and_without_calibration_train_once_and_both_report_the_training_cost(tmp_path, monkeypatch):
    epochs = count_epochs(monkeypatch)
    method = MixPathSupernet(preset="cpu-small", m=2, **TINY)
    method.prepare(shared_context(tmp_path, "sbn"))
    ablation = MixPathNoCalibration(preset="cpu-small", m=2, **TINY)
    ablation.prepare(shared_context(tmp_path, "nocal"))
    assert epochs == [0, 1, 2]
    assert ablation.prepare_seconds() == method.prepare_seconds() > 0
    weights = zip(method.net.state_dict().values(), ablation.net.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in weights)
    # a variant with another network trains its own
    MixPathVanilla(preset="cpu-small", m=2, **TINY).prepare(shared_context(tmp_path, "vanilla"))
    assert epochs == [0, 1, 2, 0, 1, 2]


def test_trainings_of_other_seeds_or_settings_are_not_shared(tmp_path, monkeypatch):
    epochs = count_epochs(monkeypatch)
    SPOSSupernet(preset="cpu-small", **TINY).prepare(shared_context(tmp_path, "a"))
    SPOSSupernet(preset="cpu-small", **TINY).prepare(shared_context(tmp_path, "b", data=tiny_data(seed=1), seed=1))
    SPOSSupernet(preset="cpu-small", **(TINY | {"lr": 0.05})).prepare(shared_context(tmp_path, "c"))
    assert epochs == [0, 1, 2] * 3


def test_cpu_preset_trains_at_16_px():
    est = SPOSSupernet(preset="cpu")
    assert est.settings["resolution"] == 16 and est.settings["C"] == 8 and est.settings["N"] == 1
    assert MixPathSupernet(preset="cpu").settings["resolution"] == 16


# --------------------------------------------------------------------------- a study


def budget_study(tmp_path, **study):
    options = {"preset": "cpu-small", **TINY, "m": 2, "eval_images": 40, "score_at": [1, 2]}
    raw = {
        "study": {
            "name": "budget", "seeds": [0, 1], "sample_size": 10, "output": str(tmp_path / "run"),
            "leaderboard_dir": str(tmp_path / "boards"), "bootstrap": 50, "reference": "baselines.params", **study,
        },
        "benchmark": {"name": "nb201.digits"},
        "data": {"name": "digits", "options": {"valid_size": 0.25}},
        "estimators": [
            {"name": "mixpath.supernet", "options": options},
            {"name": "mixpath.sbn_nocal", "options": options},
            {"name": "baselines.params", "options": {"C": 8, "N": 1}},
        ],
    }  # fmt: skip
    return parse_config(raw, str(tmp_path / "budget.toml"))


def test_a_budget_curve_study_trains_each_supernet_once_and_publishes_the_curve(tmp_path, monkeypatch):
    epochs = count_epochs(monkeypatch)
    cfg = budget_study(tmp_path)
    assert [e.label for e in cfg.scored_estimators()][:3] == [
        "mixpath.supernet", "mixpath.supernet@epoch1", "mixpath.supernet@epoch2"
    ]  # fmt: skip
    run_study(cfg, progress=False)
    assert epochs == [0, 1, 2, 0, 1, 2]  # one training per seed, shared by six scored estimators
    boards = tmp_path / "boards" / "budget"
    main_table = pd.read_csv(boards / "estimators.csv")
    budget = pd.read_csv(boards / "budget.csv")
    assert set(main_table.estimator) == {"mixpath.supernet", "mixpath.sbn_nocal", "baselines.params"}  # final epochs
    by_label = main_table.set_index("estimator")
    assert by_label.loc["baselines.params", "tau_minus_reference"] == 0.0  # paired with itself
    assert by_label.loc["mixpath.supernet", "tau_minus_reference"] == pytest.approx(
        by_label.loc["mixpath.supernet", "kendall_tau"] - by_label.loc["baselines.params", "kendall_tau"]
    )
    assert budget.reference.eq("baselines.params").all() and budget.p_not_better.between(0, 1).all()
    assert (by_label.loc[["mixpath.supernet", "mixpath.sbn_nocal"], "prepare_s"] > 0).all()  # both pay the training
    assert "tau_top_half" in main_table
    assert list(budget.epoch[budget.estimator == "mixpath.supernet"]) == [1, 2, 3]
    assert (budget.n_archs == 10).all() and budget.images_seen.is_monotonic_increasing is not None
    curve = budget[budget.estimator == "mixpath.sbn_nocal"].sort_values("epoch")
    assert curve.images_seen.is_monotonic_increasing and curve.training_s.is_monotonic_increasing
    final = main_table.set_index("estimator").loc["mixpath.supernet", "kendall_tau"]
    assert curve.kendall_tau.notna().all()
    assert budget[(budget.estimator == "mixpath.supernet") & (budget.epoch == 3)].kendall_tau.item() == final
    assert (boards / "budget.png").is_file() and "budget" in (boards / "index.html").read_text()


def test_a_killed_budget_curve_study_resumes_without_retraining_or_rescoring(tmp_path, monkeypatch):
    cfg = budget_study(tmp_path, seeds=[0])
    calls = {"scored": 0}
    real_score = MixPathSupernet.score

    def score_then_die(self, arch, ctx):
        calls["scored"] += 1
        if calls["scored"] == 25:  # in the middle of the budget points
            raise KeyboardInterrupt
        return real_score(self, arch, ctx)

    monkeypatch.setattr(MixPathSupernet, "score", score_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_study(cfg, progress=False)
    store = Store(cfg.store_path)
    done_before = len(store.results())
    store.close()
    assert 10 < done_before < 70  # the parameter counts (cheap estimators go first) and part of the supernets' 60
    epochs = count_epochs(monkeypatch)
    monkeypatch.setattr(MixPathSupernet, "score", real_score)
    scored = []
    monkeypatch.setattr(MixPathSupernet, "score", lambda self, a, c: scored.append(a) or real_score(self, a, c))
    outcome = run_study(cfg, progress=False)
    assert epochs == []  # the supernet and its snapshots were loaded, not retrained
    assert len(scored) == 70 - done_before and outcome.skipped == done_before


def test_budget_points_stay_in_the_shard_that_trains_their_supernet(tmp_path):
    cfg = budget_study(tmp_path)
    world = World(cfg)
    plans = [ShardPlan(ShardSpec(i, 2), world) for i in range(2)]
    sample = [f"a{i}" for i in range(10)]
    for point in cfg.scored_estimators():
        if point.name == "baselines.params":  # a proxy: split over the shards by architecture
            continue
        base = getattr(point, "of", "") or point.label
        for seed in cfg.seeds:
            owners = [i for i, p in enumerate(plans) if p.archs(point.label, seed, sample)]
            base_owners = [i for i, p in enumerate(plans) if p.archs(base, seed, sample)]
            assert owners == base_owners and len(owners) == 1
    # MixPath's SBN with and without calibration share one training: one shard runs both
    for seed in cfg.seeds:
        owners = {label: [i for i, p in enumerate(plans) if p.archs(label, seed, sample)] for label in
                  ("mixpath.supernet", "mixpath.sbn_nocal")}  # fmt: skip
        assert owners["mixpath.supernet"] == owners["mixpath.sbn_nocal"]


def test_training_shows_epoch_loss_accuracy_and_speed_when_asked(capsys):
    est = SPOSSupernet(preset="cpu-small", **TINY)
    data = tiny_data()
    est._points = SPACE.choice_points()
    sampler, sampler_id = est.path_sampler(Context(space=SPACE, seed=0, data=data))
    net = est.build_network(Context(space=SPACE, seed=0, data=data), data.num_classes)
    train_supernet(net, sampler, data, est.train_settings, 0, sampler_id=sampler_id, progress=True)
    shown = capsys.readouterr().err
    assert "epoch 3/3" in shown and "loss" in shown and "acc" in shown and "img/s" in shown
    train_supernet(net, sampler, data, est.train_settings, 0, sampler_id=sampler_id, progress=False)
    assert capsys.readouterr().err == ""


def test_a_stored_study_can_be_judged_against_a_reference_afterwards(tmp_path, capsys):
    cfg = budget_study(tmp_path, seeds=[0])
    cfg.reference = None  # unset: the study has baselines.params, which is then the reference by default
    run_study(cfg, progress=False)
    published = pd.read_csv(tmp_path / "boards" / "budget" / "estimators.csv")
    assert (published.reference == "baselines.params").all()
    capsys.readouterr()
    assert main(["leaderboard", str(tmp_path / "run"), "--reference", "mixpath.supernet", "--format", "csv"]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert (printed.reference == "mixpath.supernet").all()
    assert printed.set_index("estimator").loc["mixpath.supernet", "tau_minus_reference"] == 0.0
    assert main(["leaderboard", str(tmp_path / "run"), "--reference", "nope"]) == 2
