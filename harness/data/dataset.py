"""The in-memory image data set type (:class:`ImageDataset`), its error, and the constants every loader shares.

A loaded data set is an :class:`ImageDataset`: uint8 tensors ``[N, H, W, C]``
(RGB) and int64 labels for the ``train`` and ``test`` splits, plus the class
names. This module knows nothing about files: the loaders (:mod:`.layouts`,
:mod:`.loading`) build data sets and hand each one a *recipe*, the function and
arguments that load it again, so that a data set pickles as that small recipe
and is re-read in the receiving process (:meth:`ImageDataset.__reduce__`)
without this module importing the loaders.

Loads are remembered per process (by ``key``, weakly; :func:`remembered`,
:func:`remember`, :func:`clear_memo`), so that loading or unpickling the same
source twice returns the same tensors.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from nas_harness.api import HarnessError

SPLITS = ("train", "test")

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

#: Per-channel (mean, std) in [0, 1] units, exactly as in the official NAS-Bench-201 code.
NB201_NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": (
        tuple(x / 255 for x in (125.3, 123.0, 113.9)),
        tuple(x / 255 for x in (63.0, 62.1, 66.7)),
    ),
    "cifar100": (
        tuple(x / 255 for x in (129.3, 124.1, 112.4)),
        tuple(x / 255 for x in (68.2, 65.4, 70.4)),
    ),
    "imagenet16-120": (
        tuple(x / 255 for x in (122.68, 116.66, 104.01)),
        tuple(x / 255 for x in (63.22, 61.26, 65.09)),
    ),
}

#: ``limit_per_class`` as callers pass it: an int for both splits, a ``{"train": n, "test": m}`` mapping, or None.
LimitArg = int | Mapping[str, int | None] | None

#: How to load a data set again in another process: a module-level function and its arguments.
Recipe = tuple[Callable[..., "ImageDataset"], tuple]


class DataError(HarnessError):
    """An image data set that cannot be found, read or decoded."""


def normalise_limit(limit: LimitArg) -> tuple[int | None, int | None]:
    """``limit_per_class`` as ``(train, test)``: an int applies to both, a mapping per split."""
    if limit is None:
        return (None, None)
    if isinstance(limit, Mapping):
        unknown = set(limit) - set(SPLITS)
        if unknown:
            raise DataError(f"limit_per_class: unknown split(s) {sorted(unknown)}; use 'train' and 'test'")
        out = (limit.get("train"), limit.get("test"))
    else:
        out = (limit, limit)
    for v in out:
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise DataError(f"limit_per_class must be a positive int or None, got {v!r}")
    return out  # type: ignore[return-value]


class ImageDataset:
    """Train and test images of one data set, in memory.

    ``train_images`` / ``test_images`` are uint8 tensors ``[N, H, W, C]`` (RGB),
    ``train_labels`` / ``test_labels`` int64 tensors ``[N]`` indexing
    ``class_names``. ``source`` says where the pixels came from and ``key`` is a
    hash that changes when they would change (source path, size, mtime and
    selection options; a content hash for data sets built in memory).

    Loads are remembered per process (by ``key``, weakly): loading the same
    source twice returns the same tensors, so never modify them in place.

    Pickling: a data set given a ``recipe`` (``(function, args)``; :func:`load_dataset`
    gives one to what it read from a cache file or from pickled batches) pickles
    as that recipe and its ``key`` and is loaded again in the receiving process,
    from the cache; there the source must be unchanged (same ``key``) or
    unpickling raises :class:`DataError`. Any other data set pickles its arrays.
    """

    def __init__(
        self,
        name: str,
        class_names: Sequence[str],
        train_images: Any,
        train_labels: Any,
        test_images: Any,
        test_labels: Any,
        *,
        source: str = "<memory>",
        key: str | None = None,
        recipe: Recipe | None = None,
    ) -> None:
        self.name = name
        self.class_names = tuple(str(c) for c in class_names)
        self.train_images = _as_tensor(train_images, torch.uint8, "train_images")
        self.train_labels = _as_tensor(train_labels, torch.int64, "train_labels")
        self.test_images = _as_tensor(test_images, torch.uint8, "test_images")
        self.test_labels = _as_tensor(test_labels, torch.int64, "test_labels")
        self.source = source
        self._key = key
        self._recipe = recipe
        self._check()

    def _check(self) -> None:
        shapes = set()
        for split in SPLITS:
            x, y = self.split(split)
            if x.dim() != 4:
                raise DataError(f"{self.name}: {split} images must be [N, H, W, C], got shape {tuple(x.shape)}")
            if y.dim() != 1 or y.shape[0] != x.shape[0]:
                raise DataError(f"{self.name}: {split} has {x.shape[0]} images but labels of shape {tuple(y.shape)}")
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(self.class_names)):
                raise DataError(f"{self.name}: {split} labels fall outside 0..{len(self.class_names) - 1}")
            if x.shape[0]:
                shapes.add(tuple(x.shape[1:]))
        if len(self.train_labels) == 0:
            raise DataError(f"{self.name}: the train split is empty ({self.source})")
        if len(shapes) > 1:
            raise DataError(f"{self.name}: train and test images differ in shape: {sorted(shapes)}")

    def split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(images, labels)`` of ``'train'`` or ``'test'``."""
        if split == "train":
            return self.train_images, self.train_labels
        if split == "test":
            return self.test_images, self.test_labels
        raise DataError(f"unknown split {split!r}; an ImageDataset has 'train' and 'test'")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of one stored image."""
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]

    @property
    def key(self) -> str:
        """A hash of the source (path, size, mtime, options) or, for in-memory data, of the content."""
        if self._key is None:
            h = hashlib.sha256()
            h.update(json.dumps([self.name, self.class_names]).encode())
            for t in (self.train_images, self.train_labels, self.test_images, self.test_labels):
                h.update(str(tuple(t.shape)).encode())
                h.update(t.contiguous().numpy().tobytes())
            self._key = "content-" + h.hexdigest()[:32]
        return self._key

    def __len__(self) -> int:
        return len(self.train_labels) + len(self.test_labels)

    def __repr__(self) -> str:
        return (
            f"ImageDataset({self.name!r}, train={len(self.train_labels)}, test={len(self.test_labels)}, "
            f"image_shape={self.image_shape}, classes={self.num_classes}, source={self.source!r})"
        )

    def __reduce__(self):
        if self._recipe is not None:
            return (_restore_dataset, (self._recipe, self.key))
        arrays = tuple(t.numpy() for t in (self.train_images, self.train_labels, self.test_images, self.test_labels))
        return (_rebuild_dataset, (self.name, self.class_names, arrays, self.source, self._key))


def _as_tensor(value: Any, dtype: torch.dtype, what: str) -> torch.Tensor:
    t = value if isinstance(value, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(value))
    if t.dtype != dtype:
        if dtype == torch.uint8:
            raise DataError(f"{what} must hold uint8 pixels, got {t.dtype}")
        t = t.to(dtype)
    return t.contiguous()


def _rebuild_dataset(name, class_names, arrays, source, key) -> ImageDataset:
    return ImageDataset(name, class_names, *arrays, source=source, key=key)


# --------------------------------------------------------------------------- per-process memo

# Data sets loaded or restored in this process, so that unpickling many contexts loads the pixels once.
_MEMO: weakref.WeakValueDictionary[str, ImageDataset] = weakref.WeakValueDictionary()
_LAST: list[ImageDataset] = []  # one strong reference: the most recently restored data set


def remembered(key: str) -> ImageDataset | None:
    """The data set with this ``key`` loaded earlier in this process and still alive, else None."""
    return _MEMO.get(key)


def remember(dataset: ImageDataset) -> ImageDataset:
    """Remember ``dataset`` under its key (weakly) and return it."""
    _MEMO[dataset.key] = dataset
    return dataset


def clear_memo() -> None:
    """Forget the data sets remembered for loading and unpickling (tests use this)."""
    _MEMO.clear()
    _LAST.clear()


def _restore_dataset(recipe: Recipe, key: str) -> ImageDataset:
    found = _MEMO.get(key)
    if found is None:
        load, args = recipe
        found = load(*args)
        if found.key != key:
            raise DataError(
                f"data set {found.name!r} ({found.source}) changed since it was pickled (key {found.key} != {key}); "
                "every process of a study must see the same data"
            )
        _MEMO[key] = found
    _LAST[:] = [found]
    return found
