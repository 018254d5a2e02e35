"""A study from config to published board: run (or resume, or merge) it, then write its leaderboards and
append its history row.

The run layer (:mod:`nas_harness.run`) only fills stores; this module is where a finished store becomes a
board (:mod:`nas_harness.report`) and a history row (:mod:`nas_harness.track.history`). The CLI and the
nightly check call these functions; a library user can call the run layer directly and publish later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nas_harness.api import HarnessError
from nas_harness.config import StudyConfig
from nas_harness.report.leaderboard import board_dir, make_board, write_plots_and_pages, write_tables
from nas_harness.run import merge, runner
from nas_harness.run.executors import Executor
from nas_harness.run.shards import ShardSpec
from nas_harness.run.store import Store
from nas_harness.run.world import World
from nas_harness.track.history import HistoryRecord, record_study


@dataclass
class Published:
    leaderboard_files: list[Path] = field(default_factory=list)
    history: HistoryRecord | None = None  # the rows appended to <leaderboard_dir>/history.csv, if any


def publish_study(store_path: Path, world: World, plots: bool = True, history: bool | None = None) -> Published:
    """Write the leaderboards of the study in ``store_path`` and (with ``study.history``) its history row.

    Tables first, then the history row, then plots and pages, so that the tau-over-time plot includes this
    run. A history file that cannot take the row (a foreign history.csv) is reported after the page is drawn.
    """
    record = world.cfg.history if history is None else history
    published = Published()
    store = Store(store_path)
    try:
        board = make_board(store, world)
        published.leaderboard_files = write_tables(board, board_dir(world), world.cfg.name)
        history_error = None
        if record:
            try:
                published.history = record_study(world, board.tables["estimators"], board.prov)
            except HarnessError as exc:
                history_error = exc
        published.leaderboard_files += write_plots_and_pages(store, world, None, board.tables, board.prov, plots)
    finally:
        store.close()
    if history_error is not None:
        raise history_error
    return published


def run_study(
    cfg: StudyConfig,
    world: World | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    write_leaderboard: bool = True,
    plots: bool = True,
    shard: ShardSpec | None = None,
) -> runner.StudyOutcome:
    """Run (or continue) a study and publish it. A shard publishes nothing: ``nas-harness merge`` does.

    ``plots=False`` writes the leaderboard tables and page without the PNG plots."""
    world = world or World(cfg)
    outcome = runner.run_study(cfg, world, executor, progress=progress, retry_failed=retry_failed, shard=shard)
    if write_leaderboard and shard is None:
        published = publish_study(outcome.store_path, world, plots=plots)
        outcome.leaderboard_files, outcome.history = published.leaderboard_files, published.history
    return outcome


def resume_study(path: str | Path, **kwargs) -> runner.StudyOutcome:
    """Continue the study whose store is ``path`` (the output folder or the .sqlite file), then publish it."""
    cfg, shard = runner.study_to_resume(path)
    return run_study(cfg, shard=shard, **kwargs)


def merge_study(
    output: str | Path,
    stores: list[str | Path] | None = None,
    plugin_modules: dict[str, str] | None = None,
    write_leaderboard: bool = True,
    plots: bool = True,
    partial: bool = False,
) -> merge.MergeOutcome:
    """Merge a study's shard stores (:func:`nas_harness.run.merge.merge_shards`) and publish the merged study,
    exactly as an unsharded run would have been published."""
    outcome = merge.merge_shards(output, stores, plugin_modules=plugin_modules, partial=partial)
    if write_leaderboard and outcome.world is not None:
        published = publish_study(outcome.store_path, outcome.world, plots=plots)
        outcome.leaderboard_files, outcome.history = published.leaderboard_files, published.history
    return outcome
