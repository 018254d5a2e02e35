"""Decoding image files (PNG, JPEG, ...) into uint8 RGB arrays with Pillow, in the loaders' fixed order."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from nas_harness.data.dataset import SPLITS, DataError


def _pil():
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DataError(
            "decoding image files needs Pillow (pip install pillow); the pickled CIFAR batches do not"
        ) from exc
    return Image


def decode_all(
    groups: Mapping[tuple[str, str], Sequence[tuple[str, Callable[[], bytes]]]],
    class_names: Sequence[str],
    where: str,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decode every member into ``{split: (uint8 [N, H, W, 3], int64 labels [N])}``.

    ``groups`` maps (split, class) to sorted (name, read-bytes) pairs; images
    come out in sorted (class, name) order. Every image must have one size; a
    file that cannot be decoded raises :class:`DataError` naming it.
    """
    Image = _pil()
    index = {c: i for i, c in enumerate(class_names)}
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    shape: tuple[int, int] | None = None
    for split in SPLITS:
        members = [(cls, m) for (s, cls), items in sorted(groups.items()) if s == split for m in items]
        if not members:
            out[split] = (np.zeros((0, *(shape or (0, 0)), 3), np.uint8), np.zeros(0, np.int64))
            continue
        images: np.ndarray | None = None
        labels = np.empty(len(members), np.int64)
        for i, (cls, (name, read)) in enumerate(members):
            try:
                im = Image.open(io.BytesIO(read()))
                if im.mode != "RGB":
                    im = im.convert("RGB")
                arr = np.asarray(im)
            except Exception as exc:
                raise DataError(f"{where}: cannot decode {name}: {exc}") from exc
            if shape is None:
                shape = arr.shape[:2]
            if images is None:
                images = np.empty((len(members), *shape, 3), np.uint8)
            if arr.shape[:2] != shape:
                raise DataError(
                    f"{where}: {name} is {arr.shape[1]}x{arr.shape[0]} but earlier images are "
                    f"{shape[1]}x{shape[0]}; every image of a data set must have one size"
                )
            images[i] = arr
            labels[i] = index[cls]
        out[split] = (images, labels)  # type: ignore[assignment]
    return out
