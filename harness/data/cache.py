"""The decoded-array cache: decoded images stored as ``.npz`` files so that only the first load of a source decodes.

Files live under ``<cache dir>/decoded/<name>-<key>.npz`` (:func:`default_cache_dir`);
each records the key it was written for, and a file whose key differs, or that
cannot be read, counts as a miss. Files are written atomically, so concurrent
processes never read half a file.
"""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nas_harness.data.dataset import SPLITS
from nas_harness.home import CACHE_ENV, DEFAULT_HOME, default_cache_dir

__all__ = ["CACHE_ENV", "DEFAULT_HOME", "cache_file", "default_cache_dir", "read_cache", "write_cache"]


def cache_file(cache_dir: Path, name: str, key: str) -> Path:
    """The cache file of data set ``name`` loaded with source key ``key``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return cache_dir / "decoded" / f"{safe}-{key[:24]}.npz"


def read_cache(path: Path, key: str) -> tuple[list[str], dict] | None:
    """``(class_names, {split: (images, labels)})`` from ``path`` if it was written for ``key``, else None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            names = [str(n) for n in z["class_names"]]
            out = {s: (z[f"{s}_images"], z[f"{s}_labels"]) for s in SPLITS}
    except (OSError, KeyError, ValueError, zlib.error, EOFError):
        return None
    return names, out


def write_cache(path: Path, key: str, source: str, names: Sequence[str], arrays: Mapping) -> bool:
    """Write atomically (temp file + rename), so concurrent processes never read half a file; False on failure."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(
                f,
                key=np.array(key),
                source=np.array(source),
                class_names=np.array(list(names), dtype=str),
                **{f"{s}_images": arrays[s][0] for s in SPLITS},
                **{f"{s}_labels": arrays[s][1] for s in SPLITS},
            )
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False
    return True
