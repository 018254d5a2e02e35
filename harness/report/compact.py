"""The compact estimator table a board leads with: what a reader needs first, narrow enough for a laptop screen.

One row per estimator, in the leaderboard's order (best Kendall tau first): the label, Kendall tau with its
bootstrap interval, the verdict against the reference estimator (when the study has one), Spearman, seconds per
architecture and failures. Every other column stays in the full table (and in the CSV and JSON); the
Markdown and the HTML page show it after the compact one.

Example::

    rows = compact_rows(estimators)          # None when the frame is no estimator leaderboard
    rows[0].tau, rows[0].low, rows[0].high   # floats (NaN where unknown)
    reference_of(estimators)                 # 'baselines.params', or None
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

#: the verdicts of the ``vs_reference`` column (blank: the reference itself, or not computable)
BEATS, WORSE, TIE = "beats", "worse", "tie"


@dataclass(frozen=True)
class CompactRow:
    estimator: str
    tau: float
    low: float
    high: float
    vs_reference: str
    spearman: float
    s_per_arch: float
    failures: Any


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def compact_rows(frame: pd.DataFrame) -> list[CompactRow] | None:
    """The compact rows of an estimator leaderboard, or None when ``frame`` has no estimator and tau columns."""
    if "estimator" not in frame.columns or "kendall_tau" not in frame.columns:
        return None
    rows = []
    for record in frame.to_dict("records"):
        failures = record.get("failures")
        rows.append(
            CompactRow(
                estimator=_text(record.get("estimator")),
                tau=_number(record.get("kendall_tau")),
                low=_number(record.get("tau_ci_low")),
                high=_number(record.get("tau_ci_high")),
                vs_reference=_text(record.get("vs_reference")),
                spearman=_number(record.get("spearman")),
                s_per_arch=_number(record.get("s_per_arch")),
                failures=int(failures) if _is_whole(failures) else failures,
            )
        )
    return rows


def _is_whole(value: Any) -> bool:
    number = _number(value)
    return not isinstance(value, bool) and math.isfinite(number) and number == int(number)


def reference_of(frame: pd.DataFrame) -> str | None:
    """The reference estimator a leaderboard's rows were judged against (its ``reference`` column), or None."""
    if "reference" not in frame.columns:
        return None
    labels = [_text(v) for v in frame["reference"]]
    return next((label for label in labels if label), None)


def axis_of(rows: list[CompactRow]) -> tuple[float, float]:
    """A common tau axis for the rows' interval bars: their intervals and 0, within [-1, 1], at least 0.2 wide."""
    values = [v for row in rows for v in (row.tau, row.low, row.high) if math.isfinite(v)]
    low, high = min([0.0, *values]), max([0.0, *values])
    low, high = max(-1.0, math.floor(low * 10) / 10), min(1.0, math.ceil(high * 10) / 10)
    if high - low < 0.2:
        high = min(1.0, low + 0.2)
        low = high - 0.2
    return low, high
