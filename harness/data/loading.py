"""The public loaders: :func:`load_dataset` finds a data set by name (embedded, then on disk, then a download when
asked for); :func:`load_cifar_batches`, :func:`load_image_folder` and :func:`load_image_tar` read one given path.

Example::

    ds = load_dataset("cifar10")                      # searches the usual places
    ds = load_dataset("cifar10", root="~/data/cifar10-jpeg.tar.gz", limit_per_class=100)
    ds.train_images.shape, ds.class_names[:2]         # (1000, 32, 32, 3), ('airplane', 'automobile')

Decoding image files needs Pillow; the decoded arrays are cached as ``.npz``
under :func:`~nas_harness.data.cache.default_cache_dir`, keyed by the source
path, size and mtime, so the second load of the full CIFAR-10 JPEG archive takes
a fraction of a second instead of seconds.
"""

from __future__ import annotations

from pathlib import Path

from nas_harness.data.dataset import DataError, ImageDataset, LimitArg
from nas_harness.data.embedded import EMBEDDED_DATASETS, load_embedded
from nas_harness.data.layouts import load_layout
from nas_harness.data.locate import (
    candidate_paths,
    canonical_name,
    dataset_names,
    detect_layout,
    download_torchvision,
    download_wanted,
    how_to,
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
    name = canonical_name(name)

    if name in EMBEDDED_DATASETS and root is None:
        return load_embedded(name, limit_per_class)
    spec = dataset_names(name)
    tried: list[str] = []
    for path in candidate_paths(name, root):
        layout = detect_layout(path, name)
        if layout is None:
            tried.append(f"  {path}  ({'exists, not a recognised layout' if path.exists() else 'not found'})")
            continue
        return load_layout(layout, path, name, limit_per_class, cache=cache, cache_dir=cache_dir)
    if download_wanted(download) and spec.download:
        folder = download_torchvision(name, spec, root)
        return load_layout("cifar", folder, name, limit_per_class)
    raise DataError(f"data set {name!r} not found. Paths tried:\n" + "\n".join(tried) + "\n" + how_to(name, spec))


def load_cifar_batches(folder: str | Path, name: str = "cifar10", *, limit_per_class: LimitArg = None) -> ImageDataset:
    """Read torchvision's ``cifar-10-batches-py`` / ``cifar-100-python`` or the ``ImageNet16`` batches.

    ``name`` picks the format (``cifar10``, ``cifar100``, ``imagenet16-120``);
    ``limit_per_class`` keeps the first N images of each class in file order.
    """
    return load_layout("cifar", Path(folder), canonical_name(name), limit_per_class)


def load_image_folder(
    folder: str | Path,
    name: str = "images",
    *,
    limit_per_class: LimitArg = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> ImageDataset:
    """Read an image tree ``{train,test}/<class>/*`` (or one nested in the only sub-folder of ``folder``).

    ``limit_per_class`` (an int, or ``{"train": n, "test": m}``) keeps the first
    N file names of each class in sorted order.
    """
    return load_layout("folder", Path(folder), canonical_name(name), limit_per_class, cache=cache, cache_dir=cache_dir)


def load_image_tar(
    path: str | Path,
    name: str = "images",
    *,
    limit_per_class: LimitArg = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> ImageDataset:
    """Read a (compressed) tar of an image tree in one pass, without extracting it.

    Members are picked as in :func:`load_image_folder` (sorted names), whatever
    their order in the archive; only the picked ones are decoded.
    """
    return load_layout("tar", Path(path), canonical_name(name), limit_per_class, cache=cache, cache_dir=cache_dir)
