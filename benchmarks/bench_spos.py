"""SPOS on CPU: supernet training throughput and scoring seconds per architecture.

- training: images per second of single-path SPOS steps (forward, backward, SGD
  step of one uniformly sampled path) on the ``cpu-small`` supernet (NB201 at
  ``C=8, N=1``, batch 128, 32x32 CIFAR-sized inputs) and on the paper-scale
  one (``C=16, N=5``, batch 64);
- scoring: seconds per architecture for ``spos.supernet`` with the cpu-small
  settings: BN recalibration on 4 x 128 training images, then accuracy on 1,000
  validation images.

Random tensors stand in for images (costs do not depend on pixel values);
torch runs on one thread (recorded in ``extra_info``), as the studies do.

    python -m pytest benchmarks/bench_spos.py --benchmark-only -s      # about 2 minutes
"""

from __future__ import annotations

import random

import pytest
import torch

from harness.spaces.masks import single_path_mask
from harness.spaces.nb201 import NB201Space
from harness.supernets.calibration import accuracy, recalibrate_bn
from harness.supernets.training import TrainSettings, make_optimizer, train_step
from nas_harness_plugins.spos.sampling import uniform_choices

SPACE = NB201Space()
POINTS = SPACE.choice_points()
NETWORKS = {"cpu-small": (8, 1, 128), "paper": (16, 5, 64)}


pytestmark = pytest.mark.usefixtures("one_thread")


def _batch(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("preset", list(NETWORKS))
def test_training_images_per_second(benchmark, preset):
    C, N, batch_size = NETWORKS[preset]
    torch.manual_seed(0)
    net = SPACE.build_supernet(C=C, N=N, num_classes=10)
    optimizer = make_optimizer(net, TrainSettings())
    batch = _batch(batch_size)
    rng = random.Random(0)
    steps = 10 if preset == "cpu-small" else 3

    def run():
        for _ in range(steps):
            train_step(net, optimizer, batch, single_path_mask(POINTS, uniform_choices(POINTS, rng)), 5.0)

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    images_per_s = steps * batch_size / benchmark.stats.stats.median
    benchmark.extra_info.update({"torch_threads": torch.get_num_threads(), "images_per_s": round(images_per_s, 1)})
    print(f"\nSPOS training, {preset} (C={C}, N={N}, batch {batch_size}): {images_per_s:.0f} images/s")


def test_scoring_seconds_per_arch(benchmark):
    torch.manual_seed(0)
    net = SPACE.build_supernet(C=8, N=1, num_classes=10)
    calibration = [_batch(128, seed) for seed in range(4)]
    evaluation = [_batch(500, 10 + seed) for seed in range(2)]
    archs = SPACE.sample_unique(5, random.Random(0))
    masks = iter([single_path_mask(POINTS, a) for a in archs] * 2)

    def score():
        mask = next(masks)
        recalibrate_bn(net, mask, calibration)
        return accuracy(net, mask, evaluation)

    benchmark.pedantic(score, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    print(f"\nSPOS scoring (cpu-small): {benchmark.stats.stats.median:.3f} s per architecture")
