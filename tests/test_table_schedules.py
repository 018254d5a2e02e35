"""nb201.table: every data set, split and schedule of the official NAS-Bench-201 file (as the .pth
converter writes them), the cost ``train_seconds``, and the errors for schedules and splits a table
does not have; plus the generic TableSchema.schedule_columns they rest on."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from nas_harness.api import BenchmarkError, ConfigError, Context
from nas_harness.benchmarks.table import (
    NB201_TABLE_SCHEMA,
    NB201TableBenchmark,
    TableBenchmark,
    TableSchema,
    nb201_table_column,
)
from nas_harness.oracle import Oracle
from nas_harness.spaces import nb201 as S

INDEXES = (0, 1, 42, 7777, 15624)
PREFIXES = {"cifar10": "CIFAR10", "cifar10-valid": "CIFAR10Valid", "cifar100": "CIFAR100", "ImageNet16-120": "ImageNet"}
#: NAS-Bench-201's splits per data set (cifar10: trained on train+valid, so test only)
SPLITS = {
    "cifar10": ("test",),
    "cifar10-valid": ("valid", "test"),
    "cifar100": ("valid", "test"),
    "ImageNet16-120": ("valid", "test"),
}
EPOCHS = (200, 12)
COSTS = {"params": "Params", "flops": "FLOPs", "latency": "Latency", "train_seconds": "TrainSeconds"}
#: the cifar10 valid column the schema has always had (not a column of the data set cifar10-valid)
LEGACY_C10_VALID = {200: "CIFAR10ValidAccuracy200Epochs", 12: "CIFAR10ValidAccuracy12Epochs"}


def _accuracy_columns() -> list[tuple[str, str, int, str]]:
    """(data set, split, epochs, column) of every accuracy column the converter writes, spelled out by hand."""
    return [
        (ds, split, e, f"{p}{split.capitalize()}Accuracy{e}Epochs")
        for ds, p in PREFIXES.items()
        for split in SPLITS[ds]
        for e in EPOCHS
    ]


def _value(column: str, index: int) -> float:
    """A distinct accuracy (%) per column and architecture, exact in binary and in CSV."""
    names = [c for *_, c in _accuracy_columns()] + list(LEGACY_C10_VALID.values())
    return 2.0 + 5.0 * names.index(column) + 0.25 * (index % 8)


def _cost(dataset: str, key: str, index: int) -> float:
    return 1000.0 * (list(PREFIXES).index(dataset) + 1) + 10.0 * list(COSTS).index(key) + 0.5 * (index % 8)


def _write_table(path: Path, indexes=INDEXES, columns=None, legacy: bool = False, blanks=()) -> Path:
    """A converter-style table; ``columns`` (default: all) restricts the accuracy columns, ``legacy`` adds
    cifar10's own valid columns, ``blanks`` is a set of (index, column) cells left empty."""
    acc = [c for *_, c in _accuracy_columns()] if columns is None else list(columns)
    if legacy:
        acc += list(LEGACY_C10_VALID.values())
    costs = [(ds, key, f"{p}{suffix}") for ds, p in PREFIXES.items() for key, suffix in COSTS.items()]
    header = ["ArchitectureString", *acc, *(c for *_, c in costs)]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in indexes:
            row = [S.to_str(S.index_to_arch(i))]
            row += ["" if (i, c) in blanks else repr(_value(c, i)) for c in acc]
            row += [repr(_cost(ds, key, i)) for ds, key, _ in costs]
            writer.writerow(row)
    return path


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_table(tmp_path_factory.mktemp("sched") / "nb201_full.csv")


@pytest.fixture(scope="module")
def full_legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_table(tmp_path_factory.mktemp("sched") / "nb201_legacy.csv", legacy=True)


# -- every data set / split / schedule / cost --------------------------------------------------------
@pytest.mark.parametrize("dataset", list(PREFIXES))
def test_every_accuracy_column_is_served(full: Path, dataset: str) -> None:
    bench = NB201TableBenchmark(full, dataset)
    assert bench.dataset == dataset and bench.default_epochs == 200
    assert bench.schedules == (200, 12)
    assert set(bench.splits) == set(SPLITS[dataset]) and set(bench.splits_at(12)) == set(SPLITS[dataset])
    assert bench.splits_at(None) == bench.splits_at(200) == bench.splits
    for ds, split, epochs, column in _accuracy_columns():
        if ds != dataset:
            continue
        asked = [epochs] if epochs != 200 else [None, 200]
        for e in asked:
            array = bench.accuracy_array(split, epochs=e)
            assert not array.flags.writeable
            for i in INDEXES:
                arch = S.index_to_arch(i)
                assert bench.accuracy(arch, split, epochs=e) == _value(column, i), (column, e, i)
                assert bench.accuracy(S.to_str(arch), split=split, epochs=e) == _value(column, i)
                assert array[i] == _value(column, i)
            assert np.isnan(array[5])  # an architecture the table does not have
        best = max(INDEXES, key=lambda i: _value(column, i))
        assert bench.best(split, epochs=epochs) == (S.index_to_arch(best), _value(column, best))
    assert sorted(bench.archs()) == sorted(S.index_to_arch(i) for i in INDEXES)


@pytest.mark.parametrize("dataset", list(PREFIXES))
def test_every_cost_is_served_with_train_seconds(full: Path, dataset: str) -> None:
    bench = NB201TableBenchmark(full, dataset)
    assert bench.cost_keys == ("params", "flops", "latency", "train_seconds")
    for i in INDEXES:
        for key in COSTS:
            assert bench.cost(S.index_to_arch(i), key) == _cost(dataset, key, i), (key, i)
    assert bench.cost(S.index_to_arch(0), "energy") is None


def test_the_12_epoch_schedule_is_not_the_200_epoch_one(full: Path) -> None:
    bench = NB201TableBenchmark(full, "cifar100")
    arch = S.index_to_arch(42)
    values = {bench.accuracy(arch, s, e) for s in ("test", "valid") for e in (200, 12)}
    assert len(values) == 4
    assert bench.accuracy(arch, "valid", 12) == _value("CIFAR100ValidAccuracy12Epochs", 42)


def test_oracle_on_the_12_epoch_valid_split_charges_train_seconds_pro_rata(full: Path) -> None:
    bench = NB201TableBenchmark(full, "ImageNet16-120")
    arch = S.index_to_arch(7777)
    ctx = Context(space=None, seed=0)  # type: ignore[arg-type]
    oracle = Oracle(benchmark=bench, split="valid", epochs=12)
    oracle.prepare(Context(space=None, seed=0, candidates=[arch]))  # type: ignore[arg-type]
    assert oracle.score(arch, ctx) == _value("ImageNetValidAccuracy12Epochs", 7777)
    seconds = _cost("ImageNet16-120", "train_seconds", 7777)
    assert oracle.charged_seconds(arch, ctx) == pytest.approx(seconds * 12 / 200)
    assert Oracle(benchmark=bench).charged_seconds(arch, ctx) == seconds
    with pytest.raises(ConfigError, match=r"epochs = 36.*no 36-epoch results"):
        Oracle(benchmark=bench, epochs=36).prepare(Context(space=None, seed=0, candidates=[arch]))  # type: ignore[arg-type]


# -- cifar10 versus cifar10-valid ---------------------------------------------------------------------
def test_schema_column_names_never_collide() -> None:
    owner: dict[str, tuple] = {}
    schema = NB201_TABLE_SCHEMA
    for ds in PREFIXES:
        named = [(ds, s, 200, c) for s, c in schema.accuracy_columns[ds].items()]
        named += [(ds, s, e, c) for e, by_ds in schema.schedule_columns.items() for s, c in by_ds[ds].items()]
        named += [(ds, key, None, c) for key, c in schema.cost_columns[ds].items()]
        for *what, column in named:
            assert column not in owner, f"{column} names both {owner[column]} and {tuple(what)}"
            owner[column] = tuple(what)
    assert owner["CIFAR10ValidAccuracy200Epochs"] == ("cifar10", "valid", 200)
    assert owner["CIFAR10ValidValidAccuracy200Epochs"] == ("cifar10-valid", "valid", 200)
    assert owner["CIFAR10ValidTestAccuracy200Epochs"] == ("cifar10-valid", "test", 200)
    assert owner["CIFAR10ValidTestAccuracy12Epochs"] == ("cifar10-valid", "test", 12)
    assert owner["CIFAR10ValidTrainSeconds"] == ("cifar10-valid", "train_seconds", None)
    for ds, split, epochs, column in _accuracy_columns():
        assert nb201_table_column(ds, split, epochs) == column
        assert schema.accuracy_columns_at(ds, None if epochs == 200 else epochs)[split] == column


def test_cifar10_and_cifar10_valid_are_not_confused(full: Path, full_legacy: Path) -> None:
    arch = S.index_to_arch(42)
    c10 = NB201TableBenchmark(full, "cifar10")
    c10v = NB201TableBenchmark(full, "cifar10-valid")
    # the converter writes no cifar10 valid column: cifar10 must not take cifar10-valid's
    assert c10.splits == ("test",) and c10.splits_at(12) == ("test",)
    for epochs in (None, 12):
        with pytest.raises(BenchmarkError, match=r"no column 'CIFAR10Valid(Accuracy200|Accuracy12)Epochs'"):
            c10.accuracy(arch, "valid", epochs)
    assert c10.accuracy(arch) == _value("CIFAR10TestAccuracy200Epochs", 42)
    assert c10v.accuracy(arch) == _value("CIFAR10ValidTestAccuracy200Epochs", 42)
    assert c10v.accuracy(arch, "valid") == _value("CIFAR10ValidValidAccuracy200Epochs", 42)
    assert c10v.accuracy(arch, "test", 12) == _value("CIFAR10ValidTestAccuracy12Epochs", 42)
    assert c10v.accuracy(arch, "valid", 12) == _value("CIFAR10ValidValidAccuracy12Epochs", 42)
    assert c10.cost(arch, "train_seconds") == _cost("cifar10", "train_seconds", 42)
    assert c10v.cost(arch, "train_seconds") == _cost("cifar10-valid", "train_seconds", 42)
    # with cifar10's own valid columns as well, each data set reads its own
    c10 = NB201TableBenchmark(full_legacy, "cifar10")
    c10v = NB201TableBenchmark(full_legacy, "cifar10-valid")
    assert c10.splits == ("test", "valid") and c10.splits_at(12) == ("test", "valid")
    assert c10.accuracy(arch, "valid") == _value("CIFAR10ValidAccuracy200Epochs", 42)
    assert c10.accuracy(arch, "valid", 12) == _value("CIFAR10ValidAccuracy12Epochs", 42)
    assert c10v.accuracy(arch, "valid") == _value("CIFAR10ValidValidAccuracy200Epochs", 42)
    assert c10v.accuracy(arch, "valid", 12) == _value("CIFAR10ValidValidAccuracy12Epochs", 42)


def test_cifar10_valid_needs_its_own_test_column(tmp_path: Path) -> None:
    only_c10 = [c for ds, *_, c in _accuracy_columns() if ds != "cifar10-valid"]
    path = _write_table(tmp_path / "no_c10v.csv", columns=only_c10, legacy=True)
    assert NB201TableBenchmark(path, "cifar10").accuracy(S.index_to_arch(1), "valid") == _value(
        "CIFAR10ValidAccuracy200Epochs", 1
    )
    with pytest.raises(
        BenchmarkError,
        match=r"no_c10v\.csv: missing column\(s\) CIFAR10ValidTestAccuracy200Epochs for data set 'cifar10-valid'",
    ):
        NB201TableBenchmark(path, "cifar10-valid")


# -- schedules and splits a table does not have --------------------------------------------------------
def test_a_missing_12_epoch_column_names_what_is_accepted(tmp_path: Path) -> None:
    columns = [c for *_, c in _accuracy_columns() if c != "CIFAR100ValidAccuracy12Epochs"]
    path = _write_table(tmp_path / "no_valid12.csv", columns=columns)
    bench = NB201TableBenchmark(path, "cifar100")
    assert bench.splits == ("test", "valid") and bench.splits_at(12) == ("test",)
    with pytest.raises(BenchmarkError) as info:
        bench.accuracy(S.index_to_arch(0), "valid", epochs=12)
    text = str(info.value)
    assert text.startswith(str(path))
    assert "no column 'CIFAR100ValidAccuracy12Epochs'" in text
    assert "asked for split='valid', epochs=12" in text
    assert "accepted: test, valid at 200 epochs; test at 12 epochs" in text
    with pytest.raises(BenchmarkError, match=r"no column 'CIFAR100ValidAccuracy12Epochs'"):
        bench.accuracy_array("valid", epochs=12)
    with pytest.raises(BenchmarkError, match=r"unknown split 'train' at 12 epochs.*accepted: test, valid at 200"):
        bench.accuracy(S.index_to_arch(0), "train", epochs=12)
    with pytest.raises(BenchmarkError, match=r"available splits: test, valid \(all schedules: test, valid at 200"):
        bench.accuracy(S.index_to_arch(0), "train")
    # the other data sets keep their 12-epoch valid split
    assert NB201TableBenchmark(path, "ImageNet16-120").splits_at(12) == ("test", "valid")


def test_a_table_without_12_epoch_columns_refuses_epochs_12(tmp_path: Path) -> None:
    only_200 = [c for _, _, e, c in _accuracy_columns() if e == 200]
    path = _write_table(tmp_path / "only200.csv", columns=only_200)
    bench = NB201TableBenchmark(path, "cifar10-valid")
    assert bench.schedules == (200,) and bench.splits_at(12) == ()
    assert bench.accuracy(S.index_to_arch(0), "valid") == _value("CIFAR10ValidValidAccuracy200Epochs", 0)
    with pytest.raises(BenchmarkError) as info:
        bench.accuracy(S.index_to_arch(0), "valid", epochs=12)
    text = str(info.value)
    assert text.startswith(f"{path} holds only 200-epoch results; asked for 12 epochs of 'cifar10-valid'")
    assert "none of the 12-epoch columns CIFAR10ValidTestAccuracy12Epochs, CIFAR10ValidValidAccuracy12Epochs" in text
    assert text.endswith("(accepted: epochs None or 200; splits: test, valid at 200 epochs)")


def test_an_unknown_schedule_is_refused(full: Path, tmp_path: Path) -> None:
    bench = NB201TableBenchmark(full, "cifar10")
    arch = S.index_to_arch(0)
    expected = (
        rf"{re.escape(str(full))} has no 36-epoch results for 'cifar10'; asked for split='test', epochs=36; "
        r"accepted epochs: None, 200, 12 \(splits: test at 200 epochs; test at 12 epochs\)"
    )
    with pytest.raises(BenchmarkError, match=expected):
        bench.accuracy(arch, epochs=36)
    with pytest.raises(BenchmarkError, match=expected):
        bench.accuracy_array(epochs=36)
    with pytest.raises(BenchmarkError, match=expected):
        bench.best(epochs=36)
    reference_layout = _write_table(
        tmp_path / "ref.csv", columns=[f"{p}TestAccuracy200Epochs" for p in ("CIFAR10", "CIFAR100", "ImageNet")]
    )
    with pytest.raises(BenchmarkError, match=r"holds only 200-epoch results; asked for 36 epochs of 'cifar10' \("):
        NB201TableBenchmark(reference_layout).accuracy(arch, epochs=36)


# -- which architectures a table has ---------------------------------------------------------------------
def test_archs_follow_the_default_schedule(tmp_path: Path) -> None:
    blanks = {(1, "CIFAR10TestAccuracy200Epochs"), (42, "CIFAR10TestAccuracy12Epochs")}
    path = _write_table(tmp_path / "gaps.csv", blanks=blanks)
    bench = NB201TableBenchmark(path, "cifar10")
    assert S.index_to_arch(1) not in set(bench.archs())  # 12-epoch value only
    assert S.index_to_arch(42) in set(bench.archs())  # 200-epoch value only
    assert len(bench) == len(INDEXES) - 1
    assert bench.accuracy(S.index_to_arch(1), epochs=12) == _value("CIFAR10TestAccuracy12Epochs", 1)
    with pytest.raises(BenchmarkError, match=r"has no 'cifar10' 'test' accuracy at 12 epochs for architecture"):
        bench.accuracy(S.index_to_arch(42), epochs=12)
    with pytest.raises(BenchmarkError, match=r"has no 'cifar10' 'test' accuracy for architecture"):
        bench.accuracy(S.index_to_arch(1))


def test_a_bad_12_epoch_value_names_its_row_and_column(tmp_path: Path) -> None:
    path = _write_table(tmp_path / "bad.csv", indexes=(0,))
    text = path.read_text().splitlines()
    header = text[0].split(",")
    cells = text[1].split(",")
    cells[header.index("CIFAR100TestAccuracy12Epochs")] = "101.5"
    path.write_text("\n".join([text[0], ",".join(cells)]) + "\n")
    with pytest.raises(
        BenchmarkError, match=r"row 1 \(line 2\): column 'CIFAR100TestAccuracy12Epochs' value 101\.5 is outside"
    ):
        NB201TableBenchmark(path, "cifar100")
    assert NB201TableBenchmark(path, "cifar10").schedules == (200, 12)  # another data set's column is not read


# -- the generic schema ----------------------------------------------------------------------------------
def test_schema_schedule_columns_are_checked() -> None:
    base = {"arch_column": "a", "accuracy_columns": {"toy": {"test": "acc"}}}
    with pytest.raises(ValueError, match=r"must not name the default schedule \(epochs=50\)"):
        TableSchema(**base, epochs=50, schedule_columns={50: {"toy": {"test": "acc50"}}})
    with pytest.raises(ValueError, match=r"needs the default schedule's epochs"):
        TableSchema(**base, schedule_columns={12: {"toy": {"test": "acc12"}}})
    with pytest.raises(ValueError, match=r"key '12' is not a number of epochs"):
        TableSchema(**base, epochs=50, schedule_columns={"12": {"toy": {"test": "acc12"}}})  # type: ignore[dict-item]
    schema = TableSchema(**base, epochs=50, schedule_columns={12: {"toy": {"test": "acc12"}}})
    assert schema.columns_for("toy") == (["a", "acc"], ["acc12"])
    assert schema.schedules_for("toy") == (50, 12) and schema.schedules_for("other") == (50,)


def test_generic_table_averages_other_schedules_over_seeds(tmp_path: Path) -> None:
    schema = TableSchema(
        arch_column="cell",
        seed_column="seed",
        accuracy_columns={"toy": {"test": "acc"}},
        epochs=50,
        accuracy_scale=100.0,
        schedule_columns={5: {"toy": {"test": "acc5", "valid": "val5"}}},
    )
    path = tmp_path / "toy.csv"
    path.write_text("cell,seed,acc,acc5,val5\nA,0,0.5,0.25,0.125\nA,1,0.75,0.5,0.375\nB,0,0.625,,0.5\n")
    bench = TableBenchmark(path, "toy", schema=schema, parse=str, space="toy")
    assert bench.schedules == (50, 5) and bench.splits == ("test",) and bench.splits_at(5) == ("test", "valid")
    assert bench.accuracy("A") == 62.5 and bench.accuracy("A", epochs=5) == 37.5
    assert bench.accuracy("A", "valid", epochs=5) == 25.0 and bench.accuracy("B", "valid", 5) == 50.0
    assert list(bench.archs()) == ["A", "B"]
    with pytest.raises(BenchmarkError, match=r"has no 'toy' 'test' accuracy at 5 epochs for architecture 'B'"):
        bench.accuracy("B", epochs=5)
    with pytest.raises(
        BenchmarkError,
        match=r"unknown split 'valid' for data set 'toy' in .*toy\.csv; available splits: test "
        r"\(all schedules: test at 50 epochs; test, valid at 5 epochs\)",
    ):
        bench.accuracy("A", "valid")
