"""Random image data sets for the proxy tests: real seeded batches, no files."""

from __future__ import annotations

import numpy as np

from nas_harness.data import ImageDataset


def image_data(n_train: int = 200, size: int = 4, n_classes: int = 3, seed: int = 0, name: str = "toy") -> ImageDataset:
    """``n_train`` random ``size`` x ``size`` RGB train images and 20 test images, labelled ``i % n_classes``."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), np.arange(n) % n_classes

    (xt, yt), (xs, ys) = split(n_train), split(20)
    return ImageDataset(name, [f"c{i}" for i in range(n_classes)], xt, yt, xs, ys)
