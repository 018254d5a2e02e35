"""Compare two runs estimator by estimator: Kendall tau A -> B and costs A -> B.

Whether a tau change is real is judged by one of two rules, and the report names
the rule of each row:

* **paired**, when both runs are results stores (which keep every architecture's
  score) that scored at least :data:`MIN_SHARED` of the same architectures for the
  estimator (same seed, same architecture string, same ground truth): tau B minus
  tau A on those architectures, with a paired bootstrap interval
  (:func:`nas_harness.metrics.paired_difference`: each replicate resamples the
  shared architectures once and ranks both runs' scores on it, so the sample's
  own luck cancels out). Below 0 is a *drop*, above 0 a *gain*, else a *tie*.
* **intervals**, otherwise (a leaderboard or a history row keeps no scores): the
  two runs' own bootstrap intervals. B's high below A's low is a *drop*, B's low
  above A's high a *gain*; anything else is within the noise of the sample
  (*overlap*). This is the rule the nightly regression alarm uses
  (:mod:`nas_harness.track.alarms`), whose fresh run is read from its leaderboard.

The paired rule is the sharper one: two intervals can overlap while the paired
difference, free of what both runs share, lies clear of 0.

Example::

    cmp = compare_runs(load_run("runs/quickstart"), load_run("leaderboards/history.csv@latest"))
    print(format_comparison(cmp))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tabulate import tabulate

from nas_harness.metrics import paired_difference
from nas_harness.track.runs import EstimatorResult, RunSummary

DROP = "drop"
GAIN = "gain"
OVERLAP = "overlap"
TIE = "tie"  # the paired interval holds 0
PAIRED = "paired"
INTERVALS = "intervals"
#: the paired rule needs at least this many architectures scored by both runs (else the intervals judge)
MIN_SHARED = 10

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
class PairedChange:
    """Tau B minus tau A on the architectures both runs scored, with its paired bootstrap interval."""

    difference: float
    low: float
    high: float
    archs: int  # architectures (seed, arch) both runs scored

    @property
    def verdict(self) -> str:
        return DROP if self.high < 0 else GAIN if self.low > 0 else TIE


def paired_change(a: pd.DataFrame, b: pd.DataFrame, n_boot: int = 1000, ci: float = 0.95) -> PairedChange | str:
    """The paired tau change from A's to B's scores of one estimator (rows of the score frame: seed, arch,
    signed_score, truth), or why there is none (too few shared architectures, no tau).

    Shared: the same seed and architecture string with the same ground truth, and a finite score in both.
    """
    keys, columns = ["seed", "arch"], ["seed", "arch", "signed_score", "truth"]
    both = a[columns].merge(b[columns], on=keys, suffixes=("_a", "_b"))
    score_a, score_b = both["signed_score_a"].astype(float), both["signed_score_b"].astype(float)
    both = both[np.isfinite(score_a) & np.isfinite(score_b) & (both["truth_a"] == both["truth_b"])]
    if len(both) < MIN_SHARED:
        return f"{len(both)} shared architectures, fewer than {MIN_SHARED} to pair"
    samples = [
        (g["signed_score_b"].to_numpy(float), g["signed_score_a"].to_numpy(float), g["truth_a"].to_numpy(float))
        for _, g in both.groupby("seed", sort=True)
        if len(g) >= 2
    ]
    difference, low, high, _ = paired_difference(samples, n_boot=n_boot, ci=ci, seed=0)
    if math.isnan(low) or math.isnan(high):
        return f"no paired interval on the {len(both)} shared architectures (constant scores?)"
    return PairedChange(difference, low, high, len(both))


@dataclass(frozen=True)
class Change:
    """One estimator in A and/or B (``None`` where it is absent); ``paired`` when both runs' scores could be
    paired (else ``paired_note`` may say why not)."""

    estimator: str
    a: EstimatorResult | None
    b: EstimatorResult | None
    paired: PairedChange | None = None
    paired_note: str = ""

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

    @property
    def rule(self) -> str:
        """PAIRED or INTERVALS: the rule :attr:`verdict` follows ('' when A or B lacks the estimator)."""
        if self.a is None or self.b is None:
            return ""
        return PAIRED if self.paired is not None else INTERVALS

    @property
    def verdict(self) -> str:
        """DROP, GAIN or TIE by the paired rule when there is a paired change, else :attr:`intervals`."""
        return self.paired.verdict if self.paired is not None else self.intervals

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
    """Pair the estimators of A and B by label: B's order first, then those only A has. When both runs keep
    per-architecture scores (results stores), each estimator of both is judged by the paired rule where they
    share enough architectures (see the module docstring)."""
    labels = list(b.results) + [label for label in a.results if label not in b.results]
    changes = []
    for label in labels:
        old, new = a.results.get(label), b.results.get(label)
        paired, note = None, ""
        if old is not None and new is not None and a.scores is not None and b.scores is not None:
            found = paired_change(
                a.scores[a.scores["estimator"] == label], b.scores[b.scores["estimator"] == label], b.bootstrap, b.ci
            )
            paired, note = (found, "") if isinstance(found, PairedChange) else (None, found)
        changes.append(Change(label, old, new, paired, note))
    return Comparison(a, b, changes)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, fmt)


def _arrow(change: Change, column: str, fmt: str) -> str:
    old = None if change.a is None else getattr(change.a, column)
    new = None if change.b is None else getattr(change.b, column)
    return f"{_num(old, fmt)} -> {_num(new, fmt)}"


def _verdict_text(change: Change) -> str:
    if change.paired is not None:
        return {DROP: "DROP (paired)", GAIN: "GAIN (paired)", TIE: "tie (paired)"}[change.paired.verdict]
    return {DROP: "DROP (outside both)", GAIN: "GAIN (outside both)"}.get(change.intervals, change.intervals or "-")


def _rule_text(change: Change) -> str:
    paired = change.paired
    if paired is not None:
        return f"paired, {paired.archs} archs: {paired.difference:+.3f} [{paired.low:+.3f}, {paired.high:+.3f}]"
    if not change.rule:
        return "-"
    return f"intervals ({change.paired_note})" if change.paired_note else "intervals"


def comparison_rows(cmp: Comparison) -> list[list[str]]:
    rows = []
    for change in cmp.changes:
        delta = change.tau_change
        row = [
            change.estimator,
            _arrow(change, "kendall_tau", ".3f"),
            "-" if math.isnan(delta) else f"{delta:+.3f}",
            _verdict_text(change),
            _rule_text(change),
        ]
        for column, _, fmt in COST_COLUMNS:
            ratio = change.ratio(column)
            row += [_arrow(change, column, fmt), "-" if math.isnan(ratio) else f"{ratio:.2f}x"]
        row.append(change.status)
        rows.append(row)
    return rows


def format_comparison(cmp: Comparison) -> str:
    """A readable report: provenance of A and B, one line per estimator, added/removed, notes."""
    headers = ["estimator", "tau A -> B", "change", "verdict", "rule"]
    for _, heading, _ in COST_COLUMNS:
        headers += [f"{heading} A -> B", "ratio"]
    headers.append("")
    lines = [f"A: {cmp.a.describe()}", f"B: {cmp.b.describe()}", ""]
    lines.append(tabulate(comparison_rows(cmp), headers=headers, tablefmt="simple", disable_numparse=True))
    lines.append("")
    lines.append(f"added in B: {', '.join(cmp.added) or 'none'}; removed in B: {', '.join(cmp.removed) or 'none'}")
    lines.append(
        f"rule paired (both runs are results stores that scored at least {MIN_SHARED} of the same architectures: "
        "same seed, arch and ground truth): tau B - tau A on those architectures with a paired bootstrap interval "
        "[low, high]; DROP when it lies below 0, GAIN above 0, else tie"
    )
    lines.append(
        "rule intervals (otherwise, e.g. a leaderboard or history row, which keep no scores): DROP/GAIN when the "
        "bootstrap intervals of A and B do not overlap (B's high below A's low / B's low above A's high), else overlap"
    )
    lines += [f"note: {note}" for note in cmp.notes()]
    return "\n".join(lines)
