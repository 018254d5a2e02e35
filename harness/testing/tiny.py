"""Tiny, fast stand-ins for what a study hands an estimator: image batches, search spaces, architectures and
a :class:`~nas_harness.api.Context` holding them.

Example::

    ctx = tiny_context(seed=0)                  # NB201 space, 4 classes of random 8x8 images
    archs = tiny_archs(ctx.space, 4)            # four distinct architectures, the same every time
    with one_torch_thread():
        scores = [MyProxy().score(a, ctx) for a in archs]
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from nas_harness.api import Arch, ConfigError, Context, SearchSpace
from nas_harness.data import BatchProvider, ImageDataset
from nas_harness.groundtruth.benchmark import EmbeddedNB201Digits
from nas_harness.registry import get_registry
from nas_harness.seeding import derived_seed
from nas_harness.spaces.nb201 import NB201Space
from nas_harness.testing.fakes import FakeBenchmark, ToySpace

#: supernet options small enough for a test (SPOS, MixPath and any WeightSharingEstimator, over a
#: ``preset = "cpu-small"``): one epoch of a 2-channel, 1-cell supernet on tiny images
TINY_SUPERNET: dict[str, Any] = {"C": 2, "N": 1, "epochs": 1, "batch_size": 8, "calibration_batches": 2,
                                 "calibration_batch_size": 8, "eval_images": 16, "eval_batch_size": 8}  # fmt: skip

#: spaces built without the plugin registry (the rest are looked up by registered name)
_SPACES = {"nb201": NB201Space, "toy": ToySpace}


def tiny_dataset(per_class: int = 12, *, size: int = 8, classes: int = 4, pixel_seed: int = 123) -> ImageDataset:
    """Random ``size`` x ``size`` RGB pixels: ``per_class`` train images per class and one test image per class."""
    rng = np.random.default_rng(pixel_seed)
    n = per_class * classes
    return ImageDataset(
        "tiny",
        [f"c{i}" for i in range(classes)],
        rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
        np.repeat(np.arange(classes), per_class),
        rng.integers(0, 256, (classes, size, size, 3), dtype=np.uint8),
        np.arange(classes),
    )


def tiny_provider(
    seed: int = 0,
    *,
    per_class: int = 12,
    size: int = 8,
    classes: int = 4,
    valid_size: int | float = 0,
    pixel_seed: int = 123,
) -> BatchProvider:
    """A BatchProvider over :func:`tiny_dataset` (generated random pixels): real seeded batches, no files."""
    dataset = tiny_dataset(per_class, size=size, classes=classes, pixel_seed=pixel_seed)
    return BatchProvider(dataset, seed=seed, valid_size=valid_size)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block on one torch thread: tiny tensors only lose time (and gain noise) to more threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def tiny_space(name: str = "nb201") -> SearchSpace:
    """A search space by name: ``"nb201"`` (15,625 cells with networks), ``"toy"`` (:class:`ToySpace`: 64
    architectures, no networks), or any other registered name (looked up in the plugin registry)."""
    if name in _SPACES:
        return _SPACES[name]()
    return get_registry().create("search_space", name)


def tiny_archs(
    space: SearchSpace | str = "nb201", n: int = 4, seed: int = 0, *, pool: Sequence[Arch] | None = None
) -> list[Arch]:
    """``n`` distinct, ordinary architectures of ``space`` (drawn from ``pool`` when given), the same for the same
    ``seed``. Ordinary: where the space can tell (``space.is_disconnected(arch)``, as NB201's cells whose output
    does not depend on the input), degenerate architectures come only when there are too few others."""
    space = tiny_space(space) if isinstance(space, str) else space
    rng = random.Random(derived_seed("nas_harness.testing.tiny_archs", seed))
    if pool is not None:
        stream: Iterator[Arch] = iter(rng.sample(list(pool), len(pool)))
    else:
        stream = (space.sample(rng) for _ in range(1000 * n))
    degenerate = getattr(space, "is_disconnected", None)
    ordinary: list[Arch] = []
    odd: list[Arch] = []
    seen: set[str] = set()
    for arch in stream:
        key = space.to_str(arch)
        if key in seen:
            continue
        seen.add(key)
        (odd if degenerate is not None and degenerate(arch) else ordinary).append(arch)
        if len(ordinary) == n:
            break
    found = ordinary + odd[: n - len(ordinary)]
    if len(found) < n:
        raise ValueError(f"space {space.name!r} gave {len(found)} distinct architectures, fewer than {n}")
    return found


def tiny_context(
    seed: int = 0,
    space: SearchSpace | str = "nb201",
    *,
    data: BatchProvider | bool = True,
    images_per_class: int = 16,
    image_size: int = 8,
    classes: int = 4,
    valid_size: int | float = 0.25,
    pixel_seed: int = 123,
    workdir: str | None = None,
    shared_workdir: str | None = None,
    candidates: Sequence[Arch] | None = None,
    device: str = "cpu",
    options: dict[str, Any] | None = None,
) -> Context:
    """A :class:`Context` as a study builds one, at toy size.

    ``data``: True (default) for :func:`tiny_provider` batches of ``classes`` x ``images_per_class`` random
    ``image_size``-pixel images, a quarter of them held out as the validation split (supernets score on it);
    False for a study without image data; or a :class:`BatchProvider` of your own. ``workdir`` and
    ``shared_workdir`` are None unless given (estimators that keep files need them: pass a temporary folder).
    """
    space = tiny_space(space) if isinstance(space, str) else space
    if data is True:
        provider: BatchProvider | None = tiny_provider(
            seed, per_class=images_per_class, size=image_size, classes=classes, valid_size=valid_size,
            pixel_seed=pixel_seed,
        )  # fmt: skip
    elif data is False or data is None:
        provider = None
    elif isinstance(data, BatchProvider):
        provider = data
    else:
        raise ConfigError(f"tiny_context: data = {data!r}; accepted: True, False or a BatchProvider")
    return Context(
        space=space, seed=seed, device=device, data=provider, workdir=workdir, shared_workdir=shared_workdir,
        candidates=None if candidates is None else list(candidates), options=dict(options or {}),
    )  # fmt: skip


def fake_benchmark(space: SearchSpace | str = "nb201", n: int | None = 32, seed: int = 0) -> FakeBenchmark:
    """A :class:`FakeBenchmark`: ``n`` architectures of ``space`` (None: all of it) with closed-form accuracies."""
    return FakeBenchmark(tiny_space(space) if isinstance(space, str) else space, n=n, seed=seed)


def digits_benchmark() -> EmbeddedNB201Digits:
    """``nb201.digits``: real ground truth that ships with the package (300 NB201 cells trained on
    scikit-learn's 8x8 digits), for tests that want actual accuracies rather than fake ones."""
    return EmbeddedNB201Digits()
