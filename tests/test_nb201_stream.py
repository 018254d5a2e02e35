"""The streaming reader of NAS-Bench-201 / NATS-Bench single files: the official reader's numbers, flat memory."""

from __future__ import annotations

import collections
import copy
import functools
import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nas_harness.api import BenchmarkError
from nas_harness.benchmarks import nb201, nb201_stream, pickle_stream
from nas_harness.benchmarks.nb201 import EVAL_SETS, NB201Benchmark, NB201Results
from nas_harness.benchmarks.nb201_stream import (
    OpaqueObject,
    TensorStub,
    make_resolver,
    read_single_file,
    results_metrics,
    state_metrics,
)
from nas_harness.benchmarks.pickle_stream import MemoMissError
from nas_harness.benchmarks.pickles import ForbiddenGlobal, UntrustedPickleError
from nas_harness.spaces import nb201 as S
from tests.helpers import nb201_fixtures as F
from tests.helpers.full_size import KINDS, write_full_size

ROOT = Path(__file__).resolve().parents[1]
N_SMALL = 12  # architectures of the small full-layout files


# -- files -----------------------------------------------------------------------------------------
def _ordered_states(path: Path) -> Path:
    """A legacy .pth whose ArchResults states are OrderedDicts (the hook sees only plain dicts)."""
    data = F.nb201_pth_dict()
    for record in data["arch2infos"].values():
        for hp in list(record):
            record[hp] = collections.OrderedDict(record[hp])
    torch.save(data, path, _use_new_zipfile_serialization=False)
    return path


FILES: dict[str, Callable[[Path], Path]] = {
    **{f"full-{kind}": functools.partial(write_full_size, kind=kind, n_archs=N_SMALL) for kind in KINDS},
    "pth-v1_1": F.write_nb201_pth,
    "pth-v1_1-short-meta": functools.partial(F.write_nb201_pth, full_meta=False),
    "pth-v1_0": functools.partial(F.write_nb201_pth, version="v1_0"),
    "pth-v1_0-short-meta": functools.partial(F.write_nb201_pth, version="v1_0", full_meta=False),
    "pth-zip": functools.partial(F.write_nb201_pth, legacy=False),
    "pth-zip-short-meta": functools.partial(F.write_nb201_pth, legacy=False, full_meta=False),
    "pth-sparse-curves": functools.partial(F.write_nb201_pth, curve_every=7, with_times=False),
    "pth-ordered-states": _ordered_states,
    "nats-pickle": F.write_nats_pickle,
    "nats-pickle-short-meta": functools.partial(F.write_nats_pickle, full_meta=False),
}
RECORDS = {name: N_SMALL if name.startswith("full-") else len(F.FIXTURE_INDEXES) for name in FILES}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("nb201-stream")
    return {
        name: make(folder / f"{name}{'.pickle.pbz2' if 'nats' in name else '.pth'}") for name, make in FILES.items()
    }


@pytest.fixture(scope="module")
def official(files: dict[str, Path]) -> dict[str, NB201Results]:
    return {name: NB201Results.load(path, reader="official") for name, path in files.items()}


def assert_same_results(got: NB201Results, want: NB201Results) -> None:
    assert np.array_equal(got.acc, want.acc, equal_nan=True)  # values and NaN positions, exactly
    assert np.array_equal(got.costs, want.costs, equal_nan=True)
    assert np.array_equal(got.has_record, want.has_record)
    assert got.loaded.all() and got.format == want.format


def _no_official_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the official reader ran")

    monkeypatch.setattr(nb201, "_open_nb201_pth", refuse)
    monkeypatch.setattr(nb201, "_open_nats_pickle", refuse)


# -- the same numbers as the official reader -------------------------------------------------------
@pytest.mark.parametrize("name", sorted(FILES))
def test_stream_and_official_readers_give_equal_arrays(
    files: dict[str, Path], official: dict[str, NB201Results], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_official_reader(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to the official reader
        got = NB201Results.load(files[name])
    assert_same_results(got, official[name])
    assert got.has_record.sum() == RECORDS[name]
    assert np.isfinite(got.acc[1]).sum() == RECORDS[name] * 7  # every data set and split at 200 epochs
    assert np.isfinite(got.costs).sum() >= RECORDS[name] * 4 * 3


def test_chunk_boundaries_anywhere_in_a_file(
    files: dict[str, Path], official: dict[str, NB201Results], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the file is read in chunks; wherever a chunk ends (a key, a value, a record) the numbers are the same
    failed = []
    for chunk in range(50_000, 200_000, 7_919):
        monkeypatch.setattr(pickle_stream, "CHUNK", chunk)
        try:
            got = NB201Results.load(files["full-nb201-v1_1"])
        except BenchmarkError as exc:
            failed.append(f"{chunk}: {exc.__cause__}")
            continue
        assert_same_results(got, official["full-nb201-v1_1"])
    assert not failed, f"{len(failed)} chunk sizes fail, e.g. {failed[:2]}"


def test_tensors_in_records_load_untrusted_through_both_readers(tmp_path: Path) -> None:
    # the v1.0 records keep trained weights: tensors (and their storages) need no trust_pickle
    for legacy in (True, False):
        data = F.nb201_pth_dict([0, 42])
        trial = data["arch2infos"][0]["full"]["all_results"][("cifar10", 777)]
        trial["net_state_dict"] = collections.OrderedDict(w=torch.ones(2, 3), b=torch.nn.Parameter(torch.zeros(4)))
        path = tmp_path / f"weights-{legacy}.pth"
        torch.save(data, path, _use_new_zipfile_serialization=not legacy)
        want = NB201Results.load(path, reader="official")
        assert_same_results(NB201Results.load(path), want)


def test_a_file_the_stream_cannot_hold_falls_back_to_the_official_reader(
    files: dict[str, Path], official: dict[str, NB201Results], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = files["pth-v1_1"]
    # a real memo miss: a generation far shorter than the distance of the file's back-references
    monkeypatch.setattr(nb201, "read_single_file", functools.partial(read_single_file, generation=10))
    with pytest.warns(UserWarning, match=r"memo entry .* reading it whole instead"):
        assert_same_results(NB201Results.load(path), official["pth-v1_1"])

    def miss(*args: Any, **kwargs: Any) -> Any:
        raise MemoMissError(5, 10)

    for name in ("pth-zip", "nats-pickle"):
        monkeypatch.setattr(nb201, "read_single_file", miss)
        with pytest.warns(UserWarning) as caught:
            got = NB201Results.load(files[name])
        message = str(caught[0].message)
        assert str(files[name]) in message and "memo entry 5 more than 10 memo writes" in message
        assert "reading it whole instead" in message
        assert_same_results(got, official[name])


def test_an_unknown_reader_is_an_error(files: dict[str, Path]) -> None:
    with pytest.raises(BenchmarkError, match=r"unknown reader 'fast'; accepted: stream, official"):
        NB201Results.load(files["pth-v1_1"], reader="fast")


# -- state_metrics: the official classes' numbers, straight from the state dict ----------------------
def _official_classes(package: str) -> Any:
    if package == "nas_201_api":
        from nas_201_api.api_utils import ArchResults
    else:
        from nats_bench.api_utils import ArchResults
    return ArchResults


def assert_state_metrics_are_official(state: dict, package: str, eval_sets: Any = EVAL_SETS) -> dict:
    results = _official_classes(package).create_from_state_dict(copy.deepcopy(state))
    want = results_metrics(results, eval_sets)
    got = state_metrics(copy.deepcopy(state), package, eval_sets)
    assert got == want
    for dataset, metrics in got.items():  # exactly, keys and values (== would also pass 1 == 1.0 + tiny)
        assert metrics.accuracy.keys() == want[dataset].accuracy.keys()
        for key, value in metrics.costs.items():
            assert (value is None) == (want[dataset].costs[key] is None)
            assert value is None or float(value).hex() == float(want[dataset].costs[key]).hex(), (dataset, key)
        for split, value in metrics.accuracy.items():
            assert float(value).hex() == float(want[dataset].accuracy[split]).hex(), (dataset, split)
    return got


def _awkward_numbers(state: dict, index: int) -> dict:
    """Non-dyadic numbers everywhere: averages and sums then depend on the order and kind of arithmetic."""
    for (dataset, seed), trial in state["all_results"].items():
        k = seed % 97 + len(dataset) / 10
        trial["eval_acc1es"] = {key: value + k / 3 + 0.1 for key, value in trial["eval_acc1es"].items()}
        trial["latency"] = [0.0271 + k / 1000, 0.0293 + index / 7000, 0.031]
        if trial["train_times"] is not None:
            trial["train_times"] = {e: 5.1 + (e % 7) * 0.013 + k / 1000 for e in trial["train_times"]}
        trial["flop"] = 57.3 + index / 10 + len(dataset) / 3  # the same for every seed
        trial["params"] = 0.7 + index / 100 + len(dataset) / 30
    return state


PACKAGES = ["nas_201_api", "nats_bench"]


@pytest.mark.parametrize("package", PACKAGES)
def test_state_metrics_equal_the_official_classes(package: str) -> None:
    for index in F.FIXTURE_INDEXES:
        for hp in ("12", "200"):
            state = F.arch_results_state(package, index, hp)
            got = assert_state_metrics_are_official(state, package)
            assert set(got) == set(EVAL_SETS)
            assert_state_metrics_are_official(_awkward_numbers(state, index), package)


@pytest.mark.parametrize("package", PACKAGES)
def test_flops_and_params_that_differ_across_seeds(package: str) -> None:
    state = _awkward_numbers(F.arch_results_state(package, 42, "200"), 42)
    trials = state["all_results"]
    trials[("cifar10", 888)]["flop"] += 1.5  # cifar10: seeds 777, 888, 999
    trials[("cifar100", 777)]["params"] += 0.25  # cifar100: seeds 777, 888
    got = assert_state_metrics_are_official(state, package)
    flops = [trials[("cifar10", s)]["flop"] for s in (777, 888, 999)]
    params = [trials[("cifar100", s)]["params"] for s in (777, 888)]
    if package == "nats_bench":  # its legacy fix: seed 888's value alone
        assert got["cifar10"].costs["flops"] == flops[1]
        assert got["cifar100"].costs["params"] == params[1]
    else:
        assert got["cifar10"].costs["flops"] == float(np.mean(flops))
        assert got["cifar100"].costs["params"] == float(np.mean(params))


@pytest.mark.parametrize("package", PACKAGES)
def test_missing_latency_and_train_times(package: str) -> None:
    state = _awkward_numbers(F.arch_results_state(package, 7, "200"), 7)
    trials = state["all_results"]
    trials[("cifar10", 777)]["latency"] = None  # averaged over the other two seeds
    trials[("ImageNet16-120", 777)]["latency"] = None  # its only seed: no latency
    trials[("cifar100", 777)]["train_times"] = None  # the first seed's: no total training time
    got = assert_state_metrics_are_official(state, package)
    assert got["cifar10"].costs["latency"] is not None and got["ImageNet16-120"].costs["latency"] is None
    assert got["cifar100"].costs["train_seconds"] is None and got["cifar10"].costs["train_seconds"] is not None
    no_times = F.arch_results_state(package, 7, "12", curve_every=4, with_times=False)
    got = assert_state_metrics_are_official(no_times, package)
    assert all(m.costs["train_seconds"] is None for m in got.values())


@pytest.mark.parametrize("package", PACKAGES)
def test_missing_eval_sets_seeds_and_data_sets(package: str) -> None:
    state = F.arch_results_state(package, 1, "200", curve_every=10, with_times=False)
    state["all_results"][("cifar100", 888)]["eval_names"].remove("x-valid")  # one seed lacks a split
    state["dataset_seed"]["ImageNet16-120"] = []  # a data set without trials
    got = assert_state_metrics_are_official(state, package)
    assert "valid" not in got["cifar100"].accuracy and "test" in got["cifar100"].accuracy
    assert "ImageNet16-120" not in got
    only = {"cifar10": EVAL_SETS["cifar10"]}  # data sets the caller does not ask for are skipped
    assert set(assert_state_metrics_are_official(state, package, only)) == {"cifar10"}


def test_state_metrics_refuses_an_unknown_package() -> None:
    with pytest.raises(ValueError, match="package must be 'nas_201_api' or 'nats_bench', not 'nats'"):
        state_metrics(F.arch_results_state("nats_bench", 0, "12", curve_every=6), "nats", EVAL_SETS)


# -- nothing in the file is ever called -------------------------------------------------------------
class ExecPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return exec, (f"import pathlib; pathlib.Path({str(self.marker)!r}).touch()",)


class SystemPayload(ExecPayload):
    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def _evil(marker: Path, payload: type[ExecPayload], package: str) -> dict:
    data = F.nats_tss_dict([0, 1]) if package == "nats_bench" else F.nb201_pth_dict([0, 1])
    schedule = "200" if package == "nats_bench" else "full"
    data["payload"] = payload(marker)  # beside the records
    data["arch2infos"][0][schedule]["payload"] = payload(marker)  # in a state
    data["arch2infos"][1][schedule]["all_results"][("cifar10", 777)]["payload"] = [payload(marker)]  # in a trial
    return data


@pytest.mark.parametrize("payload", [ExecPayload, SystemPayload])
@pytest.mark.parametrize("layout", ["legacy", "zip", "nats"])
def test_trusted_files_never_run_their_globals(tmp_path: Path, layout: str, payload: type[ExecPayload]) -> None:
    marker = tmp_path / "code-ran"
    data = _evil(marker, payload, "nats_bench" if layout == "nats" else "nas_201_api")
    if layout == "nats":
        import bz2

        path = tmp_path / F.NATS_PICKLE_NAME
        with bz2.BZ2File(path, "wb") as handle:
            pickle.dump(data, handle, protocol=4)
    else:
        path = tmp_path / F.NB201_V11_NAME
        torch.save(data, path, _use_new_zipfile_serialization=layout == "zip")
    del data
    results = NB201Results.load(path, trust_pickle=True)
    assert not marker.exists(), "loading ran the file's code"
    assert results.has_record[[0, 1]].all()
    bench = NB201Benchmark(results=results, dataset="cifar10")
    assert bench.accuracy(S.index_to_arch(1)) == F.expected_accuracy(1, "cifar10", "ori-test")
    with pytest.raises(UntrustedPickleError) as info:
        NB201Results.load(path)
    assert not marker.exists()
    name = "exec" if payload is ExecPayload else "system"
    assert info.value.global_name.endswith(f".{name}") and info.value.path == path
    assert f"global {info.value.global_name} is not allowed" in str(info.value)


def test_the_resolver() -> None:
    trusted, untrusted = make_resolver(True), make_resolver(False)
    for resolve in (trusted, untrusted):
        assert resolve("collections", "OrderedDict") is collections.OrderedDict
        assert resolve("torch._utils", "_rebuild_tensor_v2") is TensorStub
        assert resolve("numpy", "dtype") is np.dtype
    with pytest.raises(ForbiddenGlobal) as info:
        untrusted("posix", "system")
    assert info.value.global_name == "posix.system"
    stand_in = trusted("posix", "system")
    assert issubclass(stand_in, OpaqueObject) and stand_in.__module__ == "opaque:posix"
    inert = stand_in("touch /nonexistent/should-not-exist")
    assert inert.args == ("touch /nonexistent/should-not-exist",)
    assert trusted("builtins", "exec")("raise SystemExit").args == ("raise SystemExit",)
    stub = TensorStub("storage", 0, (2, 3), (3, 1))
    assert stub.size == (2, 3)


def test_read_single_file_returns_metrics_not_curves(files: dict[str, Path]) -> None:
    meta_archs, infos, states = read_single_file(
        files["pth-v1_1"], "nb201-pth", trust_pickle=False, eval_sets=EVAL_SETS, expected="expected X"
    )
    assert len(meta_archs) == S.NUM_ARCHS and sorted(infos) == sorted(F.FIXTURE_INDEXES)
    assert states == 2 * len(F.FIXTURE_INDEXES)
    for record in infos.values():
        for state in record.values():
            assert list(state) == [nb201_stream.METRICS_KEY]  # the curves were dropped


# -- memory: flat for the stream, growing for the official reader -------------------------------------
CHILD = textwrap.dedent(
    """
    import gc, json, sys
    import numpy, torch, nas_201_api, nats_bench  # noqa: F401
    from nas_harness.benchmarks import nb201, nb201_stream, pickle_stream  # noqa: F401
    from nas_harness.spaces import nb201 as space

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

    space.official_order(), space.arch_to_index((0,) * 6)  # module caches outside the measurement
    gc.collect()
    base = status("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # the peak so far (imports) is not the loading's
    except OSError:
        pass
    results = nb201.NB201Results.load(sys.argv[1], reader=sys.argv[2])
    print(json.dumps({"above": status("VmHWM") - base, "records": int(results.has_record.sum())}))
    """
)
ALLOWANCE_MB = 30  # measured: from 50 to 200 architectures the stream's peak grows by 0-3 MB, the official's by 180-230


def _peak_above_start(path: Path, reader: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), reader],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["records"] in (50, 200)
    return out["above"] / 1e6


def test_streaming_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small = write_full_size(tmp_path / "50.pth", "nb201-v1_1", 50)
    large = write_full_size(tmp_path / "200.pth", "nb201-v1_1", 200)
    assert large.stat().st_size > 3.5 * small.stat().st_size
    peaks = {(n, r): _peak_above_start(p, r) for n, p in ((50, small), (200, large)) for r in ("stream", "official")}
    stream_growth = peaks[200, "stream"] - peaks[50, "stream"]
    official_growth = peaks[200, "official"] - peaks[50, "official"]
    print(f"peak RSS above the start (MB): {peaks}")
    assert stream_growth < ALLOWANCE_MB, peaks
    assert official_growth > 3 * ALLOWANCE_MB, peaks  # the measurement does see memory that grows with the file
