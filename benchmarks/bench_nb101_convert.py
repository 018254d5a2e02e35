"""Time and memory of converting NAS-Bench-101 TFRecord records into the SQLite store.

Run (under a minute; most of it writes the synthetic files)::

    python -m pytest benchmarks/bench_nb101_convert.py --benchmark-only -q -s

A synthetic TFRecord file of 10,000 records in the official layout (3,334 valid random cells, three
repeats each, 108 epochs; :func:`tests.helpers.nb101_fixtures.random_records`) is converted by
:func:`nas_harness.benchmarks.nb101.convert_records` (CRC checks, record decoding, module-hash check,
SHA-256, batched inserts). Memory comes from fresh processes: peak RSS (``VmHWM``) above the RSS
before converting, and tracemalloc's peak of Python allocations; tracemalloc is also taken for a
40,000-record file, to show that the peak does not grow with the number of records.

Official size (opt-in: minutes per file, about 2 GB of disk)::

    NB101_FULL_SIZE=1 python -m pytest benchmarks/bench_nb101_convert.py -k official_size --benchmark-only -q -s

converts synthetic files with the official files' layout and size
(:func:`tests.helpers.nb101_fixtures.full_size_tfrecord`: all 423,624 graphs of the space; ``full``: epochs
4/12/36/108 x 3 repeats = 5,083,488 records like ``nasbench_full.tfrecord``; ``only108``: 1,270,872
records like ``nasbench_only108.tfrecord``), each once, in a fresh process: seconds, records/s and peak RSS
above the start. The files are built on first use (in a fresh process too, timed) into
``$NAS_HARNESS_SYNTHETIC_CACHE`` (default ``~/.cache/nas-harness/synthetic``) and reused afterwards.
Select one with ``-k 'official_size and only108'``.

Figures go to ``benchmark.extra_info`` (``--benchmark-json`` keeps them) and are printed.
"""

from __future__ import annotations

import os
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


FULL_SIZE_ENV = "NB101_FULL_SIZE"
_BUILD_SETUP = """
from tests.helpers import nb101_fixtures as F
"""
_BUILD_STEP = """
cpu = time.process_time()
extra["path"] = str(F.full_size_tfrecord(args[0]))
extra["cpu_s"] = time.process_time() - cpu
"""
_CONVERT_STEP = """
cpu = time.process_time()
summary = convert_records(args[0], args[1], progress=False)
extra = {"records": summary.records, "cells": summary.cells, "epochs": list(summary.epochs),
         "mismatches": summary.mismatches, "cpu_s": time.process_time() - cpu}
"""


@pytest.mark.parametrize("kind", ["full", "only108"])
def test_convert_official_size(benchmark, kind: str, tmp_path: Path) -> None:
    records = F.OFFICIAL_RECORDS[kind]
    if os.environ.get(FULL_SIZE_ENV) != "1":
        pytest.skip(f"{records:,} records, minutes to build and convert: set {FULL_SIZE_ENV}=1 to run it")
    source = F.full_size_path(kind)
    if source.is_file():
        build: dict[str, object] = {"build": f"reused from the cache ({source.parent})"}
    else:
        built = measure(_BUILD_SETUP, _BUILD_STEP, [kind])
        assert Path(str(built["path"])) == source
        build = {
            "build_s (fresh process)": built["seconds"],
            "build_cpu_s": built["cpu_s"],
            "build_peak_rss_above_start_MB": built["peak_rss_above_start_MB"],
        }
    store = tmp_path / f"{source.stem}.sqlite"
    runs: list[dict] = []

    def convert() -> None:
        store.unlink(missing_ok=True)
        runs.append(measure(_SETUP, _CONVERT_STEP, [str(source), str(store)], "plain"))

    load = os.getloadavg()[0]  # the machine is shared: CPU seconds below are the figure that load leaves alone
    benchmark.pedantic(convert, rounds=1, iterations=1)
    plain = runs[-1]
    assert plain["records"] == records and plain["cells"] == F.NB101_CELLS and plain["mismatches"] == 0
    assert tuple(plain["epochs"]) == F.KIND_EPOCHS[kind]
    size = source.stat().st_size
    figures = {
        "source": f"{source.name} ({records:,} records, {F.NB101_CELLS:,} cells)",
        "source_MB": size / MB,
        **build,
        "load_average_1min_before": load,
        "convert_s (fresh process)": plain["seconds"],
        "convert_cpu_s": plain["cpu_s"],
        "records_per_s": records / plain["seconds"],
        "source_MB_per_s": size / MB / plain["seconds"],
        "peak_rss_above_start_MB": plain["peak_rss_above_start_MB"],
        "rss_before_MB": plain["rss_before_MB"],
        "store_MB": store.stat().st_size / MB,
    }
    store.unlink()
    benchmark.extra_info.update(figures)
    print(f"\nNAS-Bench-101 TFRecord -> SQLite store conversion at official size ({kind})")
    for key, value in figures.items():
        print(f"  {key:40s} {value:.2f}" if isinstance(value, float) else f"  {key:40s} {value}")
