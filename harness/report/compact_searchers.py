"""The compact searchers table a board's searchers section leads with: narrow enough for a laptop screen.

One row per searcher, in the board's order: the searcher and its estimator, the split the oracle searched on
(blank for other estimators; every searcher is judged on the study's split), seeds, the mean ground-truth
accuracy of the returned architecture, its regret, the area under the regret curve with its interval, the
regret after the largest budget of evaluations every seed reached with its interval, and the front's
hypervolume (multi-objective searchers). Every other column stays in the full table (and the CSV and JSON).

Example::

    narrow = compact_searchers(searchers)     # None when the frame is no searchers board
    narrow.columns                            # ['searcher', 'estimator', 'searched on', ...]
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from nas_harness.report.cells import format_cell

_BUDGET = re.compile(r"^regret_at_(\d+)$")


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def with_interval(record: dict[str, Any], column: str) -> str:
    """``value [low, high]`` (``value`` alone without an interval; blank when unknown)."""
    value = format_cell(_number(record.get(column)))
    low, high = _number(record.get(f"{column}_ci_low")), _number(record.get(f"{column}_ci_high"))
    if value and math.isfinite(low) and math.isfinite(high):
        return f"{value} [{format_cell(low)}, {format_cell(high)}]"
    return value


def _largest_budget(record: dict[str, Any]) -> int | None:
    budgets = [int(m.group(1)) for key in record if (m := _BUDGET.match(key))]
    reached = [b for b in budgets if math.isfinite(_number(record.get(f"regret_at_{b}")))]
    return max(reached) if reached else None


def compact_searchers(frame: pd.DataFrame) -> pd.DataFrame | None:
    """The compact rows of a searchers board (module docstring), or None when ``frame`` has no searcher column."""
    if "searcher" not in frame.columns or "accuracy_mean" not in frame.columns:
        return None
    judged = next((str(v) for v in frame.get("judged_split", []) if isinstance(v, str) and v), "")
    rows = []
    for record in frame.to_dict("records"):
        budget = _largest_budget(record)
        oracle = record.get("oracle_split")
        rows.append(
            {
                "searcher": str(record.get("searcher", "")),
                "estimator": str(record.get("estimator", "")),
                "searched on": oracle if isinstance(oracle, str) else "",
                "seeds": format_cell(record.get("seeds")),
                f"accuracy ({judged or 'study split'})": format_cell(_number(record.get("accuracy_mean"))),
                "regret": format_cell(_number(record.get("regret_mean"))),
                "regret AUC [interval]": with_interval(record, "regret_auc"),
                "regret at budget [interval]": (
                    f"{with_interval(record, f'regret_at_{budget}')} @{budget}" if budget is not None else ""
                ),
                "front HV [interval]": with_interval(record, "front_hypervolume"),
            }
        )
    return pd.DataFrame(rows)
