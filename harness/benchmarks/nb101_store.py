"""The SQLite store that NAS-Bench-101 ground truth is converted into, and how it is built.

Layout (``FORMAT_NAME`` version ``FORMAT_VERSION``)::

    meta  (key TEXT PRIMARY KEY, value TEXT)             format, source name/size/sha256, counts, ...
    cells (id INTEGER PRIMARY KEY, hash TEXT UNIQUE,     one row per cell (official module hash);
           adjacency TEXT, ops TEXT,                     official record layout ('0'/'1' string, labels
           params REAL, flops REAL)                      joined by ','); params/flops in millions
    runs  (cell INTEGER, epochs INTEGER, repeat INTEGER, one row per training run (rowid: its record
           train_seconds REAL, train_accuracy REAL,      number in the source); accuracies in percent,
           valid_accuracy REAL, test_accuracy REAL,      seconds of training (no evaluation time);
           halfway_train_seconds REAL, halfway_...)      halfway_*: the official halfway evaluation

``runs.cell`` refers to ``cells.id`` (an integer keeps the 5 million runs of ``nasbench_full`` small);
``repeat`` numbers the runs of one (cell, epochs) in source order. ``params`` comes from the first
run of a cell, as the official API keeps the first record's ``trainable_parameters``.

:class:`StoreBuilder` fills these tables in batches (memory stays flat whatever the source size) for
:func:`nas_harness.benchmarks.nb101.convert_records` and for the JSON/CSV loaders, which build the same
tables in memory.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nas_harness.api import BenchmarkError

FORMAT_NAME = "nas-harness-nb101"
FORMAT_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
#: the accuracy splits, and the value columns of a run in insertion order
SPLITS: tuple[str, ...] = ("train", "valid", "test")
RUN_COLUMNS: tuple[str, ...] = (
    "train_seconds",
    "train_accuracy",
    "valid_accuracy",
    "test_accuracy",
    "halfway_train_seconds",
    "halfway_train_accuracy",
    "halfway_valid_accuracy",
    "halfway_test_accuracy",
)

SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cells (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    adjacency TEXT NOT NULL,
    ops TEXT NOT NULL,
    params REAL,
    flops REAL
);
CREATE TABLE runs (
    cell INTEGER NOT NULL REFERENCES cells(id),
    epochs INTEGER NOT NULL,
    repeat INTEGER,
    {", ".join(f"{c} REAL" for c in RUN_COLUMNS)}
);
"""


def column(split: str, halfway: bool = False) -> str:
    """The runs column of ``split``'s accuracy (final, or at the halfway evaluation)."""
    return f"{'halfway_' if halfway else ''}{split}_accuracy"


class StoreBuilder:
    """Fills an empty connection with the store's tables, in batches.

    ``cell_id`` returns the id of a cell by hash (adding it on first sight); ``add_run`` queues a run;
    ``finish`` numbers the repeats, indexes the runs and writes ``meta``. Only the current batch and
    a bounded cache of recently seen cells are held in memory.
    """

    def __init__(self, conn: sqlite3.Connection, batch_size: int = 5_000, cache_size: int = 4_096) -> None:
        self.conn = conn
        self.batch_size = batch_size
        self.cache_size = cache_size
        conn.executescript(SCHEMA)
        self._next_id = 1
        self._new_cells: list[tuple[Any, ...]] = []
        self._runs: list[tuple[Any, ...]] = []
        #: hash -> (id, adjacency, ops) of recently seen cells (cleared when full)
        self._recent: dict[str, tuple[int, str, str]] = {}
        self.cells = 0
        self.runs = 0

    def lookup(self, module_hash: str) -> tuple[int, str, str] | None:
        """``(id, adjacency, ops)`` of a cell already added, or None."""
        hit = self._recent.get(module_hash)
        if hit is None:
            row = self.conn.execute("SELECT id, adjacency, ops FROM cells WHERE hash = ?", (module_hash,)).fetchone()
            if row is not None:
                hit = (int(row[0]), row[1], row[2])
                self._remember(module_hash, hit)
        return hit

    def _remember(self, module_hash: str, entry: tuple[int, str, str]) -> None:
        if len(self._recent) >= self.cache_size:
            self.flush()  # a cell leaves the cache only once the database has it (lookup falls back to it)
            self._recent.clear()
        self._recent[module_hash] = entry

    def add_cell(self, module_hash: str, adjacency: str, ops: str, params: float | None, flops: float | None) -> int:
        """Add a cell not seen before; returns its id."""
        cell_id = self._next_id
        self._next_id += 1
        self._new_cells.append((cell_id, module_hash, adjacency, ops, params, flops))
        self._remember(module_hash, (cell_id, adjacency, ops))
        self.cells += 1
        return cell_id

    def add_run(self, cell_id: int, epochs: int, values: Sequence[float | None], record: int | None = None) -> None:
        """Queue one run; ``values`` follow :data:`RUN_COLUMNS`; ``record`` becomes its rowid."""
        self._runs.append((record, cell_id, epochs, *values))
        self.runs += 1
        if len(self._runs) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self._new_cells:
            self.conn.executemany("INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?)", self._new_cells)
            self._new_cells.clear()
        if self._runs:
            marks = ", ".join("?" * (len(RUN_COLUMNS) + 3))
            names = ", ".join(("rowid", "cell", "epochs", *RUN_COLUMNS))
            self.conn.executemany(f"INSERT INTO runs ({names}) VALUES ({marks})", self._runs)
            self._runs.clear()

    def finish(self, meta: Mapping[str, Any]) -> dict[int, list[str]]:
        """Number repeats, index runs, write ``meta`` (plus format, counts, availability); returns the
        availability: epochs -> the value columns that have data at that budget."""
        self.flush()
        self._recent.clear()
        conn = self.conn
        conn.execute(
            "UPDATE runs SET repeat = numbered.n FROM (SELECT rowid AS rid, "
            "ROW_NUMBER() OVER (PARTITION BY cell, epochs ORDER BY rowid) - 1 AS n FROM runs) AS numbered "
            "WHERE runs.rowid = numbered.rid"
        )
        conn.execute("CREATE UNIQUE INDEX runs_by_cell ON runs (cell, epochs, repeat)")
        available = availability(conn)
        rows = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "cells": self.cells,
            "runs": self.runs,
            "available": json.dumps({str(e): cols for e, cols in available.items()}),
            **meta,
        }
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in rows.items()])
        conn.commit()
        return available


def availability(conn: sqlite3.Connection) -> dict[int, list[str]]:
    """Epochs -> the value columns (of :data:`RUN_COLUMNS`) with at least one value."""
    counts = ", ".join(f"COUNT({c})" for c in RUN_COLUMNS)
    out: dict[int, list[str]] = {}
    for epochs, *n in conn.execute(f"SELECT epochs, {counts} FROM runs GROUP BY epochs ORDER BY epochs"):
        out[int(epochs)] = [c for c, k in zip(RUN_COLUMNS, n, strict=True) if k]
    return out


def new_connection(path: str | Path = ":memory:") -> sqlite3.Connection:
    """A connection tuned for one writer building a fresh store (no journal: the file is a temp file)."""
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -32768")  # 32 MB page cache
    return conn


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta"))


def open_store(path: str | Path) -> tuple[sqlite3.Connection, dict[str, str]]:
    """Open a converted store read-only and check its format; returns ``(connection, meta)``."""
    path = Path(path)
    hint = "convert the official file with `nas-harness data convert nb101 FILE`"
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise BenchmarkError(
            f"{path}: not an SQLite database (starts with {head!r}); expected a NAS-Bench-101 store; {hint}"
        )
    uri = f"file:{urllib.request.pathname2url(str(path.resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        meta = read_meta(conn)
    except sqlite3.DatabaseError as exc:
        raise BenchmarkError(f"{path}: not a NAS-Bench-101 store ({exc}); {hint}") from exc
    if meta.get("format") != FORMAT_NAME:
        conn.close()
        raise BenchmarkError(
            f"{path}: an SQLite database of format {meta.get('format')!r}, not a NAS-Bench-101 store "
            f"({FORMAT_NAME!r}); {hint}"
        )
    if meta.get("format_version") != str(FORMAT_VERSION):
        conn.close()
        raise BenchmarkError(
            f"{path}: NAS-Bench-101 store version {meta.get('format_version')}, this harness reads version "
            f"{FORMAT_VERSION}; {hint} again"
        )
    return conn, meta


def parse_available(meta: Mapping[str, str]) -> dict[int, list[str]]:
    return {int(e): list(cols) for e, cols in json.loads(meta["available"]).items()}


def rows_as_dicts(cursor: Iterable[Sequence[Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    return [dict(zip(names, row, strict=True)) for row in cursor]
