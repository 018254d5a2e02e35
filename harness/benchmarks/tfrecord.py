"""TFRecord framing, read and written without TensorFlow.

A TFRecord file is a sequence of records, each framed as (TensorFlow ``core/lib/io/record_writer``)::

    uint64  length            little-endian, bytes of data
    uint32  masked_crc(length bytes)
    byte    data[length]
    uint32  masked_crc(data)

where ``masked_crc(b) = ((c >> 15) | (c << 17)) + 0xa282ead8 (mod 2**32)`` with ``c`` the CRC-32C
(Castagnoli) of ``b``. The CRC comes from ``google-crc32c`` (C implementation).

:func:`iter_records` streams ``(offset, data)`` pairs; a bad length CRC, a bad data CRC or a file that
ends inside a record raises :class:`~nas_harness.api.BenchmarkError` naming the file, the byte offset at
which the record starts and the check that failed. :func:`write_records` writes the same framing (for
fixtures and benchmarks).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import google_crc32c

from nas_harness.api import BenchmarkError

_HEADER = struct.Struct("<QI")  # length, masked crc of the 8 length bytes
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
HEADER_SIZE = _HEADER.size  # 12
FOOTER_SIZE = _CRC.size  # 4


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC-32C of ``data``."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """``data`` framed as one TFRecord record."""
    length = struct.pack("<Q", len(data))
    return length + _CRC.pack(masked_crc(length)) + data + _CRC.pack(masked_crc(data))


def write_records(path: str | os.PathLike[str], records: Iterable[bytes]) -> Path:
    """Write ``records`` as a TFRecord file; returns the path."""
    path = Path(path)
    with open(path, "wb") as handle:
        for data in records:
            handle.write(frame(data))
    return path


def looks_like_tfrecord(head: bytes) -> bool:
    """True when ``head`` (the first 12 bytes of a file) is a record header whose length CRC holds."""
    if len(head) < HEADER_SIZE:
        return False
    _, crc = _HEADER.unpack_from(head)
    return crc == masked_crc(head[:8])


def iter_records(source: str | os.PathLike[str] | BinaryIO, name: str | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, data)`` for each record of a TFRecord file, checking both CRCs.

    ``source`` is a path or a binary file object (read sequentially, e.g. one that hashes what it
    reads); ``name`` is how errors name it (default: the path).
    """
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            yield from iter_records(handle, name=name or str(source))
        return
    where = name or getattr(source, "name", "<stream>")
    read = source.read
    offset = 0
    while True:
        header = read(HEADER_SIZE)
        if not header:
            return
        if len(header) < HEADER_SIZE:
            raise BenchmarkError(
                f"{where}: truncated TFRecord file: the record at byte offset {offset} has a {len(header)}-byte header "
                f"(a record starts with {HEADER_SIZE} bytes: uint64 length + uint32 masked CRC-32C)"
            )
        length, length_crc = _HEADER.unpack(header)
        if length_crc != masked_crc(header[:8]):
            raise BenchmarkError(
                f"{where}: corrupt TFRecord file: length CRC mismatch in the record at byte offset {offset} "
                f"(stored {length_crc:#010x}, computed {masked_crc(header[:8]):#010x} over length bytes "
                f"{header[:8].hex()}); not a TFRecord file or damaged"
            )
        body = read(length + FOOTER_SIZE)
        if len(body) < length + FOOTER_SIZE:
            raise BenchmarkError(
                f"{where}: truncated TFRecord file: the record at byte offset {offset} needs {length} data bytes "
                f"+ {FOOTER_SIZE} CRC bytes but the file ends after {len(body)}"
            )
        data = body[:length]
        (data_crc,) = _CRC.unpack_from(body, length)
        if data_crc != masked_crc(data):
            raise BenchmarkError(
                f"{where}: corrupt TFRecord file: data CRC mismatch in the record at byte offset {offset} "
                f"({length} data bytes; stored {data_crc:#010x}, computed {masked_crc(data):#010x})"
            )
        yield offset, data
        offset += HEADER_SIZE + length + FOOTER_SIZE
