"""Deterministic batches that every estimator of a study shares.

:class:`BatchProvider` turns an :class:`~nas_harness.data.dataset.ImageDataset`
into normalised float batches. Everything it returns is a pure function of
``(seed, what was asked)``: ``train_batch(i, B)`` is the same whatever was
asked before, in whichever process, and after a pickle round trip.

Splits
    ``train`` is the data set's train split minus a hold-out ``valid`` split;
    ``test`` is its test split. ``valid`` is class-stratified and drawn with
    ``split_seed`` (default 0, independent of the study seed, so every seed and
    every estimator validates on the same images). Its default size is 10% of
    train (5,000 images for CIFAR-10/100), enough for a stable accuracy
    estimate while leaving 45,000 for training; ``valid_size=0.5`` gives a
    cifar10-valid style half split, ``valid_size=0`` none.

Train stream
    The training images form an endless stream: epoch ``e`` is a permutation
    of the train split drawn from ``(seed, e)``, and batch ``i`` of size ``B``
    holds stream positions ``i*B .. i*B+B-1``. :meth:`epoch_iterator` walks
    one epoch's permutation; calibration batches (for BN recalibration) come
    from a second stream with its own permutations.

Preprocessing (NAS-Bench-201)
    Random crop with zero padding (4 for 32x32 images, ``H // 8`` in general)
    and random horizontal flip, done on uint8 tensors with a
    :class:`torch.Generator` seeded from ``(seed, batch)``; then
    ``(x / 255 - mean) / std`` with the official per-data-set constants
    (:data:`~nas_harness.data.dataset.NB201_NORMALIZATION`), or the train split's
    own statistics for other data sets.

Pickling
    A provider pickles its settings and its data set; a data set loaded by
    :func:`~nas_harness.data.loading.load_dataset` from its cache or from pickled
    batches pickles as a recipe and is re-read (once per process) on the other
    side, so sending a provider to a process-pool worker costs a few hundred
    bytes plus one cache read in that worker. Data sets built in memory pickle
    their arrays.

Example::

    data = BatchProvider(load_dataset("cifar10"), seed=0)
    x, y = data.train_batch(0, 64)           # float32 [64, 3, 32, 32], int64 [64]
    for x, y in data.eval_batches("valid", 256, limit=1000): ...
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from nas_harness.data.dataset import NB201_NORMALIZATION, DataError, ImageDataset
from nas_harness.data.loading import load_dataset
from nas_harness.seeding import batch_seed

#: Bumped when the batches for a given (data, seed, options) would change.
BATCHES_VERSION = 1

Batch = tuple[torch.Tensor, torch.Tensor]


def random_crop_flip(images: torch.Tensor, generator: torch.Generator, padding: int) -> torch.Tensor:
    """Random ``H x W`` crop of the zero-padded images and a random horizontal flip, per image.

    ``images`` is uint8 ``[B, H, W, C]``; the result has the same shape and
    dtype. Equivalent in distribution to torchvision's ``RandomCrop(H,
    padding)`` + ``RandomHorizontalFlip()``, and a function of ``generator``'s
    state only.
    """
    B, H, W, C = images.shape
    dy = torch.randint(0, 2 * padding + 1, (B,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (B,), generator=generator)
    flip = torch.randint(0, 2, (B,), generator=generator).bool()
    if padding > 0:
        padded = images.new_zeros((B, H + 2 * padding, W + 2 * padding, C))
        padded[:, padding : padding + H, padding : padding + W] = images
    else:
        padded = images
    rows = dy[:, None] + torch.arange(H)
    cols = dx[:, None] + torch.arange(W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    return padded[torch.arange(B)[:, None, None], rows[:, :, None], cols[:, None, :]]


def average_pool(images: torch.Tensor, factor: int, chunk: int = 4096) -> torch.Tensor:
    """uint8 ``[N, H, W, C]`` images average-pooled over ``factor x factor`` blocks (rounded), in chunks."""
    N, H, W, C = images.shape
    out = torch.empty((N, H // factor, W // factor, C), dtype=torch.uint8)
    for start in range(0, N, chunk):
        block = images[start : start + chunk].to(torch.float32)
        block = block.view(-1, H // factor, factor, W // factor, factor, C).mean(dim=(2, 4))
        out[start : start + chunk] = block.round_().to(torch.uint8)
    return out


def _check_resolution(resolution: Any, height: int, width: int) -> int | None:
    if resolution is None or resolution == height:
        return None
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise DataError(f"resolution = {resolution!r}; accepted: a positive int dividing the image size {height}")
    if height % resolution or width % (height // resolution):
        raise DataError(
            f"resolution = {resolution} does not divide the {height}x{width} images; accepted: "
            + ", ".join(str(height // f) for f in range(1, height + 1) if height % f == 0 and width % f == 0)
        )
    return resolution


def _channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (in [0, 1] units) of uint8 ``[N, H, W, C]`` images, in bounded memory."""
    total = torch.zeros(images.shape[-1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for start in range(0, len(images), chunk):
        px = images[start : start + chunk].reshape(-1, images.shape[-1]).to(torch.float64) / 255
        total += px.sum(0)
        squares += (px * px).sum(0)
    n = images[..., 0].numel()
    mean = total / n
    std = (squares / n - mean * mean).clamp_min(0).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


class BatchProvider:
    """Seeded train / calibration / evaluation batches over one :class:`ImageDataset`.

    Args:
        dataset: the images (see :func:`~nas_harness.data.loading.load_dataset`).
        seed: the study seed; batches and augmentation depend on it.
        valid_size: hold-out carved from train: a fraction (float, default
            0.1) or a number of images (int); class-stratified.
        split_seed: seed of the hold-out choice and of the fixed evaluation
            order (default 0: the same for every study seed).
        mean, std: per-channel normalisation in [0, 1] units; default the
            NAS-Bench-201 constants for the data set's name, else the train
            split's statistics.
        padding: crop padding in pixels (default ``H // 8`` of the batches' size: 4 for
            CIFAR, 2 for ImageNet16 or CIFAR at ``resolution = 16``).
        resolution: side of the batches' images when smaller than the data set's: the images
            are average-pooled by ``H // resolution`` (which must divide ``H``) once, as
            NAS-Bench-201 made ImageNet16-120 from ImageNet; crops and normalisation then work
            on the pooled images. None (default): the data set's own size.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        seed: int,
        *,
        valid_size: int | float = 0.1,
        split_seed: int = 0,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        padding: int | None = None,
        resolution: int | None = None,
    ) -> None:
        if not isinstance(dataset, ImageDataset):
            raise DataError(f"BatchProvider needs an ImageDataset, got {type(dataset).__name__}")
        self.dataset = dataset
        self.seed = int(seed)
        self.split_seed = int(split_seed)
        n_train = len(dataset.train_labels)
        if isinstance(valid_size, bool) or not isinstance(valid_size, (int, float)):
            raise DataError(f"valid_size must be an int or a float, got {valid_size!r}")
        if isinstance(valid_size, float):
            if not 0.0 <= valid_size < 1.0:
                raise DataError(f"valid_size as a fraction must be in [0, 1), got {valid_size}")
            n_valid = round(valid_size * n_train)
        else:
            n_valid = valid_size
        if not 0 <= n_valid < n_train:
            raise DataError(f"valid_size={valid_size!r} leaves no training images out of {n_train}")
        self.valid_size = valid_size
        self.num_valid = int(n_valid)
        H, W, C = dataset.image_shape
        self.resolution = _check_resolution(resolution, H, W)
        side = H if self.resolution is None else self.resolution
        self.padding = int(side // 8 if padding is None else padding)
        if mean is None or std is None:
            default = NB201_NORMALIZATION.get(dataset.name)
            if default is None:
                default = _channel_stats(dataset.train_images)
            mean = default[0] if mean is None else mean
            std = default[1] if std is None else std
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != C or len(self.std) != C or min(self.std) <= 0:
            raise DataError(f"mean/std need {C} values (std > 0), got {self.mean} / {self.std}")
        self._init_caches()

    def _init_caches(self) -> None:
        self._splits: dict[str, np.ndarray] | None = None
        self._pooled: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._perms: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        scale = torch.tensor([1 / (255 * s) for s in self.std], dtype=torch.float32)
        bias = torch.tensor([-m / s for m, s in zip(self.mean, self.std, strict=True)], dtype=torch.float32)
        self._scale = scale.view(1, -1, 1, 1)
        self._bias = bias.view(1, -1, 1, 1)

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for k in ("_splits", "_perms", "_scale", "_bias", "_pooled"):
            state.pop(k, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_caches()

    # ------------------------------------------------------------------ constructors

    @classmethod
    def load(
        cls,
        name: str,
        seed: int,
        *,
        root: str | None = None,
        limit_per_class: Any = None,
        cache: bool = True,
        download: bool | None = None,
        **options: Any,
    ) -> BatchProvider:
        """:func:`~nas_harness.data.loading.load_dataset` then a provider with ``options``."""
        ds = load_dataset(name, root, limit_per_class=limit_per_class, cache=cache, download=download)
        return cls(ds, seed, **options)

    def at_resolution(self, resolution: int | None) -> BatchProvider:
        """The same batches (seed, splits, normalisation) at another ``resolution``; crop padding
        follows the new size unless it was given."""
        if resolution == self.resolution:
            return self
        H = self.dataset.image_shape[0]
        own_padding = self.padding != (H if self.resolution is None else self.resolution) // 8
        return BatchProvider(
            self.dataset, self.seed, valid_size=self.valid_size, split_seed=self.split_seed,
            mean=self.mean, std=self.std, padding=self.padding if own_padding else None, resolution=resolution,
        )  # fmt: skip

    # ------------------------------------------------------------------ facts

    @property
    def num_classes(self) -> int:
        return self.dataset.num_classes

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.dataset.class_names

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one batch item."""
        H, W, C = self.dataset.image_shape
        if self.resolution is not None:
            return (C, self.resolution, self.resolution * W // H)
        return (C, H, W)

    def split_sizes(self) -> dict[str, int]:
        s = self._split_indices()
        return {k: len(v) for k, v in s.items()}

    def split_indices(self, split: str) -> np.ndarray:
        """Indices into the data set's train split (``train``, ``valid``) or test split (``test``).

        ``train`` is sorted; ``valid`` and ``test`` are in their fixed evaluation order.
        """
        s = self._split_indices()
        if split not in s:
            raise DataError(f"unknown split {split!r}; use 'train', 'valid' or 'test'")
        return s[split].copy()

    def fingerprint(self) -> str:
        """A hash of the data source, seed, split and preprocessing: equal fingerprints, equal batches."""
        return hashlib.sha256(json.dumps(self._identity(), sort_keys=True).encode()).hexdigest()[:16]

    def _identity(self) -> dict[str, Any]:
        return {
            "version": BATCHES_VERSION,
            "data": self.dataset.key,
            "dataset": self.dataset.name,
            "classes": list(self.class_names),
            "sizes": [len(self.dataset.train_labels), len(self.dataset.test_labels)],
            "seed": self.seed,
            "split_seed": self.split_seed,
            "num_valid": self.num_valid,
            "mean": list(self.mean),
            "std": list(self.std),
            "padding": self.padding,
            # only when set, so the batches (and checkpoints) of native-size studies keep their fingerprint
            **({"resolution": self.resolution} if self.resolution is not None else {}),
        }

    def describe(self) -> dict[str, Any]:
        """Provenance: where the images came from, the split sizes and :meth:`fingerprint`."""
        return {
            "dataset": self.dataset.name,
            "source": self.dataset.source,
            "seed": self.seed,
            "split_seed": self.split_seed,
            "splits": self.split_sizes(),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "mean": list(self.mean),
            "std": list(self.std),
            "padding": self.padding,
            "fingerprint": self.fingerprint(),
        }

    def __repr__(self) -> str:
        return (
            f"BatchProvider({self.dataset.name!r}, seed={self.seed}, splits={self.split_sizes()}, "
            f"fingerprint={self.fingerprint()})"
        )

    # ------------------------------------------------------------------ splits and streams

    def _split_indices(self) -> dict[str, np.ndarray]:
        if self._splits is None:
            labels = self.dataset.train_labels.numpy()
            n = len(labels)
            rng = np.random.default_rng(batch_seed("valid-split", self.split_seed, n))
            classes, counts = np.unique(labels, return_counts=True)
            quota = counts * self.num_valid / n  # largest-remainder allocation per class
            take = np.floor(quota).astype(np.int64)
            short = self.num_valid - int(take.sum())
            if short:
                order = np.lexsort((classes, -(quota - take)))
                take[order[:short]] += 1
            valid = [
                rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
                for c, k in zip(classes, take, strict=True)
            ]
            valid_idx = np.sort(np.concatenate(valid)) if valid else np.zeros(0, np.int64)
            train_idx = np.setdiff1d(np.arange(n), valid_idx)
            valid_idx = valid_idx[rng.permutation(len(valid_idx))]
            n_test = len(self.dataset.test_labels)
            test_rng = np.random.default_rng(batch_seed("test-order", self.split_seed, n_test))
            self._splits = {
                "train": train_idx.astype(np.int64),
                "valid": valid_idx.astype(np.int64),
                "test": test_rng.permutation(n_test).astype(np.int64),
            }
        return self._splits

    def _perm(self, stream: str, epoch: int) -> np.ndarray:
        key = (stream, epoch)
        perm = self._perms.get(key)
        if perm is None:
            train = self._split_indices()["train"]
            rng = np.random.default_rng(batch_seed(stream, self.seed, epoch, len(train)))
            perm = train[rng.permutation(len(train))]
            self._perms[key] = perm
            if len(self._perms) > 8:
                self._perms.popitem(last=False)
        else:
            self._perms.move_to_end(key)
        return perm

    def _stream_indices(self, stream: str, index: int, batch_size: int) -> np.ndarray:
        if index < 0 or batch_size < 1:
            raise DataError(f"batch index must be >= 0 and batch_size >= 1, got {index}, {batch_size}")
        m = len(self._split_indices()["train"])
        pos = np.arange(index * batch_size, (index + 1) * batch_size, dtype=np.int64)
        epochs, offsets = np.divmod(pos, m)
        out = np.empty(batch_size, np.int64)
        for e in np.unique(epochs):
            sel = epochs == e
            out[sel] = self._perm(stream, int(e))[offsets[sel]]
        return out

    def train_indices(self, index: int, batch_size: int) -> np.ndarray:
        """The train-split image indices in :meth:`train_batch` ``(index, batch_size)``."""
        return self._stream_indices("train", index, batch_size)

    # ------------------------------------------------------------------ batches

    def _split_images(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(uint8 [N, H, W, C], labels)`` of a data set split, pooled to ``resolution`` (once) when set."""
        if self.resolution is None:
            return self.dataset.split(split)
        if split not in self._pooled:
            images, labels = self.dataset.split(split)
            self._pooled[split] = (average_pool(images, images.shape[1] // self.resolution), labels)
        return self._pooled[split]

    def _batch(self, split: str, idx: np.ndarray, aug_seed: int | None, device: str | torch.device | None) -> Batch:
        images, labels = self._split_images(split)
        t = torch.from_numpy(idx)
        x = images[t]
        if aug_seed is not None:
            x = random_crop_flip(x, torch.Generator().manual_seed(aug_seed), self.padding)
        x = x.permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format)
        x = torch.addcmul(self._bias, x, self._scale)
        y = labels[t]
        if device is not None:
            x, y = x.to(device), y.to(device)
        return x, y

    def train_batch(
        self, index: int, batch_size: int, augment: bool = True, *, device: str | torch.device | None = None
    ) -> Batch:
        """Batch ``index`` of the train stream: ``(x float32 [B, C, H, W], y int64 [B])``.

        A function of ``(seed, index, batch_size, augment)`` only.
        """
        idx = self._stream_indices("train", index, batch_size)
        aug = batch_seed("train-aug", self.seed, index, batch_size) if augment else None
        return self._batch("train", idx, aug, device)

    def train_batches(
        self, n: int, batch_size: int, augment: bool = True, *, start: int = 0, device: str | None = None
    ) -> Iterator[Batch]:
        """``train_batch(i, batch_size)`` for ``i`` in ``start .. start + n - 1``."""
        for i in range(start, start + n):
            yield self.train_batch(i, batch_size, augment, device=device)

    def calibration_batches(
        self, n: int, batch_size: int, augment: bool = False, *, device: str | None = None
    ) -> Iterator[Batch]:
        """``n`` batches from the train split for BN recalibration (a stream of their own, not augmented).

        The first ``k`` batches of ``calibration_batches(n, B)`` equal ``calibration_batches(k, B)``.
        """
        for i in range(n):
            idx = self._stream_indices("calibration", i, batch_size)
            aug = batch_seed("calibration-aug", self.seed, i, batch_size) if augment else None
            yield self._batch("train", idx, aug, device)

    def batches_per_epoch(self, batch_size: int, drop_last: bool = False) -> int:
        m = len(self._split_indices()["train"])
        return m // batch_size if drop_last else -(-m // batch_size)

    def epoch_iterator(
        self,
        epoch: int,
        batch_size: int,
        augment: bool = True,
        *,
        drop_last: bool = False,
        device: str | None = None,
    ) -> Iterator[Batch]:
        """One pass over the train split, shuffled from ``(seed, epoch)`` (for supernet training).

        Uses the same permutation as the train stream's epoch ``epoch``; the last
        batch is smaller unless ``drop_last``.
        """
        if epoch < 0 or batch_size < 1:
            raise DataError(f"epoch must be >= 0 and batch_size >= 1, got {epoch}, {batch_size}")
        perm = self._perm("train", epoch)
        for j in range(self.batches_per_epoch(batch_size, drop_last)):
            idx = perm[j * batch_size : (j + 1) * batch_size]
            aug = batch_seed("epoch-aug", self.seed, epoch, j, batch_size) if augment else None
            yield self._batch("train", idx, aug, device)

    def eval_batches(
        self,
        split: str = "valid",
        batch_size: int = 256,
        limit: int | None = None,
        *,
        device: str | None = None,
    ) -> Iterator[Batch]:
        """The ``valid`` hold-out or the ``test`` split, not augmented, in a fixed class-mixed order.

        ``limit`` caps the number of images (the first ``limit`` of that fixed
        order, the same for every study seed).
        """
        if split not in ("valid", "test"):
            raise DataError(f"eval_batches: unknown split {split!r}; use 'valid' or 'test'")
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        idx = self._split_indices()[split]
        if len(idx) == 0:
            hint = " (the provider was made with valid_size=0)" if split == "valid" else ""
            raise DataError(f"the {split} split of {self.dataset.name!r} is empty{hint}")
        if limit is not None:
            idx = idx[: max(0, int(limit))]
        source = "train" if split == "valid" else "test"
        for j in range(0, len(idx), batch_size):
            yield self._batch(source, idx[j : j + batch_size], None, device)
