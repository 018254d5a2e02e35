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
import io
import os
import pickle
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from benchmarks.child_process import measure
from nas_harness.benchmarks.pickle_stream import StreamingUnpickler
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


def _layout_pickles(n_archs: int) -> dict[str, bytes]:
    """The records of ``n_archs`` architectures as each official layout pickles them (no file around them)."""
    nb201 = [{hp: F.arch_results_state("nas_201_api", i, hp, seeds=FS.FULL_SIZE_SEEDS) for hp in ("12", "200")}
             for i in range(n_archs)]  # fmt: skip
    nats = [{hp: F.arch_results_state("nats_bench", i, hp, seeds=FS.FULL_SIZE_SEEDS) for hp in ("12", "200")}
            for i in range(n_archs)]  # fmt: skip
    fast = io.BytesIO()
    pickler = pickle.Pickler(fast, protocol=4)
    pickler.fast = True  # no memo: as the synthetic NATS file's records are written
    pickler.dump(nats)
    return {
        "nb201 .pth (protocol 2)": pickle.dumps(nb201, protocol=2),
        "NATS (protocol 4, memo: nats_bench's pickle_save)": pickle.dumps(nats, protocol=4),
        "NATS (protocol 4, no memo: the synthetic file)": fast.getvalue(),
    }


def test_decode_rate_by_layout(benchmark) -> None:
    """The streaming reader's decode rate on each layout's pickle in memory, as a ratio to the C unpickler's
    in the same run (no file reading, no bz2), plus what bz2 decompression alone costs the NATS file.

    Run (about a minute)::

        pytest benchmarks/bench_nb201_loading.py -k decode_rate -s -p no:cacheprovider
    """
    figures: dict[str, object] = {}
    for layout, data in _layout_pickles(60).items():
        streamed = min(_seconds(lambda d=data: StreamingUnpickler(io.BytesIO(d).read, resolve=_refuse).load())
                       for _ in range(3))  # fmt: skip
        c_unpickler = min(_seconds(lambda d=data: pickle.loads(d)) for _ in range(3))
        figures[f"{layout}: MB"] = len(data) / MB
        figures[f"{layout}: stream MB/s"] = len(data) / MB / streamed
        figures[f"{layout}: C unpickler / stream"] = streamed / c_unpickler
        if layout.startswith("NATS (protocol 4, memo"):
            packed = bz2.compress(data, 9)
            unpacking = min(_seconds(lambda p=packed: bz2.decompress(p)) for _ in range(3))
            figures["NATS bz2 decompression MB/s (of pickle)"] = len(data) / MB / unpacking
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # figures are the best of three above
    benchmark.extra_info.update(figures)
    _report("decode rate by layout (best of 3, one thread)", figures)


def _seconds(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _refuse(module: str, name: str) -> object:
    raise pickle.UnpicklingError(f"{module}.{name}: the records hold no globals")
