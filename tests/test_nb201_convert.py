"""Converting an official NAS-Bench-201 / NATS-Bench file into a table: the official numbers, provenance, reuse."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nas_harness.api import BenchmarkError
from nas_harness.benchmarks import nb201, nb201_convert
from nas_harness.benchmarks.nb201 import COST_KEYS, DATASETS, EPOCHS, EVAL_SETS, SPLITS, NB201Results
from nas_harness.benchmarks.nb201_convert import (
    cache_table_path,
    convert_nb201,
    cost_column,
    default_table_path,
    find_converted,
    open_official,
    results_from_table,
)
from nas_harness.benchmarks.table import NB201TableBenchmark, nb201_table_column
from nas_harness.cli import main
from nas_harness.home import CACHE_ENV
from nas_harness.registry import get_registry
from nas_harness.spaces import nb201 as S
from tests.helpers import nb201_fixtures as F
from tests.helpers.full_size import write_full_size

ROOT = Path(__file__).resolve().parents[1]
N_ARCHS = 12
SOURCES = ["nb201", "nats"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sources")
    return {
        "nb201": write_full_size(folder / "synthetic-v1_1.pth", "nb201-v1_1", N_ARCHS),  # not an official name
        "nats": F.write_nats_pickle(folder / F.NATS_PICKLE_NAME),  # the official name
    }


@pytest.fixture(scope="module")
def official(sources: dict[str, Path]) -> dict[str, NB201Results]:
    return {name: NB201Results.load(path, reader="official") for name, path in sources.items()}


@pytest.fixture
def source(sources: dict[str, Path], tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A private copy of one source (tests change its time stamp and write tables beside it)."""
    original = sources[request.param]
    return Path(shutil.copy2(original, tmp_path / original.name))


def _indexes(results: NB201Results) -> np.ndarray:
    return np.flatnonzero(results.has_record)


def _column_values(results: NB201Results) -> dict[str, np.ndarray]:
    """Every (column name -> values by official index) the official reader gives, NaN where it has none."""
    out = {}
    for e, epochs in enumerate(EPOCHS):
        for d, dataset in enumerate(DATASETS):
            for s, split in enumerate(SPLITS):
                out[nb201_table_column(dataset, split, epochs)] = results.acc[e, d, s]
    for d, dataset in enumerate(DATASETS):
        for k, key in enumerate(COST_KEYS):
            out[cost_column(dataset, key)] = results.costs[d, k]
    return {name: values for name, values in out.items() if np.isfinite(values).any()}


# -- the table holds the official numbers ---------------------------------------------------------
@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_every_value_in_the_table_is_the_official_readers(
    source: Path, official: dict[str, NB201Results], tmp_path: Path
) -> None:
    want = official["nats" if source.name.startswith("NATS") else "nb201"]
    summary = convert_nb201(source, tmp_path / "out" / "table.csv")
    assert summary.table == tmp_path / "out" / "table.csv" and summary.table.is_file()
    frame = pd.read_csv(summary.table)
    index = np.array([S.arch_to_index(S.parse(text)) for text in frame["ArchitectureString"]])
    assert sorted(index) == sorted(_indexes(want)) and summary.archs == len(index)
    columns = _column_values(want)
    assert set(frame.columns) == {"ArchitectureString", *columns} and summary.columns == len(columns)
    assert len(columns) == 2 * 7 + 4 * 4  # every data set and split at 12 and 200 epochs, 4 costs of 4 data sets
    for name, values in columns.items():
        assert np.array_equal(frame[name].to_numpy(dtype=float), values[index], equal_nan=True), name
    back = results_from_table(summary.table, source, summary.format)  # what nb201.official then serves
    assert np.array_equal(back.acc, want.acc, equal_nan=True)
    assert np.array_equal(back.costs, want.costs, equal_nan=True)
    assert np.array_equal(back.has_record, want.has_record)


def _official_api(path: Path) -> Any:
    if path.name.endswith(".pbz2"):
        import nats_bench

        return nats_bench.create(str(path), "tss", fast_mode=False, verbose=False)
    from nas_201_api import NASBench201API

    return NASBench201API(str(path), verbose=False)


@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_the_table_agrees_with_the_official_api(source: Path, tmp_path: Path) -> None:
    table = convert_nb201(source, tmp_path / "table.csv").table
    api = _official_api(source)
    indexes = sorted(set(api.evaluated_indexes))[:3]
    for dataset, splits in EVAL_SETS.items():
        bench = NB201TableBenchmark(table, dataset)
        for index in indexes:
            arch = S.index_to_arch(index)
            for hp in ("12", "200"):
                info = api.get_more_info(index, dataset, hp=hp, is_random=False)
                for split in splits:
                    got = bench.accuracy(arch, split, epochs=int(hp))
                    assert got == float(info[f"{split}-accuracy"]), (dataset, hp)
            cost = api.get_cost_info(index, dataset, hp="200")
            for key, official_key in (("params", "params"), ("flops", "flops"), ("latency", "latency")):
                assert bench.cost(arch, key) == float(cost[official_key])
            assert bench.cost(arch, "train_seconds") == float(cost["T-train@total"])


@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_nb201_table_serves_the_converted_table(
    source: Path, official: dict[str, NB201Results], tmp_path: Path
) -> None:
    want = official["nats" if source.name.startswith("NATS") else "nb201"]
    table = convert_nb201(source, tmp_path / "table.csv").table
    for d, dataset in enumerate(DATASETS):
        bench = get_registry().create("benchmark", "nb201.table", path=str(table), dataset=dataset)
        assert isinstance(bench, NB201TableBenchmark)
        assert sorted(S.arch_to_index(a) for a in bench.archs()) == sorted(_indexes(want))
        for index in _indexes(want):
            arch = S.index_to_arch(int(index))
            for split in EVAL_SETS[dataset]:
                s = SPLITS.index(split)
                for e, epochs in enumerate(EPOCHS):
                    assert bench.accuracy(arch, split, epochs=epochs) == want.acc[e, d, s, index]
            for k, key in enumerate(COST_KEYS):
                assert bench.cost(arch, key) == want.costs[d, k, index]
    c10v = NB201TableBenchmark(table, "cifar10-valid")
    some = S.index_to_arch(int(_indexes(want)[0]))
    assert c10v.accuracy(some, "valid", epochs=12) != c10v.accuracy(some, "valid")  # 12 epochs is its own column


# -- provenance -------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_provenance_names_the_file_by_size_time_and_sha256(source: Path) -> None:
    summary = convert_nb201(source)
    assert summary.table == default_table_path(source) == source.with_name(source.name + ".nb201.csv")
    provenance = json.loads(Path(f"{summary.table}.json").read_text())
    stat = source.stat()
    assert provenance["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest() == summary.sha256
    assert provenance["source_size"] == stat.st_size == summary.source_size
    assert provenance["source_mtime_ns"] == stat.st_mtime_ns == summary.source_mtime_ns
    assert provenance["source"] == str(source.resolve())
    assert provenance["table"] == str(summary.table)
    assert provenance["format"] == summary.format == ("nats-pickle" if source.name.endswith(".pbz2") else "nb201-pth")
    assert provenance["archs"] == summary.archs and provenance["columns"] == summary.columns
    assert provenance["official_name"] is summary.official_name


@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_official_name(source: Path) -> None:
    named = convert_nb201(source).official_name
    assert named is source.name.startswith("NATS")  # the NATS copy keeps the official name, the other has none
    renamed = source.rename(source.with_name(F.NB201_V11_NAME if not named else "mine.pickle.pbz2"))
    assert convert_nb201(renamed).official_name is not named


# -- nb201.official reads a current table instead of the file ------------------------------------------
def _forbid_reading_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the benchmark file was read")

    monkeypatch.setattr(nb201, "read_single_file", refuse)
    monkeypatch.setattr(NB201Results, "load", refuse)
    monkeypatch.setattr(nb201, "load_torch_file", refuse)
    monkeypatch.setattr(nb201, "load_bz2_pickle", refuse)


def _assert_serves(bench: Any, want: NB201Results) -> None:
    d = DATASETS.index(bench.dataset)
    for index in _indexes(want):
        arch = S.index_to_arch(int(index))
        for split in EVAL_SETS[bench.dataset]:
            for e, epochs in enumerate(EPOCHS):
                assert bench.accuracy(arch, split, epochs=epochs) == want.acc[e, d, SPLITS.index(split), index]
        assert bench.cost(arch, "flops") == want.costs[d, COST_KEYS.index("flops"), index]


@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_open_official_uses_the_table_until_the_file_changes(
    source: Path, official: dict[str, NB201Results], monkeypatch: pytest.MonkeyPatch
) -> None:
    want = official["nats" if source.name.startswith("NATS") else "nb201"]
    table = convert_nb201(source).table
    assert find_converted(source) == table
    with monkeypatch.context() as patch:
        _forbid_reading_the_file(patch)
        bench = open_official(source, "cifar10-valid")
        assert bench.results.table == table
        _assert_serves(bench, want)
        registered = get_registry().create("benchmark", "nb201.official", path=str(source), dataset="cifar100")
        assert registered.results.table == table
        _assert_serves(registered, want)
        stat = source.stat()
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # the file changed
        assert find_converted(source) is None
        with pytest.raises(AssertionError, match="the benchmark file was read"):
            open_official(source, "cifar10-valid")  # the stale table is not used
    reread = open_official(source, "cifar10-valid")
    assert getattr(reread.results, "table", None) is None
    _assert_serves(reread, want)
    assert not hasattr(open_official(source, "cifar10", use_converted=False).results, "table")


@pytest.mark.parametrize("source", ["nb201"], indirect=True)
def test_a_table_of_another_size_is_stale(source: Path) -> None:
    table = convert_nb201(source).table
    provenance_path = Path(f"{table}.json")
    provenance = json.loads(provenance_path.read_text())
    provenance["source_size"] += 1
    provenance_path.write_text(json.dumps(provenance))
    assert find_converted(source) is None
    assert getattr(open_official(source, "cifar10").results, "table", None) is None
    provenance_path.write_text("{not json")
    assert find_converted(source) is None


@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_a_table_in_the_cache_is_found(
    source: Path, official: dict[str, NB201Results], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    table = cache_table_path(source, cache)
    assert table.parent == cache / "nb201" and str(source.stat().st_size) in table.name
    assert find_converted(source, cache) is None
    assert main(["data", "convert", "nb201", str(source), "--output", str(table)]) == 0
    assert find_converted(source, cache) == table
    assert not default_table_path(source).exists()
    assert find_converted(source, tmp_path / "elsewhere") is None
    monkeypatch.setenv(CACHE_ENV, str(cache))  # where nb201.official looks by default
    with monkeypatch.context() as patch:
        _forbid_reading_the_file(patch)
        bench = open_official(source, "ImageNet16-120")
        assert bench.results.table == table
        _assert_serves(bench, official["nats" if source.name.startswith("NATS") else "nb201"])


# -- the command line ---------------------------------------------------------------------------------
@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_the_cli_prints_the_table_and_the_sha256(source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "convert", "nb201", str(source)]) == 0
    out = capsys.readouterr().out
    table = default_table_path(source)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    assert f"{table}: " in out and f"sha256 {sha}" in out and f", {source.stat().st_size} bytes)" in out
    assert f"{N_ARCHS if source.suffix == '.pth' else len(F.FIXTURE_INDEXES)} architectures" in out
    if source.name.startswith("NATS"):
        assert "name: one of the official files'" in out
    else:
        assert "name: not an official file's name" in out
    assert find_converted(source) == table


@pytest.mark.parametrize("source", ["nats"], indirect=True)
def test_the_installed_command(source: Path, tmp_path: Path) -> None:
    output = tmp_path / "by-cli.csv"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("nas-harness")), "data", "convert", "nb201", str(source)]
        + ["--output", str(output), "--trust-pickle"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert str(output) in done.stdout and hashlib.sha256(source.read_bytes()).hexdigest() in done.stdout
    assert output.is_file() and Path(f"{output}.json").is_file()


@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_a_corrupt_file_is_an_error_naming_it(source: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 2])
    with pytest.raises(BenchmarkError, match=rf"{source.name}: cannot read it") as info:
        convert_nb201(source)
    assert str(source) in str(info.value)
    assert not default_table_path(source).exists() and not Path(f"{default_table_path(source)}.json").exists()
    assert main(["data", "convert", "nb201", str(source)]) == 2
    err = capsys.readouterr().err
    assert "nas-harness: error:" in err and str(source) in err
    source.write_text("not a benchmark file\n")
    with pytest.raises(BenchmarkError, match=rf"{source.name}: not a recognised benchmark file"):
        convert_nb201(source)
    assert sorted(p.name for p in source.parent.iterdir()) == [source.name]  # no table, no temporary file


def test_the_converter_module_is_what_the_registry_calls() -> None:
    from nas_harness import builtin

    assert builtin.open_official is nb201_convert.open_official
