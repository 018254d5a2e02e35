"""Convert an official NAS-Bench-101 TFRecord file into the harness's SQLite store, without TensorFlow.

:func:`convert_records` reads ``nasbench_full.tfrecord`` (records for 4, 12, 36 and 108 epochs) or
``nasbench_only108.tfrecord`` once, as a stream: TFRecord framing with both CRCs checked
(:mod:`nas_harness.benchmarks.tfrecord`), each record decoded as the official API does
(:mod:`nas_harness.benchmarks.nb101_records`: final metrics from ``evaluation_data[2]``, halfway from
``[1]``), accuracies turned into percent and ``trainable_parameters`` into millions, and the
record's stated ``module_hash`` checked against :func:`nas_harness.spaces.nb101.module_hash` of its cell.
The source's SHA-256 is computed from the same bytes as they are read. Rows go to the store in
batches, so memory stays flat (tens of MB) for the 2 GB full file.

The store is written to a temporary file beside the target and renamed at the end
(:func:`nas_harness.atomic.atomic_path`): an interrupted or failed conversion leaves no temporary file
behind and an existing store as it was. A file that yields no record is an error, never an empty store.

Example::

    summary = convert_records("nasbench_only108.tfrecord", "nb101.sqlite")
    summary.records, summary.cells, summary.sha256
"""

from __future__ import annotations

import datetime
import hashlib
import io
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nas_harness import __version__
from nas_harness.api import ArchitectureError, BenchmarkError
from nas_harness.atomic import atomic_path
from nas_harness.benchmarks.nb101_records import FINAL, HALFWAY, NB101Record, RecordFormatError, decode_record
from nas_harness.benchmarks.nb101_store import StoreBuilder, new_connection
from nas_harness.benchmarks.tfrecord import iter_records
from nas_harness.spaces.nb101 import cell_from_flat, module_hash

MISMATCH_POLICIES = ("raise", "skip")


@dataclass(frozen=True)
class ConversionSummary:
    """What :func:`convert_records` wrote."""

    store: Path
    source: Path
    source_size: int
    sha256: str
    records: int  # runs written
    cells: int
    epochs: tuple[int, ...]
    mismatches: int  # records skipped because their stated hash is not their cell's (on_mismatch="skip")
    seconds: float


#: SHA256 of the official files (google-research/nasbench README), to tell the user which one was converted
OFFICIAL_SHA256: dict[str, str] = {
    "3d64db8180fb1b0207212f9032205064312b6907a3bbc81eabea10db2f5c7e9c": "nasbench_full.tfrecord",
    "4c39c3936e36a85269881d659e44e61a245babcb72cb374eacacf75d0e5f4fd1": "nasbench_only108.tfrecord",
}


def official_name(sha256: str) -> str | None:
    """The official file whose published checksum is ``sha256``, or None."""
    return OFFICIAL_SHA256.get(sha256)


def default_store_path(source: str | os.PathLike[str]) -> Path:
    """Where a converted store goes by default: beside the source, suffix ``.sqlite``."""
    source = Path(source)
    return source.with_suffix(".sqlite") if source.suffix else source.with_name(source.name + ".sqlite")


class _Tap(io.RawIOBase):
    """A raw reader that shows every chunk it reads to ``on_chunk`` (hashing, progress)."""

    def __init__(self, raw: io.RawIOBase, on_chunk: Callable[[memoryview], None]) -> None:
        self.raw = raw
        self.on_chunk = on_chunk

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self.raw.readinto(buffer) or 0
        if n:
            self.on_chunk(memoryview(buffer)[:n])
        return n


def _percent(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    if not 0.0 <= value <= 1.0:
        raise RecordFormatError(f"{what} = {value!r} is not a fraction in [0, 1]")
    return value * 100.0


def _run_values(record: NB101Record) -> tuple[float | None, ...]:
    """The runs columns (:data:`~nas_harness.benchmarks.nb101_store.RUN_COLUMNS`) of one record."""
    evaluations = record.metrics.evaluation_data
    if len(evaluations) <= FINAL:
        raise RecordFormatError(
            f"ModelMetrics has {len(evaluations)} evaluation_data entries; the official layout has 3 "
            "(start, halfway, end of training)"
        )
    values: list[float | None] = []
    for index, prefix in ((FINAL, ""), (HALFWAY, "halfway ")):
        data = evaluations[index]
        values.append(data.training_time)
        values.append(_percent(data.train_accuracy, f"{prefix}train_accuracy"))
        values.append(_percent(data.validation_accuracy, f"{prefix}validation_accuracy"))
        values.append(_percent(data.test_accuracy, f"{prefix}test_accuracy"))
    return tuple(values)


def _refuse_empty(source: Path, store: Path, runs: int, mismatches: int) -> None:
    """A conversion that yields no run is an error: it must never replace a store by an empty one."""
    if runs:
        return
    if mismatches:
        why = f"all {mismatches} records were skipped (their stated module hash is not their cell's)"
    else:
        why = "it holds no record"
    kept = f"the existing {store} is left as it was" if store.exists() else f"{store} was not written"
    raise BenchmarkError(
        f"{source}: {why}; expected an official NAS-Bench-101 .tfrecord file with at least one record; {kept}"
    )


def convert_records(
    tfrecord_path: str | os.PathLike[str],
    store_path: str | os.PathLike[str] | None = None,
    progress: bool = True,
    *,
    on_mismatch: str = "raise",
    batch_size: int = 5_000,
) -> ConversionSummary:
    """Stream an official NAS-Bench-101 TFRecord file into an SQLite store (see the module docstring).

    Args:
        tfrecord_path: ``nasbench_full.tfrecord`` or ``nasbench_only108.tfrecord`` (or a file in their layout).
        store_path: the store to write (default: :func:`default_store_path`); replaced if it exists.
        progress: show a progress bar over the bytes read (stderr).
        on_mismatch: a record whose stated module hash is not its cell's: ``raise`` (default) or
            ``skip`` it and count it in the summary.
        batch_size: runs inserted per batch.
    """
    from tqdm import tqdm

    if on_mismatch not in MISMATCH_POLICIES:
        raise ValueError(f"on_mismatch={on_mismatch!r}; accepted: {', '.join(MISMATCH_POLICIES)}")
    source = Path(tfrecord_path)
    store = Path(store_path) if store_path is not None else default_store_path(source)
    if not source.is_file():
        what = "a directory" if source.is_dir() else "no such file"
        raise BenchmarkError(f"{source}: {what}; expected an official NAS-Bench-101 .tfrecord file")
    if store.resolve() == source.resolve():
        raise BenchmarkError(f"{store}: the store would overwrite its source; give another --output")
    if not store.parent.is_dir():
        raise BenchmarkError(f"{store}: folder {store.parent} does not exist")
    stat = source.stat()
    started = time.perf_counter()
    sha = hashlib.sha256()
    mismatches = 0
    epochs_seen: set[int] = set()
    with atomic_path(store) as tmp:
        conn = new_connection(tmp)
        try:
            builder = StoreBuilder(conn, batch_size=batch_size)
            with (
                open(source, "rb", buffering=0) as raw,
                tqdm(
                    total=stat.st_size,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=f"converting {source.name}",
                    disable=not progress,
                    file=sys.stderr,
                ) as bar,
            ):

                def seen(chunk: memoryview) -> None:
                    sha.update(chunk)
                    bar.update(len(chunk))

                reader = io.BufferedReader(_Tap(raw, seen), buffer_size=1 << 20)  # type: ignore[arg-type]
                for number, (offset, data) in enumerate(iter_records(reader, name=str(source))):
                    where = f"{source}: record {number} at byte offset {offset}"
                    try:
                        record = decode_record(data)
                        values = _run_values(record)
                        if record.epochs <= 0:
                            raise RecordFormatError(f"epochs = {record.epochs}, not a positive number of epochs")
                    except RecordFormatError as exc:
                        raise BenchmarkError(f"{where}: {exc}") from exc
                    known = builder.lookup(record.module_hash)
                    if known is None or known[1:] != (record.raw_adjacency, record.raw_operations):
                        try:
                            computed = module_hash(cell_from_flat(record.raw_adjacency, record.raw_operations))
                        except ArchitectureError as exc:
                            raise BenchmarkError(f"{where}: not a NAS-Bench-101 cell: {exc}") from exc
                        if computed != record.module_hash:
                            mismatches += 1
                            if on_mismatch == "raise":
                                raise BenchmarkError(
                                    f"{where}: stated module hash {record.module_hash} but its cell (adjacency "
                                    f"{record.raw_adjacency}, ops {record.raw_operations}) hashes to {computed}; "
                                    "the file is damaged or not in the official layout "
                                    "(on_mismatch='skip' drops such records)"
                                )
                            continue
                    if known is None:
                        params = record.metrics.trainable_parameters
                        cell_id = builder.add_cell(
                            record.module_hash,
                            record.raw_adjacency,
                            record.raw_operations,
                            None if params is None else params / 1e6,
                            None,
                        )
                    else:
                        cell_id = known[0]
                    epochs_seen.add(record.epochs)
                    builder.add_run(cell_id, record.epochs, values, record=number)
            digest = sha.hexdigest()
            _refuse_empty(source, store, builder.runs, mismatches)
            builder.finish(
                {
                    "dataset": "cifar10",
                    "source_format": "tfrecord",
                    "source_name": source.name,
                    "source_size": stat.st_size,
                    "source_mtime_ns": stat.st_mtime_ns,
                    "source_sha256": digest,
                    "records": builder.runs,
                    "mismatches": mismatches,
                    "repeats": "runs",
                    "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                    "harness_version": __version__,
                }
            )
        finally:
            conn.close()
    return ConversionSummary(
        store=store,
        source=source,
        source_size=stat.st_size,
        sha256=digest,
        records=builder.runs,
        cells=builder.cells,
        epochs=tuple(sorted(epochs_seen)),
        mismatches=mismatches,
        seconds=time.perf_counter() - started,
    )
