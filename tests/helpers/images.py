"""Small in-memory image data sets for tests that need real :class:`BatchProvider` batches."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from nas_harness.data import BatchProvider, ImageDataset


def tiny_provider(
    seed: int = 0,
    *,
    per_class: int = 12,
    size: int = 8,
    classes: int = 4,
    valid_size: int | float = 0,
    pixel_seed: int = 123,
) -> BatchProvider:
    """A BatchProvider over generated random pixels: ``per_class`` train images per class, one test image each."""
    rng = np.random.default_rng(pixel_seed)
    n = per_class * classes
    ds = ImageDataset(
        "tiny",
        [f"c{i}" for i in range(classes)],
        rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
        np.repeat(np.arange(classes), per_class),
        rng.integers(0, 256, (classes, size, size, 3), dtype=np.uint8),
        np.arange(classes),
    )
    return BatchProvider(ds, seed=seed, valid_size=valid_size)


@contextmanager
def one_torch_thread():
    """Tiny tensors: extra threads only add overhead (and noise) on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
