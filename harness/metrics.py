"""Ranking metrics between estimator scores and ground-truth accuracies.

All functions take scores already oriented so that higher predicts better
(multiply by ``Direction.sign``; never ``abs()`` a correlation). Pairs whose
score is NaN or infinite are excluded and *counted* (``n_excluded``), never
dropped silently. A constant score vector has no defined rank correlation: the
result is NaN with ``note='constant scores'`` rather than 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

MetricFn = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Cleaned:
    scores: np.ndarray
    truth: np.ndarray
    n_excluded: int
    note: str = ""


def clean(scores: Sequence[float], truth: Sequence[float]) -> Cleaned:
    """Drop (and count) pairs with a non-finite score; ground truth must be finite."""
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    if s.shape != t.shape or s.ndim != 1:
        raise ValueError(f"scores and truth must be 1-D of equal length, got shapes {s.shape} and {t.shape}")
    if not np.all(np.isfinite(t)):
        bad = int(np.count_nonzero(~np.isfinite(t)))
        raise ValueError(f"ground truth holds {bad} non-finite value(s); a benchmark must give finite accuracies")
    keep = np.isfinite(s)
    s, t = s[keep], t[keep]
    note = ""
    if s.size < 2:
        note = f"fewer than 2 finite scores ({s.size})"
    elif np.all(s == s[0]):
        note = "constant scores"
    elif np.all(t == t[0]):
        note = "constant ground truth"
    return Cleaned(s, t, int((~keep).sum()), note)


def kendall_tau(scores: np.ndarray, truth: np.ndarray) -> float:
    """Kendall tau-b (ties in either vector corrected for)."""
    return float(stats.kendalltau(scores, truth, variant="b").statistic)


def spearman_rho(scores: np.ndarray, truth: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    return float(stats.spearmanr(scores, truth).statistic)


def pearson_r(scores: np.ndarray, truth: np.ndarray) -> float:
    return float(stats.pearsonr(scores, truth).statistic)


def top_k_precision(scores: np.ndarray, truth: np.ndarray, k_percent: float = 10.0) -> float:
    """Share of the top-k% architectures by score that are also top-k% by ground truth.

    k% of n is rounded up (at least one architecture). Ties are broken by
    position in the input (a stable sort), so the result is deterministic.
    """
    if not 0 < k_percent <= 100:
        raise ValueError(f"top-k percent must be in (0, 100], got {k_percent!r}")
    n = scores.size
    k = max(1, math.ceil(n * k_percent / 100))
    top_by_score = np.argsort(-scores, kind="stable")[:k]
    top_by_truth = np.argsort(-truth, kind="stable")[:k]
    return float(np.intersect1d(top_by_score, top_by_truth).size / k)


@dataclass
class MetricResult:
    value: float
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    n_excluded: int = 0
    note: str = ""


@dataclass
class RankingReport:
    """Every metric for one estimator on one sample (or the mean over seeds)."""

    kendall: MetricResult
    spearman: MetricResult
    pearson: MetricResult
    top_k: dict[float, MetricResult] = field(default_factory=dict)


def _safe(fn: MetricFn, s: np.ndarray, t: np.ndarray) -> float:
    if s.size < 2 or np.all(s == s[0]) or np.all(t == t[0]):
        return math.nan
    return fn(s, t)


def bootstrap_ci(
    samples: Sequence[tuple[np.ndarray, np.ndarray]],
    fn: MetricFn,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Point estimate and percentile bootstrap interval of the mean of ``fn`` over samples.

    Each sample (one per study seed) is resampled with replacement on its own;
    replicate b is the mean over samples of ``fn`` on their b-th resample. The
    generator is seeded, so the interval is a function of the inputs and seed.
    """
    point = float(np.mean([_safe(fn, s, t) for s, t in samples])) if samples else math.nan
    if not samples or n_boot <= 0 or math.isnan(point):
        return point, math.nan, math.nan
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_boot)
    for b in range(n_boot):
        values = []
        for s, t in samples:
            idx = rng.integers(0, s.size, size=s.size)
            values.append(_safe(fn, s[idx], t[idx]))
        replicates[b] = np.mean(values)
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0:
        return point, math.nan, math.nan
    alpha = (1 - ci) / 2
    low, high = np.quantile(replicates, [alpha, 1 - alpha])
    return point, float(low), float(high)


def ranking_report(
    samples: Sequence[tuple[Sequence[float], Sequence[float]]],
    top_k_percents: Sequence[float] = (10.0,),
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> RankingReport:
    """All metrics over one or more (scores, truth) samples; scores oriented higher-is-better."""
    cleaned = [clean(s, t) for s, t in samples]
    pairs = [(c.scores, c.truth) for c in cleaned]
    n = int(np.mean([c.scores.size for c in cleaned])) if cleaned else 0
    excluded = sum(c.n_excluded for c in cleaned)
    note = "; ".join(sorted({c.note for c in cleaned if c.note}))

    def result(fn: MetricFn, boot: bool = True) -> MetricResult:
        value, low, high = bootstrap_ci(pairs, fn, n_boot if boot else 0, ci, seed)
        return MetricResult(value, low, high, n, excluded, note)

    top_k = {k: result(lambda s, t, k=k: top_k_precision(s, t, k), boot=False) for k in top_k_percents}
    # Only Kendall tau (the leaderboard's headline) gets an interval: resampling is the costly part.
    return RankingReport(result(kendall_tau), result(spearman_rho, boot=False), result(pearson_r, boot=False), top_k)


def paired_difference(
    samples: Sequence[tuple[Sequence[float], Sequence[float], Sequence[float]]],
    fn: MetricFn = kendall_tau,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float, float]:
    """``fn(a, truth) - fn(b, truth)`` on the same architectures, with a paired bootstrap.

    ``samples`` holds one ``(scores_a, scores_b, truth)`` per study seed, scores
    oriented higher-is-better; architectures where either score is not finite
    are left out of both. Each replicate resamples a seed's architectures once
    and judges both estimators on that same resample, so what the two share (an
    easy or a hard sample) cancels out. Returns the mean difference over seeds,
    its percentile interval, and ``p``: the share of replicates at or below zero
    (a one-sided bootstrap p-value for "a ranks better than b").
    """
    cleaned = []
    for a, b, t in samples:
        a, b, t = (np.asarray(v, dtype=np.float64) for v in (a, b, t))
        keep = np.isfinite(a) & np.isfinite(b)
        cleaned.append((a[keep], b[keep], t[keep]))

    def difference(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> float:
        return _safe(fn, a, t) - _safe(fn, b, t) if a.size >= 2 else math.nan

    point = float(np.mean([difference(a, b, t) for a, b, t in cleaned])) if cleaned else math.nan
    if math.isnan(point) or n_boot <= 0:
        return point, math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_boot)
    for r in range(n_boot):
        values = []
        for a, b, t in cleaned:
            idx = rng.integers(0, a.size, size=a.size)  # one resample, judged for both estimators
            values.append(difference(a[idx], b[idx], t[idx]))
        replicates[r] = np.mean(values)
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0:
        return point, math.nan, math.nan, math.nan
    alpha = (1 - ci) / 2
    low, high = np.quantile(replicates, [alpha, 1 - alpha])
    return point, float(low), float(high), float(np.mean(replicates <= 0))
