"""Regression alarms of a run against its baseline (what ``nas-harness nightly`` exits non-zero on).

* **tau**: an estimator's Kendall tau dropped outside the bootstrap intervals
  (the new interval's high is below the baseline interval's low), or it has no
  tau any more where the baseline had one.
* **cost**: seconds per architecture, total seconds or peak memory grew past
  ``cost_ratio`` times the baseline's *and* by more than a small absolute floor
  (timers and RSS sampling jitter by a few milliseconds and megabytes; without
  the floors a 0.1 ms proxy would alarm on noise).
* **golden**: a measured tau outside a plugin's pinned band (:mod:`harness.golden`).

Example::

    alarms = regression_alarms(compare_runs(baseline, current), Thresholds(cost_ratio=2.0))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.api import HarnessError
from harness.compare import DROP, Comparison
from harness.golden import ALARM, GoldenCheck


@dataclass(frozen=True)
class Thresholds:
    """When a cost increase is an alarm: ratio past ``cost_ratio`` and increase past the column's floor."""

    cost_ratio: float = 1.5
    min_s_per_arch: float = 0.002  # seconds per architecture
    min_total_s: float = 2.0  # seconds (prepare + scoring)
    min_mem_mb: float = 16.0  # MiB

    def __post_init__(self) -> None:
        if not (isinstance(self.cost_ratio, int | float) and math.isfinite(self.cost_ratio) and self.cost_ratio >= 1):
            raise HarnessError(f"cost ratio = {self.cost_ratio!r}; expected a number >= 1 (e.g. 1.5)")
        for name in ("min_s_per_arch", "min_total_s", "min_mem_mb"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise HarnessError(f"{name} = {value!r}; expected a non-negative number")

    def floor(self, column: str) -> float:
        return {"s_per_arch": self.min_s_per_arch, "total_s": self.min_total_s, "peak_mem_mb": self.min_mem_mb}[column]


#: cost columns checked: column -> (what it is, unit)
COSTS = {
    "s_per_arch": ("seconds per arch", "s"),
    "total_s": ("total seconds", "s"),
    "peak_mem_mb": ("peak memory", "MB"),
}

TAU = "tau"
COST = "cost"
GOLDEN = "golden"


@dataclass(frozen=True)
class Alarm:
    kind: str  # TAU, COST or GOLDEN
    estimator: str
    message: str


def regression_alarms(cmp: Comparison, thresholds: Thresholds) -> list[Alarm]:
    """Tau drops and cost growth of B (the new run) against A (the baseline)."""
    alarms = []
    for change in cmp.changes:
        old, new = change.a, change.b
        if old is None or new is None:
            continue  # added or removed: reported by the comparison, not an alarm
        label = change.estimator
        if change.intervals == DROP:
            alarms.append(
                Alarm(
                    TAU,
                    label,
                    f"{label}: Kendall tau dropped {old.kendall_tau:.3f} -> {new.kendall_tau:.3f} "
                    f"({change.tau_change:+.3f}); new interval {new.tau_ci_low:.3f}..{new.tau_ci_high:.3f} "
                    f"lies below the baseline's {old.tau_ci_low:.3f}..{old.tau_ci_high:.3f}",
                )
            )
        elif math.isnan(new.kendall_tau) and not math.isnan(old.kendall_tau):
            alarms.append(
                Alarm(
                    TAU,
                    label,
                    f"{label}: no Kendall tau any more (baseline {old.kendall_tau:.3f}); "
                    f"failures {_count(old.failures)} -> {_count(new.failures)}",
                )
            )
        for column, (what, unit) in COSTS.items():
            before, after = getattr(old, column), getattr(new, column)
            if math.isnan(before) or math.isnan(after):
                continue
            grew = after - before
            if after > thresholds.cost_ratio * before and grew > thresholds.floor(column):
                ratio = change.ratio(column)
                shown = "from zero" if math.isnan(ratio) else f"{ratio:.2f}x"
                alarms.append(
                    Alarm(
                        COST,
                        label,
                        f"{label}: {what} ({column}) grew {before:.4g} -> {after:.4g} {unit} ({shown}; "
                        f"alarm past {thresholds.cost_ratio:g}x and +{thresholds.floor(column):g} {unit})",
                    )
                )
    return alarms


def golden_alarms(checks: list[GoldenCheck]) -> list[Alarm]:
    """Golden values whose band the measured tau missed."""
    return [Alarm(GOLDEN, c.label, c.describe()) for c in checks if c.status == ALARM]


def _count(value: float) -> str:
    return "?" if math.isnan(value) else f"{value:.0f}"
