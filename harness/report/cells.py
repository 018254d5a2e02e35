"""How one table value reads, the same in every format (CSV excepted): Markdown, HTML, the console."""

from __future__ import annotations

import math
from typing import Any


def format_cell(value: Any) -> str:
    """A table value as text, the same in every format: blank when unknown, floats to 4 significant digits."""
    if value is None:
        return ""  # not known (e.g. no noise ceiling for this benchmark)
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)
