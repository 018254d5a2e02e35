"""Image trees inside tar archives (``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.bz2``, ``.tar.xz``), read with tarfile.

The archive is read in one pass and nothing is extracted to disk: member names
are only parsed (:func:`~nas_harness.data.trees.image_parts`) and compared,
never used as paths, so names such as ``../x`` or ``/etc/x`` cannot reach
outside the archive. Only regular files whose names look like images of a tree
are read, and of those only the ones the :class:`~nas_harness.data.trees.Selector`
keeps (``limit_per_class``), into memory. Links, devices and directories are
skipped.
"""

from __future__ import annotations

import lzma
import tarfile
import zlib
from pathlib import Path

from nas_harness.data.dataset import DataError
from nas_harness.data.trees import Found, Selector, image_parts

TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def read_tar_tree(path: Path, limits: tuple[int | None, int | None]) -> Found:
    """The selected image members of the archive at ``path`` as ``{(prefix, split, class): [(name, bytes), ...]}``.

    Members of each class are sorted by name; ``limits`` (train, test) keep the
    first N names of each class, whatever the order of the members in the archive.
    """
    sel = Selector(limits)
    kept: dict[tuple[str, str, str], dict[str, bytes]] = {}
    try:
        # "r:*" (not the stream mode "r|*"): gzip.GzipFile also reads multi-member (concatenated) gzip files.
        with tarfile.open(path, "r:*") as tf:
            for member in tf:
                if not member.isfile():
                    continue
                parts = image_parts(member.name)
                if parts is None:
                    continue
                keep, evicted = sel.offer(parts, parts[1], member.name)
                if not keep:
                    continue
                f = tf.extractfile(member)
                if f is None:  # pragma: no cover - isfile() members always have data
                    continue
                group = kept.setdefault(parts, {})
                group[member.name] = f.read()
                if evicted is not None:
                    del group[evicted]
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
        raise DataError(f"cannot read tar archive {path}: {exc}") from exc
    return {k: sorted(v.items()) for k, v in kept.items()}
