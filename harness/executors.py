"""Executors: run scoring jobs and stream finished result rows back to the driver.

A job is (estimator label, seed, a chunk of architecture strings). Executors
only move jobs and rows; the driver alone writes the store. Any executor
implements :class:`Executor`; the Ray one is :mod:`harness.executors_ray`.

Per-architecture time limits use ``SIGALRM`` in the process that scores
(the main thread of the driver, of a pool worker or of a Ray worker): it interrupts Python
code and PyTorch between operators, not inside one long native call.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import multiprocessing
import signal
import threading
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from harness.config import StudyConfig, parse_config
from harness.measure import measure
from harness.store import FAILED, TIMEOUT, ResultRow
from harness.world import World


@dataclass(frozen=True)
class Job:
    estimator: str  # label
    seed: int
    archs: tuple[str, ...]


class JobTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`JobTimeout` in the enclosed block after ``seconds`` (main thread only)."""
    usable = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not usable or seconds <= 0:
        yield
        return

    def on_alarm(signum, frame):
        raise JobTimeout(f"exceeded the per-job time limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def describe_error(exc: BaseException) -> str:
    """One readable line: the exception and where in the plugin it came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def failed_rows(job: Job, error: str, status: str = FAILED) -> list[ResultRow]:
    return [ResultRow(job.estimator, a, job.seed, None, 0.0, 0.0, 0.0, status, error) for a in job.archs]


def run_job(world: World, job: Job) -> list[ResultRow]:
    """Score one chunk; every failure becomes a recorded row, never an exception."""
    try:
        estimator = world.estimator(job.estimator)
        world.ensure_prepared(job.estimator, job.seed)
        ctx = world.context(job.estimator, job.seed)
    except Exception as exc:
        return failed_rows(job, f"estimator could not be set up: {describe_error(exc)}")
    if estimator.set_level:
        return _run_set_level(world, job, estimator, ctx)
    rows = []
    for text in job.archs:
        score, status, error = None, "ok", None
        with measure(world.cfg.device) as cost:
            try:
                with time_limit(world.cfg.timeout_s):
                    score = float(estimator.score(world.space.parse(text), ctx))
            except JobTimeout as exc:
                status, error = TIMEOUT, str(exc)
            except Exception as exc:
                status, error = FAILED, describe_error(exc)
        rows.append(
            ResultRow(job.estimator, text, job.seed, score, cost.wall_s, cost.cpu_s, cost.peak_mem_mb, status, error)
        )
    return rows


def _run_set_level(world: World, job: Job, estimator, ctx) -> list[ResultRow]:
    """Set-level estimators score the whole sample at once; the cost is split evenly."""
    n = len(job.archs)
    with measure(world.cfg.device) as cost:
        try:
            with time_limit(world.cfg.timeout_s * n):
                scores = [float(s) for s in estimator.score_many([world.space.parse(a) for a in job.archs], ctx)]
            if len(scores) != n:
                raise ValueError(f"score_many returned {len(scores)} scores for {n} architectures")
        except JobTimeout as exc:
            return failed_rows(job, str(exc), TIMEOUT)
        except Exception as exc:
            return failed_rows(job, describe_error(exc))
    return [
        ResultRow(job.estimator, a, job.seed, s, cost.wall_s / n, cost.cpu_s / n, cost.peak_mem_mb)
        for a, s in zip(job.archs, scores, strict=True)
    ]


class Executor(abc.ABC):
    """Runs jobs; yields the rows of each job as it finishes (any order)."""

    @abc.abstractmethod
    def run(self, world: World, jobs: Iterable[Job]) -> Iterator[list[ResultRow]]: ...


class LocalExecutor(Executor):
    """In-process, one job after another (the default; also what tests and the debugger want)."""

    def run(self, world: World, jobs: Iterable[Job]) -> Iterator[list[ResultRow]]:
        for job in jobs:
            yield run_job(world, job)


# -- process pool -----------------------------------------------------------------------
_worker_world: World | None = None


def worker_world(config: dict, source: str, plugin_modules: dict[str, str]) -> World:
    """A worker process's World for the study ``config``: one torch thread, the executor provides the parallelism."""
    import torch

    torch.set_num_threads(1)
    return World(parse_config(config, source), plugin_modules=plugin_modules)


def _init_worker(config: dict, source: str, plugin_modules: dict[str, str]) -> None:
    global _worker_world
    _worker_world = worker_world(config, source, plugin_modules)


def _worker_run(job: Job) -> list[ResultRow]:
    assert _worker_world is not None, "worker not initialised"
    return run_job(_worker_world, job)


class ProcessExecutor(Executor):
    """A local process pool (``forkserver``: safe with PyTorch's threads).

    If a worker dies (killed, out of memory, a crash in native code), the jobs
    that were in flight are retried once in a fresh pool; a job that loses its
    worker twice is recorded as failed with that reason.
    """

    def __init__(self, workers: int = 2, max_retries: int = 1) -> None:
        self.workers = workers
        self.max_retries = max_retries

    def run(self, world: World, jobs: Iterable[Job]) -> Iterator[list[ResultRow]]:
        pending = [(job, 0) for job in jobs]
        config = world.cfg.to_toml_dict()
        while pending:
            broken: list[tuple[Job, int]] = []
            ctx = multiprocessing.get_context("forkserver")
            with cf.ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_init_worker,
                initargs=(config, world.cfg.source, world.plugin_modules),
            ) as pool:  # fmt: skip
                futures = {pool.submit(_worker_run, job): (job, tries) for job, tries in pending}
                for future in cf.as_completed(futures):
                    job, tries = futures[future]
                    try:
                        yield future.result()
                    except cf.process.BrokenProcessPool:
                        broken.append((job, tries + 1))
                    except Exception as exc:
                        yield failed_rows(job, f"worker error: {describe_error(exc)}")
            pending = []
            for job, tries in broken:
                if tries > self.max_retries:
                    yield failed_rows(job, f"worker process died {tries} times while scoring this chunk")
                else:
                    pending.append((job, tries))


def make_executor(cfg: StudyConfig) -> Executor:
    """The executor ``study.executor`` names (Ray only imported when asked for)."""
    if cfg.executor == "process":
        return ProcessExecutor(cfg.workers)
    if cfg.executor == "ray":
        from harness.executors_ray import RayExecutor

        return RayExecutor.from_config(cfg)
    return LocalExecutor()
