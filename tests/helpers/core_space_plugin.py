"""A search space with only the four core methods, and a benchmark over it (tests/test_space_protocols.py).

The "core" space holds 8 architectures, the widths 1..8 of a two-layer perceptron (strings ``w1`` ..
``w8``). It implements ``parse``, ``to_str``, ``sample`` and ``build`` and nothing else: no capability
(:data:`nas_harness.api.CAPABILITIES`). Ground truth grows with the width, as the network's parameters do.
"""

from __future__ import annotations

import random

from torch import nn

from nas_harness.api import ArchitectureError, Benchmark, SearchSpace
from nas_harness.hookspecs import hookimpl

WIDTHS = tuple(range(1, 9))


class CoreSpace(SearchSpace):
    name = "core"

    def parse(self, text):
        if not isinstance(text, str) or not text.startswith("w") or text[1:] not in {str(w) for w in WIDTHS}:
            raise ArchitectureError(f"core architecture {text!r}: expected w1 .. w8")
        return int(text[1:])

    def to_str(self, arch):
        return f"w{arch}"

    def sample(self, rng: random.Random):
        return rng.choice(WIDTHS)

    def build(self, arch, num_classes: int = 3, inputs: int = 4, **net_cfg):
        return nn.Sequential(nn.Linear(inputs, arch), nn.ReLU(), nn.Linear(arch, num_classes))


def core_accuracy(arch) -> float:
    return 60.0 + 4.0 * arch


class CoreBenchmark(Benchmark):
    """Ground truth for the whole core space (``archs()`` is None: the study samples from the space)."""

    name = "core.bench"
    space = "core"
    dataset = "none"

    def accuracy(self, arch, split="test", epochs=None):
        return core_accuracy(arch)

    def best(self, split="test"):
        return max(WIDTHS), core_accuracy(max(WIDTHS))


@hookimpl
def nas_harness_register_search_spaces(register):
    register("core", CoreSpace)


@hookimpl
def nas_harness_register_benchmarks(register):
    register("core.bench", CoreBenchmark)
