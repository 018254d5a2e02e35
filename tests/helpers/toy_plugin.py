"""A tiny, fully known world for testing the harness itself.

The "toy" space has 4**3 = 64 architectures (tuples of three ints in 0..3).
Ground truth is a fixed function of the architecture, so every metric has a
known answer. Proxies exercise the runner: a good one, one that raises, one
that returns NaN, a slow one, a set-level one, a prepared one, one that
kills its own process (for executors with worker processes) and a tunable one
(noise and delay options). The plugin pins golden values for the nightly tests.
"""

from __future__ import annotations

import math
import os
import random
import signal
import time
from pathlib import Path

from nas_harness.api import Direction, Proxy, Supernet
from nas_harness.hookspecs import hookimpl
from nas_harness.testing import ToyBenchmark, ToySpace, toy_accuracy  # the kit's toy world, registered below


class GoodProxy(Proxy):
    """Scores by the ground truth plus a little noise."""

    name = "toy.good"
    direction = Direction.MAXIMIZE

    def score(self, arch, ctx):
        return toy_accuracy(arch) + random.Random(hash(arch) ^ ctx.seed).random()


class InverseProxy(Proxy):
    """Minus the ground truth, declared as 'lower is better'."""

    name = "toy.inverse"
    direction = Direction.MINIMIZE

    def score(self, arch, ctx):
        return -toy_accuracy(arch)


class RaisingProxy(Proxy):
    name = "toy.raises"

    def score(self, arch, ctx):
        if arch[0] == 0:
            raise RuntimeError(f"cannot score {arch}")
        return toy_accuracy(arch)


class NanProxy(Proxy):
    name = "toy.nan"

    def score(self, arch, ctx):
        return math.nan if arch[1] == 0 else toy_accuracy(arch)


class SlowProxy(Proxy):
    """Sleeps ``delay`` seconds per architecture (``hang_on`` archs sleep for an hour)."""

    name = "toy.slow"

    def __init__(self, delay: float = 0.05, hang_on: str = ""):
        self.delay, self.hang_on = delay, hang_on

    def score(self, arch, ctx):
        if ctx.space.to_str(arch) == self.hang_on:
            time.sleep(3600)
        time.sleep(self.delay)
        return toy_accuracy(arch)


class CrashingProxy(Proxy):
    """Kills its own process (as the kernel's OOM killer would) when it scores ``crash_on``.

    ``marker`` is a file recording the pid of each process it killed; it kills
    at most ``times`` processes over the study (a retried chunk then succeeds).
    Use it only where scoring runs in worker processes: it kills the driver too.
    """

    name = "toy.crash"

    def __init__(self, marker: str, crash_on: str = "", times: int = 1):
        self.marker, self.crash_on, self.times = marker, crash_on, times

    def score(self, arch, ctx):
        if self.crash_on in ("", ctx.space.to_str(arch)):
            killed = Path(self.marker).read_text().split() if os.path.exists(self.marker) else []
            if len(killed) < self.times:
                with open(self.marker, "a") as f:
                    f.write(f"{os.getpid()}\n")
                os.kill(os.getpid(), signal.SIGKILL)
        return toy_accuracy(arch)


class RankProxy(Proxy):
    """A set-level estimator: the rank of each arch's accuracy within the scored set."""

    name = "toy.rank"
    set_level = True

    def score(self, arch, ctx):
        raise NotImplementedError("set-level only")

    def score_many(self, archs, ctx):
        order = sorted(range(len(archs)), key=lambda i: toy_accuracy(archs[i]))
        ranks = [0.0] * len(archs)
        for rank, i in enumerate(order):
            ranks[i] = float(rank)
        return ranks


class TunableProxy(Proxy):
    """Ground truth plus Gaussian noise of scale ``noise`` (0: a perfect ranking), after sleeping ``delay`` s
    (wall time, no CPU time) and doing ``work`` rounds of a fixed arithmetic loop (CPU time).

    The history and nightly tests make it worse (``noise``), slower to wait for (``delay``) or do more
    work (``work``) between two runs.
    """

    name = "toy.tunable"

    def __init__(self, noise: float = 0.0, delay: float = 0.0, work: int = 0):
        self.noise, self.delay, self.work = noise, delay, work

    def score(self, arch, ctx):
        if self.delay:
            time.sleep(self.delay)
        busy(self.work)
        return toy_accuracy(arch) + self.noise * random.Random(f"{arch}:{ctx.seed}").gauss(0.0, 1.0)


def busy(rounds: int) -> int:
    """A fixed amount of CPU work: ``rounds`` rounds of integer arithmetic (about 0.1 microseconds a round)."""
    total = 0
    for i in range(rounds):
        total = (total + i * i) % 1_000_003
    return total


class CountingSupernet(Supernet):
    """'Trains' by writing a file into its workdir; scoring needs that file."""

    name = "toy.supernet"

    def prepare(self, ctx):
        path = os.path.join(ctx.workdir, "weights.txt")
        if not os.path.exists(path):
            time.sleep(0.05)
            with open(path, "w") as f:
                f.write("trained")
        with open(path) as f:
            self.state = f.read()

    def score(self, arch, ctx):
        assert self.state == "trained"
        return toy_accuracy(arch)


@hookimpl
def nas_harness_register_search_spaces(register):
    register("toy", ToySpace)


@hookimpl
def nas_harness_register_benchmarks(register):
    register("toy.bench", ToyBenchmark)


@hookimpl
def nas_harness_register_proxies(register):
    for cls in (GoodProxy, InverseProxy, RaisingProxy, NanProxy, SlowProxy, RankProxy, CrashingProxy, TunableProxy):
        register(cls.name, cls)


@hookimpl
def nas_harness_register_supernets(register):
    register("toy.supernet", CountingSupernet)


@hookimpl
def nas_harness_golden_values(register):
    register("toy.tunable", "toy.bench", tau=1.0, tolerance=0.05)  # without noise it ranks perfectly
    register("toy.good", "toy.bench", tau=0.5, tolerance=0.01, options={"pinned": "for other options"})
