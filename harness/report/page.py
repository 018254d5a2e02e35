"""Static HTML leaderboard pages: one ``index.html`` per study and one listing every study.

A study page holds the estimator and searcher tables, the plots and the
provenance, in one self-contained file: the plots are embedded as base64
``data:`` URIs, the style is inline, and there is no JavaScript, so the page
opens from disk, from an artifact store or as an e-mail attachment. Every string
that comes from a study (labels, errors, provenance) is HTML-escaped.

The estimators lead with the compact table (``<table id="leaderboard">``, see
:mod:`nas_harness.report.compact`): Kendall tau with its interval drawn as a bar on
an axis common to all rows (inline SVG), the verdict against the reference,
Spearman, seconds per architecture and failures; it fits a 1280 px screen. The
full table (``<table id="estimators">``, every CSV column) follows in a
``<details>`` section. The searchers lead the same way with their compact table
(``<table id="searchers-compact">``, :mod:`nas_harness.report.compact_searchers`).

Example::

    write_study_page(out / "quickstart", "quickstart", {"estimators": frame}, prov, plots.files, plots.errors)
    write_index(out)    # out/index.html links every study folder that has an index.html
"""

from __future__ import annotations

import base64
import json
import math
import struct
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from nas_harness.atomic import write_text_atomic
from nas_harness.report.cells import format_cell
from nas_harness.report.compact import BEATS, WORSE, CompactRow, axis_of, compact_rows, reference_of
from nas_harness.report.compact_searchers import compact_searchers

PAGE = "index.html"
#: caption of each plot (nas_harness.report.plots writes them; the page must not need matplotlib to name them)
CAPTIONS = {
    "tradeoff": "Kendall tau (bootstrap interval as error bars) against seconds per architecture "
    "(one-off prepare plus scoring, amortized over the ranked architectures; log scale).",
    "scatter": "Rank of the score against rank of the ground-truth accuracy (0 worst, 1 best, within each seed's "
    "sample), one panel per estimator; scores of 'lower is better' estimators are ranked reversed, so "
    "up-and-right is good everywhere and a perfect ranking is the diagonal.",
    "tau_history": "Kendall tau of each estimator over time (from history.csv).",
    "search_curves": "Anytime search curves: the study-split ground truth of the best-scored architecture so far "
    "(what the searcher would return if stopped there), mean over seeds with its percentile-bootstrap interval "
    "shaded, against evaluations (left) and cumulative charged seconds (right; the oracle is charged the "
    "benchmark's recorded training time); dashed: the benchmark optimum.",
}
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 110em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; overflow-wrap: anywhere; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.scroll { overflow-x: auto; }
table.compact td.label { overflow-wrap: anywhere; min-width: 8em; max-width: 26em; }
table.compact td.beats { color: #17671f; font-weight: 600; } table.compact td.worse { color: #a01c1c; }
svg.bar { display: block; }
details { margin: 0.8em 0; } summary { cursor: pointer; color: #335; }
#provenance td { overflow-wrap: anywhere; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1em 0; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .muted { color: #666; font-size: 0.85em; }
.error { color: #a00; }
"""


def cell_html(value: Any) -> str:
    """One table cell: numbers right-aligned and formatted as in the Markdown tables, text escaped."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    text = escape(format_cell(value))
    return f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>"


def table_html(frame: pd.DataFrame, table_id: str) -> str:
    """A DataFrame as an HTML table (header from the columns, one row per record)."""
    if frame.empty:
        return '<p class="muted">(no rows)</p>'
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    body = "\n".join(
        "<tr>" + "".join(cell_html(v) for v in record) + "</tr>" for record in frame.itertuples(index=False)
    )
    return (
        f'<div class="scroll"><table id="{escape(table_id)}">\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table></div>"
    )


#: the interval bar of a compact row: width and height (CSS pixels) and the margin left and right of the axis
BAR_WIDTH, BAR_HEIGHT, BAR_PAD = 160, 14, 5
_BAR_COLORS = {BEATS: "#17671f", WORSE: "#a01c1c"}


def interval_bar(row: CompactRow, axis: tuple[float, float]) -> str:
    """An inline SVG: the axis, its zero, the tau interval as a thick line and tau as a dot (nothing when unknown)."""
    low, high = axis

    def x(value: float) -> str:
        clipped = min(high, max(low, value))
        return f"{BAR_PAD + (clipped - low) / (high - low) * (BAR_WIDTH - 2 * BAR_PAD):.1f}"

    mid, color = BAR_HEIGHT / 2, _BAR_COLORS.get(row.vs_reference, "#3b5b8c")
    parts = [
        f'<line x1="{BAR_PAD}" x2="{BAR_WIDTH - BAR_PAD}" y1="{mid}" y2="{mid}" stroke="#ccc"/>',
        f'<line x1="{x(0.0)}" x2="{x(0.0)}" y1="2" y2="{BAR_HEIGHT - 2}" stroke="#888"/>',
    ]
    label = "no interval"
    if math.isfinite(row.low) and math.isfinite(row.high):
        parts.append(
            f'<line x1="{x(row.low)}" x2="{x(row.high)}" y1="{mid}" y2="{mid}" stroke="{color}" stroke-width="4"/>'
        )
        label = f"interval {format_cell(row.low)} to {format_cell(row.high)}"
    if math.isfinite(row.tau):
        parts.append(f'<circle cx="{x(row.tau)}" cy="{mid}" r="3" fill="{color}"/>')
    return (
        f'<svg class="bar" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" viewBox="0 0 {BAR_WIDTH} {BAR_HEIGHT}" '
        f'role="img" aria-label="{escape(label)}">' + "".join(parts) + "</svg>"
    )


def compact_html(frame: pd.DataFrame, table_id: str = "leaderboard") -> str | None:
    """The compact estimator table (see the module docstring), or None when ``frame`` is no estimator leaderboard."""
    rows = compact_rows(frame) if not frame.empty else None
    if not rows:
        return None
    reference = reference_of(frame)
    axis = axis_of(rows)
    heads = ["estimator", "Kendall tau", "interval",
             f"on a common axis: {format_cell(axis[0])} to {format_cell(axis[1])} (tick at 0)",
             *([f"vs {reference}"] if reference else []), "Spearman", "s/arch", "failures"]  # fmt: skip
    body = []
    for row in rows:
        interval = f"{format_cell(row.low)} to {format_cell(row.high)}" if math.isfinite(row.low) else ""
        cells = [
            f'<td class="label">{escape(row.estimator)}</td>',
            cell_html(row.tau),
            f'<td class="num">{escape(interval)}</td>',
            f"<td>{interval_bar(row, axis)}</td>",
            *([f'<td class="{escape(row.vs_reference)}">{escape(row.vs_reference)}</td>'] if reference else []),
            cell_html(row.spearman),
            cell_html(row.s_per_arch),
            cell_html(row.failures),
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    note = (
        f'<p class="muted">vs {escape(reference)}: the paired bootstrap interval of tau minus {escape(reference)}\'s '
        "tau on the same architectures; beats: above 0, worse: below 0, tie: it holds 0.</p>"
        if reference
        else ""
    )
    return (
        f'<table id="{escape(table_id)}" class="compact">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(body)
        + f"\n</tbody></table>{note}"
    )


def provenance_html(prov: dict[str, Any]) -> str:
    """Provenance as a two-column table (nested mappings flattened to 'key value, ...')."""
    rows = "\n".join(f"<tr><th>{escape(str(k))}</th><td>{escape(_flat(v))}</td></tr>" for k, v in prov.items())
    return f'<table id="provenance">\n<tbody>\n{rows}\n</tbody></table>'


def _flat(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG header, or None when ``data`` is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def image_html(path: Path, caption: str) -> str:
    """A figure with the PNG at ``path`` embedded as a data URI."""
    data = path.read_bytes()
    size = png_size(data)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return (
        f'<figure id="plot-{escape(path.stem)}"><img src="{uri}" alt="{escape(caption)}"{dims}>'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def render_study_page(
    study: str,
    tables: dict[str, pd.DataFrame],
    provenance: dict[str, Any],
    plots: dict[str, Path] | None = None,
    plot_errors: dict[str, str] | None = None,
    downloads: list[str] | None = None,
) -> str:
    """The study page as one HTML string (see the module docstring)."""
    plots, plot_errors = plots or {}, plot_errors or {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(study)}: nas-harness leaderboard</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Leaderboard: {escape(study)}</h1>",
        '<p class="muted"><a href="../index.html">all leaderboards</a>'
        + "".join(f' · <a href="{escape(quote(name))}">{escape(name)}</a>' for name in downloads or [])
        + "</p>",
    ]
    for name, frame in tables.items():
        parts.append(f"<h2>{escape(name.capitalize())}</h2>")
        compact = compact_html(frame) if name == "estimators" else None
        if name == "searchers" and (narrow := compact_searchers(frame)) is not None:
            compact = table_html(narrow, "searchers-compact").replace("<table ", '<table class="compact" ', 1)
        if compact is None:
            parts.append(table_html(frame, name))
        else:  # the compact table first; every column behind a <details>
            parts += [
                compact,
                f'<details id="{escape(name)}-all"><summary>All columns ({len(frame.columns)})</summary>',
                table_html(frame, name),
                "</details>",
            ]
    if plots or plot_errors:
        parts.append("<h2>Plots</h2>")
        for name, path in plots.items():
            parts.append(image_html(path, CAPTIONS.get(name, name)))
        for name, error in plot_errors.items():
            parts.append(f'<p class="error">plots ({escape(name)}) could not be drawn: {escape(error)}</p>')
    parts += ["<h2>Provenance</h2>", provenance_html(provenance), "</body></html>"]
    return "\n".join(parts) + "\n"


def write_study_page(
    out_dir: str | Path,
    study: str,
    tables: dict[str, pd.DataFrame],
    provenance: dict[str, Any],
    plots: dict[str, Path] | None = None,
    plot_errors: dict[str, str] | None = None,
) -> Path:
    """Write ``out_dir/index.html`` for one study; returns its path."""
    out = Path(out_dir)
    downloads = sorted(p.name for p in out.iterdir() if p.suffix in (".csv", ".md", ".json")) if out.is_dir() else []
    return write_text_atomic(out / PAGE, render_study_page(study, tables, provenance, plots, plot_errors, downloads))


def _summary(folder: Path) -> dict[str, str]:
    """Benchmark, best estimator and date of a study folder, read from its estimators.json (blank if unknown)."""
    try:
        payload = json.loads((folder / "estimators.json").read_text(encoding="utf-8"))
        rows, prov = payload.get("rows") or [], payload.get("provenance") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    best = rows[0] if rows and isinstance(rows[0], dict) else {}
    tau = best.get("kendall_tau")
    return {
        "benchmark": str(best.get("benchmark") or ""),
        "estimators": str(len(rows)),
        "best": str(best.get("estimator") or ""),
        "tau": f"{tau:.4g}" if isinstance(tau, int | float) and math.isfinite(tau) else "",
        "started": str(prov.get("started") or ""),
    }


def render_index(root: str | Path) -> str:
    """The page listing every study folder under ``root`` that has an index.html."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if (p / PAGE).is_file()) if root.is_dir() else []
    rows = []
    for folder in folders:
        info = _summary(folder)
        link = f'<a href="{escape(quote(folder.name))}/{PAGE}">{escape(folder.name)}</a>'
        cells = [escape(info.get(key, "")) for key in ("benchmark", "estimators", "best", "tau", "started")]
        rows.append(f"<tr><td>{link}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("study", "benchmark", "estimators", "best estimator", "tau", "run"))
    body = (
        f'<table id="studies"><thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(rows) + "\n</tbody></table>"
        if rows
        else '<p class="muted">(no study pages yet)</p>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>nas-harness leaderboards</title>\n<style>{_STYLE}</style></head><body>\n"
        f"<h1>nas-harness leaderboards</h1>\n{body}\n</body></html>\n"
    )


def write_index(root: str | Path) -> Path:
    """Write ``root/index.html`` (regenerated from the study folders each time); returns its path."""
    return write_text_atomic(Path(root) / PAGE, render_index(root))
