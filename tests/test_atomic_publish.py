"""Every published file is replaced atomically: a failed (or killed) write leaves the old file whole
and no temporary file behind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from nas_harness.atomic import atomic_path, write_text_atomic
from nas_harness.report import leaderboard, plots
from nas_harness.report import page as html_page
from nas_harness.report.leaderboard import write_leaderboards
from nas_harness.run.store import Store
from nas_harness.run.world import World
from tests.helpers.boards import publish_toy_board
from tests.helpers.studies import TOY_PLUGINS

#: text that cannot be encoded as UTF-8 at its end: the write fails after most of it was written
UNWRITABLE_TAIL = "x" * 200_000 + "\ud800"


def _only_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    return publish_toy_board(tmp_path_factory.mktemp("atomic"))


@pytest.fixture
def snapshot(board: tuple[object, Path]) -> dict[str, bytes]:
    """The published files' bytes; a test checks they are unchanged after its failed write."""
    _, folder = board
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _assert_unchanged(folder: Path, snapshot: dict[str, bytes]) -> None:
    assert _only_files(folder) == sorted(snapshot), "a temporary file was left behind (or a file vanished)"
    for name, data in snapshot.items():
        assert (folder / name).read_bytes() == data, f"{name} changed"


def test_a_published_board_leaves_no_temporary_file(board: tuple[object, Path]) -> None:
    _, folder = board
    assert not [n for n in _only_files(folder) + _only_files(folder.parent) if n.endswith(".tmp")]
    assert {"estimators.csv", "estimators.md", "estimators.json", "index.html", "scatter.png"} <= set(
        _only_files(folder)
    )


def test_a_writer_failing_midway_keeps_the_old_file(tmp_path: Path) -> None:
    target = write_text_atomic(tmp_path / "table.md", "old\n")
    with pytest.raises(OSError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half of the new ")
        raise OSError("disk full")
    assert target.read_text() == "old\n" and _only_files(tmp_path) == ["table.md"]
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, UNWRITABLE_TAIL)
    assert target.read_text() == "old\n" and _only_files(tmp_path) == ["table.md"]
    assert write_text_atomic(target, "new\n").read_text() == "new\n"


def test_tables_failing_midway_keep_the_published_ones(
    board: tuple[object, Path], snapshot: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, folder = board

    def half_csv(self: pd.DataFrame, path: object, **kwargs: object) -> None:
        Path(str(path)).write_text("benchmark,estim")
        raise OSError("killed while writing the CSV")

    store = Store(cfg.store_path)
    try:
        world = World(cfg, plugin_modules=TOY_PLUGINS)
        with monkeypatch.context() as patch:
            patch.setattr(pd.DataFrame, "to_csv", half_csv)
            with pytest.raises(OSError, match="killed while writing the CSV"):
                write_leaderboards(store, world, plots=False, html=False)
        _assert_unchanged(folder, snapshot)
        with monkeypatch.context() as patch:
            patch.setattr(leaderboard, "to_markdown", lambda *args, **kwargs: UNWRITABLE_TAIL)
            with pytest.raises(UnicodeEncodeError):
                write_leaderboards(store, world, plots=False, html=False)
        assert (folder / "estimators.md").read_bytes() == snapshot["estimators.md"]
        assert not [n for n in _only_files(folder) if n.endswith(".tmp")]
    finally:
        store.close()


def test_a_plot_failing_midway_keeps_the_old_picture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "scatter.png"
    plots.save_png(Figure(figsize=(2, 2)), path)
    before = path.read_bytes()

    def half_png(self: Figure, fname: object, **kwargs: object) -> None:
        Path(str(fname)).write_bytes(before[:50])
        raise RuntimeError("renderer died")

    monkeypatch.setattr(Figure, "savefig", half_png)
    with pytest.raises(RuntimeError, match="renderer died"):
        plots.save_png(Figure(figsize=(2, 2)), path)
    assert path.read_bytes() == before and _only_files(tmp_path) == ["scatter.png"]


def test_html_pages_failing_midway_keep_the_old_pages(
    board: tuple[object, Path], snapshot: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, folder = board
    index_before = (folder.parent / "index.html").read_bytes()
    monkeypatch.setattr(html_page, "render_study_page", lambda *args: UNWRITABLE_TAIL)
    monkeypatch.setattr(html_page, "render_index", lambda *args: UNWRITABLE_TAIL)
    with pytest.raises(UnicodeEncodeError):
        html_page.write_study_page(folder, "toy", {"estimators": pd.DataFrame()}, {})
    with pytest.raises(UnicodeEncodeError):
        html_page.write_index(folder.parent)
    _assert_unchanged(folder, snapshot)
    assert (folder.parent / "index.html").read_bytes() == index_before
    assert not [n for n in _only_files(folder.parent) if n.endswith(".tmp")]
