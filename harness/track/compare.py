"""Compare two runs estimator by estimator: Kendall tau A -> B and costs A -> B.

A tau change counts as real when the two bootstrap intervals do not overlap:
B's high below A's low is a *drop*, B's low above A's high a *gain*; anything
else is within the noise of the sample (*overlap*). This is the same rule the
nightly regression alarm uses (:mod:`nas_harness.track.alarms`).

Example::

    cmp = compare_runs(load_run("runs/quickstart"), load_run("leaderboards/history.csv@latest"))
    print(format_comparison(cmp))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tabulate import tabulate

from nas_harness.track.runs import EstimatorResult, RunSummary

DROP = "drop"
GAIN = "gain"
OVERLAP = "overlap"

#: cost columns compared, with their heading and number format: wall seconds (what a user waits) and CPU
#: seconds (what the code does; the nightly cost alarms judge these, as machine load does not inflate them)
COST_COLUMNS = (
    ("s_per_arch", "s/arch", ".3g"),
    ("cpu_s_per_arch", "CPU s/arch", ".3g"),
    ("total_s", "total s", ".4g"),
    ("cpu_total_s", "CPU total s", ".4g"),
    ("peak_mem_mb", "peak MB", ".1f"),
)


@dataclass(frozen=True)
class Change:
    """One estimator in A and/or B (``None`` where it is absent)."""

    estimator: str
    a: EstimatorResult | None
    b: EstimatorResult | None

    @property
    def status(self) -> str:
        return "added" if self.a is None else "removed" if self.b is None else ""

    @property
    def tau_change(self) -> float:
        if self.a is None or self.b is None:
            return math.nan
        return self.b.kendall_tau - self.a.kendall_tau

    @property
    def intervals(self) -> str:
        """DROP, GAIN or OVERLAP (the bootstrap intervals of A and B); '' when either is unknown."""
        if self.a is None or self.b is None:
            return ""
        a_low, a_high, b_low, b_high = self.a.tau_ci_low, self.a.tau_ci_high, self.b.tau_ci_low, self.b.tau_ci_high
        if any(math.isnan(x) for x in (a_low, a_high, b_low, b_high)):
            return ""
        if b_high < a_low:
            return DROP
        if b_low > a_high:
            return GAIN
        return OVERLAP

    def ratio(self, column: str) -> float:
        """B's cost over A's (NaN when unknown or A's is zero)."""
        if self.a is None or self.b is None:
            return math.nan
        old, new = getattr(self.a, column), getattr(self.b, column)
        if math.isnan(old) or math.isnan(new) or old <= 0:
            return math.nan
        return new / old


@dataclass
class Comparison:
    a: RunSummary
    b: RunSummary
    changes: list[Change] = field(default_factory=list)

    @property
    def added(self) -> list[str]:
        return [c.estimator for c in self.changes if c.status == "added"]

    @property
    def removed(self) -> list[str]:
        return [c.estimator for c in self.changes if c.status == "removed"]

    def notes(self) -> list[str]:
        """Warnings about comparing unlike runs."""
        notes = []
        if self.a.benchmark and self.b.benchmark and self.a.benchmark != self.b.benchmark:
            notes.append(f"the runs rank against different benchmarks ({self.a.benchmark} vs {self.b.benchmark})")
        if self.a.config_hash and self.b.config_hash and self.a.config_hash != self.b.config_hash:
            notes.append(
                f"the study configs differ (config hash {self.a.config_hash} vs {self.b.config_hash}): "
                "sample, options or seeds may have changed"
            )
        if self.a.cpu_model and self.b.cpu_model and self.a.cpu_model != self.b.cpu_model:
            notes.append(
                f"the runs ran on different CPUs ({self.a.cpu_model} vs {self.b.cpu_model}): costs are not "
                "comparable, and trained supernets' taus can differ by a few hundredths (docs/reproducibility.md)"
            )
        return notes


def compare_runs(a: RunSummary, b: RunSummary) -> Comparison:
    """Pair the estimators of A and B by label: B's order first, then those only A has."""
    labels = list(b.results) + [label for label in a.results if label not in b.results]
    return Comparison(a, b, [Change(label, a.results.get(label), b.results.get(label)) for label in labels])


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, fmt)


def _arrow(change: Change, column: str, fmt: str) -> str:
    old = None if change.a is None else getattr(change.a, column)
    new = None if change.b is None else getattr(change.b, column)
    return f"{_num(old, fmt)} -> {_num(new, fmt)}"


def comparison_rows(cmp: Comparison) -> list[list[str]]:
    rows = []
    for change in cmp.changes:
        delta = change.tau_change
        row = [
            change.estimator,
            _arrow(change, "kendall_tau", ".3f"),
            "-" if math.isnan(delta) else f"{delta:+.3f}",
            {DROP: "DROP (outside both)", GAIN: "GAIN (outside both)"}.get(change.intervals, change.intervals or "-"),
        ]
        for column, _, fmt in COST_COLUMNS:
            ratio = change.ratio(column)
            row += [_arrow(change, column, fmt), "-" if math.isnan(ratio) else f"{ratio:.2f}x"]
        row.append(change.status)
        rows.append(row)
    return rows


def format_comparison(cmp: Comparison) -> str:
    """A readable report: provenance of A and B, one line per estimator, added/removed, notes."""
    headers = ["estimator", "tau A -> B", "change", "intervals"]
    for _, heading, _ in COST_COLUMNS:
        headers += [f"{heading} A -> B", "ratio"]
    headers.append("")
    lines = [f"A: {cmp.a.describe()}", f"B: {cmp.b.describe()}", ""]
    lines.append(tabulate(comparison_rows(cmp), headers=headers, tablefmt="simple", disable_numparse=True))
    lines.append("")
    lines.append(f"added in B: {', '.join(cmp.added) or 'none'}; removed in B: {', '.join(cmp.removed) or 'none'}")
    lines.append(
        "intervals: DROP/GAIN when the bootstrap intervals of A and B do not overlap "
        "(B's high below A's low / B's low above A's high), else overlap"
    )
    lines += [f"note: {note}" for note in cmp.notes()]
    return "\n".join(lines)
