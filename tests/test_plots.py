"""Leaderboard plots: written next to the tables, valid and deterministic PNGs, never at the tables' expense."""

from __future__ import annotations

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


def test_scores_spanning_many_decades_get_a_log_axis():
    assert plots.score_scale(pd.Series([1.0, 2.0, 50.0]))[0] == "linear"
    assert plots.score_scale(pd.Series([1.0, 1e3, 1e9]))[0] == "log"  # e.g. synflow
    kind, options = plots.score_scale(pd.Series([0.0, 1.0, 1e3, 1e9]))  # zeros cannot go on a log axis
    assert kind == "symlog" and options["linthresh"] > 0
    assert plots.score_scale(pd.Series([-1e9, -1e3, -1.0]))[0] == "symlog"
