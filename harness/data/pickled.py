"""The pickled-batch layout: torchvision's ``cifar-10-batches-py`` / ``cifar-100-python`` and the ``ImageNet16`` files.

They are read directly with numpy (no torchvision), through an unpickler that
only accepts numpy arrays, lists and strings (:class:`NumpyOnlyUnpickler`), so
a tampered file cannot run code.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas_harness.data.dataset import CIFAR10_CLASSES, DataError


@dataclass(frozen=True)
class PickleLayout:
    """The file names and dict keys of one family of pickled batches."""

    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str | None
    names_key: str | None
    labels_key: str
    one_based: bool = False

    def files(self, folder: Path) -> list[str]:
        """The batch and meta files of this layout present in ``folder``, in reading order."""
        return [f for f in (*self.train, *self.test, self.meta) if f and (folder / f).is_file()]


PICKLE_LAYOUTS = {
    "cifar10": PickleLayout(
        tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), "batches.meta", "label_names", "labels"
    ),
    "cifar100": PickleLayout(("train",), ("test",), "meta", "fine_label_names", "fine_labels"),
    "imagenet16": PickleLayout(
        tuple(f"train_data_batch_{i}" for i in range(1, 11)), ("val_data",), None, None, "labels", one_based=True
    ),
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Loads the dicts of numpy arrays, lists and strings of the official batches and nothing else."""

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data batch")
        return super().find_class(module, name)


def load_pickle(path: Path) -> dict[str, Any]:
    """One batch file as a dict with str keys, through :class:`NumpyOnlyUnpickler`."""
    try:
        with open(path, "rb") as f:
            obj = NumpyOnlyUnpickler(f, encoding="latin1").load()
    except Exception as exc:
        raise DataError(f"cannot read pickled batch {path}: {exc}") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict of arrays, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def pickle_kind(folder: Path, name: str) -> str | None:
    """The key of :data:`PICKLE_LAYOUTS` whose batch files are all in ``folder`` for data set ``name``, else None."""
    kind = "imagenet16" if name.startswith("imagenet16") else name
    layout = PICKLE_LAYOUTS.get(kind)
    if layout is None or not folder.is_dir():
        return None
    return kind if all((folder / f).is_file() for f in (*layout.train, *layout.test)) else None


def pickle_files_digest(folder: Path, files: Sequence[str]) -> str:
    """A hash of the names, sizes and mtimes of ``files`` in ``folder``."""
    h = hashlib.sha256()
    for f in files:
        st = (folder / f).stat()
        h.update(f"{f}\x00{st.st_size}\x00{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def read_pickles(folder: Path, name: str, limits: tuple[int | None, int | None]) -> tuple[list[str], dict]:
    """``(class_names, {split: (uint8 [N, S, S, 3], int64 [N])})`` from the batches of ``name`` in ``folder``.

    ``limits`` (train, test) keep the first N images of each class in file order.
    """
    kind = pickle_kind(folder, name)
    if kind is None:
        raise DataError(f"{folder}: not a folder of pickled {name} batches")
    layout = PICKLE_LAYOUTS[kind]
    n_keep = None
    if kind == "imagenet16":
        n_keep = int(name.rsplit("-", 1)[1]) if "-" in name else 1000
    out = {}
    for split, files, limit in (("train", layout.train, limits[0]), ("test", layout.test, limits[1])):
        datas, labels = [], []
        for f in files:
            entry = load_pickle(folder / f)
            try:
                datas.append(np.asarray(entry["data"], dtype=np.uint8))
                labels.append(np.asarray(entry[layout.labels_key], dtype=np.int64))
            except KeyError as exc:
                raise DataError(f"{folder / f}: missing key {exc} (not a {name} batch?)") from exc
        data = np.concatenate(datas)
        y = np.concatenate(labels)
        side = round((data.shape[1] / 3) ** 0.5)
        if data.ndim != 2 or 3 * side * side != data.shape[1] or len(y) != len(data):
            raise DataError(f"{folder}: batches of shape {data.shape} are not N x (3*S*S) images")
        if layout.one_based:
            y = y - 1
        if n_keep is not None:
            mask = (y >= 0) & (y < n_keep)
            data, y = data[mask], y[mask]
        if limit is not None:
            keep = np.sort(np.concatenate([np.flatnonzero(y == c)[:limit] for c in np.unique(y)]))
            data, y = data[keep], y[keep]
        out[split] = (data.reshape(-1, 3, side, side).transpose(0, 2, 3, 1), y)
    if layout.meta is not None:
        meta = load_pickle(folder / layout.meta) if (folder / layout.meta).is_file() else {}
        names = [str(n) for n in meta.get(layout.names_key, [])]  # type: ignore[arg-type]
    else:
        names = [str(i + 1) for i in range(n_keep or 0)]
    n_classes = int(max(out["train"][1].max(initial=-1), out["test"][1].max(initial=-1))) + 1
    if len(names) < n_classes:  # no meta file: the official names where known
        names = list(CIFAR10_CLASSES) if kind == "cifar10" else [str(i) for i in range(n_classes)]
    return names, out
