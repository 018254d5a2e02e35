import math

import pandas as pd

from nas_harness.report.leaderboard import escape_markdown, to_markdown


def test_markdown_cells_cannot_break_the_table():
    frame = pd.DataFrame([{"estimator": "evil|name\nwith newline", "tau": 0.123456, "empty": math.nan}])
    md = to_markdown(frame, "t", {"plugins": {"a|b": "1"}})
    table = [line for line in md.splitlines() if line.startswith("|")]
    header_cells = table[0].count(" | ")
    for line in table[2:]:
        # unescaped separators only: every row has as many as the header
        assert line.replace("\\|", "").count(" | ") == header_cells
    assert "evil\\|name with newline" in md
    assert "0.1235" in md
    assert "a\\|b 1" in md


def test_escape_backslash_first():
    assert escape_markdown("a\\|b") == "a\\\\\\|b"


def test_unknown_and_nan_cells_are_blank_not_none():
    assert escape_markdown(None) == ""
    assert escape_markdown(float("nan")) == ""
    assert escape_markdown(0.123456) == "0.1235"
