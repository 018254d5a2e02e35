"""``load_dataset``: the embedded data sets by name, else the first recognised layout on the search path, else a
download when asked for."""

from __future__ import annotations

from pathlib import Path

from nas_harness.data.embedded import EMBEDDED_DATASETS, load_embedded
from nas_harness.data.images import (
    DataError,
    ImageDataset,
    LimitArg,
    _canonical,
    _detect,
    _download,
    _download_wanted,
    _how_to,
    _load_layout,
    _names,
    candidate_paths,
)


def load_dataset(
    name: str,
    root: str | Path | None = None,
    *,
    limit_per_class: LimitArg = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    download: bool | None = None,
) -> ImageDataset:
    """Find and load the data set ``name`` (``cifar10``, ``cifar100``, ``imagenet16-120`` or an image-tree name).

    ``root`` may be a folder or an archive; without it ``$NAS_HARNESS_DATA``
    and ``~/.cache/nas-harness`` are searched (:func:`candidate_paths` lists
    the exact paths). At each place pickled batches win over an image tree,
    which wins over an archive. ``limit_per_class`` keeps the first N images
    of each class (an int, or ``{"train": n, "test": m}``). ``cache`` keeps
    decoded images under ``cache_dir`` (default :func:`default_cache_dir`).
    ``download`` (default: ``$NAS_HARNESS_DOWNLOAD=1``) fetches CIFAR with
    torchvision when nothing is found. ``cifar10-valid`` is an alias of
    ``cifar10``: the hold-out split is made by the BatchProvider.

    Raises :class:`DataError` naming every path tried when nothing is found.
    """
    name = _canonical(name)

    if name in EMBEDDED_DATASETS and root is None:
        return load_embedded(name, limit_per_class)
    spec = _names(name)
    tried: list[str] = []
    for path in candidate_paths(name, root):
        layout = _detect(path, name)
        if layout is None:
            tried.append(f"  {path}  ({'exists, not a recognised layout' if path.exists() else 'not found'})")
            continue
        return _load_layout(layout, path, name, limit_per_class, cache=cache, cache_dir=cache_dir)
    if _download_wanted(download) and spec.download:
        folder = _download(name, spec, root)
        return _load_layout("cifar", folder, name, limit_per_class)
    raise DataError(f"data set {name!r} not found. Paths tried:\n" + "\n".join(tried) + "\n" + _how_to(name, spec))
