"""Leaderboard plots: written next to the tables, valid and deterministic PNGs, never at the tables' expense."""

from __future__ import annotations

import itertools
import sys

import pandas as pd
import pytest
from PIL import Image

from nas_harness.report import plots
from nas_harness.report.leaderboard import LeaderboardWarning, score_frame, write_leaderboards
from nas_harness.run.store import Store
from nas_harness.run.world import World
from tests.helpers.boards import EVIL_LABEL, publish_toy_board
from tests.helpers.studies import TOY_PLUGINS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    return publish_toy_board(tmp_path_factory.mktemp("plots"))


@pytest.fixture(scope="module")
def frames(board):
    """The estimator table and the score frame the plots are drawn from."""
    cfg, folder = board
    store = Store(cfg.store_path)
    try:
        scores = score_frame(store, World(cfg, plugin_modules=TOY_PLUGINS))
    finally:
        store.close()
    return pd.read_csv(folder / "estimators.csv"), scores


def assert_real_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    with Image.open(path) as image:
        image.load()  # decodes every pixel: a truncated file raises here
        width, height = image.size
        assert 100 < width < 2000 and 100 < height < 2000, (width, height)
        darkest, lightest = image.convert("L").getextrema()
        assert darkest < lightest, f"{path} is blank"
    assert len(data) < 300_000, f"{path} is {len(data)} bytes; plots should be small"


def test_plots_are_written_next_to_the_tables(board):
    _, folder = board
    assert (folder / "estimators.csv").is_file()
    for name in ("tradeoff.png", "scatter.png"):
        assert_real_png(folder / name)
    # the run appended its rows to history.csv before the plots were drawn: tau over time includes this run
    assert (folder.parent / "history.csv").is_file()
    assert_real_png(folder / "tau_history.png")


def test_score_frame_signs_scores_by_direction_and_pairs_them_with_ground_truth(frames):
    _, scores = frames
    inverse = scores[scores.estimator == "toy.inverse"]
    assert (inverse.direction == "min").all()
    assert (inverse.signed_score == -inverse.score).all()
    assert (inverse.signed_score == inverse.truth).all()  # the toy inverse proxy is minus the ground truth
    assert len(scores[scores.estimator == "toy.nan"]) < len(scores[scores.estimator == "toy.good"])  # NaNs left out


def test_same_data_same_bytes_changed_data_changed_bytes(tmp_path, frames):
    estimators, scores = frames
    first = plots.write_plots(tmp_path / "a", estimators, scores)
    again = plots.write_plots(tmp_path / "b", estimators, scores)
    assert set(first.files) == {"tradeoff", "scatter"} and not first.errors
    for name, path in first.files.items():
        assert path.read_bytes() == again.files[name].read_bytes(), f"{name} is not deterministic"
    moved = scores.copy()
    moved.loc[moved.estimator == "toy.good", "signed_score"] *= -1
    worse = estimators.copy()
    worse.loc[worse.estimator == "toy.good", "kendall_tau"] -= 0.5
    changed = plots.write_plots(tmp_path / "c", worse, moved)
    for name, path in changed.files.items():
        assert path.read_bytes() != first.files[name].read_bytes(), f"{name} did not change with its data"


def test_labels_are_literal_text_not_matplotlib_math(tmp_path, frames):
    estimators, scores = frames
    assert EVIL_LABEL in set(estimators.estimator)  # it holds '$x^2$'
    assert plots.plain_text("a$b") == r"a\$b"
    unbalanced = scores.replace({"estimator": {EVIL_LABEL: "cost $5"}})
    result = plots.write_plots(tmp_path, estimators.replace({"estimator": {EVIL_LABEL: "cost $5"}}), unbalanced)
    assert not result.errors, result.errors


def test_tau_history_plot_draws_this_study_from_history_and_skips_without_it(tmp_path, frames):
    estimators, scores = frames
    history = pd.DataFrame(
        {
            "date": ["2026-11-20T01:00:00Z", "2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z", "2026-11-21T01:00:00Z"],
            "study": ["toy", "toy", "toy", "other"],
            "estimator": ["toy.good", "toy.inverse", "toy.good", "toy.good"],
            "kendall_tau": [0.8, 1.0, 0.9, -0.3],
        }
    )
    drawn = plots.write_plots(tmp_path / "h", estimators, scores, history, study="toy")
    assert_real_png(drawn.files["tau_history"])
    other = plots.write_plots(tmp_path / "o", estimators, scores, history.assign(kendall_tau=0.1), study="toy")
    assert other.files["tau_history"].read_bytes() != drawn.files["tau_history"].read_bytes()
    none = plots.write_plots(tmp_path / "h", estimators, scores, history, study="no-such-study")
    assert "tau_history" not in none.files and not none.errors
    assert not (tmp_path / "h" / "tau_history.png").exists()  # the stale picture is removed
    no_file = plots.write_plots(tmp_path / "n", estimators, scores, None, study="toy")
    assert set(no_file.files) == {"tradeoff", "scatter"} and not no_file.errors  # no history yet: quietly skipped


def test_a_failing_plot_keeps_the_tables_and_the_other_plots(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("scatter exploded")

    monkeypatch.setattr(plots, "scatter_figure", broken)
    with pytest.warns(LeaderboardWarning, match=r"plots \(scatter\) not written: RuntimeError: scatter exploded"):
        _, folder = publish_toy_board(tmp_path)
    for name in ("estimators.csv", "estimators.md", "estimators.json", "tradeoff.png", "index.html"):
        assert (folder / name).is_file(), name
    assert not (folder / "scatter.png").exists()
    assert "plots (scatter) could not be drawn: RuntimeError: scatter exploded" in (folder / "index.html").read_text()


def test_missing_matplotlib_keeps_the_tables_and_the_page(tmp_path, monkeypatch):
    # matplotlib is imported when a plot is drawn, so each plot is reported as not written, then the page is
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot", raising=False)
    with pytest.warns(LeaderboardWarning) as caught:
        _, folder = publish_toy_board(tmp_path)
    messages = [str(w.message) for w in caught]
    assert messages and all("not written: ModuleNotFoundError" in m for m in messages), messages
    assert {m.split("plots (")[1].split(")")[0] for m in messages} == {"tradeoff", "scatter", "tau_history"}
    assert (folder / "estimators.csv").is_file() and (folder / "index.html").is_file()
    assert not list(folder.glob("*.png"))


def test_no_plots_option_writes_tables_and_page_only(tmp_path):
    _, folder = publish_toy_board(tmp_path, plots=False)
    assert (folder / "estimators.csv").is_file() and (folder / "index.html").is_file()
    assert not list(folder.glob("*.png"))
    assert "<img" not in (folder / "index.html").read_text()


def test_write_leaderboards_can_skip_the_page(board):
    cfg, _ = board
    store = Store(cfg.store_path)
    try:
        written = write_leaderboards(store, World(cfg, plugin_modules=TOY_PLUGINS), cfg.leaderboard_dir, html=False)
    finally:
        store.close()
    assert not [p for p in written if p.suffix == ".html"]
    assert {p.name for p in written if p.suffix == ".png"} >= {"tradeoff.png", "scatter.png"}


def test_scatter_panels_plot_rank_against_rank_so_scores_spanning_decades_keep_their_relation():
    truth = [70.0, 71.0, 72.0, 73.0, 80.0, 90.0]
    synflow = [1e17, 1e19, 1e18, 1e25, 1e29, 1e33]  # raw scores across 16 decades: one point per decade
    frame = pd.DataFrame(
        {"estimator": "synflow", "seed": [0, 0, 0, 1, 1, 1], "arch": list("abcdef"), "score": synflow,
         "signed_score": synflow, "direction": "max", "truth": truth}
    )  # fmt: skip
    ranked = plots.rank_frame(frame)
    assert list(ranked.truth_rank) == [0.0, 0.5, 1.0, 0.0, 0.5, 1.0]  # within each seed's sample, 0 worst .. 1 best
    assert list(ranked.score_rank) == [0.0, 1.0, 0.5, 0.0, 0.5, 1.0]
    inverse = frame.assign(signed_score=[-x for x in truth], direction="min")  # 'lower is better', signed
    assert list(plots.rank_frame(inverse).score_rank) == [1.0, 0.5, 0.0, 1.0, 0.5, 0.0]
    ties = frame.assign(signed_score=[1.0, 1.0, 2.0, float("nan"), 3.0, 3.0])
    assert list(plots.rank_frame(ties).score_rank) == [0.25, 0.25, 1.0, 0.5, 0.5]  # mean ranks; NaN left out
    estimators = pd.DataFrame({"estimator": ["synflow"], "kendall_tau": [0.333]})
    fig = plots.scatter_figure(estimators, frame)
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_title() == "synflow\ntau 0.333, 6 archs"
    assert ax.get_yscale() == "linear" and ax.get_ylim() == (-0.04, 1.04) and ax.get_xlim() == (-0.04, 1.04)
    assert ax.get_xlabel() == "rank of ground-truth accuracy" and ax.get_ylabel() == "rank of score"


def _intersect(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_repel_moves_crowded_boxes_apart_and_keeps_them_below_the_top():
    boxes = [(0.0, 10.0, 50.0, 20.0)] * 5 + [(40.0, 14.0, 90.0, 24.0), (200.0, 10.0, 250.0, 20.0)]
    shifts = plots.repel_labels(boxes, top=100.0, gap=2.0)
    moved = [(x0, y0 + d, x1, y1 + d) for (x0, y0, x1, y1), d in zip(boxes, shifts, strict=True)]
    assert not [(a, b) for i, a in enumerate(moved) for b in moved[i + 1 :] if _intersect(a, b)]
    assert max(box[3] for box in moved) <= 100.0
    assert shifts[-1] == 0.0  # alone: left where it was
    assert all(shift == 0.0 for shift in plots.repel_labels([(0, 0, 1, 1), (0, 5, 1, 6)]))  # nothing to do
    low_top = plots.repel_labels(boxes[:5], top=30.0, gap=2.0)  # no room below the top: they go down instead
    stacked = sorted(10.0 + d for d in low_top)
    assert stacked[-1] + 10.0 <= 30.0 and all(b - a >= 12.0 for a, b in itertools.pairwise(stacked))


def test_tradeoff_labels_of_a_crowded_plot_do_not_overlap(tmp_path):
    rows = [
        {"estimator": f"zeroshot.proxy_{i}", "kendall_tau": 0.5 + 0.001 * i, "tau_ci_low": 0.45, "tau_ci_high": 0.56,
         "total_s": 10.0 * (1 + 0.002 * i), "n_archs": 100}
        for i in range(12)
    ] + [{"estimator": "far.away", "kendall_tau": 0.1, "tau_ci_low": 0.0, "tau_ci_high": 0.2, "total_s": 1e4,
          "n_archs": 100}]  # fmt: skip
    fig = plots.tradeoff_figure(pd.DataFrame(rows))
    boxes = plots.label_boxes(fig)  # the labels' text boxes as drawn, in pixels
    assert len(boxes) == 13
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if _intersect(a, b)]
    (ax,) = fig.axes
    top = ax.get_window_extent().y1
    assert max(box[3] for box in boxes) <= top + 1  # inside the axes
    path = tmp_path / "tradeoff.png"
    plots.save_png(fig, path)
    assert_real_png(path)
