"""Runs a study: fixed sample -> prepare -> scoring jobs -> searches -> leaderboard.

Everything finished is in the store as soon as it finishes; running the same
study again (``resume``) skips what is done, so a killed run loses only the
jobs that were in flight.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from nas_harness.api import Arch, ConfigError, Estimator
from nas_harness.config import STORE_FILENAME, SearcherRef, StudyConfig, config_from_stored
from nas_harness.measure import measure
from nas_harness.provenance import provenance
from nas_harness.run.executor_choice import make_executor
from nas_harness.run.executors import Executor, Job, describe_error
from nas_harness.run.shards import ShardPlan, ShardSpec, is_whole_unit, shard_of_runs
from nas_harness.run.store import FAILED, OK, CostRow, ResultRow, Store
from nas_harness.run.world import World


@dataclass
class StudyOutcome:
    store_path: Path
    leaderboard_files: list[Path] = field(default_factory=list)  # filled in by whoever publishes the study
    scored: int = 0
    failed: int = 0
    skipped: int = 0
    history: Any = None  # the HistoryRecord appended to <leaderboard_dir>/history.csv when published, if any


def _chunks(items: list[str], size: int) -> list[tuple[str, ...]]:
    return [tuple(items[i : i + size]) for i in range(0, len(items), size)]


def run_study(
    cfg: StudyConfig,
    world: World | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    shard: ShardSpec | None = None,
) -> StudyOutcome:
    """Run (or continue) a study into its store. Rows already in the store are not redone.

    ``shard`` runs only that shard's part into its own store (:mod:`nas_harness.run.shards`;
    ``nas-harness merge`` joins the shards). Publishing the leaderboard and the history row is the caller's
    job (:func:`nas_harness.track.publish.run_study` does both).
    """
    with torch_threads(cfg.torch_threads):
        return _run_study(cfg, world, executor, progress, retry_failed, shard)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch threads (small networks train faster on one), restored afterwards."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _run_study(cfg, world, executor, progress, retry_failed, shard) -> StudyOutcome:
    world = world or World(cfg)
    executor = executor or make_executor(cfg)
    store_path = cfg.store_path if shard is None else shard.store_path(cfg.output)
    store = Store(store_path, exclusive=True)  # one live run per store: a second one is refused
    outcome = StudyOutcome(store_path)
    try:
        store.init_study(cfg.name, cfg.to_dict(), cfg.config_hash())
        plugins = {name: info.version for name, info in world.registry.plugins.items()}
        prov = {**provenance(cfg.config_hash(), cfg.device, plugins), "config": cfg.source}
        if shard is not None:
            prov["shard"] = str(shard)
        run_id = store.start_run(prov)
        status = "failed"
        try:
            plan = None if shard is None else ShardPlan(shard, world)
            samples = {seed: [world.space.to_str(a) for a in world.sample(seed)] for seed in cfg.seeds}
            for seed, archs in samples.items():
                store.save_sample(seed, archs)
            done = store.done_keys(retry_failed=retry_failed)
            # cheap estimators first, all their chunks at once (the executor spreads them); then each one
            # with one-off work (a supernet) trained and scored in turn, so a long study keeps what it did
            estimators = cfg.scored_estimators()  # a supernet before its budget points: they reuse its training
            whole_units = {e.label: is_whole_unit(world, e.label) for e in estimators}
            per_arch = [label for label, is_whole in whole_units.items() if not is_whole]
            whole = [label for label, is_whole in whole_units.items() if is_whole]
            jobs = [job for label in per_arch for job in _prepared_jobs(world, store, label, samples, plan, done,
                                                                         run_id, outcome)]  # fmt: skip
            _score(world, executor, store, jobs, run_id, outcome, progress)
            for label in whole:
                jobs = _prepared_jobs(world, store, label, samples, plan, done, run_id, outcome)
                _score(world, executor, store, jobs, run_id, outcome, progress)
            _search(world, store, run_id, plan)
            status = "finished"
        finally:
            store.end_run(run_id, status)
    finally:
        store.close()
    return outcome


def _prepared_jobs(world, store, label, samples, plan, done, run_id, outcome) -> list[Job]:
    """Prepare ``label`` for each seed with work left, and return that work as jobs (chunks of architectures).

    A failed prepare is stored as failed rows for its architectures (no jobs); finished rows are skipped.
    """
    jobs = []
    for seed, sample in samples.items():
        archs = sample if plan is None else plan.archs(label, seed, sample)
        todo = [a for a in archs if (label, a, seed) not in done]
        outcome.skipped += len(archs) - len(todo)
        if not todo:
            continue
        prepare_error = _prepare(world, store, label, seed, run_id)
        if prepare_error:
            rows = [ResultRow(label, a, seed, None, 0, 0, 0, FAILED, prepare_error) for a in todo]
            store.add_results(rows, run_id)
            outcome.failed += len(rows)
            continue
        size = len(todo) if _is_set_level(world, label) else world.cfg.chunk_size
        jobs += [Job(label, seed, chunk) for chunk in _chunks(todo, size)]
    return jobs


def _is_set_level(world: World, label: str) -> bool:
    try:
        return world.estimator(label).set_level
    except KeyboardInterrupt:
        raise
    except BaseException:  # creation errors (SystemExit & co too) are recorded per row by the executor
        return False


def _prepare(world: World, store: Store, label: str, seed: int, run_id: int) -> str | None:
    """Prepare (e.g. train) an estimator once per seed in the driver; returns an error text or None."""
    previous = store.prepare(label, seed)
    try:
        estimator: Estimator = world.estimator(label)
        if previous is not None and previous.status == OK:
            world.ensure_prepared(label, seed)  # loads what the earlier run saved in the workdir
            _store_prepare_log(store, estimator, label, seed)
            return None
        with measure(world.cfg.device) as cost:
            world.ensure_prepared(label, seed)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # plugin code: SystemExit & co are its failures too
        error = f"prepare failed: {describe_error(exc)}"
        store.add_prepare(label, seed, CostRow(0, 0, 0, FAILED, error), run_id)
        return error
    if type(estimator).prepare is not Estimator.prepare:  # only charge estimators that do one-off work
        wall_s = max(cost.wall_s, estimator.prepare_seconds() or 0.0)  # a shared training is charged to each user
        store.add_prepare(label, seed, CostRow(wall_s, cost.cpu_s, cost.peak_mem_mb), run_id)
    _store_prepare_log(store, estimator, label, seed)
    return None


def _store_prepare_log(store: Store, estimator: Estimator, label: str, seed: int) -> None:
    """Keep what the estimator reports of its one-off work (a training curve) in the store."""
    for index, row in enumerate(estimator.prepare_log()):
        step = int(row.get("step", row.get("epoch", index)))
        store.add_series(label, seed, step, {k: float(v) for k, v in row.items() if isinstance(v, int | float)})


def _score(world, executor, store, jobs, run_id, outcome, progress) -> None:
    total = sum(len(j.archs) for j in jobs)
    bar = tqdm(total=total, desc=f"{world.cfg.name}: scoring", unit="arch", disable=not progress, file=sys.stderr)
    try:
        for rows in executor.run(world, jobs):
            store.add_results(rows, run_id)
            outcome.scored += sum(r.status == OK for r in rows)
            outcome.failed += sum(r.status != OK for r in rows)
            bar.update(len(rows))
    finally:
        bar.close()


def _search(world: World, store: Store, run_id: int, plan: ShardPlan | None = None) -> None:
    """Run each searcher once per seed in the driver (after scoring, so a failed search loses no score).

    A searcher reuses the scores the study already holds for its estimator and seed (``ctx.known_scores``):
    the estimator is not asked again for those, and the trace charges them their stored cost. A set-level
    estimator cannot score one architecture at a time, so its searcher may visit only the seed's sample
    architectures the study scored with it (:func:`_scored_sample`).
    """
    for ref in world.cfg.searchers:
        for seed in world.cfg.seeds:
            if store.search_done(ref.label, seed) or (plan is not None and not plan.owns_search(ref.label, seed)):
                continue
            try:
                searcher = world.registry.create("searcher", ref.name, **ref.options)
                estimator = world.estimator(ref.estimator)
                known = store.known_scores(ref.estimator, seed)
                scored = _scored_sample(world, store, ref, seed, known) if estimator.set_level else None
                world.ensure_prepared(ref.estimator, seed)
                ctx = world.context(ref.estimator, seed)
                ctx.known_scores = known
                if scored is not None:
                    ctx.candidates = scored
                with measure(world.cfg.device) as cost:
                    result = searcher.search(estimator, ctx)
                to_str = (result.space or world.space).to_str
                store.add_search(
                    ref.label, seed, ref.estimator, to_str(result.best), [to_str(a) for a in result.front],
                    result.evaluations, result.history, CostRow(cost.wall_s, cost.cpu_s, cost.peak_mem_mb), run_id,
                    trace=result.trace,
                )  # fmt: skip
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # plugin code: SystemExit & co are its failures too
                store.add_search(
                    ref.label, seed, ref.estimator, None, [], 0, [],
                    CostRow(0, 0, 0, FAILED, describe_error(exc)), run_id,
                )  # fmt: skip


def _scored_sample(
    world: World, store: Store, ref: SearcherRef, seed: int, known: dict[str, tuple[float, float]]
) -> list[Arch]:
    """The architectures of ``seed``'s sample that the study scored with ``ref``'s set-level estimator, in
    sample order: where its searcher may go, every score a stored one (a set-level score is only relative
    to the set it was computed over, so it is never computed for one architecture alone)."""
    scored = [world.space.parse(arch) for arch in store.sample(seed) if arch in known]
    if not scored:
        raise ConfigError(
            f"searcher {ref.label!r} uses the set-level estimator {ref.estimator!r}, which scores only a whole "
            f"set (its score() raises), so a search reuses the scores the study stored for it; none are stored "
            f"for seed {seed}: add {ref.estimator!r} to the study's [[estimators]] (or see why its scoring failed)"
        )
    return scored


def study_to_resume(path: str | Path) -> tuple[StudyConfig, ShardSpec | None]:
    """The config (output set to where the store lies) and shard of the study whose store is ``path``
    (the output folder or the .sqlite file); ``run_study`` with them continues it."""
    store_path = Path(path)
    if store_path.is_dir():
        store_path = store_path / STORE_FILENAME
    if not store_path.is_file():
        raise ConfigError(f"no results store at {store_path}; pass the study's output folder or its {STORE_FILENAME}")
    store = Store(store_path)
    try:
        _, raw, _ = store.study()
        shard = shard_of_runs(store.runs())  # a shard's store resumes as that shard
    finally:
        store.close()
    cfg = config_from_stored(raw, str(store_path))
    cfg.output = str(store_path.parent if shard is None else store_path.parent.parent)
    return cfg, shard
