"""Convert an official NAS-Bench-201 / NATS-Bench file once into the table ``nb201.table`` reads.

:func:`convert_nb201` reads the file with :class:`~nas_harness.benchmarks.nb201.NB201Results` (the
streaming reader for single files: flat memory) and writes one CSV row per architecture with every
data set, split and schedule the file has (:func:`table_columns`: ``CIFAR10TestAccuracy200Epochs``,
``CIFAR10ValidValidAccuracy12Epochs``, ``ImageNetTrainSeconds``, ...), plus a provenance file
``TABLE.json``: the source's name, size, modification time and SHA-256, and whether its name is one of
the official files' (NAS-Bench-201 publishes no checksums, so the SHA-256 is what two users compare).

``nb201.official`` then finds the table by itself (:func:`find_converted`): beside the file
(``FILE.nb201.csv``, the default output) or in the cache (``<cache>/nb201/``), as long as the
provenance still matches the file's size and modification time, and loads it in a fraction of a
second instead of reading the file again.

Example::

    summary = convert_nb201("NAS-Bench-201-v1_1-096897.pth")
    summary.table      # NAS-Bench-201-v1_1-096897.pth.nb201.csv, read by nb201.table and nb201.official
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas_harness import __version__
from nas_harness.api import BenchmarkError
from nas_harness.atomic import atomic_path, write_text_atomic
from nas_harness.benchmarks.nb201 import (
    COST_KEYS,
    DATASETS,
    EPOCHS,
    SPLITS,
    NB201Benchmark,
    NB201Results,
    detect_format,
)
from nas_harness.benchmarks.table import NB201_TABLE_COSTS, NB201_TABLE_PREFIXES, NB201_TABLE_SCHEMA, nb201_table_column
from nas_harness.home import default_cache_dir
from nas_harness.spaces import nb201 as nb201_space

TABLE_SUFFIX = ".nb201.csv"
PROVENANCE_SUFFIX = ".json"
ARCH_COLUMN = NB201_TABLE_SCHEMA.arch_column
#: the official files' names (the suffix is part of NAS-Bench-201's naming, not a checksum the harness can check)
OFFICIAL_NAMES = (
    "NAS-Bench-201-v1_0-e61699.pth",
    "NAS-Bench-201-v1_1-096897.pth",
    "NATS-tss-v1_0-3ffb9.pickle.pbz2",
    "NATS-tss-v1_0-3ffb9-simple",
)


def cost_column(dataset: str, key: str) -> str:
    """The table column of one data set's cost (e.g. ``ImageNetTrainSeconds``)."""
    return f"{NB201_TABLE_PREFIXES[dataset]}{NB201_TABLE_COSTS[key]}"


def table_columns(results: NB201Results) -> dict[str, np.ndarray]:
    """Every column the file has a value in, by official index (NaN where an architecture has none)."""
    columns: dict[str, np.ndarray] = {}
    for e, epochs in enumerate(EPOCHS):
        for d, dataset in enumerate(DATASETS):
            for s, split in enumerate(SPLITS):
                values = results.acc[e, d, s]
                if np.isfinite(values).any():
                    columns[nb201_table_column(dataset, split, epochs)] = values
    for d, dataset in enumerate(DATASETS):
        for k, key in enumerate(COST_KEYS):
            values = results.costs[d, k]
            if np.isfinite(values).any():
                columns[cost_column(dataset, key)] = values
    return columns


@dataclass(frozen=True)
class NB201ConversionSummary:
    """What :func:`convert_nb201` wrote."""

    table: Path
    source: Path
    source_size: int
    source_mtime_ns: int
    sha256: str
    official_name: bool  # the source is named as one of the official files
    format: str
    archs: int
    columns: int
    seconds: float


def default_table_path(source: str | os.PathLike[str]) -> Path:
    """Where a converted table goes by default: beside the source, ``FILE.nb201.csv``."""
    source = Path(source)
    return source.with_name(source.name + TABLE_SUFFIX)


def cache_table_path(source: str | os.PathLike[str], cache_dir: Path | None = None) -> Path:
    """The cache's place for the table of ``source`` (``<cache>/nb201/<name>-<size>.nb201.csv``)."""
    source = Path(source)
    size = _size(source)
    return (cache_dir or default_cache_dir()) / "nb201" / f"{source.name}-{size}{TABLE_SUFFIX}"


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return path.stat().st_size


def _mtime_ns(path: Path) -> int:
    return path.stat().st_mtime_ns


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file, or of a fast-mode directory's files (names and contents, sorted by name)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def convert_nb201(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    trust_pickle: bool = False,
    results: NB201Results | None = None,
) -> NB201ConversionSummary:
    """Read ``source`` (any format of :mod:`~nas_harness.benchmarks.nb201`) and write its table and provenance.

    ``output`` defaults to :func:`default_table_path`. The table and ``TABLE.json`` are written
    atomically: an interrupted conversion leaves no partial table. ``results``: already loaded results
    of ``source`` (not read again).
    """
    start = time.perf_counter()
    source = Path(source)
    table = Path(output) if output is not None else default_table_path(source)
    if results is None:
        results = NB201Results.load(source, trust_pickle=trust_pickle, lazy=False if source.is_dir() else None)
    results.ensure_loaded()
    columns = table_columns(results)
    rows = results.records()
    if not len(rows):
        raise BenchmarkError(f"{source}: no architecture has a record; nothing to convert")
    _write_csv(table, rows, {name: values[rows] for name, values in columns.items()})
    summary = NB201ConversionSummary(
        table=table,
        source=source,
        source_size=_size(source),
        source_mtime_ns=_mtime_ns(source),
        sha256=sha256_of(source),
        official_name=source.name in OFFICIAL_NAMES,
        format=results.format,
        archs=len(rows),
        columns=len(columns),
        seconds=time.perf_counter() - start,
    )
    provenance: dict[str, Any] = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(summary).items()}
    provenance["source"] = str(source.resolve())
    provenance["harness_version"] = __version__
    provenance["converted"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    write_text_atomic(Path(str(table) + PROVENANCE_SUFFIX), json.dumps(provenance, indent=2) + "\n")
    return summary


def _write_csv(table: Path, rows: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    import pandas as pd  # heavy: only when converting

    frame = pd.DataFrame({ARCH_COLUMN: [nb201_space.to_str(nb201_space.index_to_arch(int(i))) for i in rows]})
    for name, values in columns.items():
        frame[name] = values
    table.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(table) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.17g")


def read_provenance(table: Path) -> dict[str, Any] | None:
    """The provenance of a converted table, or None when it has none or it cannot be read."""
    try:
        return json.loads(Path(str(table) + PROVENANCE_SUFFIX).read_text())
    except (OSError, ValueError):
        return None


def find_converted(source: str | os.PathLike[str], cache_dir: Path | None = None) -> Path | None:
    """A converted table of ``source`` that is still current (same size and modification time), or None."""
    source = Path(source)
    if not source.exists():
        return None
    for table in (default_table_path(source), cache_table_path(source, cache_dir)):
        provenance = read_provenance(table) if table.is_file() else None
        if (
            provenance is not None
            and provenance.get("source_size") == _size(source)
            and provenance.get("source_mtime_ns") == _mtime_ns(source)
        ):
            return table
    return None


def results_from_table(table: Path, source: Path, fmt: str) -> NB201Results:
    """:class:`NB201Results` of ``source`` filled from its converted ``table``."""
    import pandas as pd  # heavy: only when a converted table is used

    try:
        frame = pd.read_csv(table)
        index = np.array([nb201_space.arch_to_index(nb201_space.parse(text)) for text in frame[ARCH_COLUMN]])
    except Exception as exc:
        raise BenchmarkError(
            f"{table}: cannot read this converted table of {source} ({type(exc).__name__}: {exc}); "
            f"delete it, or convert again with: nas-harness data convert nb201 {source}"
        ) from exc
    results = NB201Results(source, fmt)
    for e, epochs in enumerate(EPOCHS):
        for d, dataset in enumerate(DATASETS):
            for s, split in enumerate(SPLITS):
                name = nb201_table_column(dataset, split, epochs)
                if name in frame:
                    results.acc[e, d, s, index] = frame[name].to_numpy(dtype=float)
    for d, dataset in enumerate(DATASETS):
        for k, key in enumerate(COST_KEYS):
            name = cost_column(dataset, key)
            if name in frame:
                results.costs[d, k, index] = frame[name].to_numpy(dtype=float)
    results.has_record[index] = True
    results.loaded[:] = True
    results.table = table
    return results


def open_official(
    path: str | os.PathLike[str] | None = None,
    dataset: str = "cifar10",
    *,
    format: str = "auto",
    lazy: bool | None = None,
    trust_pickle: bool = False,
    use_converted: bool = True,
    results: NB201Results | None = None,
) -> NB201Benchmark:
    """``nb201.official``: :class:`NB201Benchmark` of ``path``, from its converted table when one is current.

    ``use_converted=False`` reads the file itself even when a converted table exists.
    """
    if results is None and path is not None and use_converted:
        table = find_converted(path)
        if table is not None:
            results = results_from_table(table, Path(path), detect_format(path))
    return NB201Benchmark(path, dataset, format=format, lazy=lazy, trust_pickle=trust_pickle, results=results)
