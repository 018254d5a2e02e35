"""Executors: run scoring jobs and stream finished result rows back to the driver.

A job is (estimator label, seed, a chunk of architecture strings). Executors
only move jobs and rows; the driver alone writes the store. Any executor
implements :class:`Executor`; the Ray one is :mod:`nas_harness.run.ray_executor`.

Per-architecture time limits use ``SIGALRM`` in the process that scores
(the main thread of the driver, of a pool worker or of a Ray worker): it interrupts Python
code and PyTorch between operators, not inside one long native call. The time-limit
exception derives from ``BaseException``, so a plugin's ``except Exception`` cannot swallow it.

Whatever plugin code raises while it scores (``SystemExit``, ``GeneratorExit`` and other
``BaseException`` subclasses included; only ``KeyboardInterrupt`` stops the study) is recorded
as failed rows, never passed on.
"""

from __future__ import annotations

import abc
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from nas_harness.config import parse_config
from nas_harness.measure import measure
from nas_harness.run.store import FAILED, TIMEOUT, ResultRow
from nas_harness.run.world import World


@dataclass(frozen=True)
class Job:
    estimator: str  # label
    seed: int
    archs: tuple[str, ...]


class JobTimeout(BaseException):
    """A job ran past ``study.timeout_s``.

    A ``BaseException``, not an ``Exception``: plugin code that wraps its work in
    ``except Exception`` must not swallow the time limit. The harness catches it by name.
    """


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
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit & co from plugin code are its failures too
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
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
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
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
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
def worker_world(config: dict, source: str, plugin_modules: dict[str, str]) -> World:
    """A worker process's World for the study ``config``: one torch thread, the executor provides the parallelism."""
    import torch

    torch.set_num_threads(1)
    return World(parse_config(config, source), plugin_modules=plugin_modules)


def _exit_with_driver(alive: Connection) -> None:
    """Block until the driver's end of ``alive`` closes (it ended, or was killed), then end this process at once."""
    with suppress(EOFError, OSError):
        alive.recv_bytes()
    os._exit(1)


def _worker_main(
    conn: Connection, alive: Connection, config: dict, source: str, plugin_modules: dict[str, str]
) -> None:
    """A pool worker: build the study's World once, then score each job the driver sends until it sends None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle: it stops the workers
    threading.Thread(target=_exit_with_driver, args=(alive,), daemon=True).start()
    world, setup_error = None, ""
    try:
        world = worker_world(config, source, plugin_modules)
    except BaseException as exc:  # SIGINT is ignored here: any exception is the study's or a plugin's failure
        setup_error = f"worker could not build the study: {describe_error(exc)}"
    while True:
        try:
            job = conn.recv()
        except EOFError:  # the driver closed the pool
            return
        if job is None:
            return
        conn.send(run_job(world, job) if world is not None else failed_rows(job, setup_error))


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    job: tuple[Job, int] | None = None  # the job it is scoring and how many workers that job lost before


@dataclass
class _Finished:
    job: Job
    tries: int  # workers this job lost before this one
    rows: list[ResultRow] | None  # None: the worker died while scoring it
    death: str = ""  # how the worker ended, when it died


class _WorkerPool:
    """Up to ``size`` worker processes, each scoring one job at a time; the driver knows which job each runs.

    A worker that dies costs only the job it was scoring: the other workers keep going and
    a fresh worker takes its place. Every worker holds the read end of the ``alive`` pipe,
    whose only write end is the driver's; when the driver ends (even by ``kill -9``) the
    pipe closes and each worker exits at once (see :func:`_exit_with_driver`).
    """

    def __init__(self, size: int, init_args: tuple[dict, str, dict[str, str]]) -> None:
        self.size = size
        self.init_args = init_args
        self.ctx = multiprocessing.get_context("forkserver")  # safe with PyTorch's threads
        self.alive_r, self.alive_w = self.ctx.Pipe(duplex=False)
        self.workers: list[_Worker] = []

    @property
    def busy(self) -> bool:
        return any(w.job is not None for w in self.workers)

    def submit(self, job: Job, tries: int) -> bool:
        """Send ``job`` to an idle worker (started when the pool is not full); False when every worker is busy."""
        worker = self._idle_worker()
        if worker is None:
            return False
        worker.job = (job, tries)
        with suppress(OSError):  # it died just now: wait() sees that and reports this job
            worker.conn.send(job)
        return True

    def wait(self) -> list[_Finished]:
        """Block until at least one busy worker finishes its job or dies; what became of each such job."""
        busy = [w for w in self.workers if w.job is not None]
        ready = set(multiprocessing.connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
        finished = []
        for worker in busy:
            if worker.conn not in ready and worker.process.sentinel not in ready:
                continue
            (job, tries), worker.job = worker.job, None
            rows = _receive(worker.conn) if worker.conn in ready else None
            death = "" if rows is not None else self._remove(worker)
            finished.append(_Finished(job, tries, rows, death))
        return finished

    def close(self) -> None:
        """Stop every worker: idle ones exit when their pipe closes, busy ones (the driver gave up) are terminated."""
        for worker in self.workers:
            worker.conn.close()
            if worker.job is not None:
                worker.process.terminate()
        for worker in self.workers:
            _reap(worker.process)
        self.workers.clear()
        self.alive_w.close()
        self.alive_r.close()

    def _idle_worker(self) -> _Worker | None:
        for worker in [w for w in self.workers if w.job is None]:
            if worker.process.is_alive():
                return worker
            self._remove(worker)  # it died while idle (killed from outside): no job was lost
        return self._start() if len(self.workers) < self.size else None

    def _start(self) -> _Worker:
        conn, child = self.ctx.Pipe()
        process = self.ctx.Process(target=_worker_main, args=(child, self.alive_r, *self.init_args))
        process.start()
        child.close()
        worker = _Worker(process, conn)
        self.workers.append(worker)
        return worker

    def _remove(self, worker: _Worker) -> str:
        """Drop a dead worker; how it ended."""
        self.workers.remove(worker)
        worker.conn.close()
        _reap(worker.process)
        return _exit_reason(worker.process.exitcode)


def _receive(conn: Connection) -> list[ResultRow] | None:
    """The rows a worker sent, or None when its pipe closed because it died."""
    try:
        return conn.recv()
    except (EOFError, OSError):
        return None


def _reap(process: BaseProcess, grace_s: float = 5.0) -> None:
    """Wait for ``process`` to end, killing it after ``grace_s`` seconds."""
    process.join(grace_s)
    if process.is_alive():
        process.kill()
        process.join()


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessExecutor(Executor):
    """A local pool of worker processes (``forkserver``: safe with PyTorch's threads).

    Each worker builds the study's World once and scores one job at a time. If a worker
    dies (killed, out of memory, a crash in native code), only the job it was scoring is
    charged: that job is retried in a fresh worker up to ``max_retries`` times, then
    recorded as failed with the reason; the other workers' jobs never notice. Workers exit
    when the driver does, however it ends.
    """

    def __init__(self, workers: int = 2, max_retries: int = 1) -> None:
        self.workers = workers
        self.max_retries = max_retries

    def run(self, world: World, jobs: Iterable[Job]) -> Iterator[list[ResultRow]]:
        queue = deque((job, 0) for job in jobs)
        if not queue:
            return
        pool = _WorkerPool(self.workers, (world.cfg.to_toml_dict(), world.cfg.source, world.plugin_modules))
        try:
            while queue or pool.busy:
                while queue and pool.submit(*queue[0]):
                    queue.popleft()
                for done in pool.wait():
                    if done.rows is not None:
                        yield done.rows
                    elif done.tries + 1 > self.max_retries:
                        reason = f"worker process died {done.tries + 1} times while scoring this chunk ({done.death})"
                        yield failed_rows(done.job, reason)
                    else:
                        queue.appendleft((done.job, done.tries + 1))  # again, in a fresh worker
        finally:
            pool.close()
