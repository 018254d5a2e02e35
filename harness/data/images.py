"""Image data sets held in memory: CIFAR-10/100 and ImageNet16-120 from the layouts users have.

A loaded data set is an :class:`ImageDataset`: uint8 tensors ``[N, H, W, C]``
(RGB) and int64 labels for the ``train`` and ``test`` splits, plus the class
names. Three on-disk layouts are read:

``cifar``
    torchvision's folders of pickled batches (``cifar-10-batches-py``,
    ``cifar-100-python``) and the official ``ImageNet16`` batches. They are read
    directly with numpy (no torchvision), through an unpickler that only
    accepts numpy arrays, so a tampered file cannot run code.
``folder``
    an image tree ``{train,test}/<class>/*.png|jpg`` (``val`` is accepted for
    ``test``), possibly inside one top-level folder.
``tar``
    a ``.tar.gz`` / ``.tgz`` / ``.tar`` / ``.tar.bz2`` / ``.tar.xz`` of such a
    tree, read as one stream pass without extracting to disk.

Class order is the sorted class-folder names, which for CIFAR-10 and CIFAR-100
is the official label order (airplane ... truck). Decoding images needs Pillow;
the decoded arrays are cached as ``.npz`` under :func:`default_cache_dir`,
keyed by the source path, size and mtime, so the second load of the full
CIFAR-10 JPEG archive takes a fraction of a second instead of seconds.

Example::

    ds = load_dataset("cifar10")                      # searches the usual places
    ds = load_dataset("cifar10", root="~/data/cifar10-jpeg.tar.gz", limit_per_class=100)
    ds.train_images.shape, ds.class_names[:2]         # (1000, 32, 32, 3), ('airplane', 'automobile')
"""

from __future__ import annotations

import bisect
import bz2
import contextlib
import hashlib
import io
import json
import lzma
import os
import pickle
import tarfile
import weakref
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas_harness.api import HarnessError

#: Bumped whenever decoding or selection changes, so old cache files are not reused.
LOADER_VERSION = 1

DATA_ENV = "NAS_HARNESS_DATA"
CACHE_ENV = "NAS_HARNESS_CACHE"
DOWNLOAD_ENV = "NAS_HARNESS_DOWNLOAD"
DEFAULT_HOME = Path("~/.cache/nas-harness")

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

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".webp", ".tif", ".tiff")
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
SPLITS = ("train", "test")


class DataError(HarnessError):
    """An image data set that cannot be found, read or decoded."""


# --------------------------------------------------------------------------- data set


LimitArg = int | Mapping[str, int | None] | None


class ImageDataset:
    """Train and test images of one data set, in memory.

    ``train_images`` / ``test_images`` are uint8 tensors ``[N, H, W, C]`` (RGB),
    ``train_labels`` / ``test_labels`` int64 tensors ``[N]`` indexing
    ``class_names``. ``source`` says where the pixels came from and ``key`` is a
    hash that changes when they would change (source path, size, mtime and
    selection options; a content hash for data sets built in memory).

    Loads are remembered per process (by ``key``, weakly): loading the same
    source twice returns the same tensors, so never modify them in place.

    Pickling: a data set that :func:`load_dataset` read from a cache file or
    from pickled batches pickles as a small recipe (layout, path, options and
    ``key``) and is re-read in the receiving process, from the cache; there the
    source must be unchanged (same ``key``) or unpickling raises
    :class:`DataError`. Any other data set pickles its arrays.
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
        recipe: tuple | None = None,
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


# Datasets restored in this process, so that unpickling many contexts loads the pixels once.
_MEMO: weakref.WeakValueDictionary[str, ImageDataset] = weakref.WeakValueDictionary()
_LAST: list[ImageDataset] = []  # one strong reference: the most recently restored data set


def clear_memo() -> None:
    """Forget the data sets remembered for unpickling (tests use this)."""
    _MEMO.clear()
    _LAST.clear()


def _restore_dataset(recipe: tuple, key: str) -> ImageDataset:
    found = _MEMO.get(key)
    if found is None:
        layout, path, name, limit, cache_dir = recipe
        found = _load_layout(layout, Path(path), name, limit, cache=True, cache_dir=cache_dir)
        if found.key != key:
            raise DataError(
                f"data set {name!r} at {path} changed since it was pickled (key {found.key} != {key}); "
                "every process of a study must see the same data"
            )
        _MEMO[key] = found
    _LAST[:] = [found]
    return found


# --------------------------------------------------------------------------- selection helpers


def _normalise_limit(limit: LimitArg) -> tuple[int | None, int | None]:
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


class _Selector:
    """Keeps, per group, the ``limit`` members with the smallest names, whatever order they arrive in."""

    def __init__(self, limits: tuple[int | None, int | None]) -> None:
        self.limits = {"train": limits[0], "test": limits[1], "val": limits[1]}
        self.groups: dict[Any, list[str]] = {}

    def offer(self, group: Any, split: str, name: str) -> tuple[bool, str | None]:
        """Whether to keep ``name`` now, and which earlier member (if any) it pushes out."""
        names = self.groups.setdefault(group, [])
        limit = self.limits[split]
        if limit is not None and len(names) >= limit and name >= names[-1]:
            return False, None
        bisect.insort(names, name)
        if limit is not None and len(names) > limit:
            return True, names.pop()
        return True, None


def _image_parts(relpath: str) -> tuple[str, str, str] | None:
    """``(prefix, split, class)`` of an image path ``prefix/{train,test,val}/<class>/<file>``, else None."""
    parts = [p for p in relpath.replace("\\", "/").split("/") if p not in ("", ".")]
    if len(parts) < 3 or parts[-1].startswith("."):
        return None
    if not parts[-1].lower().endswith(IMAGE_SUFFIXES):
        return None
    split = parts[-3].lower()
    if split not in ("train", "test", "val"):
        return None
    return "/".join(parts[:-3]), split, parts[-2]


def _choose_layout(found: Mapping[tuple[str, str, str], Any], where: str) -> dict[tuple[str, str], list]:
    """Group image members by (split, class), checking that they share one prefix and mapping val->test."""
    prefixes = {p for p, _, _ in found}
    if len(prefixes) > 1:
        shown = ", ".join(repr(p or ".") for p in sorted(prefixes)[:5])
        raise DataError(f"{where}: image trees under several folders ({shown}); point at one of them")
    splits = {s for _, s, _ in found}
    test_name = "test" if "test" in splits else "val"
    out: dict[tuple[str, str], list] = {}
    for (_, split, cls), items in found.items():
        if split == "val" and test_name != "val":
            continue
        out[("test" if split == "val" else split, cls)] = items
    if not any(s == "train" for s, _ in out):
        raise DataError(f"{where}: no images under a train/<class>/ folder")
    return out


# --------------------------------------------------------------------------- decoding


def _pil():
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DataError(
            "decoding image files needs Pillow (pip install pillow); the pickled CIFAR batches do not"
        ) from exc
    return Image


def _decode_all(
    groups: Mapping[tuple[str, str], Sequence[tuple[str, Callable[[], bytes]]]],
    class_names: Sequence[str],
    where: str,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decode every member; ``groups`` maps (split, class) to sorted (name, read-bytes) pairs."""
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


# --------------------------------------------------------------------------- tar streams


class _UnsupportedTarError(Exception):
    """A tar feature the fast reader does not handle: fall back to :mod:`tarfile`."""


def _decompressed_chunks(path: Path, chunk: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as f:
        magic = f.read(6)
        f.seek(0)
        if magic[:2] == b"\x1f\x8b":
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while True:
                data = f.read(chunk)
                if not data:
                    break
                while data:
                    yield d.decompress(data)
                    if d.eof:  # concatenated gzip members
                        data = d.unused_data
                        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    else:
                        data = b""
            yield d.flush()
            return
        opener: Any = bz2.open if magic[:3] == b"BZh" else lzma.open if magic == b"\xfd7zXZ\x00" else None
        with opener(f) if opener else contextlib.nullcontext(f) as stream:
            while True:
                data = stream.read(chunk)
                if not data:
                    return
                yield data


def _octal(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\x00", 1)[0].strip()
    return int(text, 8) if text else 0


def _pax_records(data: bytes) -> dict[str, str]:
    out = {}
    pos = 0
    while pos < len(data):
        sp = data.index(b" ", pos)
        length = int(data[pos:sp])
        key, _, value = data[sp + 1 : pos + length - 1].partition(b"=")
        out[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _fast_tar_members(path: Path) -> Iterator[tuple[str, int, Callable[[], bytes] | None]]:
    """``(name, size, take)`` for each regular file; ``take()`` returns its bytes (only before the next item).

    A minimal ustar/GNU/pax reader over a decompressed stream: several times
    faster than :mod:`tarfile` for many small members. Anything unusual raises
    :class:`_UnsupportedTarError` so that the caller can start again with tarfile.
    """
    chunks = _decompressed_chunks(path)
    buf = bytearray()
    pos = 0

    def fill(n: int) -> bool:
        nonlocal buf, pos
        if len(buf) - pos >= n:
            return True
        if pos:
            del buf[:pos]
            pos = 0
        for c in chunks:
            buf += c
            if len(buf) >= n:
                return True
        return len(buf) >= n

    long_name: str | None = None
    pax: dict[str, str] = {}
    while True:
        if not fill(512):
            if len(buf) - pos == 0:
                return
            raise _UnsupportedTarError("truncated header")
        header = bytes(buf[pos : pos + 512])
        if header == b"\x00" * 512:
            return
        chksum = _octal(header[148:156])
        if chksum != sum(header[:148]) + 256 + sum(header[156:]):
            raise _UnsupportedTarError("bad header checksum")
        magic = header[257:265]
        if magic == b"ustar\x0000":
            prefix = header[345:500].split(b"\x00", 1)[0]
        elif magic == b"ustar  \x00":
            prefix = b""
        else:
            raise _UnsupportedTarError("not a ustar/GNU header")
        size = _octal(header[124:136])
        kind = header[156:157]
        if "size" in pax:
            size = int(pax["size"])
        padded = (size + 511) // 512 * 512
        pos += 512
        if kind in (b"L", b"x", b"g", b"K"):
            if not fill(padded):
                raise _UnsupportedTarError("truncated extended header")
            data = bytes(buf[pos : pos + size])
            pos += padded
            if kind == b"L":
                long_name = data.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
            elif kind == b"x":
                pax = _pax_records(data)
            continue
        if kind in (b"S", b"M", b"V"):
            raise _UnsupportedTarError(f"tar member type {kind!r}")
        raw = header[:100].split(b"\x00", 1)[0]
        if prefix:
            raw = prefix + b"/" + raw
        name = pax.get("path") or long_name or raw.decode("utf-8", "surrogateescape")
        long_name, pax = None, {}
        is_file = kind in (b"0", b"\x00", b"7")
        if not fill(padded):
            raise _UnsupportedTarError("truncated member data")
        if is_file:
            start = pos
            yield name, size, (lambda s=start, n=size: bytes(buf[s : s + n]))
        pos += padded


def _tarfile_members(path: Path) -> Iterator[tuple[str, int, Callable[[], bytes] | None]]:
    try:
        with tarfile.open(path, "r|*") as tf:
            for m in tf:
                if m.isfile():
                    f = tf.extractfile(m)
                    yield m.name, m.size, (lambda f=f: f.read())
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise DataError(f"cannot read tar archive {path}: {exc}") from exc


def _read_tar_tree(path: Path, limits: tuple[int | None, int | None]) -> dict[tuple[str, str, str], list]:
    """One stream pass: the selected image members as ``{(prefix, split, class): [(name, bytes), ...]}``."""
    for reader in (_fast_tar_members, _tarfile_members):
        sel = _Selector(limits)
        kept: dict[tuple[str, str, str], dict[str, bytes]] = {}
        try:
            for name, _size, take in reader(path):
                parts = _image_parts(name)
                if parts is None or take is None:
                    continue
                keep, evicted = sel.offer(parts, parts[1], name)
                if not keep:
                    continue
                group = kept.setdefault(parts, {})
                group[name] = take()
                if evicted is not None:
                    del group[evicted]
        except _UnsupportedTarError:
            continue
        except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
            raise DataError(f"cannot read tar archive {path}: {exc}") from exc
        return {k: sorted(v.items()) for k, v in kept.items()}
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- image folders


def _tree_root(folder: Path) -> Path | None:
    """``folder`` when it holds ``train/``, or its only sub-folder when that does (an extracted archive)."""
    if (folder / "train").is_dir():
        return folder
    try:
        children = [c for c in folder.iterdir() if c.is_dir() and not c.name.startswith(".")]
    except OSError:
        return None
    if len(children) == 1 and (children[0] / "train").is_dir():
        return children[0]
    return None


def _scan_folder(root: Path) -> tuple[dict[tuple[str, str, str], list[tuple[str, str]]], str]:
    """Image files as ``{("", split, class): [(relname, path), ...]}`` and a digest of their names, sizes, mtimes."""
    found: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    h = hashlib.sha256()
    for split_dir in sorted(root.iterdir()):
        split = split_dir.name.lower()
        if split not in ("train", "test", "val") or not split_dir.is_dir():
            continue
        for cls_dir in sorted(split_dir.iterdir()):
            if not cls_dir.is_dir() or cls_dir.name.startswith("."):
                continue
            files = []
            with os.scandir(cls_dir) as it:
                for entry in it:
                    if entry.name.startswith(".") or not entry.name.lower().endswith(IMAGE_SUFFIXES):
                        continue
                    if entry.is_file():
                        st = entry.stat()
                        rel = f"{split_dir.name}/{cls_dir.name}/{entry.name}"
                        files.append((rel, entry.path, st.st_size, st.st_mtime_ns))
            files.sort()
            for rel, _, size, mtime in files:
                h.update(f"{rel}\x00{size}\x00{mtime}\n".encode("utf-8", "surrogateescape"))
            if files:
                found[("", split, cls_dir.name)] = [(rel, path) for rel, path, _, _ in files]
    return found, h.hexdigest()


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# --------------------------------------------------------------------------- pickled batches


@dataclass(frozen=True)
class _PickleLayout:
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str | None
    names_key: str | None
    labels_key: str
    one_based: bool = False


_PICKLE_LAYOUTS = {
    "cifar10": _PickleLayout(
        tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",), "batches.meta", "label_names", "labels"
    ),
    "cifar100": _PickleLayout(("train",), ("test",), "meta", "fine_label_names", "fine_labels"),
    "imagenet16": _PickleLayout(
        tuple(f"train_data_batch_{i}" for i in range(1, 11)), ("val_data",), None, None, "labels", one_based=True
    ),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
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


def _load_pickle(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            obj = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except Exception as exc:
        raise DataError(f"cannot read pickled batch {path}: {exc}") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a dict of arrays, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _pickle_kind(folder: Path, name: str) -> str | None:
    kind = "imagenet16" if name.startswith("imagenet16") else name
    layout = _PICKLE_LAYOUTS.get(kind)
    if layout is None or not folder.is_dir():
        return None
    return kind if all((folder / f).is_file() for f in (*layout.train, *layout.test)) else None


def _pickle_files_digest(folder: Path, files: Sequence[str]) -> str:
    h = hashlib.sha256()
    for f in files:
        st = (folder / f).stat()
        h.update(f"{f}\x00{st.st_size}\x00{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _read_pickles(folder: Path, name: str, limits: tuple[int | None, int | None]) -> tuple[list[str], dict]:
    kind = _pickle_kind(folder, name)
    assert kind is not None
    layout = _PICKLE_LAYOUTS[kind]
    n_keep = None
    if kind == "imagenet16":
        n_keep = int(name.rsplit("-", 1)[1]) if "-" in name else 1000
    out = {}
    for split, files, limit in (("train", layout.train, limits[0]), ("test", layout.test, limits[1])):
        datas, labels = [], []
        for f in files:
            entry = _load_pickle(folder / f)
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
        meta = _load_pickle(folder / layout.meta) if (folder / layout.meta).is_file() else {}
        names = [str(n) for n in meta.get(layout.names_key, [])]  # type: ignore[arg-type]
    else:
        names = [str(i + 1) for i in range(n_keep or 0)]
    n_classes = int(max(out["train"][1].max(initial=-1), out["test"][1].max(initial=-1))) + 1
    if len(names) < n_classes:  # no meta file: the official names where known
        names = list(CIFAR10_CLASSES) if kind == "cifar10" else [str(i) for i in range(n_classes)]
    return names, out


# --------------------------------------------------------------------------- cache


def default_cache_dir() -> Path:
    """Where decoded arrays are cached: ``$NAS_HARNESS_CACHE``, else ``~/.cache/nas-harness``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_HOME).expanduser()


def _cache_file(cache_dir: Path, name: str, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return cache_dir / "decoded" / f"{safe}-{key[:24]}.npz"


def _read_cache(path: Path, key: str) -> tuple[list[str], dict] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            names = [str(n) for n in z["class_names"]]
            out = {s: (z[f"{s}_images"], z[f"{s}_labels"]) for s in SPLITS}
    except (OSError, KeyError, ValueError, zlib.error, EOFError):
        return None
    return names, out


def _write_cache(path: Path, key: str, source: str, names: Sequence[str], arrays: Mapping) -> bool:
    """Write atomically (temp file + rename), so concurrent processes never read half a file."""
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


# --------------------------------------------------------------------------- one layout


def _source_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([LOADER_VERSION, *parts], default=str).encode()).hexdigest()[:32]


def _load_layout(
    layout: str,
    path: Path,
    name: str,
    limit_per_class: LimitArg = None,
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> ImageDataset:
    """Read one data set from ``path`` in a known ``layout`` (``cifar``, ``folder`` or ``tar``)."""
    limits = _normalise_limit(limit_per_class)
    path = path.expanduser().resolve()
    where = str(path)
    if layout == "cifar":
        kind = _pickle_kind(path, name)
        if kind is None:
            raise DataError(f"{path}: not a folder of pickled {name} batches")
        lay = _PICKLE_LAYOUTS[kind]
        files = [f for f in (*lay.train, *lay.test, lay.meta) if f and (path / f).is_file()]
        key = _source_key("cifar", name, where, _pickle_files_digest(path, files), limits)
        memo = _MEMO.get(key)
        if memo is not None:
            return memo
        names, arrays = _read_pickles(path, name, limits)
        recipe: tuple | None = ("cifar", where, name, dict(zip(SPLITS, limits, strict=True)), None)
    elif layout in ("folder", "tar"):
        if layout == "tar":
            if not path.is_file():
                raise DataError(f"{path}: no such archive")
            st = path.stat()
            key = _source_key("tar", name, where, st.st_size, st.st_mtime_ns, limits)
            scanned = None
        else:
            root = _tree_root(path)
            if root is None:
                raise DataError(f"{path}: no train/<class>/ image folders in it (nor in its only sub-folder)")
            scanned, digest = _scan_folder(root)
            where = str(root)
            key = _source_key("folder", name, where, digest, limits)
        memo = _MEMO.get(key)
        if memo is not None:
            return memo
        cdir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        cfile = _cache_file(cdir, name, key)
        got = _read_cache(cfile, key) if cache and cfile.is_file() else None
        if got is not None:
            names, arrays = got
            recipe = (layout, str(path), name, dict(zip(SPLITS, limits, strict=True)), str(cdir))
        else:
            if layout == "tar":
                found = _read_tar_tree(path, limits)
            else:
                assert scanned is not None
                found = {}
                for group, files in scanned.items():
                    limit = limits[0] if group[1] == "train" else limits[1]
                    found[group] = files if limit is None else files[:limit]
            groups = _choose_layout(found, where)
            names = sorted({cls for _, cls in groups})
            readers = {
                g: [(n, (lambda b=b: b) if layout == "tar" else (lambda p=b: _read_bytes(p))) for n, b in items]
                for g, items in groups.items()
            }
            arrays = _decode_all(readers, names, where)
            written = cache and _write_cache(cfile, key, where, names, arrays)
            recipe = (layout, str(path), name, dict(zip(SPLITS, limits, strict=True)), str(cdir)) if written else None
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
    _MEMO[key] = ds
    return ds


def load_cifar_batches(folder: str | Path, name: str = "cifar10", *, limit_per_class: LimitArg = None) -> ImageDataset:
    """Read torchvision's ``cifar-10-batches-py`` / ``cifar-100-python`` or the ``ImageNet16`` batches.

    ``name`` picks the format (``cifar10``, ``cifar100``, ``imagenet16-120``);
    ``limit_per_class`` keeps the first N images of each class in file order.
    """
    return _load_layout("cifar", Path(folder), _canonical(name), limit_per_class)


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
    return _load_layout("folder", Path(folder), _canonical(name), limit_per_class, cache=cache, cache_dir=cache_dir)


def load_image_tar(
    path: str | Path,
    name: str = "images",
    *,
    limit_per_class: LimitArg = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> ImageDataset:
    """Read a (compressed) tar of an image tree in one stream pass, without extracting it.

    Members are picked as in :func:`load_image_folder` (sorted names), whatever
    their order in the archive; only the picked ones are decoded.
    """
    return _load_layout("tar", Path(path), _canonical(name), limit_per_class, cache=cache, cache_dir=cache_dir)


# --------------------------------------------------------------------------- finding a data set


@dataclass(frozen=True)
class _Names:
    dirs: tuple[str, ...]  # dataset-specific folder names under a data dir
    stems: tuple[str, ...]  # names of image trees / archives
    pickle_dir: str | None  # torchvision's folder of pickled batches
    download: str | None  # torchvision.datasets class that can download it


_KNOWN = {
    "cifar10": _Names(("cifar10",), ("cifar10-jpeg", "cifar10"), "cifar-10-batches-py", "CIFAR10"),
    "cifar100": _Names(("cifar100",), ("cifar100-jpeg", "cifar100"), "cifar-100-python", "CIFAR100"),
    "imagenet16-120": _Names(("imagenet16-120", "imagenet16"), ("imagenet16-120",), "ImageNet16", None),
}
_ALIASES = {"cifar10-valid": "cifar10", "cifar-10": "cifar10", "cifar-100": "cifar100"}


def _canonical(name: str) -> str:
    low = name.strip().lower()
    return _ALIASES.get(low, low)


def _names(name: str) -> _Names:
    if name in _KNOWN:
        return _KNOWN[name]
    if name.startswith("imagenet16-"):
        return _Names((name, "imagenet16"), (name,), "ImageNet16", None)
    return _Names((name,), (name,), None, None)


def data_dirs(root: str | Path | None = None) -> list[Path]:
    """Where :func:`load_dataset` looks: ``root`` alone when given, else $NAS_HARNESS_DATA, ~/.cache/nas-harness."""
    if root is not None:
        return [Path(root).expanduser()]
    dirs = [Path(p).expanduser() for p in os.environ.get(DATA_ENV, "").split(os.pathsep) if p]
    dirs.append(DEFAULT_HOME.expanduser())
    return list(dict.fromkeys(dirs))


def candidate_paths(name: str, root: str | Path | None = None) -> list[Path]:
    """Every path :func:`load_dataset` tries for ``name``, in order (an explicit ``root`` is tried itself first)."""
    name = _canonical(name)
    spec = _names(name)
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


def _detect(path: Path, name: str) -> str | None:
    if path.is_file():
        return "tar" if path.name.lower().endswith(TAR_SUFFIXES) else None
    if path.is_dir():
        if _pickle_kind(path, name):
            return "cifar"
        if _tree_root(path) is not None:
            return "folder"
    return None


def _download_wanted(download: bool | None) -> bool:
    if download is not None:
        return download
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _how_to(name: str, spec: _Names) -> str:
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


def _download(name: str, spec: _Names, root: str | Path | None) -> Path:
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
