import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nas_harness.config import parse_config
from nas_harness.metrics import paired_difference
from nas_harness.report.cells import format_cell
from nas_harness.report.leaderboard import (
    escape_markdown,
    estimator_table,
    reference_verdict,
    seed_stability,
    to_markdown,
)
from nas_harness.run.store import OK, Store
from nas_harness.run.world import World
from nas_harness.track.publish import run_study
from tests.helpers.studies import TOY_PLUGINS, toy_config


def test_markdown_cells_cannot_break_the_table():
    frame = pd.DataFrame([{"estimator": "evil|name\nwith newline", "tau": 0.123456, "empty": math.nan}])
    md = to_markdown(frame, "t", {"plugins": {"a|b": "1"}})
    table = [line for line in md.splitlines() if line.startswith("|")]
    header_cells = table[0].count(" | ")
    for line in table[2:]:
        # unescaped separators only: every row has as many as the header
        assert line.replace("\\|", "").count(" | ") == header_cells
    assert "evil\\|name with newline" in md
    assert "0.1235" in md
    assert "a\\|b 1" in md


def test_escape_backslash_first():
    assert escape_markdown("a\\|b") == "a\\\\\\|b"


def test_unknown_and_nan_cells_are_blank_not_none():
    assert escape_markdown(None) == ""
    assert escape_markdown(float("nan")) == ""
    assert escape_markdown(0.123456) == "0.1235"


# -- the reference: paired verdicts ---------------------------------------------------------------------------------
def _table(cfg):
    run_study(cfg, world=World(cfg, plugin_modules=TOY_PLUGINS), progress=False, plots=False)
    store = Store(cfg.store_path)
    try:
        return estimator_table(store, World(cfg, plugin_modules=TOY_PLUGINS)).set_index("estimator")
    finally:
        store.close()


def _tunable(label: str, noise: float) -> dict:
    """toy.tunable: ground truth plus ``noise`` times one Gaussian draw per (arch, seed), the same draw for
    every label, so a smaller noise is the same ranking with a small, consistent improvement."""
    return {"name": "toy.tunable", "label": label, "options": {"noise": noise}}


def test_the_paired_verdict_sees_a_small_consistent_gain_that_overlapping_intervals_hide(tmp_path):
    estimators = [_tunable("ref", 30.0), _tunable("better", 25.0), _tunable("worse", 35.0), _tunable("close", 29.0),
                  _tunable("same", 30.0)]  # fmt: skip
    table = _table(toy_config(tmp_path, estimators, sample_size=40, bootstrap=200, reference="ref", history=False))
    ref, better = table.loc["ref"], table.loc["better"]
    # each tau interval alone cannot tell them apart ...
    assert better.tau_ci_low < ref.tau_ci_high and ref.tau_ci_low < better.tau_ci_high
    # ... the paired difference on the same architectures can
    assert 0 < better.diff_ci_low <= better.tau_minus_reference <= better.diff_ci_high
    assert better.vs_reference == "beats" and better.p_not_better < 0.05
    assert table.loc["worse", "diff_ci_high"] < 0 and table.loc["worse", "vs_reference"] == "worse"
    close = table.loc["close"]
    assert close.diff_ci_low <= 0 <= close.diff_ci_high < close.diff_ci_low + 1 and close.vs_reference == "tie"
    assert close.diff_ci_high > close.diff_ci_low  # a real interval, unlike an identical estimator's:
    same = table.loc["same"]
    assert (same.tau_minus_reference, same.diff_ci_low, same.diff_ci_high) == (0.0, 0.0, 0.0)
    assert same.vs_reference == "tie"
    assert ref.vs_reference == "" or pd.isna(ref.vs_reference)  # blank for the reference itself
    assert set(table.reference) == {"ref"}


def test_paired_difference_of_identical_or_constant_scores():
    rng = np.random.default_rng(3)
    truth = rng.normal(size=60)
    scores = truth + rng.normal(scale=2.0, size=60)
    for same in (scores, 2 * scores):  # the same ranking: exactly 0, a zero-width interval
        assert paired_difference([(same, scores, truth)], n_boot=200) == (0.0, 0.0, 0.0, 1.0)
    constant = np.ones(60)  # no tau at all: no difference, no verdict
    diff, low, high, p = paired_difference([(constant, constant, truth)], n_boot=200)
    assert all(math.isnan(x) for x in (diff, low, high, p))
    assert reference_verdict(low, high) == ""
    assert [reference_verdict(*x) for x in ((0.01, 0.2), (-0.2, -0.01), (-0.1, 0.1), (0.0, 0.0))] == [
        "beats", "worse", "tie", "tie"
    ]  # fmt: skip
    # independent noise of the same size: the paired interval holds 0
    other = truth + rng.normal(scale=2.0, size=60)
    _, low, high, _ = paired_difference([(other, scores, truth)], n_boot=300)
    assert low < 0 < high and reference_verdict(low, high) == "tie"


def test_baselines_params_is_the_default_reference_without_changing_the_config_hash(tmp_path):
    raw = {
        "study": {"name": "params", "seeds": [0], "sample_size": 20, "bootstrap": 50, "output": str(tmp_path / "run"),
                  "leaderboard_dir": str(tmp_path / "boards"), "history": False},
        "benchmark": {"name": "nb201.digits"},
        "estimators": [{"name": "baselines.random"}, {"name": "baselines.params"}],
    }  # fmt: skip
    cfg = parse_config(raw, "params.toml")
    assert cfg.reference is None and cfg.reference_label() == "baselines.params"
    assert cfg.to_dict()["reference"] is None  # stored as configured: the default is resolved when reporting
    pinned = parse_config({**raw, "study": {**raw["study"], "reference": "baselines.params"}}, "params.toml")
    assert pinned.config_hash() == cfg.config_hash()
    other = parse_config({**raw, "study": {**raw["study"], "reference": "baselines.random"}}, "params.toml")
    assert other.reference_label() == "baselines.random" and other.config_hash() == cfg.config_hash()
    without = parse_config({**raw, "estimators": [{"name": "baselines.random"}]}, "params.toml")
    assert without.reference_label() is None

    run_study(cfg, progress=False, plots=False)
    folder = tmp_path / "boards" / "params"
    table = pd.read_csv(folder / "estimators.csv").set_index("estimator")
    assert set(table.reference) == {"baselines.params"}
    assert pd.isna(table.loc["baselines.params", "vs_reference"])  # the reference itself: blank
    assert table.loc["baselines.random", "vs_reference"] in ("beats", "worse", "tie")
    payload = json.loads((folder / "estimators.json").read_text())
    assert payload["provenance"]["reference"] == "baselines.params (the default: study.reference is unset)"
    assert payload["provenance"]["config_hash"] == cfg.config_hash()
    no_reference = toy_config(tmp_path / "toy", [{"name": "toy.good"}], history=False)
    assert "reference" not in _table(no_reference).columns  # no reference, no paired columns


# -- stability across seeds -----------------------------------------------------------------------------------------
def test_seed_tau_ranks_an_estimators_scores_of_two_seeds_on_the_architectures_both_drew(tmp_path):
    cfg = toy_config(tmp_path, [_tunable("noisy", 30.0), {"name": "toy.inverse"}], seeds=[0, 1], sample_size=40)
    table = _table(cfg)
    store = Store(cfg.store_path)
    try:
        shared = sorted(set(store.sample(0)) & set(store.sample(1)))
        results = store.results_frame()
    finally:
        store.close()
    assert 10 <= len(shared) < 40  # each seed draws its own sample: only part of it is shared
    noisy = results[results.estimator == "noisy"].set_index(["seed", "arch"])["score"]
    expected = stats.kendalltau([noisy[(0, a)] for a in shared], [noisy[(1, a)] for a in shared]).statistic
    assert table.loc["noisy", "seed_tau"] == pytest.approx(expected)
    assert table.loc["noisy", "seed_tau"] < 0.9 and table.loc["noisy", "seed_tau_archs"] == len(shared)
    assert table.loc["toy.inverse", "seed_tau"] == 1.0  # its scores do not depend on the seed

    few = toy_config(tmp_path / "few", [{"name": "toy.good"}], seeds=[0, 1], sample_size=8)
    table = _table(few)
    assert pd.isna(table.loc["toy.good", "seed_tau"]) and table.loc["toy.good", "seed_tau_archs"] < 10
    note = table.loc["toy.good", "note"]
    assert "seed_tau: seeds 0 and 1 share" in note and "fewer than 10" in note
    many = _table(toy_config(tmp_path / "many", [{"name": "toy.good"}], seeds=[0, 1, 2, 3, 4], sample_size=8))
    note = many.loc["toy.good", "note"]  # ten short pairs are counted, not listed one by one
    assert note.startswith("seed_tau: 10 of 10 seed pairs share fewer than 10") and "seeds 0 and 1" not in note
    one_seed = _table(toy_config(tmp_path / "one", [{"name": "toy.good"}], seeds=[0]))
    assert "seed_tau" not in one_seed.columns


def test_seed_stability_of_a_constant_estimator_is_blank_with_a_note():
    archs = [f"a{i}" for i in range(12)]
    rows = pd.DataFrame({"seed": [0] * 12 + [1] * 12, "arch": archs * 2, "status": OK, "score": [1.0] * 24})
    found = seed_stability(rows, {0: archs, 1: archs})
    assert math.isnan(found.tau) and found.archs == 12 and "constant" in found.note


# -- the compact table ----------------------------------------------------------------------------------------------
def test_markdown_leads_with_the_compact_table_then_every_column_under_a_heading(tmp_path):
    cfg = toy_config(tmp_path, [_tunable("ref", 30.0), _tunable("better", 25.0)], reference="ref", history=False)
    run_study(cfg, world=World(cfg, plugin_modules=TOY_PLUGINS), progress=False, plots=False)
    folder = tmp_path / "boards" / "toy"
    md = (folder / "estimators.md").read_text()
    lines = md.splitlines()
    compact_header = "| estimator | Kendall tau [interval] | vs ref | Spearman | s/arch | failures |"
    assert lines[2] == compact_header
    assert lines.index("### All columns") > lines.index(compact_header)
    published = pd.read_csv(folder / "estimators.csv")
    full_header = "| " + " | ".join(published.columns) + " |"
    assert lines.index(full_header) > lines.index("### All columns")  # every CSV column, after the heading
    compact = [line for line in lines[4 : lines.index("### All columns")] if line.startswith("| ")]
    for line, row in zip(compact, published.itertuples(), strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        tau = f"{format_cell(row.kendall_tau)} [{format_cell(row.tau_ci_low)}, {format_cell(row.tau_ci_high)}]"
        assert cells[:2] == [row.estimator, tau]
        assert cells[2] == ("" if row.estimator == "ref" else row.vs_reference)
    payload = json.loads((folder / "estimators.json").read_text())
    assert list(payload["rows"][0]) == list(published.columns)  # the JSON keeps every column too
    assert {"vs_reference", "tau_minus_reference", "diff_ci_low", "diff_ci_high"} <= set(published.columns)
