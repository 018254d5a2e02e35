"""CPU seconds per architecture of each baselines proxy at its default settings.

Each proxy scores the NAS-Bench-201 network at the benchmark's size (C=16, N=5,
10 classes) for a fixed sample of architectures, one architecture per round,
so the round statistics are seconds per architecture (over different cells:
the all-conv3x3 cell costs several times a cell of pools and skips). The data
proxies read train batch 0 (64 images, 128 for NASWOT, 256 for EPE-NAS) of a generated
CIFAR-shaped data set (32x32 RGB, 10 classes, named ``cifar10`` so the
NAS-Bench-201 normalisation applies); no real data is needed. ``extra_info``
records torch's thread count and the architectures. The NAS-Bench-Suite-Zero
proxies (grasp, fisher, plain, l2_norm, epe_nas) and the ``zeroshot`` ones (Zen-NAS, ZiCo, MeCo,
SWAP, the AZ-NAS components) are timed the same way.

    python -m pytest benchmarks/bench_baselines.py --benchmark-only
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import torch

from nas_harness.api import Context
from nas_harness.data import CIFAR10_CLASSES, BatchProvider, ImageDataset
from nas_harness.spaces.nb201 import NB201Space
from nas_harness_plugins.baselines.plugin import PROXIES, SUITE_ZERO_PROXIES
from nas_harness_plugins.zeroshot.plugin import PROXIES as ZEROSHOT_PROXIES

N_ARCHS = 6  # rounds per proxy: one architecture each
# per-architecture proxies only: zeroshot.az_nas ranks a whole set (its components are timed one by one)
TIMED = PROXIES + SUITE_ZERO_PROXIES + tuple(c for c in ZEROSHOT_PROXIES if not getattr(c, "set_level", False))


@pytest.fixture(scope="module")
def ctx() -> Context:
    rng = np.random.default_rng(0)
    n_train, n_test = 1000, 100
    dataset = ImageDataset(
        "cifar10",
        CIFAR10_CLASSES,
        rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
        np.arange(n_train) % 10,
        rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
        np.arange(n_test) % 10,
    )
    return Context(space=NB201Space(), seed=0, data=BatchProvider(dataset, seed=0))


@pytest.fixture(scope="module")
def archs(ctx) -> list:
    return ctx.space.sample_unique(N_ARCHS + 1, random.Random(0))  # the extra one warms up


@pytest.mark.parametrize("cls", TIMED, ids=lambda c: c.name)
def test_seconds_per_architecture(benchmark, cls, ctx, archs):
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    benchmark.extra_info["archs"] = [ctx.space.to_str(a) for a in archs[1:]]
    proxy = cls()
    proxy.score(archs[0], ctx)  # warm-up outside the timing (allocator, first-call costs)
    queue = itertools.cycle(archs[1:])
    scores = []

    def one_arch():
        scores.append(proxy.score(next(queue), ctx))

    benchmark.pedantic(one_arch, rounds=N_ARCHS, iterations=1)
    assert len(scores) == N_ARCHS
