"""Train one architecture with a :class:`~nas_harness.groundtruth.recipe.TrainRecipe`."""

from __future__ import annotations

import functools
import time
from typing import Any

import torch

from nas_harness.api import Arch, SearchSpace
from nas_harness.costs import count_flops, count_params
from nas_harness.data import BatchProvider, load_dataset
from nas_harness.groundtruth.recipe import TrainRecipe
from nas_harness.seeding import derived_seed


@functools.cache
def _dataset(name: str):

    return load_dataset(name)


def train_architecture(
    space: SearchSpace, arch: Arch, seed: int, recipe: TrainRecipe, device: str = "cpu"
) -> dict[str, Any]:
    """Train ``arch`` from a seeded initialisation; returns accuracies (%), costs and seconds."""

    dataset = _dataset(recipe.dataset)
    data = BatchProvider(dataset, seed, valid_size=recipe.valid_size, split_seed=recipe.split_seed)
    torch.manual_seed(derived_seed("groundtruth-init", seed, space.to_str(arch)))
    model = space.build(arch, C=recipe.C, N=recipe.N, num_classes=data.num_classes).to(device)
    params = count_params(model)
    flops = count_flops(model, (1, *data.input_shape))
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe.lr,
        momentum=recipe.momentum,
        weight_decay=recipe.weight_decay,
        nesterov=recipe.nesterov and recipe.momentum > 0,
    )
    steps = recipe.epochs * data.batches_per_epoch(recipe.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    start = time.perf_counter()
    model.train()
    for epoch in range(recipe.epochs):
        for x, y in data.epoch_iterator(epoch, recipe.batch_size, augment=recipe.augment, device=device):
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            schedule.step()
    train_seconds = time.perf_counter() - start
    return {
        "test_accuracy": _accuracy(model, data, "test", device),
        "valid_accuracy": _accuracy(model, data, "valid", device) if data.num_valid else float("nan"),
        "params": params / 1e6,
        "flops": flops / 1e6,
        "train_seconds": train_seconds,
    }


@torch.no_grad()
def _accuracy(model: torch.nn.Module, data: Any, split: str, device: str) -> float:
    model.eval()
    correct = total = 0
    for x, y in data.eval_batches(split, 512, device=device):
        correct += int((model(x).argmax(1) == y).sum())
        total += len(y)
    return 100.0 * correct / total
