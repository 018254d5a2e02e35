"""Ground truth from a table: one row per architecture (or per architecture and seed).

A :class:`TableBenchmark` reads a CSV (``.csv``, ``.tsv``, compressed ``.csv.gz`` ...) or Parquet
(``.parquet``/``.pq``, needs ``pyarrow`` or ``fastparquet``) table whose columns a
:class:`TableSchema` names: one column of architecture strings (parsed by the search space's parse
function), one accuracy column per (data set, split) at the schema's default schedule, optional
accuracy columns of other schedules (e.g. NAS-Bench-201's 12-epoch one), optional cost columns and an
optional seed column (rows of the same architecture are then averaged over seeds).

When the space has a dense index (``index``/``from_index``/``size``, as NAS-Bench-201's official
index), the values live in numpy arrays keyed by that index and no per-row Python objects are kept.

Example::

    bench = NB201TableBenchmark("nb201_test_accuracy.csv", dataset="cifar10")
    bench.accuracy((3, 3, 4, 1, 3, 1))     # CIFAR-10 test accuracy (%) at 200 epochs
    bench.accuracy((3, 3, 4, 1, 3, 1), epochs=12)  # at 12 epochs, when the table has that column
    bench.best()                            # (arch, accuracy) of the table's best architecture
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas_harness.api import Arch, ArchitectureError, Benchmark, BenchmarkError
from nas_harness.spaces import nb201

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class TableSchema:
    """Which columns of a table hold what.

    ``accuracy_columns`` maps data set -> split -> column (accuracy in percent after
    ``accuracy_scale``) at the default schedule of ``epochs`` epochs; ``cost_columns`` maps data set ->
    cost key (``params``, ``flops``, ``latency``, ``train_seconds``) -> column. Columns named in
    ``optional_columns`` may be absent (their split or cost is then unavailable); every other column
    of the chosen data set is required.

    ``schedule_columns`` names the accuracy columns of other schedules than ``epochs``: epochs ->
    data set -> split -> column, e.g. ``{12: {"cifar10": {"test": "CIFAR10TestAccuracy12Epochs"}}}``.
    They are all optional, never decide which architectures a table has, and need ``epochs`` set
    (the default schedule's columns are ``accuracy_columns``, so ``epochs`` is not a key of it).
    """

    arch_column: str
    accuracy_columns: Mapping[str, Mapping[str, str]]
    cost_columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    seed_column: str | None = None
    optional_columns: frozenset[str] = frozenset()
    epochs: int | None = None
    accuracy_scale: float = 1.0
    schedule_columns: Mapping[int, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for epochs in self.schedule_columns:
            if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
                raise ValueError(f"schedule_columns: key {epochs!r} is not a number of epochs (a positive int)")
        if self.schedule_columns and self.epochs is None:
            raise ValueError("schedule_columns needs the default schedule's epochs (epochs=...) to be set")
        if self.epochs in self.schedule_columns:
            raise ValueError(
                f"schedule_columns must not name the default schedule (epochs={self.epochs}): "
                "its columns are accuracy_columns"
            )

    def schedules_for(self, dataset: str) -> tuple[int, ...]:
        """The schedules (epochs) this schema names accuracy columns of for ``dataset``, default first."""
        others = [e for e, columns in self.schedule_columns.items() if columns.get(dataset)]
        return tuple(e for e in (self.epochs, *others) if e is not None)

    def accuracy_columns_at(self, dataset: str, epochs: int | None = None) -> Mapping[str, str]:
        """split -> column of ``dataset`` at ``epochs`` (None or ``self.epochs``: the default columns)."""
        if epochs is None or epochs == self.epochs:
            return self.accuracy_columns.get(dataset, {})
        return self.schedule_columns.get(epochs, {}).get(dataset, {})

    def columns_for(self, dataset: str) -> tuple[list[str], list[str]]:
        """(required, optional) columns for ``dataset`` (every other schedule's column is optional)."""
        cols = [self.arch_column]
        if self.seed_column:
            cols.append(self.seed_column)
        cols += list(self.accuracy_columns.get(dataset, {}).values())
        cols += list(self.cost_columns.get(dataset, {}).values())
        required = [c for c in cols if c not in self.optional_columns]
        optional = [c for c in cols if c in self.optional_columns]
        for columns in self.schedule_columns.values():
            optional += [c for c in columns.get(dataset, {}).values() if c not in required and c not in optional]
        return required, optional


def _describe_columns(schema: TableSchema, dataset: str) -> str:
    required, optional = schema.columns_for(dataset)
    text = f"expected columns {', '.join(required)}"
    if optional:
        text += f" (optional: {', '.join(optional)})"
    return text


def _cell(value: Any) -> Any:
    """A table cell as a plain Python value, for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


def _read_columns(path: Path, schema: TableSchema, dataset: str) -> Any:
    """The table's needed columns as a DataFrame; errors name the path and the expected columns."""
    import pandas as pd

    expected = _describe_columns(schema, dataset)
    kind = "Parquet" if _is_parquet(path) else "CSV"
    if not path.exists():
        raise BenchmarkError(f"{path}: no such file; expected a {kind} table with {expected}")
    if path.is_dir():
        raise BenchmarkError(f"{path} is a directory; expected a {kind} table file with {expected}")
    if path.stat().st_size == 0:
        raise BenchmarkError(f"{path} is empty; expected a {kind} table with a header row and {expected}")
    required, optional = schema.columns_for(dataset)
    sep = "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else ","
    try:
        if _is_parquet(path):
            try:
                import pyarrow.parquet as pq
            except ImportError:
                pq = None
            # without pyarrow: fastparquet, or the ImportError below
            header = list(pq.read_schema(path).names) if pq is not None else list(pd.read_parquet(path).columns)
        else:
            header = list(pd.read_csv(path, nrows=0, sep=sep).columns)
    except ImportError as exc:
        raise BenchmarkError(
            f"{path}: reading Parquet needs pyarrow or fastparquet (pip install pyarrow); "
            f"or give a CSV table with {expected}"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise BenchmarkError(f"{path} is empty; expected a {kind} table with a header row and {expected}") from exc
    except Exception as exc:
        raise BenchmarkError(
            f"{path}: cannot read it as a {kind} table ({type(exc).__name__}: {exc}); {expected}"
        ) from exc
    missing = [c for c in required if c not in header]
    if missing:
        raise BenchmarkError(
            f"{path}: missing column(s) {', '.join(missing)} for data set {dataset!r}; {expected}; "
            f"the file has columns {', '.join(map(str, header)) or '(none)'}"
        )
    wanted = required + [c for c in optional if c in header]
    try:
        if _is_parquet(path):
            frame = pd.read_parquet(path, columns=wanted)
        else:
            frame = pd.read_csv(path, usecols=wanted, sep=sep, dtype={schema.arch_column: str}, low_memory=False)
    except Exception as exc:
        raise BenchmarkError(
            f"{path}: cannot read it as a {kind} table ({type(exc).__name__}: {exc}); {expected}"
        ) from exc
    if len(frame) == 0:
        raise BenchmarkError(f"{path} has a header but no data rows; {expected}")
    return frame


class TableBenchmark(Benchmark):
    """A :class:`~nas_harness.api.Benchmark` read from a table (see the module docstring).

    Args:
        path: CSV or Parquet file.
        dataset: a data set the schema names (e.g. ``cifar10``).
        schema: the column mapping.
        parse: the space's string parser (raises :class:`ArchitectureError` for a bad string).
        space: registered name of the search space.
        index, from_index, size: a dense index of the space (arch -> 0..size-1 and back); with them
            the values are stored in arrays of length ``size`` keyed by that index.
        name: the benchmark's name in results.
    """

    name = "table"

    def __init__(
        self,
        path: str | os.PathLike[str],
        dataset: str,
        *,
        schema: TableSchema,
        parse: Callable[[str], Arch],
        space: str,
        index: Callable[[Arch], int] | None = None,
        from_index: Callable[[int], Arch] | None = None,
        size: int | None = None,
        name: str | None = None,
    ) -> None:
        if (index is None) != (from_index is None) or (index is None) != (size is None):
            raise ValueError("index, from_index and size must be given together")
        self.path = Path(path)
        self.schema = schema
        self.space = space
        self.name = name or self.name
        self.default_epochs = schema.epochs
        self._parse = parse
        self._index = index
        self._from_index = from_index
        if dataset not in schema.accuracy_columns:
            raise BenchmarkError(
                f"{self.path}: data set {dataset!r} is not in this table's schema; "
                f"accepted: {', '.join(schema.accuracy_columns)}"
            )
        self.dataset = dataset
        self._archs: list[Arch] | None = None  # only without a dense index
        self._positions: dict[Arch, int] | None = None
        self._acc: dict[str, np.ndarray] = {}  # the default schedule's splits
        self._sched: dict[int, dict[str, np.ndarray]] = {}  # other schedules' splits, by epochs
        self._cost: dict[str, np.ndarray] = {}
        self._load(size)

    # -- loading ---------------------------------------------------------------------------
    def _row_label(self, row: int) -> str:
        if _is_parquet(self.path):
            return f"row {row + 1}"
        return f"row {row + 1} (line {row + 2})"

    def _load(self, size: int | None) -> None:
        import pandas as pd

        schema, dataset = self.schema, self.dataset
        frame = _read_columns(self.path, schema, dataset)
        n_rows = len(frame)
        codes, uniques = pd.factorize(frame[schema.arch_column], use_na_sentinel=True)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise BenchmarkError(
                f"{self.path}: {self._row_label(row)}: column {schema.arch_column!r} is empty; "
                f"expected an architecture string of space {self.space!r}"
            )
        unique_pos = np.empty(len(uniques), dtype=np.int64)
        if self._index is None:
            self._archs, self._positions = [], {}
        for u, text in enumerate(uniques):
            try:
                arch = self._parse(str(text))
                if self._index is not None:
                    pos = int(self._index(arch))
                    if not 0 <= pos < (size or 0):
                        raise ValueError(f"index {pos} of {arch!r} is outside 0..{(size or 0) - 1}")
                else:
                    pos = self._positions.setdefault(arch, len(self._archs))
                    if pos == len(self._archs):
                        self._archs.append(arch)
            except (ArchitectureError, KeyError, ValueError, TypeError) as exc:
                row = int(np.flatnonzero(codes == u)[0])
                raise BenchmarkError(
                    f"{self.path}: {self._row_label(row)}: column {schema.arch_column!r} value {text!r} "
                    f"is not an architecture of space {self.space!r}: {exc}"
                ) from exc
            unique_pos[u] = pos
        row_pos = unique_pos[codes]
        del codes, uniques, unique_pos
        n_slots = size if size is not None else len(self._archs or ())

        seeds = None
        if schema.seed_column:
            seeds = self._numeric(frame, schema.seed_column, "a seed (a number)")
            missing = np.flatnonzero(np.isnan(seeds))
            if missing.size:
                raise BenchmarkError(
                    f"{self.path}: {self._row_label(int(missing[0]))}: column {schema.seed_column!r} is empty; "
                    "expected a seed (a number) in every row"
                )
        self._check_duplicates(row_pos, seeds)

        for split, column in schema.accuracy_columns[dataset].items():
            if column in frame.columns:
                self._acc[split] = self._average(row_pos, self._accuracy_values(frame, column), n_slots)
        for epochs, by_dataset in schema.schedule_columns.items():
            for split, column in by_dataset.get(dataset, {}).items():
                if column in frame.columns:
                    values = self._average(row_pos, self._accuracy_values(frame, column), n_slots)
                    self._sched.setdefault(epochs, {})[split] = values
        for key, column in schema.cost_columns.get(dataset, {}).items():
            if column in frame.columns:
                values = self._numeric(frame, column, f"a number ({key})")
                self._cost[key] = self._average(row_pos, values, n_slots)
        del frame
        if not self._acc:
            raise BenchmarkError(
                f"{self.path}: no accuracy column for {dataset!r}; {_describe_columns(schema, dataset)}"
            )
        present = np.ones(n_slots, dtype=bool)
        for values in self._acc.values():
            present &= np.isfinite(values)
        self._present = present
        if n_rows and not present.any():
            raise BenchmarkError(f"{self.path}: no row has every accuracy column of {dataset!r} filled")

    def _accuracy_values(self, frame: Any, column: str) -> np.ndarray:
        """An accuracy column as percent (after ``accuracy_scale``), checked to lie in 0..100."""
        scale = self.schema.accuracy_scale
        values = self._numeric(frame, column, "a number (accuracy in percent)") * scale
        bad = np.flatnonzero(np.isfinite(values) & ((values < 0) | (values > 100)))
        if bad.size:
            row = int(bad[0])
            raise BenchmarkError(
                f"{self.path}: {self._row_label(row)}: column {column!r} value {_cell(frame[column].iloc[row])!r} "
                f"is outside 0..100 after scaling by {scale} (accuracy in percent; "
                f"set the schema's accuracy_scale=100 for fractions)"
            )
        return values

    def _numeric(self, frame: Any, column: str, what: str) -> np.ndarray:
        import pandas as pd

        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(np.isnan(values) & raw.notna().to_numpy())
        if bad.size:
            row = int(bad[0])
            raise BenchmarkError(
                f"{self.path}: {self._row_label(row)}: column {column!r} value {_cell(raw.iloc[row])!r} is not {what}"
            )
        return values

    def _check_duplicates(self, row_pos: np.ndarray, seeds: np.ndarray | None) -> None:
        if seeds is None:
            order = np.argsort(row_pos, kind="stable")
            same = row_pos[order][1:] == row_pos[order][:-1]
        else:
            order = np.lexsort((seeds, row_pos))
            same = (row_pos[order][1:] == row_pos[order][:-1]) & (seeds[order][1:] == seeds[order][:-1])
        dup = np.flatnonzero(same)
        if dup.size:
            first, second = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
            arch = self._arch_at(int(row_pos[first]))
            if seeds is None:
                hint = (
                    "a table without a seed column must hold one row per architecture "
                    "(name a seed column in the schema to average over seeds)"
                )
            else:
                hint = f"each (architecture, {self.schema.seed_column}) pair must appear once"
            raise BenchmarkError(
                f"{self.path}: {self._row_label(first)} and {self._row_label(second)} both hold "
                f"architecture {self._arch_text(arch)}; {hint}"
            )

    @staticmethod
    def _average(row_pos: np.ndarray, values: np.ndarray, n_slots: int) -> np.ndarray:
        finite = np.isfinite(values)
        sums = np.bincount(row_pos[finite], weights=values[finite], minlength=n_slots)
        counts = np.bincount(row_pos[finite], minlength=n_slots)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = sums / counts
        mean[counts == 0] = np.nan
        return mean  # one row per architecture: sum / 1 keeps the value bit-exact

    # -- lookups ---------------------------------------------------------------------------
    def _arch_at(self, pos: int) -> Arch:
        if self._from_index is not None:
            return self._from_index(pos)
        assert self._archs is not None
        return self._archs[pos]

    def _arch_text(self, arch: Arch) -> str:
        return repr(arch)

    def _position(self, arch: Arch) -> int:
        try:
            if isinstance(arch, str):
                arch = self._parse(arch)
            if self._index is not None:
                return int(self._index(arch))
            assert self._positions is not None
            if arch not in self._positions:
                raise BenchmarkError(f"{self.path} holds no row for architecture {self._arch_text(arch)}")
            return self._positions[arch]
        except (ArchitectureError, KeyError, ValueError, TypeError) as exc:
            raise BenchmarkError(
                f"{arch!r} is not an architecture of space {self.space!r} ({exc}); benchmark {self.path}"
            ) from exc

    def _is_default(self, epochs: int | None) -> bool:
        """Whether ``epochs`` asks for the default columns (a schema without epochs takes any value, as
        it always has)."""
        return epochs is None or self.schema.epochs is None or epochs == self.schema.epochs

    def _available_text(self) -> str:
        """What the table has for its data set, e.g. ``test, valid at 200 epochs; test at 12 epochs``."""
        parts = [f"{', '.join(self.splits_at(e)) or 'none'} at {e} epochs" for e in self.schedules]
        return "; ".join(parts) or ", ".join(self._acc)

    def _values(self, split: str, epochs: int | None) -> np.ndarray:
        """The accuracies of ``split`` at ``epochs``; errors name the path, the request and what is accepted."""
        if self._is_default(epochs):
            return self._split_values(split)
        assert epochs is not None and self.schema.epochs is not None
        default = self.schema.epochs
        if epochs in self._sched:
            columns = self._sched[epochs]
            if split in columns:
                return columns[split]
            named = self.schema.accuracy_columns_at(self.dataset, epochs)
            if split in named:
                raise BenchmarkError(
                    f"{self.path} has no column {named[split]!r}, so no {split!r} split at {epochs} epochs for "
                    f"{self.dataset!r}; asked for split={split!r}, epochs={epochs}; "
                    f"accepted: {self._available_text()}"
                )
            raise BenchmarkError(
                f"unknown split {split!r} at {epochs} epochs for data set {self.dataset!r} in {self.path}; "
                f"asked for split={split!r}, epochs={epochs}; accepted: {self._available_text()}"
            )
        named = list(self.schema.accuracy_columns_at(self.dataset, epochs).values())
        lacks = f", and it has none of the {epochs}-epoch columns {', '.join(named)}" if named else ""
        if not self._sched:
            raise BenchmarkError(
                f"{self.path} holds only {default}-epoch results; asked for {epochs} epochs of {self.dataset!r}"
                f"{lacks} (accepted: epochs None or {default}; splits: {self._available_text()})"
            )
        raise BenchmarkError(
            f"{self.path} has no {epochs}-epoch results for {self.dataset!r}{lacks}; asked for split={split!r}, "
            f"epochs={epochs}; accepted epochs: None, {', '.join(map(str, self.schedules))} "
            f"(splits: {self._available_text()})"
        )

    def _split_values(self, split: str) -> np.ndarray:
        """The default schedule's accuracies of ``split``."""
        if split in self._acc:
            return self._acc[split]
        columns = self.schema.accuracy_columns[self.dataset]
        others = f" (all schedules: {self._available_text()})" if self._sched else ""
        if split in columns:
            raise BenchmarkError(
                f"{self.path} has no column {columns[split]!r}, so no {split!r} split for {self.dataset!r}; "
                f"available splits: {', '.join(self._acc)}{others}"
            )
        raise BenchmarkError(
            f"unknown split {split!r} for data set {self.dataset!r} in {self.path}; "
            f"available splits: {', '.join(self._acc)}{others}"
        )

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits this table has for its data set at the default schedule."""
        return tuple(self._acc)

    @property
    def schedules(self) -> tuple[int, ...]:
        """The schedules (epochs) this table has accuracies of for its data set, default first (empty when
        the schema names no epochs)."""
        default = () if self.schema.epochs is None else (self.schema.epochs,)
        return (*default, *self._sched)

    def splits_at(self, epochs: int | None = None) -> tuple[str, ...]:
        """The splits this table has for its data set at ``epochs`` (None: the default schedule)."""
        if epochs is None or self._is_default(epochs):
            return self.splits
        return tuple(self._sched.get(epochs, {}))

    @property
    def cost_keys(self) -> tuple[str, ...]:
        return tuple(self._cost)

    def accuracy(self, arch: Arch, split: str = "test", epochs: int | None = None) -> float:
        values = self._values(split, epochs)
        pos = self._position(arch)
        value = float(values[pos])
        if np.isnan(value):
            when = "" if self._is_default(epochs) else f" at {epochs} epochs"
            raise BenchmarkError(
                f"{self.path} has no {self.dataset!r} {split!r} accuracy{when} for architecture {self._arch_text(arch)}"
            )
        return value

    def accuracy_array(self, split: str = "test", epochs: int | None = None) -> np.ndarray:
        """All accuracies of ``split`` at ``epochs`` (None: the default schedule) as a read-only array by
        position (the space's index); NaN: absent."""
        view = self._values(split, epochs).view()
        view.flags.writeable = False
        return view

    def cost(self, arch: Arch, key: str) -> float | None:
        if key not in self._cost:
            return None
        value = float(self._cost[key][self._position(arch)])
        return None if np.isnan(value) else value

    def archs(self) -> Iterator[Arch]:
        """The architectures with a value in every accuracy column of this data set, by position."""
        for pos in np.flatnonzero(self._present):
            yield self._arch_at(int(pos))

    def __len__(self) -> int:
        return int(self._present.sum())

    def best(self, split: str = "test", epochs: int | None = None) -> tuple[Arch, float]:
        """The architecture with the highest ``split`` accuracy at ``epochs`` (None: the default schedule)."""
        values = self._values(split, epochs)
        if not np.isfinite(values).any():
            when = "" if self._is_default(epochs) else f" at {epochs} epochs"
            raise BenchmarkError(f"{self.path} has no {split!r} accuracy{when} for {self.dataset!r}")
        pos = int(np.nanargmax(values))
        return self._arch_at(pos), float(values[pos])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, dataset={self.dataset!r}, archs={len(self)})"


# -- NAS-Bench-201 preset --------------------------------------------------------------------------
#: data set -> column prefix of the NAS-Bench-201 table (``CIFAR10Valid``: the data set "cifar10-valid",
#: trained on CIFAR-10's train half; not to be confused with cifar10's ``CIFAR10ValidAccuracy200Epochs``)
NB201_TABLE_PREFIXES: dict[str, str] = {
    "cifar10": "CIFAR10",
    "cifar10-valid": "CIFAR10Valid",
    "cifar100": "CIFAR100",
    "ImageNet16-120": "ImageNet",
}
_NB201_PREFIX = NB201_TABLE_PREFIXES
#: the schedules of the NAS-Bench-201 table, default first
NB201_TABLE_EPOCHS: tuple[int, ...] = (200, 12)
#: cost key -> column suffix (``<P>Params`` ...), values from the 200-epoch records
NB201_TABLE_COSTS: dict[str, str] = {
    "params": "Params",
    "flops": "FLOPs",
    "latency": "Latency",
    "train_seconds": "TrainSeconds",
}


def nb201_table_column(dataset: str, split: str, epochs: int = 200) -> str:
    """The NAS-Bench-201 table's accuracy column of ``dataset``/``split`` at ``epochs``, e.g.
    ``CIFAR10ValidTestAccuracy12Epochs`` for ("cifar10-valid", "test", 12)."""
    return f"{NB201_TABLE_PREFIXES[dataset]}{split.capitalize()}Accuracy{epochs}Epochs"


def _nb201_schema() -> TableSchema:
    splits = ("test", "valid")
    default, *others = NB201_TABLE_EPOCHS
    accuracy = {ds: {s: nb201_table_column(ds, s, default) for s in splits} for ds in NB201_TABLE_PREFIXES}
    schedules = {
        e: {ds: {s: nb201_table_column(ds, s, e) for s in splits} for ds in NB201_TABLE_PREFIXES} for e in others
    }
    costs = {
        ds: {key: f"{p}{suffix}" for key, suffix in NB201_TABLE_COSTS.items()} for ds, p in NB201_TABLE_PREFIXES.items()
    }
    optional = {col for cols in accuracy.values() for split, col in cols.items() if split != "test"}
    optional |= {col for cols in costs.values() for col in cols.values()}
    return TableSchema(
        arch_column="ArchitectureString",
        accuracy_columns=accuracy,
        cost_columns=costs,
        optional_columns=frozenset(optional),
        epochs=default,
        schedule_columns=schedules,
    )


#: The official-layout NAS-Bench-201 table, one row per architecture: ``ArchitectureString`` and, per
#: data set prefix ``<P>`` (``CIFAR10`` -> cifar10, ``CIFAR10Valid`` -> cifar10-valid, ``CIFAR100`` ->
#: cifar100, ``ImageNet`` -> ImageNet16-120), accuracies in % (seed-averaged)
#: ``<P>TestAccuracy<E>Epochs`` (split "test") and ``<P>ValidAccuracy<E>Epochs`` (split "valid") for
#: ``<E>`` 200 (the default schedule) and 12, and costs of the 200-epoch records ``<P>Params`` (MB),
#: ``<P>FLOPs`` (M), ``<P>Latency`` (s) and ``<P>TrainSeconds`` (s, total training time). Only the chosen
#: data set's ``<P>TestAccuracy200Epochs`` is required; the reference table has just those of CIFAR10,
#: CIFAR100 and ImageNet.
NB201_TABLE_SCHEMA = _nb201_schema()


class NB201TableBenchmark(TableBenchmark):
    """NAS-Bench-201 ground truth from an official-layout table (see :data:`NB201_TABLE_SCHEMA`).

    Architectures are the space's tuples of six op indices; values are kept in arrays keyed by the
    official index. ``dataset`` is ``cifar10``, ``cifar10-valid``, ``cifar100`` or ``ImageNet16-120``;
    ``epochs`` of a query is None or 200 (the default) or 12 (when the table has 12-epoch columns).
    """

    name = "nb201.table"

    def __init__(
        self,
        path: str | os.PathLike[str],
        dataset: str = "cifar10",
        *,
        schema: TableSchema = NB201_TABLE_SCHEMA,
        name: str | None = None,
    ) -> None:

        super().__init__(
            path,
            dataset,
            schema=schema,
            parse=nb201.parse,
            space="nb201",
            index=nb201.arch_to_index,
            from_index=nb201.index_to_arch,
            size=nb201.NUM_ARCHS,
            name=name,
        )

    def _arch_text(self, arch: Arch) -> str:

        try:
            return f"{nb201.to_str(arch)} {tuple(arch)!r}"  # type: ignore[arg-type]
        except (ArchitectureError, TypeError):
            return repr(arch)
