"""Cost measurement of one job: wall seconds, CPU seconds and peak memory.

CPU seconds are the process's (every thread, torch's intra-op pool included)
less the RSS sampler's own: the sampler wakes every few milliseconds of *wall*
time, so counting it would make a job that waits, or runs on a loaded machine,
look busier. Unlike wall seconds they do not grow when other jobs load the
machine, which is why the nightly cost alarms judge them (:mod:`nas_harness.track.alarms`).

Peak memory on CPU is the highest resident set size (RSS) seen during the job
minus the RSS at its start, sampled every few milliseconds by one background
thread per process; on CUDA it is ``torch.cuda.max_memory_allocated`` during
the job. Both are in MiB.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psutil

_SAMPLE_INTERVAL_S = 0.005


class _RssSampler:
    """A daemon thread keeping the peak RSS since the last :meth:`reset`."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._lock = threading.Lock()
        self._peak = 0
        self._thread = threading.Thread(target=self._loop, name="nas-harness-rss", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            rss = self._process.memory_info().rss
            with self._lock:
                self._peak = max(self._peak, rss)
            time.sleep(_SAMPLE_INTERVAL_S)

    def reset(self) -> int:
        rss = self._process.memory_info().rss
        with self._lock:
            self._peak = rss
        return rss

    def cpu_s(self) -> float:
        """CPU seconds the sampler's thread has used (0.0 where the platform cannot tell, e.g. macOS)."""
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(self._thread.ident))
        except (AttributeError, OSError):
            return 0.0

    def peak(self) -> int:
        rss = self._process.memory_info().rss
        with self._lock:
            self._peak = max(self._peak, rss)
            return self._peak


_sampler: _RssSampler | None = None


def _get_sampler() -> _RssSampler:
    global _sampler
    if _sampler is None:
        _sampler = _RssSampler()
    return _sampler


@dataclass
class Cost:
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_mem_mb: float = 0.0


def _job_cpu_s(sampler: _RssSampler | None) -> float:
    """CPU seconds of this process so far, less those of the RSS sampler (see the module docstring)."""
    return time.process_time() - (sampler.cpu_s() if sampler is not None else 0.0)


def _cuda_in_use(device: str) -> bool:
    torch = sys.modules.get("torch")
    return device.startswith("cuda") and torch is not None and torch.cuda.is_available()


@contextmanager
def measure(device: str = "cpu") -> Iterator[Cost]:
    """Measure the enclosed block; the yielded :class:`Cost` is filled in on exit (also on error)."""
    cost = Cost()
    cuda = _cuda_in_use(device)
    sampler = None
    if cuda:
        import torch

        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    else:
        sampler = _get_sampler()
        start_rss = sampler.reset()
    wall0, cpu0 = time.perf_counter(), _job_cpu_s(sampler)
    try:
        yield cost
    finally:
        if cuda:
            torch.cuda.synchronize(device)
            cost.peak_mem_mb = torch.cuda.max_memory_allocated(device) / 2**20
        else:
            cost.peak_mem_mb = max(0, sampler.peak() - start_rss) / 2**20
        cost.wall_s = time.perf_counter() - wall0
        cost.cpu_s = _job_cpu_s(sampler) - cpu0
