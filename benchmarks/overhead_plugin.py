"""A study with no real work in it, to measure the harness's own overhead.

Ground truth and the proxy are both O(1) functions of the NB201 architecture,
so the measured time is the runner's: sampling, job scheduling, store writes,
metrics with bootstrap intervals and leaderboard files.
"""

from __future__ import annotations

from nas_harness.api import Benchmark, Direction, Proxy
from nas_harness.hookspecs import hookimpl
from nas_harness.spaces import nb201


class SyntheticNB201(Benchmark):
    name = "overhead.synthetic"
    space = "nb201"
    dataset = "synthetic"

    def accuracy(self, arch, split="test", epochs=None):
        # more convolutions -> higher accuracy, with index-dependent jitter
        return 80.0 + 2.0 * sum(op in (2, 3) for op in arch) + (nb201.arch_to_index(arch) % 97) / 97

    def best(self, split="test"):
        return max(((a, self.accuracy(a)) for a in nb201.official_order()), key=lambda p: p[1])


class ConvCount(Proxy):
    """Number of convolution edges (trivially cheap)."""

    name = "overhead.conv_count"
    direction = Direction.MAXIMIZE

    def score(self, arch, ctx):
        return float(sum(op in (2, 3) for op in arch))


@hookimpl
def nas_harness_register_benchmarks(register):
    register(SyntheticNB201.name, SyntheticNB201)


@hookimpl
def nas_harness_register_proxies(register):
    register(ConvCount.name, ConvCount)
