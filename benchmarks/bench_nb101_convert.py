"""Time and memory of converting NAS-Bench-101 TFRecord records into the SQLite store.

Run (under a minute; most of it writes the synthetic files)::

    python -m pytest benchmarks/bench_nb101_convert.py --benchmark-only -q -s

A synthetic TFRecord file of 10,000 records in the official layout (3,334 valid random cells, three
repeats each, 108 epochs; :func:`tests.helpers.nb101_fixtures.random_records`) is converted by
:func:`nas_harness.benchmarks.nb101.convert_records` (CRC checks, record decoding, module-hash check,
SHA-256, batched inserts). Memory comes from fresh processes: peak RSS (``VmHWM``) above the RSS
before converting, and tracemalloc's peak of Python allocations; tracemalloc is also taken for a
40,000-record file, to show that the peak does not grow with the number of records.

Figures go to ``benchmark.extra_info`` (``--benchmark-json`` keeps them) and are printed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.child_process import measure
from nas_harness.benchmarks.nb101 import convert_records
from tests.helpers import nb101_fixtures as F

MB = 1e6
RECORDS = 10_000


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("nb101")
    return {
        n: F.write_nb101_tfrecord(folder / f"synthetic_{n}.tfrecord", F.random_records(n, seed=n))
        for n in (RECORDS, 4 * RECORDS)
    }


_SETUP = """
from nas_harness.benchmarks.nb101 import convert_records
import nas_harness.spaces.nb101, tqdm  # imported before measuring
"""
_STEP = """
summary = convert_records(args[0], args[1], progress=False)
extra = {"records": summary.records, "cells": summary.cells}
"""


def _measure(source: Path, mode: str) -> dict[str, float]:
    store = source.with_name(f"{source.stem}-{mode}.sqlite")
    figures = measure(_SETUP, _STEP, [str(source), str(store)], mode)
    store.unlink()
    return figures


def test_convert_10k_records(benchmark, synthetic: dict[int, Path]) -> None:
    source = synthetic[RECORDS]
    store = source.with_suffix(".sqlite")

    def remove_store() -> None:
        store.unlink(missing_ok=True)

    plain = _measure(source, "plain")
    traced = _measure(source, "tracemalloc")
    traced_large = _measure(synthetic[4 * RECORDS], "tracemalloc")
    summary = benchmark.pedantic(
        convert_records, args=(source, store), kwargs={"progress": False}, setup=remove_store, rounds=3, iterations=1
    )
    assert summary.records == RECORDS and summary.cells == 3_334 and summary.mismatches == 0
    seconds = benchmark.stats.stats.median
    figures = {
        "source": f"{source.name} ({source.stat().st_size / MB:.2f} MB, {RECORDS} records, {summary.cells} cells)",
        "store_MB": store.stat().st_size / MB,
        "convert_s (median of 3, this process)": seconds,
        "records_per_s": RECORDS / seconds,
        "convert_s (fresh process)": plain["seconds"],
        "peak_rss_above_start_MB": plain["peak_rss_above_start_MB"],
        "rss_before_MB": plain["rss_before_MB"],
        "tracemalloc_peak_MB (10,000 records)": traced["tracemalloc_peak_MB"],
        "tracemalloc_peak_MB (40,000 records)": traced_large["tracemalloc_peak_MB"],
    }
    benchmark.extra_info.update(figures)
    print("\nNAS-Bench-101 TFRecord -> SQLite store conversion")
    for key, value in figures.items():
        print(f"  {key:40s} {value:.2f}" if isinstance(value, float) else f"  {key:40s} {value}")
