"""The Ray executor: a study's chunks as Ray tasks, on a local instance or a cluster.

Install with ``pip install 'nas-harness[ray]'`` and set ``executor = "ray"``
in ``[study]`` (or ``nas-harness run CONFIG --executor ray``). The study itself
does not change:

* each job (estimator label, seed, chunk of architecture strings) is one Ray
  task; the driver keeps ``2 x workers`` of them submitted (one running and one
  waiting per worker, so no worker waits for the driver) and takes rows back
  with ``ray.wait`` as each finishes; the driver alone writes the store;
* a worker builds its :class:`~nas_harness.run.world.World` once from the config (a
  cached global keyed by the config, as a process-pool worker builds its own once) and
  reuses it for every chunk of that study;
* a task whose worker dies (killed, out of memory, its node lost) is retried by
  Ray (``max_retries``) and then resubmitted by the driver
  (``max_resubmits``); a chunk that loses its worker every time is recorded as
  failed rows with the reason. Estimator exceptions never reach Ray: the
  worker turns them into failed rows (:func:`~nas_harness.run.executors.run_job`);
* ``study.ray_address`` = None starts a local instance with ``workers`` CPUs
  (shut down after the study); ``"auto"`` or ``"ray://HOST:PORT"`` (Ray
  Client, which needs ``pip install 'ray[client]'``) joins a running cluster,
  where every node needs nas-harness and the plugins installed, and the
  study's ``output`` folder on a shared file system when an estimator keeps
  its one-off work (a trained supernet) in its workdir;
* with ``device = "cuda"`` each task asks Ray for ``study.ray_num_gpus`` GPUs
  (default 1; 0.5 lets two chunks share one); Ray picks the GPU and sets
  ``CUDA_VISIBLE_DEVICES``, so the device is named ``cuda``, never ``cuda:N``.

If the driver already called ``ray.init`` (a test fixture, a notebook), that
instance is used as it is and left running.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from nas_harness.api import ConfigError
from nas_harness.config import StudyConfig
from nas_harness.run.executors import Executor, Job, failed_rows, run_job, worker_world
from nas_harness.run.store import ResultRow
from nas_harness.run.world import World

INSTALL_HINT = "install the ray extra: pip install 'nas-harness[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f'study.executor = "ray" needs Ray, which is not installed ({exc}); {INSTALL_HINT}') from exc
    return ray


def gpus_per_task(cfg: StudyConfig) -> float:
    """GPUs each task asks Ray for: ``study.ray_num_gpus``, else 1 on cuda and 0 on cpu."""
    cuda = cfg.device.startswith("cuda")
    gpus = cfg.ray_num_gpus if cfg.ray_num_gpus is not None else (1.0 if cuda else 0.0)
    if gpus > 0 and not cuda:
        raise ConfigError(
            f"study.ray_num_gpus = {cfg.ray_num_gpus!r} asks Ray for GPUs but study.device = {cfg.device!r}; "
            "set device = 'cuda' or ray_num_gpus = 0"
        )
    if gpus > 0 and cfg.device != "cuda":
        raise ConfigError(
            f"study.device = {cfg.device!r} with executor = 'ray': use device = 'cuda'; Ray gives each task "
            "its own GPU through CUDA_VISIBLE_DEVICES, where it is always 'cuda'"
        )
    return float(gpus)


# -- worker side ----------------------------------------------------------------------------
_worlds: dict[str, World] = {}


def _study_key(config: dict, source: str, plugin_modules: dict[str, str]) -> str:
    text = json.dumps([config, source, plugin_modules], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _worker_world(spec: dict[str, Any]) -> World:
    """This worker's World for the study in ``spec``, built on the first chunk it scores."""
    world = _worlds.get(spec["key"])
    if world is None:
        for path in spec["sys_path"]:  # the driver's import path (test plugins, a checkout) where it exists here
            if path not in sys.path and os.path.isdir(path):
                sys.path.append(path)
        _worlds.clear()  # one study at a time per worker process
        world = _worlds[spec["key"]] = worker_world(spec["config"], spec["source"], spec["plugin_modules"])
    return world


def score_chunk(spec: dict[str, Any], job: Job) -> list[ResultRow]:
    """The Ray task: score one chunk in this worker's World (estimator errors become failed rows)."""
    return run_job(_worker_world(spec), job)


# -- driver side ----------------------------------------------------------------------------
def _infrastructure_errors(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray errors that mean the task lost its process or node (worth another try), not a bug in it."""
    names = (
        "WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError", "ObjectLostError", "OwnerDiedError",
        "ObjectReconstructionFailedError", "OutOfMemoryError", "RaySystemError",
    )  # fmt: skip
    return tuple(getattr(ray.exceptions, n) for n in names if hasattr(ray.exceptions, n))


class RayExecutor(Executor):
    """Runs chunks as Ray tasks and streams their rows back as they finish.

    ``workers``: tasks running at once on a local instance (its CPU count); the
    driver keeps ``2 x workers`` submitted. ``address``: None for a local
    instance, else passed to ``ray.init``. ``max_retries``: Ray's own retries of
    a task whose worker died; ``max_resubmits``: further submissions by the
    driver after those are spent. ``resubmitted`` counts the latter (for tests
    and logs).
    """

    def __init__(
        self,
        workers: int = 1,
        address: str | None = None,
        num_gpus: float = 0.0,
        max_retries: int = 2,
        max_resubmits: int = 1,
    ) -> None:
        if workers < 1:
            raise ConfigError(f"RayExecutor(workers={workers!r}): expected a positive integer")
        self.ray = import_ray()
        self.workers = workers
        self.address = address
        self.num_gpus = num_gpus
        self.max_retries = max_retries
        self.max_resubmits = max_resubmits
        self.resubmitted = 0

    @classmethod
    def from_config(cls, cfg: StudyConfig) -> RayExecutor:
        return cls(cfg.workers, cfg.ray_address, gpus_per_task(cfg))

    def _connect(self) -> bool:
        """Join or start Ray; True when this executor started it (and so shuts it down)."""
        ray = self.ray
        if ray.is_initialized():
            return False
        quiet = {"logging_level": logging.WARNING, "log_to_driver": True}
        if self.address is None:
            ray.init(num_cpus=self.workers, include_dashboard=False, **quiet)
        else:
            try:
                ray.init(address=self.address, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"study.ray_address = {self.address!r}: cannot connect to a Ray cluster ({exc}); accepted: "
                    '"auto" (the cluster this machine belongs to), "ray://HOST:PORT" or "HOST:PORT"'
                ) from exc
        return True

    def _check_gpus(self) -> None:
        """Refuse a GPU request the instance can never meet (the tasks would wait forever)."""
        if self.num_gpus <= 0:
            return
        total = float(self.ray.cluster_resources().get("GPU", 0))
        if total < self.num_gpus:
            raise ConfigError(
                f"device = 'cuda': each Ray task asks for {self.num_gpus:g} GPU(s), but the Ray instance "
                f"({self.address or 'local'}) has {total:g}; use device = 'cpu', a smaller study.ray_num_gpus "
                "or a cluster with GPUs"
            )

    def run(self, world: World, jobs: Iterable[Job]) -> Iterator[list[ResultRow]]:
        queue = [(job, 0) for job in jobs]
        if not queue:  # nothing left to score (a resumed study): no need to start Ray
            return
        queue.reverse()  # pop() from the end keeps the runner's order
        ray = self.ray
        started = self._connect()
        try:
            self._check_gpus()
        except BaseException:
            if started:
                ray.shutdown()
            raise
        infrastructure = _infrastructure_errors(ray)
        config = world.cfg.to_toml_dict()
        spec = {
            "key": _study_key(config, world.cfg.source, world.plugin_modules),
            "config": config,
            "source": world.cfg.source,
            "plugin_modules": world.plugin_modules,
            "sys_path": [p for p in sys.path if p],
        }
        task = ray.remote(score_chunk).options(
            num_cpus=1, num_gpus=self.num_gpus, max_retries=self.max_retries, retry_exceptions=False
        )
        spec_ref = ray.put(spec)
        running: dict[Any, tuple[Job, int]] = {}
        try:
            while queue or running:
                while queue and len(running) < 2 * self.workers:
                    job, tries = queue.pop()
                    running[task.remote(spec_ref, job)] = (job, tries)
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    job, tries = running.pop(ref)
                    try:
                        rows = ray.get(ref)
                    except Exception as exc:
                        if not _lost_worker(exc, infrastructure):  # e.g. the worker cannot import a plugin
                            rows = failed_rows(job, f"Ray worker error: {_one_line(exc)}")
                        elif tries < self.max_resubmits:
                            self.resubmitted += 1
                            queue.append((job, tries + 1))
                            continue
                        else:
                            attempts = (tries + 1) * (self.max_retries + 1)
                            reason = f"Ray worker lost {attempts} times while scoring this chunk: {_one_line(exc)}"
                            rows = failed_rows(job, reason)
                    yield rows
        finally:
            if started:
                ray.shutdown()  # also stops what is still running
            else:
                for ref in running:  # the driver stopped early (interrupted, store error): stop the rest
                    ray.cancel(ref, force=True)


def _lost_worker(exc: BaseException, infrastructure: tuple[type[BaseException], ...]) -> bool:
    """True when the task lost its process or node (directly, or as the cause of a RayTaskError)."""
    return isinstance(exc, infrastructure) or isinstance(getattr(exc, "cause", None), infrastructure)


def _one_line(exc: BaseException) -> str:
    """The exception's type and the first line of its message (Ray's carry whole tracebacks)."""
    cause = getattr(exc, "cause", None)
    shown = cause if isinstance(cause, BaseException) else exc
    first = next((line for line in str(shown).splitlines() if line.strip()), "")
    return f"{type(shown).__name__}: {first}".strip()
