"""Loading one data set from a known on-disk layout at a known path, keyed by its source and through the cache.

Three layouts are read:

``cifar``
    folders of pickled batches (:mod:`.pickled`): torchvision's
    ``cifar-10-batches-py`` / ``cifar-100-python`` and the official ``ImageNet16``.
``folder``
    an image tree ``{train,test}/<class>/*.png|jpg`` (``val`` is accepted for
    ``test``), possibly inside one top-level folder (:mod:`.trees`).
``tar``
    a ``.tar.gz`` / ``.tgz`` / ``.tar`` / ``.tar.bz2`` / ``.tar.xz`` of such a
    tree, read in one pass without extracting to disk (:mod:`.archives`).

Class order is the sorted class-folder names, which for CIFAR-10 and CIFAR-100
is the official label order (airplane ... truck). Each load gets a key from the
source (path, size, mtime or a digest of the files, options and
:data:`LOADER_VERSION`); decoded images are cached under that key
(:mod:`.cache`), and the data set carries a recipe (:func:`load_layout` and its
arguments) so that it pickles small and reloads from the cache in a worker.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from nas_harness.data.archives import read_tar_tree
from nas_harness.data.cache import cache_file, default_cache_dir, read_cache, write_cache
from nas_harness.data.dataset import (
    SPLITS,
    DataError,
    ImageDataset,
    LimitArg,
    Recipe,
    normalise_limit,
    remember,
    remembered,
)
from nas_harness.data.decode import decode_all
from nas_harness.data.pickled import PICKLE_LAYOUTS, pickle_files_digest, pickle_kind, read_pickles
from nas_harness.data.trees import group_by_class, limit_scanned, read_bytes, scan_folder, tree_root

#: Bumped whenever decoding or selection changes, so old cache files are not reused.
LOADER_VERSION = 1

LAYOUTS = ("cifar", "folder", "tar")


def source_key(*parts: object) -> str:
    """The key of a load: a hash of :data:`LOADER_VERSION` and ``parts`` (layout, name, path, digest, limits)."""
    return hashlib.sha256(json.dumps([LOADER_VERSION, *parts], default=str).encode()).hexdigest()[:32]


def load_layout(
    layout: str,
    path: str | Path,
    name: str,
    limit_per_class: LimitArg = None,
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> ImageDataset:
    """Read one data set from ``path`` in a known ``layout`` (``cifar``, ``folder`` or ``tar``)."""
    limits = normalise_limit(limit_per_class)
    path = Path(path).expanduser().resolve()
    where = str(path)
    if layout == "cifar":
        kind = pickle_kind(path, name)
        if kind is None:
            raise DataError(f"{path}: not a folder of pickled {name} batches")
        files = PICKLE_LAYOUTS[kind].files(path)
        key = source_key("cifar", name, where, pickle_files_digest(path, files), limits)
        memo = remembered(key)
        if memo is not None:
            return memo
        names, arrays = read_pickles(path, name, limits)
        recipe: Recipe | None = _recipe("cifar", where, name, limits, None)
    elif layout in ("folder", "tar"):
        if layout == "tar":
            if not path.is_file():
                raise DataError(f"{path}: no such archive")
            st = path.stat()
            key = source_key("tar", name, where, st.st_size, st.st_mtime_ns, limits)
            scanned = None
        else:
            root = tree_root(path)
            if root is None:
                raise DataError(f"{path}: no train/<class>/ image folders in it (nor in its only sub-folder)")
            scanned, digest = scan_folder(root)
            where = str(root)
            key = source_key("folder", name, where, digest, limits)
        memo = remembered(key)
        if memo is not None:
            return memo
        cdir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        cfile = cache_file(cdir, name, key)
        got = read_cache(cfile, key) if cache and cfile.is_file() else None
        if got is not None:
            names, arrays = got
            recipe = _recipe(layout, str(path), name, limits, str(cdir))
        else:
            if layout == "tar":
                found = read_tar_tree(path, limits)
            else:
                assert scanned is not None
                found = limit_scanned(scanned, limits)
            groups = group_by_class(found, where)
            names = sorted({cls for _, cls in groups})
            readers = {
                g: [(n, (lambda b=b: b) if layout == "tar" else (lambda p=b: read_bytes(p))) for n, b in items]
                for g, items in groups.items()
            }
            arrays = decode_all(readers, names, where)
            written = cache and write_cache(cfile, key, where, names, arrays)
            recipe = _recipe(layout, str(path), name, limits, str(cdir)) if written else None
    else:
        raise DataError(f"unknown layout {layout!r}; use 'cifar', 'folder' or 'tar'")
    ds = ImageDataset(
        name,
        names,
        arrays["train"][0],
        arrays["train"][1],
        arrays["test"][0],
        arrays["test"][1],
        source=f"{layout}:{where}",
        key=key,
        recipe=recipe,
    )
    return remember(ds)


def _recipe(layout: str, path: str, name: str, limits: tuple[int | None, int | None], cache_dir: str | None) -> Recipe:
    """How a worker process loads this data set again: :func:`_reload` and its arguments."""
    return (_reload, (layout, path, name, dict(zip(SPLITS, limits, strict=True)), cache_dir))


def _reload(layout: str, path: str, name: str, limit_per_class: LimitArg, cache_dir: str | None) -> ImageDataset:
    return load_layout(layout, path, name, limit_per_class, cache=True, cache_dir=cache_dir)
