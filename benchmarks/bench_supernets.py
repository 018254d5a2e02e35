"""SPOS and MixPath on CPU: supernet training throughput and scoring seconds per architecture.

- training: images per second of supernet steps (forward, backward and SGD step
  of one sampled path) at the ``cpu`` preset's size (NB201 supernet at ``C=8, N=1``,
  batch 128, 16x16 inputs: CIFAR-10 pooled), the ``cpu-small`` size (the same
  network on 32x32 inputs) and the paper size (``C=16, N=5``, batch 64, 32x32),
  for SPOS (one uniform op per edge) and MixPath (m = 4 with linear Shadow BN:
  1 to 4 summed ops per edge, 2.5 on average);
- scoring: seconds per architecture at the cpu and cpu-small settings: BN
  recalibration on 4 x 128 training images, then accuracy on 1,000 validation
  images (the same for SPOS and every MixPath variant: one single path).

Random tensors stand in for images (costs do not depend on pixel values);
torch runs on one thread (recorded in ``extra_info``), as the studies do.

    python -m pytest benchmarks/bench_supernets.py --benchmark-only -s      # about 4 minutes
"""

from __future__ import annotations

import random

import pytest
import torch

from nas_harness.spaces.masks import single_path_mask
from nas_harness.spaces.multipath import MultiPathSpace
from nas_harness.spaces.nb201 import OPS, NB201Space
from nas_harness.supernets.calibration import accuracy, recalibrate_bn
from nas_harness.supernets.training import TrainSettings, make_optimizer, train_step
from nas_harness_plugins.mixpath.shadow_bn import variant_network
from nas_harness_plugins.spos.sampling import uniform_choices

pytestmark = pytest.mark.usefixtures("one_thread")

SPACE = NB201Space()
POINTS = SPACE.choice_points()
SIZES = {"cpu": (8, 1, 128, 16), "cpu-small": (8, 1, 128, 32), "paper": (16, 5, 64, 32)}  # C, N, batch, pixels


def _batch(n: int, seed: int = 0, pixels: int = 32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, pixels, pixels, generator=g), torch.randint(0, 10, (n,), generator=g)


def _supernet_and_paths(method: str, C: int, N: int):
    torch.manual_seed(0)
    rng = random.Random(0)
    if method == "spos":
        net = SPACE.build_supernet(C=C, N=N, num_classes=10)
        return net, lambda: single_path_mask(POINTS, uniform_choices(POINTS, rng))
    combine, norm = variant_network("sbn", 4, OPS)
    net = SPACE.build_supernet(C=C, N=N, num_classes=10, edge_combine=combine, edge_norm=norm)
    multi = MultiPathSpace(SPACE, 4)
    return net, lambda: multi.to_mask(multi.sample(rng))


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("method", ["spos", "mixpath"])
def test_training_images_per_second(benchmark, method, size):
    C, N, batch_size, pixels = SIZES[size]
    net, next_path = _supernet_and_paths(method, C, N)
    optimizer = make_optimizer(net, TrainSettings())
    batch = _batch(batch_size, pixels=pixels)
    steps = 3 if size == "paper" else 10

    def run():
        for _ in range(steps):
            train_step(net, optimizer, batch, next_path(), 5.0)

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    images_per_s = steps * batch_size / benchmark.stats.stats.median
    benchmark.extra_info.update({"torch_threads": torch.get_num_threads(), "images_per_s": round(images_per_s, 1)})
    print(f"\n{method} training, {size} (C={C}, N={N}, batch {batch_size}, {pixels} px): {images_per_s:.0f} images/s")


@pytest.mark.parametrize("size", ["cpu", "cpu-small"])
@pytest.mark.parametrize("method", ["spos", "mixpath"])
def test_scoring_seconds_per_arch(benchmark, method, size):
    C, N, _, pixels = SIZES[size]
    net, _ = _supernet_and_paths(method, C, N)
    calibration = [_batch(128, seed, pixels) for seed in range(4)]
    evaluation = [_batch(500, 10 + seed, pixels) for seed in range(2)]
    masks = iter([single_path_mask(POINTS, a) for a in SPACE.sample_unique(6, random.Random(0))])

    def score():
        mask = next(masks)
        recalibrate_bn(net, mask, calibration)
        return accuracy(net, mask, evaluation)

    benchmark.pedantic(score, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    print(f"\n{method} scoring ({size}, {pixels} px): {benchmark.stats.stats.median:.3f} s per architecture")
