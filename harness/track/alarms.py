"""Regression alarms of a run against its baseline (what ``nas-harness nightly`` exits non-zero on).

* **tau**: an estimator's Kendall tau dropped outside the bootstrap intervals
  (the new interval's high is below the baseline interval's low), or it has no
  tau any more where the baseline had one.
* **cost**: CPU seconds per architecture, CPU total seconds or peak memory grew
  past ``cost_ratio`` times the baseline's *and* by more than a margin: the
  column's absolute floor (timers and RSS sampling jitter by a few milliseconds
  and megabytes; without the floors a 0.1 ms proxy would alarm on noise) or,
  when wider, the spread of that cost over the history's recent runs of the same
  study and config (:func:`history_noise`). CPU seconds, not wall seconds: a
  neighbour using the CPU stretches the wall clock of every job but not the CPU
  time of this process, so the alarm measures the code, not the machine's load.
  Wall seconds are still shown by the comparison.
* **golden**: a measured tau outside a plugin's pinned band (:mod:`nas_harness.golden`).

Example::

    alarms = regression_alarms(compare_runs(baseline, current), Thresholds(cost_ratio=2.0))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from nas_harness.api import HarnessError
from nas_harness.golden import ALARM, GoldenCheck
from nas_harness.track.compare import DROP, Change, Comparison

#: cost column -> the Thresholds field holding its floor
_FLOORS = {"cpu_s_per_arch": "min_s_per_arch", "cpu_total_s": "min_total_s", "peak_mem_mb": "min_mem_mb"}


@dataclass(frozen=True)
class Thresholds:
    """When a cost increase is an alarm: ratio past ``cost_ratio`` and increase past the column's margin."""

    cost_ratio: float = 1.5
    min_s_per_arch: float = 0.002  # CPU seconds per architecture
    min_total_s: float = 2.0  # CPU seconds (prepare + scoring)
    min_mem_mb: float = 16.0  # MiB

    def __post_init__(self) -> None:
        if not (isinstance(self.cost_ratio, int | float) and math.isfinite(self.cost_ratio) and self.cost_ratio >= 1):
            raise HarnessError(f"cost ratio = {self.cost_ratio!r}; expected a number >= 1 (e.g. 1.5)")
        for name in _FLOORS.values():
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise HarnessError(f"{name} = {value!r}; expected a non-negative number")

    def floor(self, column: str) -> float:
        """The growth of ``column`` (a key of :data:`COSTS`) below which it never alarms."""
        return getattr(self, _FLOORS[column])


#: cost columns alarmed on: column -> (what it is, unit)
COSTS = {
    "cpu_s_per_arch": ("CPU seconds per arch", "s"),
    "cpu_total_s": ("CPU total seconds", "s"),
    "peak_mem_mb": ("peak memory", "MB"),
}
#: the noise band of a cost is its spread over at most this many recent runs ...
NOISE_RUNS = 10
#: ... and is known only when at least this many runs measured it
MIN_NOISE_RUNS = 3

TAU = "tau"
COST = "cost"
GOLDEN = "golden"


@dataclass(frozen=True)
class Alarm:
    kind: str  # TAU, COST or GOLDEN
    estimator: str
    message: str


@dataclass(frozen=True)
class Spread:
    """How far one cost of one estimator moved between repeated runs: max - min over ``runs`` runs."""

    width: float
    runs: int


#: (estimator label, cost column) -> its spread over the history's recent runs
Noise = dict[tuple[str, str], Spread]


def history_noise(rows: pd.DataFrame, runs: int = NOISE_RUNS) -> Noise:
    """The spread of each estimator's costs over the last ``runs`` row groups of ``rows``.

    ``rows`` are history rows of one study and config (see :func:`nas_harness.track.history.runs_of`); a cost
    measured by fewer than :data:`MIN_NOISE_RUNS` of those runs has no spread (only the floor applies).
    """
    recent = rows[rows.run.isin(sorted(rows.run.unique())[-runs:])]
    noise: Noise = {}
    for label, mine in recent.groupby("estimator", sort=False):
        for column in COSTS:
            values = mine[column].dropna()
            if len(values) >= MIN_NOISE_RUNS:
                noise[(str(label), column)] = Spread(float(values.max() - values.min()), len(values))
    return noise


def regression_alarms(cmp: Comparison, thresholds: Thresholds, noise: Noise | None = None) -> list[Alarm]:
    """Tau drops and cost growth of B (the new run) against A (the baseline); ``noise`` widens cost margins."""
    noise = noise or {}
    alarms: list[Alarm] = []
    for change in cmp.changes:
        if change.a is None or change.b is None:
            continue  # added or removed: reported by the comparison, not an alarm
        alarms += _tau_alarms(change)
        for column in COSTS:
            alarm = _cost_alarm(change, column, thresholds, noise.get((change.estimator, column)))
            if alarm is not None:
                alarms.append(alarm)
    return alarms


def _tau_alarms(change: Change) -> list[Alarm]:
    old, new, label = change.a, change.b, change.estimator
    if change.intervals == DROP:
        return [
            Alarm(
                TAU,
                label,
                f"{label}: Kendall tau dropped {old.kendall_tau:.3f} -> {new.kendall_tau:.3f} "
                f"({change.tau_change:+.3f}); new interval {new.tau_ci_low:.3f}..{new.tau_ci_high:.3f} "
                f"lies below the baseline's {old.tau_ci_low:.3f}..{old.tau_ci_high:.3f}",
            )
        ]
    if math.isnan(new.kendall_tau) and not math.isnan(old.kendall_tau):
        return [
            Alarm(
                TAU,
                label,
                f"{label}: no Kendall tau any more (baseline {old.kendall_tau:.3f}); "
                f"failures {_count(old.failures)} -> {_count(new.failures)}",
            )
        ]
    return []


def _cost_alarm(change: Change, column: str, thresholds: Thresholds, spread: Spread | None) -> Alarm | None:
    before, after = getattr(change.a, column), getattr(change.b, column)
    if math.isnan(before) or math.isnan(after):
        return None  # not measured in one of the runs (see unchecked_costs)
    what, unit = COSTS[column]
    floor = thresholds.floor(column)
    margin, why = floor, f"+{floor:g} {unit}"
    if spread is not None and spread.width > floor:
        margin, why = spread.width, f"+{spread.width:.4g} {unit}, its spread over the last {spread.runs} runs"
    if not (after > thresholds.cost_ratio * before and after - before > margin):
        return None
    ratio = change.ratio(column)
    shown = "from zero" if math.isnan(ratio) else f"{ratio:.2f}x"
    return Alarm(
        COST,
        change.estimator,
        f"{change.estimator}: {what} ({column}) grew {before:.4g} -> {after:.4g} {unit} ({shown}; "
        f"alarm past {thresholds.cost_ratio:g}x and {why})",
    )


def unchecked_costs(cmp: Comparison) -> list[str]:
    """Estimators of both runs whose CPU seconds one run did not record, so that their CPU costs are not judged
    (a leaderboard or history row written before the CPU columns; a number, 0 included, where recorded)."""
    return [
        change.estimator
        for change in cmp.changes
        if change.a is not None
        and change.b is not None
        and any(math.isnan(run.cpu_total_s) for run in (change.a, change.b))
    ]


def golden_alarms(checks: list[GoldenCheck]) -> list[Alarm]:
    """Golden values whose band the measured tau missed."""
    return [Alarm(GOLDEN, c.label, c.describe()) for c in checks if c.status == ALARM]


def _count(value: float) -> str:
    return "?" if math.isnan(value) else f"{value:.0f}"
