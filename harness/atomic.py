"""Publishing a file atomically: write a temporary file beside it, then rename it over the old one.

A reader, a crash or a kill never sees a 0-byte or half-written file: the target is the old
file until the new one is complete (and flushed to disk), then the new one. A failed write
removes its temporary file and leaves the old target as it was. The temporary file is in the
target's folder (a rename is atomic only within one file system) and named
``.<name>.<pid>-<random>.tmp``, so concurrent writers never share one.

Example::

    write_text_atomic(out / "estimators.md", markdown)
    with atomic_path(out / "estimators.csv") as tmp:    # for writers that want a path
        frame.to_csv(tmp, index=False)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def temp_path_for(target: str | os.PathLike[str]) -> Path:
    """A fresh temporary path in ``target``'s folder (hidden, unique to this process and call)."""
    target = Path(target)
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write the new ``target`` to; it replaces ``target`` when the block ends.

    When the block raises (or is interrupted), the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    tmp = temp_path_for(target)
    try:
        yield tmp
        _flush_to_disk(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``target`` by ``data`` atomically; returns ``target`` as a Path."""
    target = Path(target)
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
    return target


def write_text_atomic(target: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Replace ``target`` by ``text`` atomically; returns ``target`` as a Path."""
    return write_bytes_atomic(target, text.encode(encoding))


def _flush_to_disk(path: Path) -> None:
    """fsync ``path`` so that the rename never publishes a file whose data is still only in memory."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
