"""The real NAS-Bench-201 table (../shared/data/nb201/nb201_test_accuracy.csv) through the table benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nas_harness.benchmarks.table import NB201TableBenchmark
from nas_harness.spaces import nb201 as S

pytestmark = pytest.mark.realdata

COLUMNS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "ImageNet16-120": "ImageNetTestAccuracy200Epochs",
}


@pytest.fixture(scope="module")
def table_path(shared_data: Path) -> Path:
    return shared_data / "nb201" / "nb201_test_accuracy.csv"


@pytest.fixture(scope="module")
def frame(table_path: Path) -> pd.DataFrame:
    return pd.read_csv(table_path)  # read independently of the harness


def test_the_real_table_loads(table_path: Path) -> None:
    for dataset in COLUMNS:
        bench = NB201TableBenchmark(table_path, dataset=dataset)
        assert len(bench) == S.NUM_ARCHS
        assert len(set(bench.archs())) == S.NUM_ARCHS


def test_rows_are_in_official_index_order(frame: pd.DataFrame) -> None:
    assert len(frame) == S.NUM_ARCHS
    official = S.official_order()
    mismatches = [i for i, text in enumerate(frame["ArchitectureString"]) if S.parse(text) != official[i]]
    assert mismatches == [], f"{len(mismatches)} rows differ from official_order(), first at row {mismatches[:5]}"
    # and the strings are the canonical ones
    assert all(S.to_str(official[i]) == text for i, text in enumerate(frame["ArchitectureString"]))


def test_values_match_the_table_row_by_row(table_path: Path, frame: pd.DataFrame) -> None:
    for dataset, column in COLUMNS.items():
        bench = NB201TableBenchmark(table_path, dataset=dataset)
        # row i is official index i (checked above), so the arrays must be equal as they stand
        np.testing.assert_array_equal(bench.accuracy_array(), frame[column].to_numpy(dtype=np.float64))
        for i in (0, 1, 6111, S.NUM_ARCHS - 1):
            assert bench.accuracy(S.official_order()[i]) == frame[column].iloc[i]


def test_best_cifar10_architecture_is_the_table_argmax(table_path: Path, frame: pd.DataFrame) -> None:
    row = int(frame["CIFAR10TestAccuracy200Epochs"].to_numpy().argmax())
    want_arch = S.parse(frame["ArchitectureString"].iloc[row])
    want_acc = float(frame["CIFAR10TestAccuracy200Epochs"].iloc[row])
    arch, acc = NB201TableBenchmark(table_path, dataset="cifar10").best("test")
    print(f"best CIFAR-10 test architecture: index {S.arch_to_index(arch)} {S.to_str(arch)} {acc:.4f}%")
    assert arch == want_arch
    assert acc == want_acc
    assert S.arch_to_index(arch) == row
