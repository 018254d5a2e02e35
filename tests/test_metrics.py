import itertools
import math

import numpy as np
import pytest
from scipy import stats

from nas_harness.metrics import (
    bootstrap_ci,
    clean,
    kendall_tau,
    paired_difference,
    ranking_report,
    spearman_rho,
    top_k_precision,
)


def brute_force_tau_b(x, y):
    """Kendall tau-b by counting every pair (Kendall 1945 tie correction)."""
    concordant = discordant = ties_x = ties_y = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            ties_x += 1
        elif dy == 0:
            ties_y += 1
        elif dx == dy:
            concordant += 1
        else:
            discordant += 1
    return (concordant - discordant) / math.sqrt(
        (concordant + discordant + ties_x) * (concordant + discordant + ties_y)
    )


@pytest.mark.parametrize("seed", range(5))
def test_kendall_matches_scipy_and_brute_force_on_random_and_tied_inputs(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=60)
    y = x + rng.normal(size=60)
    tied_x, tied_y = np.round(x), np.round(y * 2) / 2  # many ties on both sides
    for a, b in ((x, y), (tied_x, tied_y), (tied_x, y)):
        assert kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)
        assert kendall_tau(a, b) == pytest.approx(brute_force_tau_b(a, b), abs=1e-12)
        assert spearman_rho(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)


def test_top_k_precision_hand_example():
    scores = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2, 1], dtype=float)
    truth = np.array([1, 9, 8, 10, 6, 5, 4, 3, 2, 7], dtype=float)
    # top 20% = 2 archs: by score {0, 1}; by truth {3, 1} -> one in common
    assert top_k_precision(scores, truth, 20) == 0.5
    assert top_k_precision(scores, truth, 100) == 1.0
    with pytest.raises(ValueError, match="top-k percent"):
        top_k_precision(scores, truth, 0)


def test_nan_scores_are_excluded_and_counted():
    c = clean([1.0, math.nan, 3.0, math.inf, 2.0], [1, 2, 3, 4, 5])
    assert c.n_excluded == 2
    assert c.scores.tolist() == [1.0, 3.0, 2.0]
    report = ranking_report([([1.0, math.nan, 3.0, 2.0], [1, 2, 3, 4])], n_boot=10)
    assert report.kendall.n_excluded == 1
    assert report.kendall.n == 3


def test_constant_scores_give_nan_with_a_reason_not_zero():
    report = ranking_report([([5.0] * 10, list(range(10)))], n_boot=50)
    assert math.isnan(report.kendall.value)
    assert report.kendall.note == "constant scores"


def test_non_finite_ground_truth_is_an_error():
    with pytest.raises(ValueError, match="ground truth holds 1 non-finite"):
        clean([1, 2, 3], [1, math.nan, 3])


def test_bootstrap_interval_contains_point_and_is_deterministic_for_a_seed():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    first = bootstrap_ci([(x, y)], kendall_tau, n_boot=300, seed=7)
    again = bootstrap_ci([(x, y)], kendall_tau, n_boot=300, seed=7)
    other = bootstrap_ci([(x, y)], kendall_tau, n_boot=300, seed=8)
    point, low, high = first
    assert low < point < high
    assert first == again
    assert other != first
    assert point == pytest.approx(stats.kendalltau(x, y).statistic)


def test_direction_is_applied_by_caller_never_abs():
    truth = list(range(20))
    report = ranking_report([([-t for t in truth], truth)], n_boot=0)
    assert report.kendall.value == pytest.approx(-1.0)


def test_mean_over_seeds():
    a = (list(range(10)), list(range(10)))  # tau 1
    b = (list(range(10))[::-1], list(range(10)))  # tau -1
    report = ranking_report([a, b], n_boot=20)
    assert report.kendall.value == pytest.approx(0.0)


def test_paired_difference_judges_both_estimators_on_the_same_resamples():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=120)
    good = truth + rng.normal(scale=0.3, size=120)
    poor = truth + rng.normal(scale=3.0, size=120)
    diff, low, high, p = paired_difference([(good, poor, truth)], n_boot=300)
    assert diff == pytest.approx(kendall_tau(good, truth) - kendall_tau(poor, truth))
    assert 0 < low < diff < high and p < 0.01
    same = paired_difference([(good, good, truth)], n_boot=50)
    assert same == (0.0, 0.0, 0.0, 1.0)  # identical rankings: no difference on any resample


def test_paired_difference_leaves_out_archs_either_estimator_failed_on():
    truth = np.arange(10.0)
    a = truth.copy()
    a[3] = np.nan
    b = truth[::-1].copy()
    b[7] = np.inf
    diff, *_ = paired_difference([(a, b, truth)], n_boot=0)
    keep = [i for i in range(10) if i not in (3, 7)]
    assert diff == pytest.approx(kendall_tau(a[keep], truth[keep]) - kendall_tau(b[keep], truth[keep]))
    assert diff == pytest.approx(2.0)
