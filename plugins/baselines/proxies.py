"""Size baselines and the random floor.

Bigger networks tend to train to higher accuracy on NAS-Bench-201, which is
why parameter and FLOP counts are the first baselines any proxy must beat
(Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021, Table 1).
"""

from __future__ import annotations

import abc
import random
from typing import Any

import torch

from nas_harness.api import Arch, Context, Direction, Proxy
from nas_harness.costs import count_flops, count_params
from nas_harness.options import check_int
from nas_harness.proxy_kit import seeded_network
from nas_harness.seeding import derived_seed
from nas_harness_plugins.baselines.common import placeholder_batch


class _NetworkSizeProxy(Proxy):
    direction = Direction.MAXIMIZE

    def __init__(self, input_size: int = 32, **net_cfg: Any) -> None:
        self.input_size = check_int(f"{self.name}: input_size", input_size)
        # passed to space.build (e.g. C, N, num_classes for NB201; num_classes defaults to the data's).
        # The network is built from a seeded generator (common.seeded_network) so that counting
        # leaves the caller's random state alone; the counts do not depend on the weights.
        self.net_cfg = net_cfg

    def score(self, arch: Arch, ctx: Context) -> float:
        net = seeded_network(self.name, arch, ctx, self.net_cfg)
        return self.score_network(net, *placeholder_batch((3, self.input_size, self.input_size), ctx.device))

    @abc.abstractmethod
    def score_network(self, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """The count for ``net``; ``inputs`` gives only the image shape."""


class ParamsProxy(_NetworkSizeProxy):
    """Number of trainable parameters of the built network (more is predicted better)."""

    name = "baselines.params"

    def score_network(self, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float(count_params(net))


class FlopsProxy(_NetworkSizeProxy):
    """Multiply-accumulates of one forward pass at the benchmark's input size.

    ``score_network`` counts them at the image shape of its ``inputs`` (``input_size`` is the study path's:
    3 x input_size x input_size).
    """

    name = "baselines.flops"

    def score_network(self, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float(count_flops(net, (1, *inputs.shape[1:])))


class RandomProxy(Proxy):
    """A seeded uniform random score: the floor every estimator must beat (expected tau 0)."""

    name = "baselines.random"
    direction = Direction.MAXIMIZE

    def score(self, arch: Arch, ctx: Context) -> float:
        return random.Random(derived_seed("baselines.random", ctx.seed, ctx.space.to_str(arch))).random()
