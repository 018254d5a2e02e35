"""CPU seconds per architecture of the TE-NAS indicators (``tenas.ntk``, ``tenas.linear_regions``).

kappa_N at the paper's batch size (64 images, 32x32, train mode: BatchNorm
normalises with batch statistics, so every row of the NTK needs a backward pass
through the whole batch), computed three ways:

- ``jacrev``: the vectorised exact path (``torch.func.jacrev`` of the batch
  forward, 4 cotangents per batched backward), what ``tenas.ntk`` runs;
- ``loop``: the official definition, one ``backward`` per sample;
- ``vmap-eval``: per-sample ``vmap(grad)`` with BN in *eval* mode: one forward
  per sample, about B times cheaper, but not TE-NAS's train-mode NTK (shown for
  scale only).

on two networks: the proxy's default (the NB201 network at ``C=3, N=1``, the
official TE-NAS NTK size; 5 sampled architectures, the benchmark's median is
the median over them) and the NB201 evaluation network (``C=16, N=5``; one
mid-sized architecture, one round: a round takes minutes). R_N: the official
thin network over 3 x 1,000 one-channel 3x3 crops (5 architectures), and the
``C=16, N=5`` network over 3 x 1,000 whole 32x32 images (one architecture).

Inputs are random tensors of the data's shape (costs do not depend on pixel
values). torch runs on one thread (recorded in ``extra_info``): the machine's
2 cores are shared, and a second thread slowed these runs down there.

    python -m pytest benchmarks/bench_tenas.py --benchmark-only -s      # about 8 minutes
    python -m pytest benchmarks/bench_tenas.py --benchmark-only -s -k C3N1   # about 1 minute
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
import torch

from nas_harness.spaces.nb201 import NB201Space
from nas_harness.spaces.nb201_net import NB201Network
from nas_harness.spaces.nb201_supernet import NB201Supernet, arch_mask
from nas_harness_plugins.tenas.linear_regions import count_linear_regions, random_crops
from nas_harness_plugins.tenas.ntk import ntk_condition

SPACE = NB201Space()
BATCH = 64
SAMPLED = [SPACE.sample(random.Random(1000 + i)) for i in range(5)]
MID = SPACE.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|")
CONFIGS = {"C3N1": (3, 1, SAMPLED), "C16N5": (16, 5, [MID])}


pytestmark = pytest.mark.usefixtures("one_thread")


def _rounds(benchmark, archs, make, target):
    """One round per architecture (setup builds its network outside the timing); median = over archs."""
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    benchmark.extra_info["archs"] = [SPACE.to_str(a) for a in archs]
    cycle = itertools.cycle(archs)

    def setup():
        torch.manual_seed(0)
        return (make(next(cycle)),), {}

    return benchmark.pedantic(target, setup=setup, rounds=len(archs), iterations=1, warmup_rounds=0)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("method", ["jacrev", "loop", "vmap-eval"])
def test_kappa_seconds_per_arch(benchmark, config, method):
    C, N, archs = CONFIGS[config]
    x = torch.randn(BATCH, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    train = method != "vmap-eval"

    def make(arch):
        return NB201Network(arch, C=C, N=N).train(train)

    result = _rounds(benchmark, archs, make, lambda net: ntk_condition(net, x, method.split("-")[0], chunk_size=4))
    assert math.isfinite(result.kappa)


@pytest.mark.parametrize("config", ["thin", "C16N5"])
def test_linear_regions_seconds_per_arch(benchmark, config):
    g = torch.Generator().manual_seed(0)
    if config == "thin":  # official: C=1, N=1, first cell, no stem; 3 x 1000 one-channel 3x3 crops
        archs = SAMPLED
        inputs = [random_crops(torch.randn(1000, 3, 32, 32, generator=g), 3, 1, g) for _ in range(3)]

        def make(arch):
            return NB201Supernet(1, 1, 10, depth=1, use_stem=False, mask=arch_mask(arch)).train()
    else:
        archs = [MID]
        inputs = [torch.randn(1000, 3, 32, 32, generator=g) for _ in range(3)]

        def make(arch):
            return NB201Network(arch, C=16, N=5).train()

    count = _rounds(benchmark, archs, make, lambda net: count_linear_regions(net, inputs))
    assert 1 <= count <= 3000
