"""Finding a data set on disk: its names, the places searched, the layout at a path, and the opt-in download.

:func:`candidate_paths` lists, in order, every path
:func:`~nas_harness.data.load_dataset` tries for a name (under ``root`` alone,
else ``$NAS_HARNESS_DATA`` and ``~/.cache/nas-harness``); :func:`detect_layout`
says which layout (if any) a path holds. When nothing is found, CIFAR can be
fetched with torchvision (:func:`download_torchvision`), but only when asked for:
``download=True`` or ``NAS_HARNESS_DOWNLOAD=1`` (:func:`download_wanted`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nas_harness.data.archives import TAR_SUFFIXES
from nas_harness.data.cache import DEFAULT_HOME
from nas_harness.data.dataset import DataError
from nas_harness.data.pickled import pickle_kind
from nas_harness.data.trees import tree_root

DATA_ENV = "NAS_HARNESS_DATA"
DOWNLOAD_ENV = "NAS_HARNESS_DOWNLOAD"


@dataclass(frozen=True)
class DatasetNames:
    """The names under which one data set is looked for."""

    dirs: tuple[str, ...]  # dataset-specific folder names under a data dir
    stems: tuple[str, ...]  # names of image trees / archives
    pickle_dir: str | None  # torchvision's folder of pickled batches
    download: str | None  # torchvision.datasets class that can download it


_KNOWN = {
    "cifar10": DatasetNames(("cifar10",), ("cifar10-jpeg", "cifar10"), "cifar-10-batches-py", "CIFAR10"),
    "cifar100": DatasetNames(("cifar100",), ("cifar100-jpeg", "cifar100"), "cifar-100-python", "CIFAR100"),
    "imagenet16-120": DatasetNames(("imagenet16-120", "imagenet16"), ("imagenet16-120",), "ImageNet16", None),
}
_ALIASES = {"cifar10-valid": "cifar10", "cifar-10": "cifar10", "cifar-100": "cifar100"}


def canonical_name(name: str) -> str:
    """``name`` lower-cased, with aliases (``cifar10-valid``, ``cifar-10``, ``cifar-100``) resolved."""
    low = name.strip().lower()
    return _ALIASES.get(low, low)


def dataset_names(name: str) -> DatasetNames:
    """The folder, archive and download names of the (canonical) data set ``name``."""
    if name in _KNOWN:
        return _KNOWN[name]
    if name.startswith("imagenet16-"):
        return DatasetNames((name, "imagenet16"), (name,), "ImageNet16", None)
    return DatasetNames((name,), (name,), None, None)


def data_dirs(root: str | Path | None = None) -> list[Path]:
    """Where :func:`load_dataset` looks: ``root`` alone when given, else $NAS_HARNESS_DATA, ~/.cache/nas-harness."""
    if root is not None:
        return [Path(root).expanduser()]
    dirs = [Path(p).expanduser() for p in os.environ.get(DATA_ENV, "").split(os.pathsep) if p]
    dirs.append(DEFAULT_HOME.expanduser())
    return list(dict.fromkeys(dirs))


def candidate_paths(name: str, root: str | Path | None = None) -> list[Path]:
    """Every path :func:`load_dataset` tries for ``name``, in order (an explicit ``root`` is tried itself first)."""
    name = canonical_name(name)
    spec = dataset_names(name)
    out: list[Path] = []
    for base in data_dirs(root):
        if root is not None:
            out.append(base)
        for sub in (base, *(base / d for d in spec.dirs)):
            if spec.pickle_dir:
                out.append(sub / spec.pickle_dir)
            if sub is not base:
                out.append(sub)
            for stem in spec.stems:
                if stem not in spec.dirs:
                    out.append(sub / stem)
                out.extend(sub / f"{stem}{ext}" for ext in (".tar.gz", ".tgz", ".tar"))
    return list(dict.fromkeys(out))


def detect_layout(path: Path, name: str) -> str | None:
    """``'tar'``, ``'cifar'`` or ``'folder'`` for what ``path`` holds for data set ``name``, else None."""
    if path.is_file():
        return "tar" if path.name.lower().endswith(TAR_SUFFIXES) else None
    if path.is_dir():
        if pickle_kind(path, name):
            return "cifar"
        if tree_root(path) is not None:
            return "folder"
    return None


def how_to(name: str, spec: DatasetNames) -> str:
    """How to provide the data set: the end of the not-found message."""
    layouts = []
    if spec.pickle_dir:
        layouts.append(f"torchvision's {spec.pickle_dir}/ folder of pickled batches")
    layouts += ["an image tree {train,test}/<class>/*.png|jpg", "a .tar.gz of such a tree (one top folder allowed)"]
    text = (
        f"Provide it by passing root=<folder or archive>, setting {DATA_ENV}=<folder>, or putting it under "
        f"{DEFAULT_HOME}, as one of: " + "; ".join(layouts) + "."
    )
    if spec.download:
        text += (
            f" To download it with torchvision, pass download=True or set {DOWNLOAD_ENV}=1"
            " (needs torchvision installed)."
        )
    return text


# --------------------------------------------------------------------------- opt-in download


def download_wanted(download: bool | None) -> bool:
    """``download`` when given, else whether ``$NAS_HARNESS_DOWNLOAD`` is 1/true/yes/on."""
    if download is not None:
        return download
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def download_torchvision(name: str, spec: DatasetNames, root: str | Path | None) -> Path:
    """Download ``name`` with torchvision into the first data dir (or next to ``root``); its pickled-batch folder."""
    target = data_dirs(root)[0]
    if root is not None and Path(root).suffix:
        target = Path(root).expanduser().parent
    try:
        import torchvision  # noqa: F401
        from torchvision import datasets
    except ImportError as exc:
        raise DataError(
            f"download of {name!r} was requested but torchvision is not installed; install torchvision, or "
            f"download {spec.pickle_dir} yourself and put it in {target}"
        ) from exc
    target.mkdir(parents=True, exist_ok=True)
    cls = getattr(datasets, spec.download)  # type: ignore[arg-type]
    try:
        cls(str(target), train=True, download=True)
        cls(str(target), train=False, download=True)
    except Exception as exc:
        raise DataError(f"downloading {name!r} into {target} failed: {exc}") from exc
    return target / spec.pickle_dir  # type: ignore[operator]
