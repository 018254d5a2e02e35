"""NAS-Bench-201 ground truth: official files (through the real packages) and tables, on generated fixtures."""

from __future__ import annotations

import bz2
import gc
import pickle
import re
import tracemalloc
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import torch

from nas_harness.api import BenchmarkError
from nas_harness.benchmarks.nb201 import EVAL_SETS, NB201Benchmark, NB201Results, detect_format
from nas_harness.benchmarks.table import NB201TableBenchmark, TableBenchmark, TableSchema
from nas_harness.spaces import nb201 as S
from tests.helpers import nb201_fixtures as F

ARCHS = {i: S.index_to_arch(i) for i in F.FIXTURE_INDEXES}
ABSENT = S.index_to_arch(5)  # not among the fixture architectures


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("nb201")
    return {
        "pth-v1_1": F.write_nb201_pth(d / F.NB201_V11_NAME),
        "pth-v1_0": F.write_nb201_pth(d / F.NB201_V10_NAME, version="v1_0"),
        "pth-zip": F.write_nb201_pth(d / "zip.pth", legacy=False),
        "pth-short-meta": F.write_nb201_pth(d / "short.pth", full_meta=False),
        "nats-pickle": F.write_nats_pickle(d / F.NATS_PICKLE_NAME),
        "nats-pickle-short-meta": F.write_nats_pickle(d / "short.pickle.pbz2", full_meta=False),
        "nats-dir": F.write_nats_dir(d / F.NATS_DIR_NAME),
    }


@pytest.fixture(scope="module")
def loaded(files: dict[str, Path]) -> dict[str, NB201Results]:
    return {name: NB201Results.load(path) for name, path in files.items()}


ALL_FORMATS = ["pth-v1_1", "pth-zip", "pth-short-meta", "nats-pickle", "nats-pickle-short-meta", "nats-dir"]


def _truncate(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


# -- official formats: known values ----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_every_format_gives_the_known_200_epoch_values(loaded: dict[str, NB201Results], fmt: str) -> None:
    results = loaded[fmt]
    for dataset, splits in EVAL_SETS.items():
        bench = NB201Benchmark(results=results, dataset=dataset)
        for index, arch in ARCHS.items():
            for split, setname in splits.items():
                want = F.expected_accuracy(index, dataset, setname, "200")
                assert bench.accuracy(arch, split=split) == pytest.approx(want, rel=1e-12, abs=0)
                assert bench.accuracy(arch, split=split, epochs=200) == bench.accuracy(arch, split=split)


@pytest.mark.parametrize("fmt", ["pth-v1_1", "nats-pickle", "nats-dir"])
def test_12_epoch_values_differ_and_are_never_the_default(loaded: dict[str, NB201Results], fmt: str) -> None:
    for dataset, splits in EVAL_SETS.items():
        bench = NB201Benchmark(results=loaded[fmt], dataset=dataset)
        for index, arch in ARCHS.items():
            for split, setname in splits.items():
                short = bench.accuracy(arch, split=split, epochs=12)
                assert short == pytest.approx(F.expected_accuracy(index, dataset, setname, "12"), rel=1e-12)
                assert short != bench.accuracy(arch, split=split)


def test_literal_values_of_one_architecture(loaded: dict[str, NB201Results]) -> None:
    # 80 (cifar10) + 3 (ori-test) + 42 * 0.125 + mean seed offset (0.5 - 0.25 + 0.125) / 3
    bench = NB201Benchmark(results=loaded["pth-v1_1"], dataset="cifar10")
    assert bench.accuracy(ARCHS[42]) == 88.375
    assert bench.accuracy(ARCHS[42], epochs=12) == 68.75  # one seed (777): 60 + 3 + 5.25 + 0.5
    c100 = NB201Benchmark(results=loaded["nats-pickle"], dataset="cifar100")
    assert c100.accuracy(ARCHS[42], split="valid") == 56.375  # 50 + 1 + 5.25 + (0.5 - 0.25) / 2
    assert c100.accuracy(ARCHS[42], split="test") == 57.375  # x-test, not ori-test (58.375)


@pytest.mark.parametrize("fmt", ["pth-v1_1", "nats-pickle", "nats-dir"])
def test_costs(loaded: dict[str, NB201Results], fmt: str) -> None:
    for dataset in EVAL_SETS:
        bench = NB201Benchmark(results=loaded[fmt], dataset=dataset)
        for index, arch in ARCHS.items():
            want = F.fixture_costs(index, dataset)
            assert bench.cost(arch, "params") == pytest.approx(want["params"], rel=1e-12)
            assert bench.cost(arch, "flops") == pytest.approx(want["flops"], rel=1e-12)
            assert bench.cost(arch, "latency") == pytest.approx(want["latency"], rel=1e-12)
            assert bench.cost(arch, "train_seconds") == pytest.approx(F.expected_train_seconds(index, dataset))
            assert bench.cost(arch, "energy") is None
    assert NB201Benchmark(results=loaded[fmt], dataset="cifar100").cost(ARCHS[1], "params") != bench.cost(
        ARCHS[1], "params"
    )  # params depend on the number of classes


def test_archs_best_and_array(loaded: dict[str, NB201Results]) -> None:
    for fmt in ALL_FORMATS:
        bench = NB201Benchmark(results=loaded[fmt], dataset="ImageNet16-120")
        assert sorted(bench.archs()) == sorted(ARCHS.values())
        want = max(F.FIXTURE_INDEXES, key=lambda i: F.expected_accuracy(i, "ImageNet16-120", "x-valid"))
        arch, value = bench.best("valid")
        assert arch == ARCHS[want]
        assert value == pytest.approx(F.expected_accuracy(want, "ImageNet16-120", "x-valid"), rel=1e-12)
        array = bench.accuracy_array("test")
        assert array.shape == (S.NUM_ARCHS,) and not array.flags.writeable
        assert np.isfinite(array).sum() == len(ARCHS)
        assert array[42] == bench.accuracy(ARCHS[42])


def test_string_architectures_are_accepted(loaded: dict[str, NB201Results]) -> None:
    bench = NB201Benchmark(results=loaded["pth-v1_1"], dataset="cifar10")
    assert bench.accuracy(S.to_str(ARCHS[7777])) == bench.accuracy(ARCHS[7777])


def test_path_constructor_and_format_detection(files: dict[str, Path]) -> None:
    assert detect_format(files["pth-v1_1"]) == "nb201-pth"
    assert detect_format(files["pth-zip"]) == "nb201-pth"
    assert detect_format(files["nats-pickle"]) == "nats-pickle"
    assert detect_format(files["nats-dir"]) == "nats-dir"
    bench = NB201Benchmark(files["pth-v1_1"], dataset="cifar10-valid")
    assert bench.space == "nb201" and bench.default_epochs == 200
    assert bench.accuracy(ARCHS[0], split="valid") == pytest.approx(F.expected_accuracy(0, "cifar10-valid", "x-valid"))
    explicit = NB201Benchmark(files["nats-pickle"], dataset="cifar10", format="nats-pickle")
    assert explicit.accuracy(ARCHS[0]) == bench.results.acc[1, 0, 1, 0]


# -- split / schedule mapping ---------------------------------------------------------------------
def test_split_mapping_follows_the_official_records(loaded: dict[str, NB201Results]) -> None:
    results = loaded["pth-v1_1"]
    i, arch = 1, ARCHS[1]
    c10 = NB201Benchmark(results=results, dataset="cifar10")
    c10v = NB201Benchmark(results=results, dataset="cifar10-valid")
    assert c10.accuracy(arch) == pytest.approx(F.expected_accuracy(i, "cifar10", "ori-test"))
    assert c10v.accuracy(arch, "valid") == pytest.approx(F.expected_accuracy(i, "cifar10-valid", "x-valid"))
    assert c10v.accuracy(arch, "test") == pytest.approx(F.expected_accuracy(i, "cifar10-valid", "ori-test"))
    for ds in ("cifar100", "ImageNet16-120"):
        bench = NB201Benchmark(results=results, dataset=ds)
        assert bench.accuracy(arch, "valid") == pytest.approx(F.expected_accuracy(i, ds, "x-valid"))
        assert bench.accuracy(arch, "test") == pytest.approx(F.expected_accuracy(i, ds, "x-test"))
    with pytest.raises(BenchmarkError, match=r"'cifar10' has no 'valid' split.*cifar10-valid"):
        c10.accuracy(arch, "valid")
    with pytest.raises(BenchmarkError, match=r"unknown split 'train'; accepted: valid, test"):
        c10.accuracy(arch, "train")
    with pytest.raises(BenchmarkError, match=r"no 100-epoch schedule; accepted epochs: 12, 200"):
        c10.accuracy(arch, epochs=100)
    with pytest.raises(BenchmarkError, match="unknown NAS-Bench-201 data set 'imagenet'"):
        NB201Benchmark(results=results, dataset="imagenet")


def test_v1_0_has_12_epoch_results_for_cifar10_valid_only(loaded: dict[str, NB201Results]) -> None:
    results = loaded["pth-v1_0"]
    c10v = NB201Benchmark(results=results, dataset="cifar10-valid")
    assert c10v.accuracy(ARCHS[0], "valid", epochs=12) == pytest.approx(
        F.expected_accuracy(0, "cifar10-valid", "x-valid", "12")
    )
    c100 = NB201Benchmark(results=results, dataset="cifar100")
    assert c100.accuracy(ARCHS[0]) == pytest.approx(F.expected_accuracy(0, "cifar100", "x-test"))
    with pytest.raises(BenchmarkError, match=r"no 'cifar100' 'test' accuracy at 12 epochs"):
        c100.accuracy(ARCHS[0], epochs=12)


def test_unknown_and_invalid_architectures(loaded: dict[str, NB201Results]) -> None:
    bench = NB201Benchmark(results=loaded["nats-dir"], dataset="cifar10")
    with pytest.raises(BenchmarkError, match=r"no record of architecture .*official index 5\)"):
        bench.accuracy(ABSENT)
    with pytest.raises(BenchmarkError, match="not a NAS-Bench-201 architecture"):
        bench.accuracy((0, 1, 2))
    with pytest.raises(BenchmarkError, match="unknown op 'conv'"):
        bench.accuracy("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")


# -- memory-conscious loading ----------------------------------------------------------------------
def _live_official_objects() -> int:
    from nas_201_api import NASBench201API
    from nas_201_api.api_utils import ArchResults, ResultsCount

    classes = {NASBench201API, ArchResults, ResultsCount}
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) in classes)


def test_loading_releases_the_official_objects(tmp_path: Path) -> None:
    path = F.write_synthetic_nb201_pth(tmp_path / "synthetic.pth", n_archs=100, curve_every=4)
    S.official_order(), S.arch_to_index((0,) * 6)  # module caches outside the measurement
    before = _live_official_objects()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        results = NB201Results.load(path)
        gc.collect()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _live_official_objects() == before  # no NASBench201API / ArchResults / ResultsCount left
    assert results.nbytes < 5_000_000  # a few arrays for all 15,625 architectures
    assert retained - base < results.nbytes + 1_000_000
    assert peak - base > 3 * (retained - base)  # the curves were in memory and are gone
    bench = NB201Benchmark(results=results, dataset="cifar100")
    assert bench.accuracy(S.index_to_arch(99)) == pytest.approx(F.expected_accuracy(99, "cifar100", "x-test"))
    assert len(list(bench.archs())) == 100


def test_fast_mode_directory_is_read_lazily(files: dict[str, Path]) -> None:
    results = NB201Results.load(files["nats-dir"])
    assert results.lazy and not results.loaded.any()
    bench = NB201Benchmark(results=results, dataset="cifar10")
    assert sorted(bench.archs()) == sorted(ARCHS.values())  # from the directory listing, nothing read
    assert not results.loaded.any()
    bench.accuracy(ARCHS[7777])
    assert results.loaded.sum() == 1
    reader = results._reader
    assert reader is not None and set(vars(reader)) == {"results", "trust_pickle", "file_of", "in_dir"}  # no records
    bench.best()
    assert results.loaded.all() and not results.lazy  # everything read, the reader released
    eager = NB201Results.load(files["nats-dir"], lazy=False)
    assert not eager.lazy and np.array_equal(eager.acc, results.acc, equal_nan=True)
    with pytest.raises(BenchmarkError, match="lazy loading needs the fast-mode directory"):
        NB201Results.load(files["pth-v1_1"], lazy=True)


# -- errors for bad files --------------------------------------------------------------------------
def test_missing_and_empty_files(tmp_path: Path) -> None:
    missing = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    with pytest.raises(BenchmarkError, match=r"NAS-Bench-201-v1_1-096897\.pth: no such file.*NAS-Bench-201 \.pth"):
        NB201Benchmark(missing)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(BenchmarkError, match=r"empty\.pth is empty; expected one of"):
        NB201Benchmark(empty)
    with pytest.raises(BenchmarkError, match="needs a path"):
        NB201Benchmark()


@pytest.mark.parametrize("source", ["pth-v1_1", "pth-zip"])
def test_truncated_pth(files: dict[str, Path], tmp_path: Path, source: str) -> None:
    bad = _truncate(files[source], tmp_path / "cut.pth")
    with pytest.raises(BenchmarkError, match=r"cut\.pth: cannot read it .*NAS-Bench-201 \.pth file") as info:
        NB201Benchmark(bad)
    assert info.value.__cause__ is not None


def test_truncated_nats_pickle(files: dict[str, Path], tmp_path: Path) -> None:
    bad = _truncate(files["nats-pickle"], tmp_path / "cut.pickle.pbz2")
    with pytest.raises(BenchmarkError, match=r"cut\.pickle\.pbz2: cannot read it .*NATS-Bench topology file") as info:
        NB201Benchmark(bad)
    assert isinstance(info.value.__cause__, EOFError | OSError)


def test_wrong_files(files: dict[str, Path], tmp_path: Path) -> None:
    csv = tmp_path / "table.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(BenchmarkError, match=r"table\.csv: not a recognised benchmark file.*NB201TableBenchmark"):
        NB201Benchmark(csv)
    not_bz2 = tmp_path / "fake.pickle.pbz2"
    not_bz2.write_bytes(files["pth-v1_1"].read_bytes())
    with pytest.raises(BenchmarkError, match=r"fake\.pickle\.pbz2: cannot read it .*NATS-Bench topology file"):
        NB201Benchmark(not_bz2, format="nats-pickle")
    a_list = tmp_path / "list.pth"
    torch.save([1, 2, 3], a_list)
    with pytest.raises(BenchmarkError, match=r"list\.pth: holds list, not the NAS-Bench-201 dict.*meta_archs"):
        NB201Benchmark(a_list)
    wrong_keys = tmp_path / "keys.pth"
    torch.save({"meta_archs": []}, wrong_keys)
    with pytest.raises(BenchmarkError, match=r"holds \['meta_archs'\], not the NAS-Bench-201 dict"):
        NB201Benchmark(wrong_keys)
    with pytest.raises(BenchmarkError, match="is a file, not format 'nats-dir'"):
        NB201Benchmark(files["nats-pickle"], format="nats-dir")
    with pytest.raises(BenchmarkError, match="unknown format 'hdf5'"):
        NB201Benchmark(files["nats-pickle"], format="hdf5")


def test_bad_meta_archs_and_records(tmp_path: Path) -> None:
    data = F.nb201_pth_dict([0])
    data["meta_archs"][3] = "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    torch.save(data, tmp_path / "meta.pth")
    with pytest.raises(BenchmarkError, match=r"meta\.pth: meta_archs\[3\] = .* unknown op 'conv'"):
        NB201Benchmark(tmp_path / "meta.pth")
    data = F.nb201_pth_dict([0])
    del data["arch2infos"][0]["full"]["all_results"][("cifar10", 777)]["eval_acc1es"]["ori-test@199"]
    torch.save(data, tmp_path / "record.pth")
    with pytest.raises(BenchmarkError, match=r"record\.pth: the record of architecture 0 does not have the official"):
        NB201Benchmark(tmp_path / "record.pth")


def test_fast_mode_directory_errors(files: dict[str, Path], tmp_path: Path) -> None:
    directory = F.write_nats_dir(tmp_path / "simple", [0, 1])
    _truncate(directory / "1.pickle.pbz2", directory / "1.pickle.pbz2", keep=0.3)
    bench = NB201Benchmark(directory, dataset="cifar10")
    assert bench.accuracy(S.index_to_arch(0)) == pytest.approx(F.expected_accuracy(0, "cifar10", "ori-test"))
    with pytest.raises(BenchmarkError, match=r"simple/1\.pickle\.pbz2: cannot read it") as info:
        bench.accuracy(S.index_to_arch(1))
    assert info.value.__cause__ is not None
    (directory / "meta.pickle.pbz2").unlink()
    with pytest.raises(BenchmarkError, match=r"simple: cannot read it .*fast-mode directory"):
        NB201Benchmark(directory)


def test_untrusted_pickle_globals_are_refused(tmp_path: Path) -> None:
    data = F.nb201_pth_dict([0])
    data["extra"] = PurePosixPath("x")  # any class outside the allow-list
    torch.save(data, tmp_path / "globals.pth")
    with pytest.raises(BenchmarkError, match=r"refused to unpickle it: global pathlib\.PurePosixPath.*trust_pickle"):
        NB201Benchmark(tmp_path / "globals.pth")
    trusted = NB201Benchmark(tmp_path / "globals.pth", trust_pickle=True)
    assert trusted.accuracy(S.index_to_arch(0)) == pytest.approx(F.expected_accuracy(0, "cifar10", "ori-test"))


def test_numpy_scalars_load_without_trust(tmp_path: Path) -> None:
    data = F.nb201_pth_dict([0])
    record = data["arch2infos"][0]["full"]["all_results"][("cifar10", 777)]
    record["eval_acc1es"]["ori-test@199"] = np.float64(record["eval_acc1es"]["ori-test@199"])
    record["params"] = np.float32(record["params"])
    torch.save(data, tmp_path / "numpy.pth")
    bench = NB201Benchmark(tmp_path / "numpy.pth")
    assert bench.accuracy(S.index_to_arch(0)) == pytest.approx(F.expected_accuracy(0, "cifar10", "ori-test"))


def test_fixture_files_are_what_the_packages_read(files: dict[str, Path]) -> None:
    import nats_bench
    from nas_201_api import NASBench201API

    api = NASBench201API(str(files["pth-v1_1"]), verbose=False)
    info = api.get_more_info(42, "cifar100", hp="200", is_random=False)
    assert info["test-accuracy"] == pytest.approx(F.expected_accuracy(42, "cifar100", "x-test"))
    with bz2.BZ2File(files["nats-dir"] / "meta.pickle.pbz2") as handle:
        assert len(pickle.load(handle)["meta_archs"]) == S.NUM_ARCHS
    nats = nats_bench.create(str(files["nats-dir"]), "tss", fast_mode=True, verbose=False)
    info = nats.get_more_info(7777, "cifar10-valid", hp="200", is_random=False)
    assert info["valid-accuracy"] == pytest.approx(F.expected_accuracy(7777, "cifar10-valid", "x-valid"))


# -- tables ----------------------------------------------------------------------------------------
TABLE_INDEXES = (*F.FIXTURE_INDEXES, 3, 4, 6111)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return F.write_nb201_table(tmp_path_factory.mktemp("table") / "nb201.csv", TABLE_INDEXES)


def test_nb201_table_values(table: Path) -> None:
    for dataset, column in F.TABLE_COLUMNS.items():
        bench = NB201TableBenchmark(table, dataset=dataset)
        assert bench.space == "nb201" and bench.name == "nb201.table" and bench.default_epochs == 200
        assert bench.splits == ("test",)
        for i in TABLE_INDEXES:
            assert bench.accuracy(S.index_to_arch(i)) == F.expected_accuracy(i, dataset, F.TABLE_SETS[dataset])
            assert bench.accuracy(S.index_to_arch(i), epochs=200) == bench.accuracy(S.index_to_arch(i))
        assert sorted(bench.archs()) == sorted(S.index_to_arch(i) for i in TABLE_INDEXES)
        best = max(TABLE_INDEXES, key=lambda i: F.expected_accuracy(i, dataset, F.TABLE_SETS[dataset]))
        assert bench.best() == (S.index_to_arch(best), F.expected_accuracy(best, dataset, F.TABLE_SETS[dataset]))
        assert bench.cost(S.index_to_arch(0), "params") is None
        assert bench.accuracy_array()[best] == bench.best()[1]
        del column


def test_nb201_table_query_errors(table: Path) -> None:
    bench = NB201TableBenchmark(table, "cifar10")
    with pytest.raises(BenchmarkError, match=r"holds only 200-epoch results; asked for 12"):
        bench.accuracy(S.index_to_arch(0), epochs=12)
    with pytest.raises(BenchmarkError, match=r"no column 'CIFAR10ValidAccuracy200Epochs', so no 'valid' split"):
        bench.accuracy(S.index_to_arch(0), split="valid")
    with pytest.raises(
        BenchmarkError, match=rf"has no 'cifar10' 'test' accuracy for architecture {re.escape(S.to_str(ABSENT))}"
    ):
        bench.accuracy(ABSENT)
    with pytest.raises(BenchmarkError, match="not an architecture of space 'nb201'"):
        bench.accuracy((9, 9, 9, 9, 9, 9))
    with pytest.raises(
        BenchmarkError,
        match=r"data set 'cifar10-test' is not in this table's schema; accepted: cifar10, cifar10-valid, cifar100, "
        r"ImageNet16-120",
    ):
        NB201TableBenchmark(table, "cifar10-test")
    with pytest.raises(  # the reference layout has no cifar10-valid columns
        BenchmarkError, match=r"missing column\(s\) CIFAR10ValidTestAccuracy200Epochs for data set 'cifar10-valid'"
    ):
        NB201TableBenchmark(table, "cifar10-valid")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


ARCH0 = S.to_str(S.index_to_arch(0))
ARCH1 = S.to_str(S.index_to_arch(1))
HEADER = "CIFAR10TestAccuracy200Epochs,CIFAR100TestAccuracy200Epochs,ImageNetTestAccuracy200Epochs,ArchitectureString"


def test_nb201_table_optional_columns(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "extra.csv",
        f"{HEADER},CIFAR10ValidAccuracy200Epochs,CIFAR10Params,CIFAR10FLOPs\n"
        f"91.5,70,40,{ARCH0},89.25,1.5,200\n90.0,69,39,{ARCH1},88.0,,180\n",
    )
    bench = NB201TableBenchmark(path, "cifar10")
    assert bench.splits == ("test", "valid") and bench.cost_keys == ("params", "flops")
    a0, a1 = S.index_to_arch(0), S.index_to_arch(1)
    assert bench.accuracy(a0, "valid") == 89.25 and bench.best("valid") == (a0, 89.25)
    assert bench.cost(a0, "params") == 1.5 and bench.cost(a1, "params") is None and bench.cost(a1, "flops") == 180
    assert bench.cost(a0, "latency") is None


def test_table_file_errors(tmp_path: Path) -> None:
    expected = r"expected columns ArchitectureString, CIFAR10TestAccuracy200Epochs"
    with pytest.raises(BenchmarkError, match=rf"nope\.csv: no such file; expected a CSV table with {expected}"):
        NB201TableBenchmark(tmp_path / "nope.csv")
    with pytest.raises(BenchmarkError, match=rf"empty\.csv is empty; .*{expected}"):
        NB201TableBenchmark(_write(tmp_path / "empty.csv", ""))
    with pytest.raises(BenchmarkError, match=rf"blank\.csv is empty; .*{expected}"):
        NB201TableBenchmark(_write(tmp_path / "blank.csv", "\n\n"))
    with pytest.raises(BenchmarkError, match=rf"header\.csv has a header but no data rows; {expected}"):
        NB201TableBenchmark(_write(tmp_path / "header.csv", HEADER + "\n"))
    with pytest.raises(
        BenchmarkError,
        match=rf"cols\.csv: missing column\(s\) ArchitectureString for data set 'cifar10'; {expected}.*"
        r"the file has columns CIFAR10TestAccuracy200Epochs, arch",
    ):
        NB201TableBenchmark(_write(tmp_path / "cols.csv", f"CIFAR10TestAccuracy200Epochs,arch\n93.1,{ARCH0}\n"))
    with pytest.raises(BenchmarkError, match=r"missing column\(s\) ImageNetTestAccuracy200Epochs for data set"):
        NB201TableBenchmark(
            _write(tmp_path / "c10.csv", f"CIFAR10TestAccuracy200Epochs,ArchitectureString\n93.1,{ARCH0}\n"),
            "ImageNet16-120",
        )
    assert NB201TableBenchmark(tmp_path / "c10.csv").accuracy(S.index_to_arch(0)) == 93.1


def test_table_row_errors(tmp_path: Path) -> None:
    bad_arch = "|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    path = _write(tmp_path / "arch.csv", f"{HEADER}\n91,70,40,{ARCH0}\n90,69,39,{bad_arch}\n")
    with pytest.raises(
        BenchmarkError,
        match=r"arch\.csv: row 2 \(line 3\): column 'ArchitectureString' value '\|nor_conv_5x5~0\|.*' is not an "
        r"architecture of space 'nb201': .*unknown op 'nor_conv_5x5'.*accepted ops: none, skip_connect",
    ):
        NB201TableBenchmark(path)
    path = _write(tmp_path / "blank_arch.csv", f"{HEADER}\n91,70,40,{ARCH0}\n90,69,39,\n")
    with pytest.raises(BenchmarkError, match=r"row 2 \(line 3\): column 'ArchitectureString' is empty"):
        NB201TableBenchmark(path)
    path = _write(tmp_path / "number.csv", f"{HEADER}\n91,70,40,{ARCH0}\nn/a?,69,39,{ARCH1}\n")
    with pytest.raises(
        BenchmarkError,
        match=r"number\.csv: row 2 \(line 3\): column 'CIFAR10TestAccuracy200Epochs' value 'n/a\?' "
        r"is not a number \(accuracy in percent\)",
    ):
        NB201TableBenchmark(path)
    path = _write(tmp_path / "range.csv", f"{HEADER}\n0.91,70,40,{ARCH0}\n191,69,39,{ARCH1}\n")
    with pytest.raises(
        BenchmarkError,
        match=r"row 2 \(line 3\): column 'CIFAR10TestAccuracy200Epochs' value "
        r"191\.0 is outside 0\.\.100",
    ):
        NB201TableBenchmark(path)
    path = _write(tmp_path / "dup.csv", f"{HEADER}\n91,70,40,{ARCH0}\n90,69,39,{ARCH1}\n92,71,41,{ARCH0}\n")
    with pytest.raises(
        BenchmarkError,
        match=r"row 1 \(line 2\) and row 3 \(line 4\) both hold architecture "
        r".*one row per architecture",
    ):
        NB201TableBenchmark(path)


def test_generic_table_with_seeds_and_without_an_index(tmp_path: Path) -> None:
    schema = TableSchema(
        arch_column="cell",
        accuracy_columns={"toy": {"test": "acc", "valid": "val"}},
        cost_columns={"toy": {"params": "p"}},
        seed_column="seed",
        epochs=50,
        accuracy_scale=100.0,
    )
    path = _write(
        tmp_path / "toy.tsv",
        "cell\tseed\tacc\tval\tp\nA\t0\t0.5\t0.25\t3\nA\t1\t0.75\t0.5\t3\nB\t0\t0.625\t0.5\t2\nC\t0\t\t0.5\t1\n",
    )

    def parse(text: str) -> str:
        if text not in ("A", "B", "C"):
            raise ValueError(f"unknown cell {text!r}; accepted: A, B, C")
        return text

    bench = TableBenchmark(path, "toy", schema=schema, parse=parse, space="toy")
    assert bench.accuracy("A") == 62.5 and bench.accuracy("A", "valid") == 37.5  # mean over the two seeds
    assert bench.accuracy("B", epochs=50) == 62.5 and bench.cost("A", "params") == 3.0
    assert list(bench.archs()) == ["A", "B"]  # C has no test accuracy
    assert bench.best() == ("A", 62.5)
    with pytest.raises(BenchmarkError, match="has no 'toy' 'test' accuracy for architecture 'C'"):
        bench.accuracy("C")
    with pytest.raises(BenchmarkError, match=r"unknown cell 'D'"):
        bench.accuracy("D")
    dup = _write(tmp_path / "dup.csv", "cell,seed,acc,val,p\nA,0,0.5,0.5,1\nA,0,0.5,0.5,1\n")
    with pytest.raises(BenchmarkError, match=r"row 1 \(line 2\) and row 2 \(line 3\) .*each \(architecture, seed\)"):
        TableBenchmark(dup, "toy", schema=schema, parse=parse, space="toy")
    no_seed = _write(tmp_path / "noseed.csv", "cell,seed,acc,val,p\nA,,0.5,0.5,1\n")
    with pytest.raises(BenchmarkError, match=r"row 1 \(line 2\): column 'seed' is empty"):
        TableBenchmark(no_seed, "toy", schema=schema, parse=parse, space="toy")
    bad = _write(tmp_path / "bad.csv", "cell,seed,acc,val,p\nX,0,0.5,0.5,1\n")
    with pytest.raises(BenchmarkError, match=r"bad\.csv: row 1 \(line 2\): column 'cell' value 'X'.*accepted: A, B, C"):
        TableBenchmark(bad, "toy", schema=schema, parse=parse, space="toy")


def test_parquet_tables(tmp_path: Path) -> None:
    path = tmp_path / "nb201.parquet"
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        path.write_bytes(b"PAR1 not really")
        with pytest.raises(BenchmarkError, match=r"nb201\.parquet: reading Parquet needs pyarrow"):
            NB201TableBenchmark(path)
        return
    import pandas as pd

    pd.DataFrame(F.table_rows(TABLE_INDEXES)).to_parquet(path)
    bench = NB201TableBenchmark(path, "cifar100")
    assert bench.accuracy(S.index_to_arch(42)) == F.expected_accuracy(42, "cifar100", "x-test")
