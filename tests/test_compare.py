"""`nas-harness compare`: the paired rule between two results stores, the interval rule otherwise."""

from __future__ import annotations

import math

import pytest

from nas_harness import registry as registry_module
from nas_harness.cli import main
from nas_harness.run.world import World
from nas_harness.track.compare import DROP, GAIN, INTERVALS, OVERLAP, PAIRED, TIE, compare_runs, format_comparison
from nas_harness.track.publish import run_study
from nas_harness.track.runs import load_run
from tests.helpers.entry_points import write_dist_info
from tests.helpers.studies import TOY_PLUGINS, toy_config

NOISE_A, NOISE_B = 30.0, 25.0  # toy.tunable: the same Gaussian draws, a little less of them in B


def world(cfg):
    return World(cfg, plugin_modules=TOY_PLUGINS)


def study(tmp_path, name: str, noise: float, seeds=(0,)):
    """A toy study of toy.tunable (and toy.good) in ``tmp_path/name``; returns (store folder, board folder)."""
    estimators = [{"name": "toy.tunable", "options": {"noise": noise}}, {"name": "toy.good"}]
    cfg = toy_config(tmp_path, estimators, name=name, output=str(tmp_path / name), seeds=list(seeds), bootstrap=200)
    run_study(cfg, world=world(cfg), progress=False, plots=False)
    return tmp_path / name, tmp_path / "boards" / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("compare")
    return {"a": study(tmp_path, "a", NOISE_A), "b": study(tmp_path, "b", NOISE_B), "tmp": tmp_path}


def load(path):
    return load_run(str(path), world_factory=world)


def test_two_stores_are_compared_on_their_shared_architectures_with_the_paired_rule(runs):
    (store_a, _), (store_b, _) = runs["a"], runs["b"]
    cmp = compare_runs(load(store_a), load(store_b))
    change = next(c for c in cmp.changes if c.estimator == "toy.tunable")
    # the two intervals overlap: the interval rule would call it noise ...
    assert change.intervals == OVERLAP
    # ... the paired difference on the same 40 architectures does not
    assert change.rule == PAIRED and change.paired.archs == 40
    assert 0 < change.paired.low <= change.paired.difference <= change.paired.high
    assert change.verdict == GAIN
    assert change.paired.difference == pytest.approx(change.tau_change)  # same sample: same change
    text = format_comparison(cmp)
    line = next(x for x in text.splitlines() if x.startswith("toy.tunable"))
    assert "GAIN (paired)" in line and f"paired, 40 archs: {change.paired.difference:+.3f}" in line
    assert "rule paired (both runs are results stores" in text and "rule intervals (otherwise" in text
    good = next(c for c in cmp.changes if c.estimator == "toy.good")
    assert good.rule == PAIRED and good.verdict == TIE  # the same scores in both: a zero difference
    assert (good.paired.difference, good.paired.low, good.paired.high) == (0.0, 0.0, 0.0)
    backwards = compare_runs(load(store_b), load(store_a))
    assert next(c for c in backwards.changes if c.estimator == "toy.tunable").verdict == DROP


def test_boards_without_scores_keep_the_interval_rule(runs):
    (store_a, board_a), (_, board_b) = runs["a"], runs["b"]
    for a, b in [(board_a, board_b), (store_a, board_b)]:  # a leaderboard keeps no per-architecture scores
        cmp = compare_runs(load(a), load(b))
        change = next(c for c in cmp.changes if c.estimator == "toy.tunable")
        assert change.paired is None and change.rule == INTERVALS and change.verdict == OVERLAP
        line = next(x for x in format_comparison(cmp).splitlines() if x.startswith("toy.tunable"))
        assert "overlap" in line and "intervals" in line and "paired" not in line


def test_stores_that_share_too_few_architectures_fall_back_to_the_intervals(runs):
    (store_a, _), other = runs["a"], study(runs["tmp"], "other-seed", NOISE_B, seeds=(7,))
    cmp = compare_runs(load(store_a), load(other[0]))
    change = next(c for c in cmp.changes if c.estimator == "toy.tunable")
    assert change.paired is None and change.rule == INTERVALS
    assert change.paired_note == "0 shared architectures, fewer than 10 to pair"
    assert "intervals (0 shared architectures, fewer than 10 to pair)" in format_comparison(cmp)
    assert not math.isnan(change.tau_change)


def test_cli_compare_of_two_study_folders_names_the_paired_rule(runs, tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"  # the toy plugin found through a real entry point, as the CLI builds its own World
    write_dist_info(site, "toy-plugin", "0.1", {"toy": "tests.helpers.toy_plugin"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry_module, "_default", None)
    (store_a, _), (store_b, board_b) = runs["a"], runs["b"]
    assert main(["compare", str(store_a), str(store_b)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("toy.tunable"))
    assert "GAIN (paired)" in line and "paired, 40 archs" in line
    assert main(["compare", str(store_a), str(board_b)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("toy.tunable"))
    assert "overlap" in line and "intervals" in line
