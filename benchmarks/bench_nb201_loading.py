"""Time and memory of loading NAS-Bench-201 ground truth.

Run (about 3 minutes, 2 GB of memory)::

    pytest benchmarks/bench_nb201_loading.py -s -p no:cacheprovider

* the 15,625-row table: the reference table (``../shared/data/nb201/nb201_test_accuracy.csv`` or
  ``$NAS_HARNESS_SHARED_DATA``) when present, else a generated table of the same shape;
* a synthetic full-size (15,625-architecture) NAS-Bench-201 v1.1 ``.pth`` (written by
  :func:`tests.helpers.nb201_fixtures.write_synthetic_nb201_pth`, or reused from
  ``$NB201_SYNTHETIC_PTH``) loaded through :class:`~nas_harness.benchmarks.nb201.NB201Results`, and for
  comparison through the bare ``NASBench201API``. Each memory figure comes from a fresh process:
  peak RSS (``ru_maxrss``), RSS retained after loading, and tracemalloc peak / retained (Python
  allocations) in a separate run, since tracemalloc slows loading down.

Figures go to ``benchmark.extra_info`` (``--benchmark-json`` keeps them) and are printed.
"""

from __future__ import annotations

import bz2
import gc
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import psutil
import pytest

from benchmarks.child_process import measure
from nas_harness.benchmarks.table import NB201TableBenchmark
from nas_harness.spaces import nb201 as S
from tests.helpers import full_size as FS
from tests.helpers import nb201_fixtures as F

ROOT = Path(__file__).resolve().parents[1]
MB = 1e6


def _shared_data() -> Path:
    return Path(os.environ.get("NAS_HARNESS_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    real = _shared_data() / "nb201" / "nb201_test_accuracy.csv"
    if real.is_file():
        return real, "reference table"
    return F.write_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv"), "generated table"


@pytest.fixture(scope="module")
def synthetic_pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("NB201_SYNTHETIC_PTH")
    if given and Path(given).is_file():
        return Path(given)
    path = tmp_path_factory.mktemp("synthetic") / "NAS-Bench-201-v1_1-synthetic.pth"
    code = f"import tests.helpers.nb201_fixtures as F; F.write_synthetic_nb201_pth({str(path)!r})"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)  # keeps the writer's memory out of ours
    return path


def _report(title: str, figures: dict[str, object]) -> None:
    print(f"\n{title}")
    for key, value in figures.items():
        print(f"  {key:32s} {value:.2f}" if isinstance(value, float) else f"  {key:32s} {value}")


def test_load_nb201_table(benchmark, table: tuple[Path, str]) -> None:
    path, source = table
    NB201TableBenchmark(path, "cifar10")  # warm: imports, the official-order cache
    process = psutil.Process()

    gc.collect()
    rss0 = process.memory_info().rss
    bench = NB201TableBenchmark(path, "cifar10")
    gc.collect()
    rss_delta = process.memory_info().rss - rss0
    del bench

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    bench = NB201TableBenchmark(path, "cifar10")
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(bench) == S.NUM_ARCHS

    result = benchmark(NB201TableBenchmark, path, "cifar10")
    assert len(result) == S.NUM_ARCHS
    figures = {
        "source": f"{source} ({path.stat().st_size / MB:.1f} MB on disk)",
        "rows": S.NUM_ARCHS,
        "load_s (median)": benchmark.stats.stats.median,
        "tracemalloc_peak_MB": (peak - base) / MB,
        "tracemalloc_retained_MB": (current - base) / MB,
        "rss_delta_MB": rss_delta / MB,
    }
    benchmark.extra_info.update(figures)
    _report("NB201 table, cifar10 column", figures)


_SETUP = """
import torch, nas_201_api, nats_bench, pandas
from nas_harness.spaces import nb201
from nas_harness.benchmarks.nb201 import NB201Results
from nas_harness.benchmarks.nb201_convert import convert_nb201
nb201.official_order(); nb201.arch_to_index((0,) * 6)
"""
_STEP = """
if mode == "official-api":
    keep = nas_201_api.NASBench201API(args[0], verbose=False)
elif mode == "official-reader":
    keep = NB201Results.load(args[0], reader="official")
elif mode == "convert":
    summary = convert_nb201(args[0], args[1])
    extra["archs"] = summary.archs
else:
    keep = NB201Results.load(args[0])
    extra["arrays_MB"] = keep.nbytes / 1e6
"""


def _measure(path: Path, mode: str, *extra_args: str) -> dict[str, float]:
    figures = measure(_SETUP, _STEP, [str(path), *extra_args], mode)
    figures["load_s"] = figures["seconds"]
    return figures


def test_load_synthetic_official_pth(benchmark, synthetic_pth: Path) -> None:
    from nas_harness.benchmarks.nb201 import NB201Results

    plain = _measure(synthetic_pth, "plain")
    traced = _measure(synthetic_pth, "tracemalloc")
    official = _measure(synthetic_pth, "official-api")
    results = benchmark.pedantic(NB201Results.load, args=(synthetic_pth,), rounds=1, iterations=1)
    assert results.has_record.sum() == S.NUM_ARCHS
    figures = {
        "file": f"{synthetic_pth.name} ({synthetic_pth.stat().st_size / MB:.0f} MB, {S.NUM_ARCHS} archs)",
        "load_s (this process)": benchmark.stats.stats.median,
        "load_s (fresh process)": plain["load_s"],
        "peak_rss_MB": plain["peak_rss_MB"],
        "rss_before_load_MB": plain["rss_before_MB"],
        "rss_retained_MB": plain["rss_retained_MB"],
        "tracemalloc_peak_MB": traced["tracemalloc_peak_MB"],
        "tracemalloc_retained_MB": traced["tracemalloc_retained_MB"],
        "arrays_MB": plain["arrays_MB"],
        "official_api_load_s": official["load_s"],
        "official_api_peak_rss_MB": official["peak_rss_MB"],
        "official_api_rss_retained_MB": official["rss_retained_MB"],
    }
    benchmark.extra_info.update(figures)
    _report("synthetic full-size NAS-Bench-201 .pth via NB201Results.load (vs bare NASBench201API)", figures)


FULL_SIZE = os.environ.get("NB201_FULL_SIZE") == "1"


@pytest.mark.skipif(not FULL_SIZE, reason="full-size files (GBs, minutes each): set NB201_FULL_SIZE=1")
@pytest.mark.parametrize("kind", ["nb201-v1_1", "nb201-v1_1-zip", "nb201-v1_0", "nats-tss"])
def test_full_size_single_file(benchmark, kind: str, tmp_path: Path) -> None:
    """Stream-read and convert a synthetic file of the official layout and size, each in a fresh process.

    Run (tens of minutes; the files are built once into the synthetic cache, several GB each)::

        NB201_FULL_SIZE=1 pytest benchmarks/bench_nb201_loading.py -k full_size -s -p no:cacheprovider

    The official reader (whole file through torch.load/pickle) is measured on the first 1,000
    architectures of the same layout: at full size it needs more memory than this project's machines have.
    """
    path = FS.full_size_file(kind)
    size = path.stat().st_size
    streamed = _measure(path, "plain")
    converted = _measure(path, "convert", str(tmp_path / "table.nb201.csv"))
    small = FS.full_size_file(kind, n_archs=1000)
    small_stream = _measure(small, "plain")
    small_official = _measure(small, "official-reader")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # figures come from the fresh processes above
    figures = {
        "file": f"{path.name} ({size / MB:.0f} MB, {S.NUM_ARCHS} archs)",
        "stream_load_s": streamed["load_s"],
        "stream_MB_per_s": size / MB / streamed["load_s"],
        "stream_peak_rss_MB": streamed["peak_rss_MB"],
        "stream_peak_above_start_MB": streamed["peak_rss_above_start_MB"],
        "convert_s (read + table + SHA-256)": converted["seconds"],
        "convert_peak_rss_MB": converted["peak_rss_MB"],
        "small_file": f"{small.name} ({small.stat().st_size / MB:.0f} MB, 1000 archs)",
        "small_stream_load_s": small_stream["load_s"],
        "small_stream_peak_above_start_MB": small_stream["peak_rss_above_start_MB"],
        "small_official_reader_load_s": small_official["load_s"],
        "small_official_reader_peak_above_start_MB": small_official["peak_rss_above_start_MB"],
    }
    if kind == "nats-tss":  # the reader's time follows the decompressed pickle
        with bz2.BZ2File(path) as packed:
            raw = sum(len(block) for block in iter(lambda: packed.read(1 << 24), b""))
        figures["decompressed_MB"] = raw / MB
        figures["stream_MB_per_s (decompressed)"] = raw / MB / streamed["load_s"]
    benchmark.extra_info.update(figures)
    _report(f"full-size synthetic {kind}: streaming reader and conversion", figures)
