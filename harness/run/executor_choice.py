"""The executor a study config names: local, a process pool, or Ray (ray itself is imported only when used)."""

from __future__ import annotations

from nas_harness.config import StudyConfig
from nas_harness.run.executors import Executor, LocalExecutor, ProcessExecutor
from nas_harness.run.ray_executor import RayExecutor


def make_executor(cfg: StudyConfig) -> Executor:
    """The executor ``study.executor`` names (Ray only imported when asked for)."""
    if cfg.executor == "process":
        return ProcessExecutor(cfg.workers)
    if cfg.executor == "ray":
        return RayExecutor.from_config(cfg)
    return LocalExecutor()
