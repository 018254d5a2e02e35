"""NAS-Bench-101 ground truth from plain files (JSON, CSV), loaded into an in-memory store.

Both build the tables of :mod:`nas_harness.benchmarks.nb101_store` in an in-memory SQLite database,
keyed by the official module hash, so :class:`~nas_harness.benchmarks.nb101.NB101Benchmark` answers
the same way whatever the source. Entries of isomorphic cells (same hash) are runs of one cell:
accuracies are averaged over them, cell columns (params, flops) come from the first.

**JSON** (the zero-cost-proxy reference tables, e.g. ``nb101_cifar10_500.json``)::

    {"nasbench101": {"cifar10": {KEY: {"val_accuracy": 92.5, "params": 4.09, "flops": 624.5, ...}}}}

KEY is a tuple string of 56 ints: the 7x7 adjacency row-major, then 7 op codes (0 input, 1 output,
2 maxpool3x3, 3 conv1x1-bn-relu, 4 conv3x3-bn-relu). ``val_accuracy`` (%, 108 epochs) is required,
``test_accuracy`` (%) optional; ``params`` and ``flops`` (millions) optional; other keys (proxy
scores) are ignored. Each entry holds one sampled training run.

**CSV** (header row; one row per training run; empty cells mean "not recorded")::

    adjacency,ops,epochs,valid_accuracy,test_accuracy,params,train_seconds
    0110000100010000,"input,conv3x3-bn-relu,maxpool3x3,output",108,92.1,91.7,2.1,1150.3

* the cell: ``adjacency`` (row-major '0'/'1' string, as in the official records) and ``ops`` (labels
  joined by ','), or ``key`` (a JSON-table key); an optional ``hash`` column is checked against the
  cell's module hash;
* ``epochs`` (optional, default 108): the training budget of the row;
* ``train_accuracy``, ``valid_accuracy``, ``test_accuracy``: percent, at least one of them;
* optional ``params``, ``flops`` (millions), ``train_seconds``.

Rows of the same cell and epochs are repeats (averaged).
"""

from __future__ import annotations

import csv
import json
import math
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nas_harness.api import ArchitectureError, BenchmarkError
from nas_harness.benchmarks.nb101_store import RUN_COLUMNS, StoreBuilder, new_connection
from nas_harness.spaces.nb101 import cell_from_flat, cell_from_key, module_hash

JSON_EPOCHS = 108
JSON_LAYOUT = (
    'JSON {"nasbench101": {DATASET: {KEY: {"val_accuracy": %, "params": millions, "flops": millions, ...}}}} '
    "with KEY a tuple string of 49 adjacency ints and 7 op codes"
)
CSV_ARCH_COLUMNS = ("adjacency", "ops", "key")
CSV_ACCURACY_COLUMNS = {"train_accuracy": "train", "valid_accuracy": "valid", "test_accuracy": "test"}
CSV_LAYOUT = (
    "a CSV table with a header row, the cell in columns adjacency + ops (or key), optional hash and epochs, "
    "at least one of train_accuracy/valid_accuracy/test_accuracy (%), optional params, flops (millions), "
    "train_seconds"
)


def _flat(cell: Any) -> tuple[str, str]:
    return "".join(str(bit) for row in cell.matrix for bit in row), ",".join(cell.ops)


def _number(value: Any, low: float | None = None, high: float | None = None) -> float | None:
    """``value`` as a finite float within [low, high], or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
        return None
    return value


def _add(builder: StoreBuilder, cell: Any, params: float | None, flops: float | None) -> int:

    digest = module_hash(cell)
    known = builder.lookup(digest)
    if known is not None:
        return known[0]
    adjacency, ops = _flat(cell)
    return builder.add_cell(digest, adjacency, ops, params, flops)


def _values(**given: float | None) -> tuple[float | None, ...]:
    return tuple(given.get(c) for c in RUN_COLUMNS)


def load_json(path: str | Path, dataset: str = "cifar10") -> tuple[sqlite3.Connection, dict[str, str]]:
    """An in-memory store of a reference JSON table; errors name the file, the key and the value."""

    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except UnicodeDecodeError as exc:
        raise BenchmarkError(f"{path}: not UTF-8 text ({exc}); expected {JSON_LAYOUT}") from exc
    except json.JSONDecodeError as exc:
        raise BenchmarkError(f"{path}: not JSON ({exc}); expected {JSON_LAYOUT}") from exc
    if not isinstance(raw, dict) or "nasbench101" not in raw:
        found = sorted(map(str, raw))[:10] if isinstance(raw, dict) else type(raw).__name__
        raise BenchmarkError(f"{path}: top level holds {found}, not the key 'nasbench101'; expected {JSON_LAYOUT}")
    tables = raw["nasbench101"]
    if not isinstance(tables, dict):
        raise BenchmarkError(
            f"{path}: 'nasbench101' is a {type(tables).__name__}, not an object; expected {JSON_LAYOUT}"
        )
    if dataset not in tables:
        raise BenchmarkError(
            f"{path}: no data set {dataset!r} under 'nasbench101'; the file has {', '.join(map(str, tables)) or 'none'}"
        )
    entries = tables[dataset]
    if not isinstance(entries, dict) or not entries:
        raise BenchmarkError(f"{path}: 'nasbench101'/{dataset!r} is not a non-empty object of KEY -> metrics")
    conn = new_connection()
    builder = StoreBuilder(conn)
    for key, entry in entries.items():
        where = f"{path}: entry {key!r}"
        try:
            cell = cell_from_key(key)
        except ArchitectureError as exc:
            raise BenchmarkError(f"{where}: not a NAS-Bench-101 cell key: {exc}") from exc
        if not isinstance(entry, dict):
            raise BenchmarkError(f"{where}: holds a {type(entry).__name__}, not an object of metrics")
        metrics: dict[str, float | None] = {}
        for name, target, required in (
            ("val_accuracy", "valid_accuracy", True),
            ("test_accuracy", "test_accuracy", False),
        ):
            if name not in entry:
                if required:
                    raise BenchmarkError(f"{where}: no {name!r}; expected {JSON_LAYOUT}")
                continue
            value = _number(entry[name], 0.0, 100.0)
            if value is None:
                raise BenchmarkError(f"{where}: {name} = {entry[name]!r} is not an accuracy in percent (0..100)")
            metrics[target] = value
        costs = {}
        for name in ("params", "flops"):
            if entry.get(name) is not None:
                costs[name] = _number(entry[name], 0.0)
                if costs[name] is None:
                    raise BenchmarkError(f"{where}: {name} = {entry[name]!r} is not a number (millions)")
        cell_id = _add(builder, cell, costs.get("params"), costs.get("flops"))
        builder.add_run(cell_id, JSON_EPOCHS, _values(**metrics))
    meta = {"dataset": dataset, "source_format": "json", "source_name": path.name, "repeats": "draws"}
    builder.finish(meta)
    return conn, {k: str(v) for k, v in dict(conn.execute("SELECT key, value FROM meta")).items()}


def _csv_cell(row: Mapping[str, str | None], header: list[str], where: str) -> Any:

    try:
        if "adjacency" in header and "ops" in header:
            cell = cell_from_flat((row["adjacency"] or "").strip(), (row["ops"] or "").strip())
        else:
            cell = cell_from_key((row["key"] or "").strip())
    except ArchitectureError as exc:
        raise BenchmarkError(f"{where}: not a NAS-Bench-101 cell: {exc}") from exc
    stated = (row.get("hash") or "").strip()
    if stated and stated != module_hash(cell):
        raise BenchmarkError(f"{where}: hash {stated} is not the cell's module hash {module_hash(cell)}")
    return cell


def _csv_number(row: Mapping[str, str | None], name: str, where: str, what: str, **bounds: float) -> float | None:
    text = (row.get(name) or "").strip()
    if not text:
        return None
    try:
        value = _number(float(text), **bounds)
    except ValueError:
        value = None
    if value is None:
        raise BenchmarkError(f"{where}: column {name!r} value {text!r} is not {what}")
    return value


def load_csv(path: str | Path, dataset: str = "cifar10") -> tuple[sqlite3.Connection, dict[str, str]]:
    """An in-memory store of a CSV table (layout in the module docstring); errors name file, line, column."""
    path = Path(path)
    if dataset != "cifar10":
        raise BenchmarkError(f"{path}: a NAS-Bench-101 CSV table holds CIFAR-10 results; asked for {dataset!r}")
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise BenchmarkError(f"{path}: cannot open it ({exc})") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = [h.strip() for h in reader.fieldnames or []]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise BenchmarkError(f"{path}: cannot read it as CSV ({exc}); expected {CSV_LAYOUT}") from exc
        reader.fieldnames = header
        has_arch = ("adjacency" in header and "ops" in header) or "key" in header
        accuracy = [c for c in CSV_ACCURACY_COLUMNS if c in header]
        if not has_arch or not accuracy:
            raise BenchmarkError(f"{path}: the header has {', '.join(header) or 'no columns'}; expected {CSV_LAYOUT}")
        conn = new_connection()
        builder = StoreBuilder(conn)
        try:
            for line, row in enumerate(reader, start=2):
                where = f"{path}: line {line}"
                cell = _csv_cell(row, header, where)
                epochs_text = (row.get("epochs") or "").strip()
                try:
                    epochs = int(epochs_text) if epochs_text else JSON_EPOCHS
                except ValueError:
                    epochs = 0
                if epochs <= 0:
                    raise BenchmarkError(f"{where}: column 'epochs' value {epochs_text!r} is not a positive integer")
                values = {
                    c: _csv_number(row, c, where, "an accuracy in percent (0..100)", low=0.0, high=100.0)
                    for c in accuracy
                }
                values["train_seconds"] = _csv_number(row, "train_seconds", where, "a number of seconds", low=0.0)
                params = _csv_number(row, "params", where, "a number (millions)", low=0.0)
                flops = _csv_number(row, "flops", where, "a number (millions)", low=0.0)
                builder.add_run(_add(builder, cell, params, flops), epochs, _values(**values))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise BenchmarkError(f"{path}: cannot read it as CSV ({exc}); expected {CSV_LAYOUT}") from exc
    if builder.runs == 0:
        raise BenchmarkError(f"{path}: a header but no rows; expected {CSV_LAYOUT}")
    builder.finish({"dataset": dataset, "source_format": "csv", "source_name": path.name, "repeats": "runs"})
    return conn, dict(conn.execute("SELECT key, value FROM meta"))
