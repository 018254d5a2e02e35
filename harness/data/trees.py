"""Image trees ``[prefix/]{train,test,val}/<class>/<file>``: which paths are images, which to keep, and folder scans.

The rules here are shared by image folders on disk (:func:`scan_folder`) and
tar archives (:mod:`.archives`), so both pick the same members: per (split,
class), the ``limit`` smallest names in sorted order, whatever order they are
found in (:class:`Selector`); ``val`` stands for ``test`` when there is no
``test``; every image must sit under one common prefix (:func:`group_by_class`).
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas_harness.data.dataset import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".webp", ".tif", ".tiff")

#: ``{(prefix, split, class): [(member name, payload), ...]}``; the payload is a path (folders) or bytes (archives).
Found = dict[tuple[str, str, str], list]


def image_parts(relpath: str) -> tuple[str, str, str] | None:
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


class Selector:
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


def group_by_class(found: Mapping[tuple[str, str, str], Any], where: str) -> dict[tuple[str, str], list]:
    """Group image members by (split, class), checking that they share one prefix and mapping val->test."""
    prefixes = {p for p, _, _ in found}
    if len(prefixes) > 1:
        examples = {}
        for (p, _, _), items in sorted(found.items()):
            if items:
                examples.setdefault(p, items[0][0])
        shown = ", ".join(f"{p or '.'!r} (e.g. {examples.get(p, '?')!r})" for p in sorted(prefixes)[:5])
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


# --------------------------------------------------------------------------- image folders on disk


def tree_root(folder: Path) -> Path | None:
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


def scan_folder(root: Path) -> tuple[dict[tuple[str, str, str], list[tuple[str, str]]], str]:
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


def limit_scanned(
    scanned: Mapping[tuple[str, str, str], list[tuple[str, str]]], limits: tuple[int | None, int | None]
) -> Found:
    """The first ``limit`` files (sorted names) of each class of a :func:`scan_folder` result."""
    found: Found = {}
    for group, files in scanned.items():
        limit = limits[0] if group[1] == "train" else limits[1]
        found[group] = files if limit is None else files[:limit]
    return found


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
