"""Image data sets that ship inside a PyPI package, so a study needs no download and no file.

``digits``: scikit-learn's handwritten digits (UCI "Optical Recognition of Handwritten Digits",
1,797 images of 8x8 pixels in 17 grey levels, 10 classes), read from the copy inside the
scikit-learn distribution (``sklearn/datasets/data/digits.csv.gz``). Pixels are scaled from
0..16 to 0..255 and repeated over three channels, so NAS-Bench-201 networks (RGB stem) take them
unchanged. scikit-learn ships no train/test split: a class-stratified third of the images is the
test split, fixed by :data:`TEST_SPLIT_SEED` (the BatchProvider then holds out ``valid_size`` of
the rest as validation).
"""

from __future__ import annotations

import numpy as np
import torch

from nas_harness.data.dataset import DataError, ImageDataset

#: Seed of the fixed train/test split; changing it changes every embedded ground truth.
TEST_SPLIT_SEED = 0
TEST_FRACTION = 1 / 3

EMBEDDED_DATASETS: tuple[str, ...] = ("digits",)


def load_embedded(name: str, limit_per_class: int | None = None) -> ImageDataset:
    """The embedded data set ``name`` (one of :data:`EMBEDDED_DATASETS`)."""
    if limit_per_class is not None and (not isinstance(limit_per_class, int) or limit_per_class < 1):
        raise DataError(f"limit_per_class={limit_per_class!r} for embedded {name!r}; expected a positive int")
    if name != "digits":
        raise DataError(f"no embedded data set {name!r}; embedded: {', '.join(EMBEDDED_DATASETS)}")
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # a dependency of nas-harness; only a broken install lacks it
        raise DataError("the embedded data set 'digits' needs scikit-learn: pip install scikit-learn") from exc
    digits = load_digits()
    images = np.repeat((digits.images * (255 / 16)).round().astype(np.uint8)[..., None], 3, axis=-1)
    labels = digits.target.astype(np.int64)
    train, test = _stratified_split(labels, TEST_FRACTION, TEST_SPLIT_SEED)
    if limit_per_class is not None:
        train, test = _limit(labels, train, limit_per_class), _limit(labels, test, limit_per_class)
    return ImageDataset(
        "digits",
        [str(d) for d in range(10)],
        torch.from_numpy(images[train]),
        torch.from_numpy(labels[train]),
        torch.from_numpy(images[test]),
        torch.from_numpy(labels[test]),
        source="scikit-learn load_digits (embedded)",
    )


def _stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices; each class contributes round(fraction * its size) test images."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        k = round(fraction * len(members))
        test.append(members[:k])
        train.append(members[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _limit(labels: np.ndarray, index: np.ndarray, per_class: int) -> np.ndarray:
    keep = [index[labels[index] == c][:per_class] for c in np.unique(labels[index])]
    return np.sort(np.concatenate(keep))
