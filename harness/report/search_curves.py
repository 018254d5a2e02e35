"""Anytime curves of searches: the best-so-far ground truth against evaluations and charged seconds.

A search's trace (``SearchResult.trace``, kept in the store's ``searches.trace``) lists every evaluation in
order: the architecture, its score and the seconds charged for it (the estimator's wall seconds, the oracle's
recorded training seconds, or the original cost of a reused score). From it, after each evaluation ``k``:

* the **incumbent** is the best-*scored* architecture among the first ``k`` evaluations (scores oriented by
  the estimator's declared direction; ties keep the earlier one; non-finite scores never win): what the
  searcher would return if stopped there. Its **best-so-far accuracy** is the benchmark's ground truth of the
  incumbent on the study's split, so a proxy that scores a poor architecture highly is charged for it, and an
  oracle searching on ``valid`` is judged on ``test``. An incumbent without ground truth leaves the point blank;
* the **regret** is the benchmark optimum (on the study's split) minus the best-so-far accuracy;
* the **cumulative charged seconds** are the sum of the charged seconds of evaluations ``1..k``.

Per (searcher, seed) that gives a step curve; over seeds the board reports, for each budget of
:data:`BUDGETS` that every seed's trace reaches, the mean regret after that many evaluations with a
percentile-bootstrap interval over seeds (``regret_at_B`` with ``_ci_low``/``_ci_high``), and the area under
the regret curve normalised by the budget (``regret_auc``: the mean regret over evaluations ``1..n`` of each
seed's ``n`` evaluations; lower is better; a seed whose curve has a blank point is left out of it).

Example::

    curve = best_so_far(trace, sign=+1, truth=lambda arch: bench_accuracy.get(arch))
    curve.regret(optimum)[9]                     # regret after 10 evaluations
    summary = summarize([curve_a, curve_b], optimum, n_boot=1000, ci=0.95)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: evaluation budgets at which the board reports regret (those every seed's trace reaches)
BUDGETS: tuple[int, ...] = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)
#: at most this many points per curve in the plot data (log-spaced; the step curve is read at each)
PLOT_POINTS = 200


@dataclass(frozen=True)
class Curve:
    """One search's anytime curve: after evaluation ``k`` (index ``k - 1``) the cumulative charged seconds and
    the ground truth of the incumbent (NaN: no finite score yet, or an incumbent without ground truth)."""

    seconds: np.ndarray
    accuracy: np.ndarray
    reused: int = 0  # evaluations answered from stored scores

    @property
    def evaluations(self) -> int:
        return int(self.accuracy.size)

    def regret(self, optimum: float) -> np.ndarray:
        return optimum - self.accuracy

    def accuracy_at_seconds(self, grid: np.ndarray) -> np.ndarray:
        """The best-so-far accuracy at each time of ``grid`` (NaN before the first evaluation is charged)."""
        done = np.searchsorted(self.seconds, grid, side="right")  # evaluations finished by each time
        values = np.full(grid.shape, math.nan)
        has = done > 0
        values[has] = self.accuracy[done[has] - 1]
        return values


def best_so_far(trace: Sequence[Mapping[str, Any]], sign: int, truth: Callable[[str], float | None]) -> Curve:
    """The anytime curve of one trace (module docstring); ``sign`` orients the scores (+1: higher is better),
    ``truth(arch)`` is the study-split ground truth of an architecture string or None."""
    seconds = np.cumsum([_number(step.get("seconds"), 0.0) for step in trace], dtype=float)
    accuracy = np.full(len(trace), math.nan)
    best_key, best_truth = -math.inf, math.nan
    for k, step in enumerate(trace):
        key = sign * _number(step.get("score"), math.nan)
        if math.isfinite(key) and key > best_key:
            value = truth(str(step.get("arch")))
            best_key, best_truth = key, math.nan if value is None else float(value)
        accuracy[k] = best_truth
    return Curve(seconds, accuracy, sum(bool(step.get("reused")) for step in trace))


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number


def bootstrap_means(values: np.ndarray, n_boot: int, ci: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Mean over rows (seeds) of each column of ``values`` with a percentile-bootstrap interval over rows.

    Each replicate draws the rows with replacement once and takes every column's mean on that draw, so the
    columns of one curve share their resamples. Returns (mean, low, high), one value per column; with fewer than
    two rows, or ``n_boot`` 0, the interval is NaN. Seeded: equal inputs give equal intervals. (Not
    :func:`nas_harness.metrics.bootstrap_ci`: that one resamples architectures within a sample and is undefined
    for constant values, which a regret of 0 on every seed is.)
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    mean = values.mean(axis=0) if values.shape[0] else np.full(values.shape[1], math.nan)
    nan = np.full(values.shape[1], math.nan)
    if values.shape[0] < 2 or n_boot <= 0:
        return mean, nan, nan.copy()
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, values.shape[0], size=(n_boot, values.shape[0]))
    replicates = values[rows].mean(axis=1)  # (n_boot, columns)
    alpha = (1 - ci) / 2
    low, high = np.quantile(replicates, [alpha, 1 - alpha], axis=0)
    return mean, low, high


def summarize(curves: Sequence[Curve], optimum: float, n_boot: int, ci: float, seed: int = 0) -> dict[str, Any]:
    """The board's curve columns for one searcher from its seeds' curves (module docstring): ``trace_seeds``,
    ``charged_s_mean``, ``reused_mean``, ``regret_auc`` with its interval and ``regret_at_B`` with its interval for
    each budget B of :data:`BUDGETS` that every curve reaches (empty without curves or without an optimum)."""
    if not curves:
        return {}
    row: dict[str, Any] = {
        "trace_seeds": len(curves),
        "charged_s_mean": float(np.mean([c.seconds[-1] if c.evaluations else 0.0 for c in curves])),
        "reused_mean": float(np.mean([c.reused for c in curves])),
    }
    if not math.isfinite(optimum):
        return row
    aucs = [float(np.mean(c.regret(optimum))) for c in curves if c.evaluations]
    row.update(_with_interval("regret_auc", [a for a in aucs if math.isfinite(a)], n_boot, ci, seed))
    shortest = min(c.evaluations for c in curves)
    for budget in (b for b in BUDGETS if b <= shortest):
        at = [float(c.regret(optimum)[budget - 1]) for c in curves]
        row.update(_with_interval(f"regret_at_{budget}", [a for a in at if math.isfinite(a)], n_boot, ci, seed))
    return row


def _with_interval(name: str, values: list[float], n_boot: int, ci: float, seed: int) -> dict[str, float]:
    if not values:
        return {name: math.nan, f"{name}_ci_low": math.nan, f"{name}_ci_high": math.nan}
    mean, low, high = bootstrap_means(np.array(values), n_boot, ci, seed)
    return {name: float(mean[0]), f"{name}_ci_low": float(low[0]), f"{name}_ci_high": float(high[0])}


def curve_bands(
    curves: Sequence[Curve], axis: str, n_boot: int, ci: float, seed: int = 0, points: int = PLOT_POINTS
) -> pd.DataFrame:
    """Mean best-so-far accuracy with its bootstrap interval over seeds along ``axis`` (``evaluations`` or
    ``seconds``): columns ``x``, ``mean``, ``low``, ``high``, ``seeds``.

    Evaluations: at up to ``points`` log-spaced counts from 1 to the shortest trace. Seconds: on a log-spaced grid
    from the latest first charge to the earliest end among the seeds, where every seed has a point (empty when
    a seed charges nothing, e.g. an oracle over a benchmark without recorded training time). Points where a
    seed's incumbent has no ground truth are left out.
    """
    columns = ["x", "mean", "low", "high", "seeds"]
    curves = [c for c in curves if c.evaluations]
    if not curves:
        return pd.DataFrame(columns=columns)
    if axis == "evaluations":
        shortest = min(c.evaluations for c in curves)
        x = np.unique(np.round(np.geomspace(1, shortest, num=min(points, shortest))).astype(int))
        values = np.stack([c.accuracy[x - 1] for c in curves])
    elif axis == "seconds":
        start = max(float(c.seconds[0]) for c in curves)
        end = min(float(c.seconds[-1]) for c in curves)
        if not (start > 0 and end >= start):
            return pd.DataFrame(columns=columns)
        x = np.unique(np.geomspace(start, end, num=points)) if end > start else np.array([start])
        values = np.stack([c.accuracy_at_seconds(x) for c in curves])
    else:
        raise ValueError(f"curve axis {axis!r}; accepted: evaluations, seconds")
    keep = np.isfinite(values).all(axis=0)
    x, values = x[keep], values[:, keep]
    mean, low, high = bootstrap_means(values, n_boot, ci, seed)
    return pd.DataFrame({"x": x.astype(float), "mean": mean, "low": low, "high": high, "seeds": len(curves)})[columns]
