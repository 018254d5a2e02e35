"""Synthetic NAS-Bench-201 / NATS-Bench single files with the official layout at the official size.

The official files are multi-GB (``NAS-Bench-201-v1_1-096897.pth``: 4.7 GB; ``v1_0-e61699``: 2.1 GB);
these stand-ins have the same layout and every curve at every epoch (records of
:func:`tests.helpers.nb201_fixtures.arch_results_state` with ``curve_every=1`` and the trials of
:data:`FULL_SIZE_SEEDS`, about 300 kB per architecture as in the originals), and known metrics
(:func:`~tests.helpers.nb201_fixtures.fixture_accuracy`).
They are written as a stream, one architecture at a time, so writing one never holds the file in
memory: the outer dicts are written opcode by opcode and each architecture's record is pickled on its
own (its memo numbering starts again at 0 for each record, which ``pickle`` and ``torch.load`` read
the same way; the originals number the memo across the whole file). The NATS-Bench file's records
are pickled without a memo (protocol 4 numbers memo entries implicitly, so per-record numbering
would not survive concatenation).

Files are built on demand into a cache folder (``$NAS_HARNESS_SYNTHETIC_CACHE``, default
``~/.cache/nas-harness/synthetic``), written under a temporary name and renamed when complete, and
never committed. Building the full v1.1 layout takes several minutes.

Example::

    path = full_size_file("nb201-v1_1")            # 15,625 architectures, about 4.4 GB
    small = full_size_file("nb201-v1_1", n_archs=64)
"""

from __future__ import annotations

import bz2
import io
import os
import pickle
import struct
import sys
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

from nas_harness.spaces import nb201 as nb201_space
from tests.helpers import nb201_fixtures as F
from tests.helpers.nb101_fixtures import synthetic_cache_dir  # one cache folder for every synthetic file

KINDS = ("nb201-v1_0", "nb201-v1_1", "nb201-v1_1-zip", "nats-tss")
TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
TORCH_PROTOCOL_VERSION = 1001
_SETITEMS_BATCH = 1000  # as pickle batches dict items
#: trials per data set: 10 at 200 epochs per architecture (the v1.1 file has one to three per data set),
#: which puts the v1.1 layout at 5.0 GB (the official file: 4.7 GB)
FULL_SIZE_SEEDS: dict[str, dict[str, tuple[int, ...]]] = {
    "200": {
        "cifar10-valid": (777, 888, 999),
        "cifar10": (777, 888, 999),
        "cifar100": (777, 888),
        "ImageNet16-120": (777, 888),
    },
    "12": F.SEEDS["12"],
}


def _body(obj: Any, protocol: int, *, memo: bool = True) -> bytes:
    """``obj`` pickled without its PROTO header and STOP (to splice into a larger pickle)."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=protocol)
    pickler.fast = not memo  # no memo at all: nothing refers across records
    pickler.dump(obj)
    data = out.getvalue()
    if protocol < 4:
        return data[2:-1]
    return _unframe_stop(data)


def _unframe_stop(data: bytes) -> bytes:
    """A protocol-4 pickle's frames with the PROTO header dropped and the final STOP cut out of its frame."""
    parts, pos = [], 2
    while pos < len(data) and data[pos] == 0x95:  # FRAME <u8 length> payload
        (length,) = struct.unpack_from("<Q", data, pos + 1)
        parts.append(data[pos + 9 : pos + 9 + length])
        pos += 9 + length
    tail = data[pos:]  # a last piece too small for a frame of its own
    payload = b"".join(parts) + tail
    if not payload.endswith(b"."):
        raise ValueError("pickle does not end with STOP")
    payload = payload[:-1]
    return b"\x95" + struct.pack("<Q", len(payload)) + payload


def _write_file_dict(
    out: BinaryIO, records: Iterable[tuple[int, dict]], meta_archs: list[str], n: int, protocol: int, memo: bool
) -> None:
    """The official dict, streamed: meta_archs, arch2infos (records as they come), evaluated_indexes, total_archs."""
    out.write(b"\x80" + bytes([protocol]) + b"}(")  # PROTO, EMPTY_DICT, MARK
    out.write(_body("meta_archs", protocol) + _body(meta_archs, protocol))
    out.write(_body("arch2infos", protocol) + b"}(")
    indexes = []
    for count, (file_index, record) in enumerate(records, start=1):
        out.write(_body(file_index, protocol) + _body(record, protocol, memo=memo))
        indexes.append(file_index)
        if count % _SETITEMS_BATCH == 0:
            out.write(b"u(")  # SETITEMS, MARK: the next batch
    out.write(b"u")
    out.write(_body("evaluated_indexes", protocol) + _body(indexes, protocol))
    out.write(_body("total_archs", protocol) + _body(n, protocol))
    out.write(b"u.")  # SETITEMS of the outer dict, STOP


def _nb201_records(n_archs: int, version: str) -> Iterable[tuple[int, dict]]:
    less_datasets = ("cifar10-valid",) if version == "v1_0" else F.DATASETS
    for index in range(n_archs):
        less = F.arch_results_state("nas_201_api", index, "12", datasets=less_datasets, seeds=FULL_SIZE_SEEDS)
        full = F.arch_results_state("nas_201_api", index, "200", seeds=FULL_SIZE_SEEDS)
        yield index, {"less": less, "full": full}


def _nats_records(n_archs: int) -> Iterable[tuple[int, dict]]:
    for index in range(n_archs):
        yield index, {hp: F.arch_results_state("nats_bench", index, hp, seeds=FULL_SIZE_SEEDS) for hp in ("12", "200")}


def _meta_archs() -> list[str]:
    return [nb201_space.to_str(a) for a in nb201_space.official_order()]


def write_nb201_legacy(out: BinaryIO, n_archs: int, version: str) -> None:
    """torch's legacy layout: magic, protocol version, system info, the object, storage keys (none)."""
    for header in (TORCH_MAGIC, TORCH_PROTOCOL_VERSION, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, out, protocol=2)
    _write_file_dict(out, _nb201_records(n_archs, version), _meta_archs(), n_archs, 2, memo=True)
    pickle.dump([], out, protocol=2)


def write_nb201_zip(out: BinaryIO, n_archs: int, version: str) -> None:
    """torch's zip layout (``_use_new_zipfile_serialization``): archive/data.pkl stored, plus its records."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        with archive.open("archive/data.pkl", "w", force_zip64=True) as data:
            _write_file_dict(data, _nb201_records(n_archs, version), _meta_archs(), n_archs, 2, memo=True)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")


def write_nats_single(out: BinaryIO, n_archs: int) -> None:
    """The NATS-Bench topology single file: a bz2-compressed protocol-4 pickle (nats_bench's pickle_save)."""
    with bz2.BZ2File(out, "wb", compresslevel=9) as packed:
        _write_file_dict(packed, _nats_records(n_archs), _meta_archs(), n_archs, 4, memo=False)


_WRITERS: dict[str, tuple[str, Callable[[BinaryIO, int], None]]] = {
    "nb201-v1_0": ("NAS-Bench-201-v1_0-synthetic.pth", lambda out, n: write_nb201_legacy(out, n, "v1_0")),
    "nb201-v1_1": ("NAS-Bench-201-v1_1-synthetic.pth", lambda out, n: write_nb201_legacy(out, n, "v1_1")),
    "nb201-v1_1-zip": ("NAS-Bench-201-v1_1-synthetic-zip.pth", lambda out, n: write_nb201_zip(out, n, "v1_1")),
    "nats-tss": ("NATS-tss-v1_0-synthetic.pickle.pbz2", write_nats_single),
}


def write_full_size(path: str | os.PathLike[str], kind: str, n_archs: int = nb201_space.NUM_ARCHS) -> Path:
    """Write a synthetic ``kind`` file (see :data:`KINDS`) of ``n_archs`` architectures to ``path``."""
    if kind not in _WRITERS:
        raise ValueError(f"unknown kind {kind!r}; accepted: {', '.join(KINDS)}")
    path = Path(path)
    with open(path, "wb") as out:
        _WRITERS[kind][1](out, n_archs)
    return path


def full_size_file(kind: str, n_archs: int = nb201_space.NUM_ARCHS, cache: Path | None = None) -> Path:
    """The cached synthetic ``kind`` file of ``n_archs`` architectures, built first when missing."""
    if kind not in _WRITERS:
        raise ValueError(f"unknown kind {kind!r}; accepted: {', '.join(KINDS)}")
    folder = synthetic_cache_dir(cache)
    folder.mkdir(parents=True, exist_ok=True)
    name = _WRITERS[kind][0]
    if n_archs != nb201_space.NUM_ARCHS:
        name = f"{n_archs}-{name}"
    path = folder / name
    if not path.is_file():
        partial = folder / f".{name}.{os.getpid()}.partial"
        try:
            write_full_size(partial, kind, n_archs)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return path


if __name__ == "__main__":  # python -m tests.helpers.full_size KIND [N_ARCHS]
    built = full_size_file(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else nb201_space.NUM_ARCHS)
    print(built, built.stat().st_size)
