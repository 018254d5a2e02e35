"""Size baselines and the random floor.

Bigger networks tend to train to higher accuracy on NAS-Bench-201, which is
why parameter and FLOP counts are the first baselines any proxy must beat
(Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021, Table 1).
"""

from __future__ import annotations

import random
from typing import Any

from nas_harness.api import Arch, Context, Direction, Proxy
from nas_harness.costs import count_flops, count_params
from nas_harness.options import check_int
from nas_harness.seeding import derived_seed
from nas_harness_plugins.baselines.common import seeded_network


class _NetworkSizeProxy(Proxy):
    direction = Direction.MAXIMIZE

    def __init__(self, input_size: int = 32, **net_cfg: Any) -> None:
        self.input_size = check_int(f"{self.name}: input_size", input_size)
        # passed to space.build (e.g. C, N, num_classes for NB201; num_classes defaults to the data's).
        # The network is built from a seeded generator (common.seeded_network) so that counting
        # leaves the caller's random state alone; the counts do not depend on the weights.
        self.net_cfg = net_cfg


class ParamsProxy(_NetworkSizeProxy):
    """Number of trainable parameters of the built network (more is predicted better)."""

    name = "baselines.params"

    def score(self, arch: Arch, ctx: Context) -> float:
        return float(count_params(seeded_network(self.name, arch, ctx, self.net_cfg)))


class FlopsProxy(_NetworkSizeProxy):
    """Multiply-accumulates of one forward pass at the benchmark's input size."""

    name = "baselines.flops"

    def score(self, arch: Arch, ctx: Context) -> float:
        model = seeded_network(self.name, arch, ctx, self.net_cfg)
        return float(count_flops(model, (1, 3, self.input_size, self.input_size)))


class RandomProxy(Proxy):
    """A seeded uniform random score: the floor every estimator must beat (expected tau 0)."""

    name = "baselines.random"
    direction = Direction.MAXIMIZE

    def score(self, arch: Arch, ctx: Context) -> float:
        return random.Random(derived_seed("baselines.random", ctx.seed, ctx.space.to_str(arch))).random()
