"""NAS-Bench-101 ground truth (Ying et al., 2019) without TensorFlow.

:class:`NB101Benchmark` reads any of:

* a converted store (``.sqlite``/``.db``, :mod:`nas_harness.benchmarks.nb101_store`), written by
  :func:`convert_records` / ``nas-harness data convert nb101 FILE`` from an official file;
* an official TFRecord file (``nasbench_full.tfrecord``: 4, 12, 36, 108 epochs;
  ``nasbench_only108.tfrecord``): converted on first use into a store beside it
  (``nasbench_only108.tfrecord`` -> ``nasbench_only108.sqlite``; the
  conversion of the 2 GB full file is one streaming pass) and read from there afterwards, as long as
  the source's size and modification time match the ones recorded in the store. With
  ``convert=False``, or when that folder is not writable, it is refused with the command to run;
* a reference JSON table (``nb101_cifar10_500.json``: validation accuracy at 108 epochs) or a CSV
  table (:mod:`nas_harness.benchmarks.nb101_tables` documents both layouts).

Cells are looked up by the official module hash, so every labelling of a graph finds its record.
Accuracies are percent (the official fractions x 100), averaged over the training repeats (three
per cell and epoch budget in the official files); ``params`` and ``flops`` are millions (as
NAS-Bench-201 reports them), ``train_seconds`` the mean training time of the final evaluation.

Example::

    bench = NB101Benchmark("nasbench_only108.tfrecord")       # or the .sqlite store / JSON / CSV
    cell = space.parse("0110-0001-0001-0000;input,conv3x3-bn-relu,maxpool3x3,output")
    bench.accuracy(cell)                          # test accuracy (%) at 108 epochs, mean of 3 repeats
    bench.accuracy(cell, split="valid", epochs=36)
    bench.accuracy_by_hash(module_hash(cell))     # by the official hash
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nas_harness.api import Arch, ArchitectureError, Benchmark, BenchmarkError
from nas_harness.benchmarks import nb101_tables
from nas_harness.benchmarks.nb101_convert import ConversionSummary, convert_records, default_store_path
from nas_harness.benchmarks.nb101_store import (
    RUN_COLUMNS,
    SPLITS,
    SQLITE_MAGIC,
    column,
    open_store,
    parse_available,
)
from nas_harness.benchmarks.tfrecord import looks_like_tfrecord
from nas_harness.metrics import kendall_tau
from nas_harness.spaces import nb101

__all__ = ["FORMATS", "ConversionSummary", "NB101Benchmark", "convert_records", "detect_format"]

FORMATS: dict[str, str] = {
    "store": "a converted NAS-Bench-101 store (.sqlite/.db, from `nas-harness data convert nb101 FILE`)",
    "tfrecord": "an official NAS-Bench-101 TFRecord file (nasbench_full.tfrecord, nasbench_only108.tfrecord)",
    "json": 'a JSON table {"nasbench101": {"cifar10": {KEY: {"val_accuracy": %, ...}}}}',
    "csv": "a CSV table (adjacency + ops or key, epochs, train/valid/test_accuracy %, params, flops, train_seconds)",
}
_SUFFIXES = {".sqlite": "store", ".sqlite3": "store", ".db": "store", ".tfrecord": "tfrecord", ".json": "json"}
_SUFFIXES |= {".csv": "csv"}
COST_KEYS: tuple[str, ...] = ("params", "flops", "train_seconds")
#: SQL condition: cell ``c`` has runs at the epochs given as parameter
_HAS_RUNS = "EXISTS (SELECT 1 FROM runs r WHERE r.cell = c.id AND r.epochs = ?)"


def _expected() -> str:
    return "expected one of: " + "; ".join(FORMATS.values())


def detect_format(path: str | os.PathLike[str]) -> str:
    """``store``, ``tfrecord``, ``json`` or ``csv``: by suffix, else from the first bytes."""
    path = Path(path)
    if not path.exists():
        raise BenchmarkError(f"{path}: no such file; {_expected()}")
    if path.is_dir():
        raise BenchmarkError(f"{path} is a directory; {_expected()}")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not head:
        raise BenchmarkError(f"{path} is empty; {_expected()}")
    by_suffix = _SUFFIXES.get(path.suffix.lower())
    if by_suffix is not None:
        return by_suffix
    if head.startswith(SQLITE_MAGIC):
        return "store"
    if looks_like_tfrecord(head):
        return "tfrecord"
    if head.lstrip()[:1] == b"{":
        return "json"
    raise BenchmarkError(f"{path}: not a recognised NAS-Bench-101 file (starts with {head!r}); {_expected()}")


def _cached_store(source: Path, convert: bool, progress: bool) -> Path:
    """The converted store of a TFRecord file: reused when it matches the source, else (re)converted."""
    store = default_store_path(source)
    if store.is_file():
        try:
            conn, meta = open_store(store)
            conn.close()
        except BenchmarkError:
            meta = {}
        stat = source.stat()
        if meta.get("source_size") == str(stat.st_size) and meta.get("source_mtime_ns") == str(stat.st_mtime_ns):
            return store
    command = f"nas-harness data convert nb101 {source} --output STORE"
    if not convert:
        raise BenchmarkError(
            f"{source}: a TFRecord file needs converting first (convert=False); run `{command}` and pass the STORE"
        )
    if not os.access(source.parent, os.W_OK):
        raise BenchmarkError(
            f"{source}: cannot write the converted store {store.name} beside it (folder {source.parent} is not "
            f"writable); run `{command}` with a writable STORE path and pass that store instead"
        )
    convert_records(source, store, progress=progress)
    return store


class NB101Benchmark(Benchmark):
    """NAS-Bench-101 ground truth for CIFAR-10 from a store, TFRecord, JSON or CSV file.

    Args:
        path: the file (see the module docstring).
        dataset: ``cifar10`` (NAS-Bench-101 has no other).
        epochs: the default epoch budget of queries (108; 4, 12 and 36 exist in ``nasbench_full``).
        convert: TFRecord sources only: convert into ``FILE.sqlite`` when there is no up-to-date store.
        progress: show the conversion's progress bar.
    """

    name = "nb101"
    space = "nb101"

    def __init__(
        self,
        path: str | os.PathLike[str],
        dataset: str = "cifar10",
        epochs: int = 108,
        *,
        convert: bool = True,
        progress: bool = True,
    ) -> None:

        self.path = Path(path)
        self.format = detect_format(self.path)
        if self.format in ("store", "tfrecord") and dataset != "cifar10":
            raise BenchmarkError(f"{self.path}: NAS-Bench-101 holds CIFAR-10 results only; asked for {dataset!r}")
        if self.format == "store":
            conn, meta = open_store(self.path)
        elif self.format == "tfrecord":
            self.store_path = _cached_store(self.path, convert, progress)
            conn, meta = open_store(self.store_path)
        elif self.format == "json":
            conn, meta = nb101_tables.load_json(self.path, dataset)
        else:
            conn, meta = nb101_tables.load_csv(self.path, dataset)
        self._conn: sqlite3.Connection = conn
        self._lock = threading.Lock()
        self.meta = meta
        self.dataset = dataset
        self.available = parse_available(meta)
        if epochs not in self.available:
            conn.close()
            raise BenchmarkError(
                f"{self.path} has no {epochs!r}-epoch results; available epochs: {self._epochs_text()}"
            )
        self.default_epochs = epochs
        self._ceiling: float | bool | None = False  # False: not computed yet

    # -- helpers ---------------------------------------------------------------------------------
    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def _epochs_text(self) -> str:
        return ", ".join(map(str, self.available)) or "none"

    def _splits_text(self) -> str:
        parts = []
        for epochs, columns in self.available.items():
            splits = [s for s in SPLITS if column(s) in columns]
            halfway = [s for s in SPLITS if column(s, halfway=True) in columns]
            text = f"{'/'.join(splits) or 'none'} at {epochs} epochs"
            parts.append(text + (f" (halfway: {'/'.join(halfway)})" if halfway else ""))
        return "; ".join(parts)

    def _column(self, split: str, epochs: int | None, halfway: bool = False) -> tuple[str, int]:
        if split not in SPLITS:
            raise BenchmarkError(f"unknown split {split!r}; accepted: {', '.join(SPLITS)}")
        epochs = self.default_epochs if epochs is None else epochs
        if epochs not in self.available:
            raise BenchmarkError(
                f"{self.path} has no {epochs!r}-epoch results; available epochs: {self._epochs_text()}"
            )
        name = column(split, halfway)
        if name not in self.available[epochs]:
            when = "halfway through" if halfway else "after"
            raise BenchmarkError(
                f"{self.path} has no {split!r} accuracy {when} {epochs} epochs; available: {self._splits_text()}"
            )
        return name, epochs

    def _hash(self, arch: Arch) -> str:

        try:
            cell = nb101.parse(arch) if isinstance(arch, str) else arch
            if not isinstance(cell, nb101.Cell):
                raise ArchitectureError(f"expected a NAS-Bench-101 Cell or string, got {type(arch).__name__}")
            return nb101.module_hash(cell)
        except ArchitectureError as exc:
            raise BenchmarkError(f"{arch!r} is not a NAS-Bench-101 architecture: {exc}") from exc

    def _describe(self, arch: Arch) -> str:

        return nb101.to_str(arch) if isinstance(arch, nb101.Cell) else repr(arch)

    def _cell_id(self, module_hash: str, what: str) -> int:
        rows = self._query("SELECT id FROM cells WHERE hash = ?", (module_hash,))
        if not rows:
            raise BenchmarkError(f"{self.path} has no record of {what} (module hash {module_hash})")
        return int(rows[0][0])

    def _mean(self, module_hash: str, col: str, epochs: int, what: str) -> float:
        cell_id = self._cell_id(module_hash, what)
        value, count = self._query(
            f"SELECT AVG({col}), COUNT({col}) FROM runs WHERE cell = ? AND epochs = ?", (cell_id, epochs)
        )[0]
        if not count:
            raise BenchmarkError(f"{self.path} has no {col} at {epochs} epochs for {what} (module hash {module_hash})")
        return float(value)

    @staticmethod
    def _cell(adjacency: str, ops: str) -> Any:

        return nb101.canonical(nb101.cell_from_flat(adjacency, ops))

    # -- Benchmark ---------------------------------------------------------------------------------
    def accuracy(self, arch: Arch, split: str = "test", epochs: int | None = None, *, halfway: bool = False) -> float:
        """Accuracy (%) of ``arch`` (a Cell or its string) averaged over repeats; ``halfway``: at the
        official halfway evaluation of the ``epochs`` schedule."""
        col, epochs = self._column(split, epochs, halfway)
        return self._mean(self._hash(arch), col, epochs, f"cell {self._describe(arch)}")

    def accuracy_by_hash(
        self, module_hash: str, split: str = "test", epochs: int | None = None, *, halfway: bool = False
    ) -> float:
        """:meth:`accuracy` of the cell with this official module hash."""
        col, epochs = self._column(split, epochs, halfway)
        return self._mean(module_hash, col, epochs, "this cell")

    def cost(self, arch: Arch, key: str) -> float | None:
        """``params`` / ``flops`` (millions) or ``train_seconds`` (mean at the default epochs); None
        for other keys and values the source does not record."""
        if key not in COST_KEYS:
            return None
        module_hash = self._hash(arch)
        what = f"cell {self._describe(arch)}"
        if key == "train_seconds":
            if "train_seconds" not in self.available[self.default_epochs]:
                return None
            try:
                return self._mean(module_hash, "train_seconds", self.default_epochs, what)
            except BenchmarkError:
                self._cell_id(module_hash, what)  # unknown cells still raise
                return None
        cell_id = self._cell_id(module_hash, what)
        value = self._query(f"SELECT {key} FROM cells WHERE id = ?", (cell_id,))[0][0]
        return None if value is None else float(value)

    def splits(self, epochs: int | None = None, halfway: bool = False) -> tuple[str, ...]:
        """The splits with accuracies at ``epochs`` (default epochs when None), e.g. ``("valid",)`` for the
        JSON tables and ``("train", "valid", "test")`` for the official files."""
        epochs = self.default_epochs if epochs is None else epochs
        return tuple(s for s in SPLITS if column(s, halfway) in self.available.get(epochs, ()))

    def runs(self, arch: Arch, epochs: int | None = None) -> list[dict[str, float | None]]:
        """The individual training runs of ``arch`` at ``epochs`` (default epochs when None), by repeat."""
        epochs = self.default_epochs if epochs is None else epochs
        cell_id = self._cell_id(self._hash(arch), f"cell {self._describe(arch)}")
        rows = self._query(
            f"SELECT repeat, {', '.join(RUN_COLUMNS)} FROM runs WHERE cell = ? AND epochs = ? ORDER BY repeat",
            (cell_id, epochs),
        )
        return [dict(zip(("repeat", *RUN_COLUMNS), row, strict=True)) for row in rows]

    def hashes(self, epochs: int | None = None) -> Iterator[str]:
        """Module hashes of the cells with runs at ``epochs`` (default epochs when None)."""
        epochs = self.default_epochs if epochs is None else epochs
        sql = f"SELECT hash FROM cells c WHERE {_HAS_RUNS}"
        for (digest,) in self._query(sql + " ORDER BY id", (epochs,)):
            yield digest

    def cell_by_hash(self, module_hash: str) -> Any:
        """The canonical Cell of a module hash."""
        rows = self._query("SELECT adjacency, ops FROM cells WHERE hash = ?", (module_hash,))
        if not rows:
            raise BenchmarkError(f"{self.path} has no cell with module hash {module_hash!r}")
        return self._cell(*rows[0])

    def archs(self) -> Iterator[Arch]:
        """Canonical Cells that have runs at the default epochs, in source order."""
        sql = f"SELECT adjacency, ops FROM cells c WHERE {_HAS_RUNS}"
        for adjacency, ops in self._query(sql + " ORDER BY id", (self.default_epochs,)):
            yield self._cell(adjacency, ops)

    def __len__(self) -> int:
        sql = f"SELECT COUNT(*) FROM cells c WHERE {_HAS_RUNS}"
        return int(self._query(sql, (self.default_epochs,))[0][0])

    def best(self, split: str = "test", epochs: int | None = None) -> tuple[Arch, float]:
        """The cell with the highest mean accuracy (ties: smallest module hash)."""
        col, epochs = self._column(split, epochs)
        rows = self._query(
            f"SELECT c.adjacency, c.ops, AVG(r.{col}) AS mean FROM runs r JOIN cells c ON c.id = r.cell "
            f"WHERE r.epochs = ? AND r.{col} IS NOT NULL GROUP BY r.cell ORDER BY mean DESC, c.hash LIMIT 1",
            (epochs,),
        )
        if not rows:
            raise BenchmarkError(f"{self.path} has no {split!r} accuracies at {epochs} epochs")
        adjacency, ops, value = rows[0]
        return self._cell(adjacency, ops), float(value)

    def noise_ceiling(self) -> float | None:
        """Mean Kendall tau-b between the repeats' accuracies (test, else valid) at the default epochs,
        over repeat pairs; None for sources without repeats (the JSON tables hold sampled runs)."""
        if self._ceiling is not False:
            return self._ceiling  # type: ignore[return-value]
        self._ceiling = None
        if self.meta.get("repeats") != "runs":
            return None
        import itertools

        import numpy as np

        columns = self.available[self.default_epochs]
        col = next((column(s) for s in ("test", "valid") if column(s) in columns), None)
        if col is None:
            return None
        rows = self._query(
            f"SELECT cell, repeat, {col} FROM runs WHERE epochs = ? AND {col} IS NOT NULL", (self.default_epochs,)
        )
        by_repeat: dict[int, dict[int, float]] = {}
        for cell, repeat, value in rows:
            by_repeat.setdefault(int(repeat), {})[int(cell)] = float(value)
        taus = []
        for a, b in itertools.combinations(sorted(by_repeat), 2):
            both = sorted(by_repeat[a].keys() & by_repeat[b].keys())
            if len(both) >= 2:
                x = np.array([by_repeat[a][c] for c in both])
                y = np.array([by_repeat[b][c] for c in both])
                taus.append(kendall_tau(x, y))
        self._ceiling = float(np.mean(taus)) if taus else None
        return self._ceiling

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"NB101Benchmark({str(self.path)!r}, format={self.format!r}, epochs={self.default_epochs})"
