"""Leaderboard plots as small, deterministic PNG files (matplotlib, Agg backend).

Three charts per study, drawn from the same frames as the tables:

* ``scatter.png``: rank against rank, one small panel per estimator titled with
  its Kendall tau: the rank of each sampled architecture's score (signed by the
  estimator's declared direction, so a "lower is better" score ranks reversed)
  against the rank of its ground-truth accuracy, both within its seed's sample
  and scaled to 0 (worst) .. 1 (best). Ranks, not raw scores: a proxy whose
  scores span 1e17..1e33 (synflow) would hide its ranking on a score axis, and a
  ranking is what tau measures. A perfect ranking is the diagonal.
* ``tradeoff.png``: Kendall tau (with its bootstrap interval as error bars)
  against seconds per architecture (one-off prepare plus scoring, amortized
  over the ranked architectures; log scale): what each ranking costs. Labels
  are nudged vertically (:func:`repel_labels`) so that no two overlap, with a
  thin leader line to a point whose label moved.
* ``tau_history.png``: Kendall tau over time from ``history.csv``, one line per
  estimator; not drawn while there is no history for the study.
* ``search_curves.png``: the searchers' anytime curves (:mod:`nas_harness.report.search_curves`): mean
  best-so-far ground-truth accuracy over seeds with its bootstrap interval shaded, one line per searcher
  (with its estimator), against evaluations (left) and cumulative charged seconds (right), both log scale;
  the benchmark optimum dashed. Not drawn when no search has a trace.

Each chart is drawn on its own; :func:`write_plots` reports a chart that fails
instead of raising, so a plotting problem never costs the tables or the other
charts.

Example::

    result = write_plots(out_dir, estimators, scores, history)
    result.files    # {"scatter": Path(".../scatter.png"), ...}
    result.errors   # {"tradeoff": "ValueError: ..."} for charts that failed
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure  # drawn without pyplot: no global state, the Agg renderer, no display
from matplotlib.text import Text

from nas_harness.atomic import atomic_path

#: file name of each chart, in page order
PLOT_FILES = {
    "tradeoff": "tradeoff.png", "scatter": "scatter.png", "tau_history": "tau_history.png", "budget": "budget.png",
    "search_curves": "search_curves.png",
}  # fmt: skip
MAX_POINTS = 4000  # scatter points per panel; larger samples are thinned deterministically
DPI = 80
LABEL_GID = "tradeoff-label"  # the estimator labels of the trade-off plot (what the repel moves)
LABEL_GAP = 2.0  # pixels kept free between two labels
_RC = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7}


@dataclass
class PlotResult:
    """The charts written (name -> file) and those that failed (name -> error text)."""

    files: dict[str, Path] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def write_plots(
    out_dir: str | Path,
    estimators: pd.DataFrame,
    scores: pd.DataFrame,
    history: pd.DataFrame | None = None,
    study: str | None = None,
    budget: pd.DataFrame | None = None,
    search_curves: pd.DataFrame | None = None,
) -> PlotResult:
    """Write every chart that has data into ``out_dir``; a failing chart is reported in ``errors``.

    ``estimators`` is the leaderboard's estimator table; ``scores`` has one row per
    scored architecture (columns ``estimator``, ``signed_score``, ``truth``,
    ``direction``); ``history`` is ``history.csv`` (rows of other studies are
    ignored when ``study`` is given); ``budget`` is the budget-curve table; ``search_curves`` the searchers' curve
    bands (:func:`nas_harness.report.search_board.curve_frame`). A chart without data is not drawn, and an
    older file of that chart is removed so that no stale picture stays behind.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = PlotResult()
    charts: dict[str, Callable[[], Figure | None]] = {
        "tradeoff": lambda: tradeoff_figure(estimators),
        "scatter": lambda: scatter_figure(estimators, scores),
        "tau_history": lambda: history_figure(history, study),
        "budget": lambda: budget_figure(budget),
        "search_curves": lambda: search_curves_figure(search_curves),
    }
    for name, draw in charts.items():
        path = out / PLOT_FILES[name]
        try:
            with matplotlib.rc_context(_RC):
                fig = draw()
                if fig is None:
                    path.unlink(missing_ok=True)  # no data (any more): no stale picture
                    continue
                save_png(fig, path)
        except Exception as exc:
            path.unlink(missing_ok=True)  # the page names the error; an older picture would contradict it
            result.errors[name] = f"{type(exc).__name__}: {exc}"
        else:
            result.files[name] = path
    return result


def save_png(fig: Figure, path: Path) -> None:
    """Render with Agg, without the matplotlib version in the metadata, so equal data give equal bytes.

    The PNG replaces ``path`` atomically: a failed or killed render leaves the older picture whole.
    """
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})


def plain_text(value: object) -> str:
    """``value`` as literal text for a chart (a ``$`` would otherwise start matplotlib's math mode)."""
    return str(value).replace("\\", "\\\\").replace("$", r"\$")


def shortened(label: str, limit: int = 48) -> str:
    """``label`` cut to ``limit`` characters (with an ellipsis): a legend beside the axes must not squeeze them away."""
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"


def estimator_colors(labels: list[str]) -> dict[str, tuple[float, ...]]:
    """A fixed colour per estimator (in table order), shared by the charts."""
    cmap = matplotlib.colormaps["tab20" if len(labels) > 10 else "tab10"]
    return {label: cmap(i % cmap.N) for i, label in enumerate(labels)}


def tradeoff_figure(estimators: pd.DataFrame) -> Figure | None:
    """Kendall tau with its interval against amortized seconds per architecture (log x)."""
    if estimators.empty:
        return None
    table = estimators.copy()
    for column in ("kendall_tau", "tau_ci_low", "tau_ci_high", "total_s", "n_archs"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    table["cost"] = table["total_s"] / table["n_archs"].where(table["n_archs"] > 0)
    drawable = table[np.isfinite(table["kendall_tau"]) & np.isfinite(table["cost"]) & (table["cost"] > 0)]
    left_out = [str(x) for x in table.loc[~table.index.isin(drawable.index), "estimator"]]
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.subplots()
    colors = estimator_colors([str(x) for x in estimators["estimator"]])
    log_cost = np.log10(drawable["cost"]) if len(drawable) else pd.Series(dtype=float)
    right_of = log_cost.min() + 0.7 * (log_cost.max() - log_cost.min()) if len(drawable) > 1 else math.inf
    labels = []
    for row in drawable.itertuples(index=False):
        tau, low, high = row.kendall_tau, row.tau_ci_low, row.tau_ci_high
        yerr = [[tau - low], [high - tau]] if math.isfinite(low) and math.isfinite(high) else None
        color = colors[str(row.estimator)]
        ax.errorbar(row.cost, tau, yerr=yerr, fmt="o", color=color, capsize=3, markersize=5)
        left = math.log10(row.cost) > right_of  # labels of the rightmost points go left, inside the axes
        labels.append(
            (plain_text(shortened(str(row.estimator), 32)), (row.cost, tau), (-4.0 if left else 4.0, 3.0), color)
        )
    if len(drawable):
        ax.set_xscale("log")
        ax.margins(x=0.08, y=0.08)
    ax.axhline(0.0, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xlabel("seconds per architecture (prepare + scoring, amortized; log scale)")
    ax.set_ylabel("Kendall tau (higher is better)")
    ax.set_title("Ranking quality vs cost")
    ax.grid(True, which="major", alpha=0.3)
    if left_out:
        note = "not drawn (no tau or no cost): " + ", ".join(plain_text(x) for x in left_out)
        fig.text(0.01, 0.005, note, fontsize=6, color="0.4", va="bottom", wrap=True)
    _place_labels(fig, ax, labels)
    return fig


def _annotate(ax, text: str, xy: tuple[float, float], offset: tuple[float, float], color, leader: bool = False):
    """One estimator label of the trade-off plot, ``offset`` points from its point (left of it when negative)."""
    arrow = {"arrowstyle": "-", "color": color, "linewidth": 0.5, "shrinkA": 0, "shrinkB": 4} if leader else None
    return ax.annotate(text, xy, xytext=offset, textcoords="offset points", ha="right" if offset[0] < 0 else "left",
                       fontsize=7, color=color, gid=LABEL_GID, arrowprops=arrow, annotation_clip=False)  # fmt: skip


def _place_labels(fig: Figure, ax, labels: list) -> None:
    """Draw the labels where :func:`repel_labels` puts them: the layout is computed once and then frozen, so the
    pixels measured here are the pixels saved (scaled by the saving DPI)."""
    if not labels:
        return
    drawn = [_annotate(ax, *label) for label in labels]
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # constrained layout places the axes now ...
    fig.set_layout_engine("none")  # ... and keeps them there: moving a label must not move the points
    renderer = fig.canvas.get_renderer()
    boxes = [tuple(Text.get_window_extent(a, renderer).extents) for a in drawn]
    shifts = repel_labels(boxes, top=ax.get_window_extent(renderer).y1, gap=LABEL_GAP)
    to_points = 72.0 / fig.dpi
    for annotation, (text, xy, (dx, dy), color), shift in zip(drawn, labels, shifts, strict=True):
        if abs(shift) > 0.5:  # moved: a thin leader line ties it to its point
            annotation.remove()
            _annotate(ax, text, xy, (dx, dy + shift * to_points), color, leader=abs(shift) > 6)


def label_boxes(fig: Figure) -> list[tuple[float, float, float, float]]:
    """The pixel boxes (x0, y0, x1, y1) of the trade-off plot's estimator labels as drawn (without leader lines)."""
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in ax.texts if t.get_gid() == LABEL_GID]
    return [tuple(Text.get_window_extent(t, renderer).extents) for t in texts]


def repel_labels(
    boxes: list[tuple[float, float, float, float]], top: float = math.inf, gap: float = LABEL_GAP
) -> list[float]:
    """Vertical shifts (same units as the boxes, up positive) after which no two boxes ``(x0, y0, x1, y1)``
    intersect, nor come closer than ``gap``.

    Bottom to top, each box moves up just above the boxes placed before it that it meets; then top to
    bottom, each stays below ``top`` (the axes' upper edge) and moves down just below those it meets. The
    second pass checks each box against every box placed before it, so the result never overlaps.
    """
    y0 = [b[1] for b in boxes]
    height = [b[3] - b[1] for b in boxes]

    def meet(i: int, j: int) -> bool:
        x_meet = boxes[i][0] < boxes[j][2] + gap and boxes[j][0] < boxes[i][2] + gap
        return x_meet and y0[i] < y0[j] + height[j] + gap and y0[j] < y0[i] + height[i] + gap

    placed: list[int] = []
    for i in sorted(range(len(boxes)), key=lambda k: (y0[k], k)):
        while hits := [j for j in placed if meet(i, j)]:
            y0[i] = max(y0[j] + height[j] for j in hits) + gap
        placed.append(i)
    placed = []
    for i in sorted(range(len(boxes)), key=lambda k: (-y0[k], k)):
        y0[i] = min(y0[i], top - height[i])
        while hits := [j for j in placed if meet(i, j)]:
            y0[i] = min(y0[j] for j in hits) - gap - height[i]
        placed.append(i)
    return [y - b[1] for y, b in zip(y0, boxes, strict=True)]


def budget_figure(budget: pd.DataFrame | None) -> Figure | None:
    """Kendall tau (with its interval) against supernet training images, one line per supernet."""
    if budget is None or budget.empty:
        return None
    table = budget.copy()
    for column in ("images_seen", "epoch", "kendall_tau", "tau_ci_low", "tau_ci_high"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    x_name = "images_seen" if np.isfinite(table["images_seen"]).all() else "epoch"
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.subplots()
    colors = estimator_colors(sorted({str(x) for x in table["estimator"]}))
    for label, curve in table.groupby("estimator", sort=True):
        curve = curve.sort_values(x_name)
        color = colors[str(label)]
        ax.plot(curve[x_name], curve["kendall_tau"], "o-", color=color, label=plain_text(label), markersize=4)
        ax.fill_between(curve[x_name], curve["tau_ci_low"], curve["tau_ci_high"], color=color, alpha=0.15)
    ax.axhline(0.0, color="0.6", linewidth=0.8, linestyle=":")
    ax.set_xlabel("training images seen" if x_name == "images_seen" else "training epochs")
    ax.set_ylabel("Kendall tau (higher is better)")
    ax.set_title("Ranking quality vs supernet training budget")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return fig


#: the panels of search_curves.png: curve axis -> x-axis label
_CURVE_AXES = {
    "evaluations": "evaluations (log scale)",
    "seconds": "cumulative charged seconds (log scale; the oracle: recorded training time)",
}


def search_curves_figure(curves: pd.DataFrame | None) -> Figure | None:
    """Best-so-far ground-truth accuracy (mean over seeds, interval shaded) against evaluations and against
    cumulative charged seconds, one line per searcher; None when there is no curve."""
    if curves is None or curves.empty:
        return None
    table = curves.copy()
    for column in ("x", "mean", "low", "high", "optimum"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    labels = list(dict.fromkeys(str(x) for x in table["searcher"]))
    estimators = dict(zip(map(str, table["searcher"]), map(str, table["estimator"]), strict=True))
    colors = estimator_colors(labels)
    fig = Figure(figsize=(10.5, 4.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (axis, xlabel) in zip(axes, _CURVE_AXES.items(), strict=True):
        data = table[table["axis"] == axis]
        missing = []
        for label in labels:
            mine = data[data["searcher"].astype(str) == label].sort_values("x", kind="stable")
            if mine.empty:
                missing.append(label)
                continue
            name = plain_text(shortened(f"{label} ({estimators[label]})", 44))
            ax.plot(mine["x"], mine["mean"], drawstyle="steps-post", color=colors[label], linewidth=1.2, label=name)
            ax.fill_between(mine["x"], mine["low"], mine["high"], step="post", color=colors[label], alpha=0.15,
                            linewidth=0)  # fmt: skip
        optimum = table["optimum"].dropna()
        if len(optimum):
            ax.axhline(float(optimum.iloc[0]), color="0.4", linewidth=0.8, linestyle="--", label="benchmark optimum")
        if len(data):
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.grid(True, which="major", alpha=0.3)
        if missing:
            note = "no curve (no trace, or nothing charged): " + ", ".join(plain_text(x) for x in missing)
            ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize=6, color="0.4", va="bottom", wrap=True)
    axes[0].set_ylabel("best-so-far accuracy (%) of the best-scored architecture")
    axes[0].set_title("Anytime search curves: by evaluations")
    axes[1].set_title("by charged seconds")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right center", frameon=False)
    return fig


def scatter_figure(estimators: pd.DataFrame, scores: pd.DataFrame) -> Figure | None:
    """One small panel per estimator: the rank of its (signed) score against the rank of the ground truth."""
    if scores.empty:
        return None
    order = [str(x) for x in estimators["estimator"]] if len(estimators) else []
    order += sorted(set(map(str, scores["estimator"])) - set(order))
    labels = [label for label in order if (scores["estimator"] == label).any()]
    taus = {}
    if len(estimators):
        tau_values = pd.to_numeric(estimators["kendall_tau"], errors="coerce").astype(float)
        taus = dict(zip(map(str, estimators["estimator"]), tau_values, strict=True))
    cols = min(4, len(labels))
    rows = math.ceil(len(labels) / cols)
    fig = Figure(figsize=(2.4 * cols, 2.3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    colors = estimator_colors(order)
    for ax, label in zip(axes.flat, labels, strict=False):
        mine = rank_frame(scores[scores["estimator"] == label])
        shown = _thin(mine)
        ax.plot([0, 1], [0, 1], color="0.75", linewidth=0.8, linestyle=":")  # a perfect ranking
        ax.scatter(shown["truth_rank"], shown["score_rank"], s=4, alpha=0.5, color=colors[label], linewidths=0)
        minimize = (mine["direction"] == "min").any()
        tau = taus.get(label, math.nan)
        tau_text = f"{tau:.3f}" if math.isfinite(tau) else "n/a"
        count = f"{len(mine)}" if len(shown) == len(mine) else f"{len(shown)} of {len(mine)}"
        ax.set_title(f"{plain_text(shortened(label, 40))}\ntau {tau_text}, {count} archs", fontsize=7)
        ax.set_ylabel("rank of -score (lower is better)" if minimize else "rank of score", fontsize=7)
        ax.set_xlim(-0.04, 1.04)
        ax.set_ylim(-0.04, 1.04)
        ax.set_xticks([0, 0.5, 1])
        ax.set_yticks([0, 0.5, 1])
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(labels) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("rank of ground-truth accuracy", fontsize=7)
    return fig


def rank_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (rows of the score frame with a finite signed score) with ``score_rank`` and ``truth_rank``:
    ranks within each seed's sample (ties share their mean rank), scaled to 0 (worst) .. 1 (best)."""
    finite = frame[np.isfinite(frame["signed_score"].astype(float))]
    by_seed = finite.groupby("seed") if "seed" in finite.columns else finite.groupby(lambda _: 0)

    def scaled(column: str) -> pd.Series:
        rank = by_seed[column].rank(method="average")
        count = by_seed[column].transform("size")
        return ((rank - 1) / (count - 1)).where(count > 1, 0.5)

    return finite.assign(score_rank=scaled("signed_score"), truth_rank=scaled("truth"))


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    """At most MAX_POINTS rows, chosen by a fixed seed (the same data give the same picture)."""
    if len(frame) <= MAX_POINTS:
        return frame
    return frame.sample(n=MAX_POINTS, random_state=0)


def history_figure(history: pd.DataFrame | None, study: str | None = None) -> Figure | None:
    """Kendall tau per estimator over time; None when there is no history (yet) for ``study``."""
    if history is None or history.empty or not {"date", "estimator", "kendall_tau"} <= set(history.columns):
        return None
    rows = history
    if study is not None and "study" in rows.columns:
        rows = rows[rows["study"].astype(str) == study]
    rows = rows.assign(when=pd.to_datetime(rows["date"], errors="coerce", utc=True, format="ISO8601"))
    rows = rows.assign(tau=pd.to_numeric(rows["kendall_tau"], errors="coerce"))
    rows = rows.dropna(subset=["when", "tau"])
    if rows.empty:
        return None
    labels = sorted(set(map(str, rows["estimator"])))
    colors = estimator_colors(labels)
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for label in labels:
        mine = rows[rows["estimator"].astype(str) == label].sort_values("when", kind="stable")
        ax.plot(mine["when"], mine["tau"], marker="o", markersize=3, linewidth=1, color=colors[label],
                label=plain_text(shortened(label)))  # fmt: skip
    ax.set_ylabel("Kendall tau")
    ax.set_title("Kendall tau over time" + (f": {plain_text(study)}" if study else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.autofmt_xdate()
    return fig
