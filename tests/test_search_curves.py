"""Anytime search curves: the incumbent's ground truth per evaluation, regret at budgets and its area, bootstrap
intervals over seeds, the bands of search_curves.png, and traces in the results store (old stores included)."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest

from nas_harness.report.search_curves import (
    BUDGETS,
    Curve,
    best_so_far,
    bootstrap_means,
    curve_bands,
    summarize,
)
from nas_harness.run.store import OK, CostRow, Store

TRUTH = {"a": 70.0, "b": 90.0, "c": 80.0, "d": 95.0}


def _step(k, arch, score, seconds=1.0, reused=False):
    return {"step": k, "arch": arch, "score": score, "seconds": seconds, "reused": reused}


def test_incumbent_is_the_best_scored_not_the_best_true():
    # scores rank c above b although b is better: the curve follows what the searcher would return (c)
    trace = [_step(0, "a", 1.0), _step(1, "c", 3.0), _step(2, "b", 2.0), _step(3, "d", 5.0)]
    curve = best_so_far(trace, sign=1, truth=TRUTH.get)
    assert curve.accuracy.tolist() == [70.0, 80.0, 80.0, 95.0]
    assert curve.seconds.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert curve.regret(95.0).tolist() == [25.0, 15.0, 15.0, 0.0]


def test_minimised_scores_ties_nan_and_missing_ground_truth():
    trace = [
        _step(0, "x", math.nan),  # no finite score yet: blank
        _step(1, "b", 2.0, seconds=0.5),
        _step(2, "a", 2.0, seconds=0.25),  # a tie keeps the earlier incumbent
        _step(3, "zz", 1.0, reused=True),  # lower is better: the new incumbent, without ground truth
        _step(4, "d", 0.5),
    ]
    curve = best_so_far(trace, sign=-1, truth=TRUTH.get)
    acc = curve.accuracy
    assert math.isnan(acc[0]) and acc[1] == 90.0 and acc[2] == 90.0 and math.isnan(acc[3]) and acc[4] == 95.0
    assert curve.seconds.tolist() == [1.0, 1.5, 1.75, 2.75, 3.75]
    assert curve.reused == 1


def test_accuracy_at_seconds_reads_the_step_curve():
    curve = Curve(seconds=np.array([2.0, 5.0, 9.0]), accuracy=np.array([70.0, 80.0, 95.0]))
    got = curve.accuracy_at_seconds(np.array([1.0, 2.0, 4.9, 5.0, 100.0]))
    assert math.isnan(got[0]) and got[1:].tolist() == [70.0, 70.0, 80.0, 95.0]


def test_bootstrap_means_two_seeds_by_hand():
    # rows 0 and 2: resampled means are 0, 1, 2 with probabilities 1/4, 1/2, 1/4, so a 50 % interval is [0.5, 1.5]
    # at most and the 95 % one [0, 2]
    mean, low, high = bootstrap_means(np.array([0.0, 2.0]), n_boot=4000, ci=0.95, seed=3)
    assert (mean[0], low[0], high[0]) == (1.0, 0.0, 2.0)
    _, low50, high50 = bootstrap_means(np.array([0.0, 2.0]), n_boot=4000, ci=0.5, seed=3)
    assert 0.0 <= low50[0] <= 1.0 <= high50[0] <= 2.0


def test_bootstrap_means_constant_values_and_single_seed():
    mean, low, high = bootstrap_means(np.zeros(10), n_boot=200, ci=0.95)
    assert (mean[0], low[0], high[0]) == (0.0, 0.0, 0.0)  # a regret of 0 on every seed: a zero-width interval
    mean, low, high = bootstrap_means(np.array([3.0]), n_boot=200, ci=0.95)
    assert mean[0] == 3.0 and math.isnan(low[0]) and math.isnan(high[0])


def test_bootstrap_means_is_seeded_and_columnwise():
    values = np.random.default_rng(0).normal(size=(12, 3))
    a = bootstrap_means(values, 500, 0.9, seed=1)
    b = bootstrap_means(values, 500, 0.9, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert np.allclose(a[0], values.mean(axis=0))
    assert np.all(a[1] < a[0]) and np.all(a[0] < a[2])


def _curve(regrets, optimum=100.0, seconds=1.0):
    regrets = np.asarray(regrets, dtype=float)
    return Curve(seconds=np.cumsum(np.full(regrets.size, seconds)), accuracy=optimum - regrets)


def test_summarize_regret_at_budgets_and_area():
    # seed 1: regret 10 for 9 evaluations, then 0; seed 2: 4 throughout; 30 evaluations each
    one = _curve([10.0] * 9 + [0.0] * 21)
    two = _curve([4.0] * 30)
    row = summarize([one, two], optimum=100.0, n_boot=500, ci=0.95)
    assert row["trace_seeds"] == 2 and row["charged_s_mean"] == 30.0 and row["reused_mean"] == 0.0
    assert row["regret_at_10"] == pytest.approx((0.0 + 4.0) / 2)
    assert row["regret_at_25"] == pytest.approx(2.0)
    assert "regret_at_50" not in row  # no trace reaches 50 evaluations
    auc_one, auc_two = 10.0 * 9 / 30, 4.0
    assert row["regret_auc"] == pytest.approx((auc_one + auc_two) / 2)
    assert row["regret_auc_ci_low"] == pytest.approx(min(auc_one, auc_two))  # two seeds: the interval spans both
    assert row["regret_auc_ci_high"] == pytest.approx(max(auc_one, auc_two))


def test_summarize_budgets_follow_the_shortest_trace_and_nan_points_are_left_out():
    long, short = _curve([1.0] * 120), _curve([2.0] * 60)
    row = summarize([long, short], optimum=100.0, n_boot=100, ci=0.95)
    assert [b for b in BUDGETS if f"regret_at_{b}" in row] == [10, 25, 50]
    blank = Curve(seconds=np.arange(1.0, 11.0), accuracy=np.full(10, math.nan))
    row = summarize([_curve([3.0] * 10), blank], optimum=100.0, n_boot=100, ci=0.95)
    assert row["regret_at_10"] == 3.0 and row["regret_auc"] == 3.0  # the blank seed is left out of both
    assert summarize([], 100.0, 100, 0.95) == {}
    assert "regret_auc" not in summarize([long], math.nan, 100, 0.95)  # no optimum, no regret


def test_curve_bands_by_evaluations_and_seconds():
    one = Curve(seconds=np.array([1.0, 2.0, 3.0, 4.0]), accuracy=np.array([70.0, 80.0, 80.0, 95.0]))
    two = Curve(seconds=np.array([2.0, 4.0, 6.0, 8.0]), accuracy=np.array([90.0, 90.0, 90.0, 90.0]))
    by_evals = curve_bands([one, two], "evaluations", n_boot=100, ci=0.95)
    assert by_evals["x"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert by_evals["mean"].tolist() == [80.0, 85.0, 85.0, 92.5]
    assert (by_evals["seeds"] == 2).all()
    by_time = curve_bands([one, two], "seconds", n_boot=100, ci=0.95, points=3)
    # from the latest first charge (2 s) to the earliest end (4 s): 2, sqrt(8), 4 seconds
    assert by_time["x"].tolist() == pytest.approx([2.0, math.sqrt(8.0), 4.0])
    assert by_time["mean"].tolist() == pytest.approx([(80 + 90) / 2, (80 + 90) / 2, (95 + 90) / 2])
    free = Curve(seconds=np.zeros(4), accuracy=np.full(4, 90.0))  # charged nothing: no seconds curve
    assert curve_bands([free], "seconds", 100, 0.95).empty
    with pytest.raises(ValueError, match="evaluations, seconds"):
        curve_bands([one], "minutes", 100, 0.95)


# -- the store ---------------------------------------------------------------------------------------
def test_store_round_trips_traces(tmp_path):
    store = Store(tmp_path / "results.sqlite")
    trace = [_step(0, "a", 1.5, seconds=0.25), _step(1, "b", 2.5, seconds=12.0, reused=True)]
    store.add_search("random", 0, "oracle", "b", [], 2, [], CostRow(0.1, 0.1, 0.0), 1, trace=trace)
    store.add_search("random", 1, "oracle", None, [], 0, [], CostRow(0.0, 0.0, 0.0, status="failed"), 1)
    assert store.search_traces() == {("random", 0): trace}
    frame = store.searches_frame()
    assert frame.loc[frame.seed == 0, "status"].item() == OK and "trace" in frame.columns
    store.close()
    assert Store(tmp_path / "results.sqlite").search_traces() == {("random", 0): trace}


OLD_SEARCHES = """CREATE TABLE searches (
    searcher TEXT NOT NULL, seed INTEGER NOT NULL, estimator TEXT NOT NULL,
    arch TEXT, front_json TEXT, evaluations INTEGER, history_json TEXT,
    wall_s REAL, cpu_s REAL, peak_mem_mb REAL, status TEXT NOT NULL, error TEXT,
    run_id INTEGER, finished REAL NOT NULL,
    PRIMARY KEY (searcher, seed)
);
CREATE TABLE study (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, config_json TEXT NOT NULL,
    config_hash TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE results (estimator TEXT NOT NULL, arch TEXT NOT NULL, seed INTEGER NOT NULL, score REAL, wall_s REAL,
    cpu_s REAL, peak_mem_mb REAL, status TEXT NOT NULL, error TEXT, run_id INTEGER, finished REAL NOT NULL,
    PRIMARY KEY (estimator, arch, seed));
INSERT INTO searches VALUES ('random', 0, 'params', 'a', '[]', 5, '[]', 1.0, 1.0, 0.0, 'ok', NULL, 1, 0.0);
"""


def test_an_old_store_without_the_trace_column_opens_and_gains_it(tmp_path):
    path = tmp_path / "results.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SEARCHES)
    conn.close()
    store = Store(path)
    assert store.search_traces() == {}  # the old search has no trace
    frame = store.searches_frame()
    assert frame["arch"].tolist() == ["a"] and frame["trace"].isna().all()
    store.add_search("random", 1, "params", "b", [], 1, [], CostRow(0.1, 0.1, 0.0), 2, trace=[_step(0, "b", 1.0)])
    assert store.search_traces() == {("random", 1): [_step(0, "b", 1.0)]}
    store.close()
