"""NAS-Bench-101 ground truth without TensorFlow: TFRecord framing, the official record layout, the
conversion into an SQLite store, and the benchmark over stores, TFRecord, JSON and CSV files.

Fixtures are written in code in the exact official layout (tests.helpers.nb101_fixtures) and read
back through the real reader and converter.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import sqlite3
import struct
import tracemalloc
from pathlib import Path

import google_crc32c
import pytest

from nas_harness.api import BenchmarkError
from nas_harness.benchmarks import nb101_convert
from nas_harness.benchmarks.nb101 import NB101Benchmark, convert_records, detect_format
from nas_harness.benchmarks.nb101_records import (
    EvaluationData,
    ModelMetrics,
    NB101Record,
    RecordFormatError,
    decode_evaluation_data,
    decode_model_metrics,
    decode_record,
    encode_evaluation_data,
    encode_model_metrics,
    encode_record,
)
from nas_harness.benchmarks.tfrecord import frame, iter_records, masked_crc, write_records
from nas_harness.cli import main
from nas_harness.spaces import nb101 as S
from tests.helpers import nb101_fixtures as F

CELLS = [S.make_cell(m, o) for m, o in F.FIXTURE_CELLS]
#: a valid cell that is not among the fixtures
ABSENT = S.make_cell(((0, 1, 0), (0, 0, 1), (0, 0, 0)), ("input", "maxpool3x3", "output"))
EPOCHS = F.FULL_EPOCHS
SPLIT_FIELDS = {"train": "train_accuracy", "valid": "validation_accuracy", "test": "test_accuracy"}


def expected(index: int, split: str, epochs: int = 108, halfway: bool = False) -> float:
    """Mean over the three repeats, in percent, computed from the fixture's closed form."""
    field = ("halfway_" if halfway else "") + SPLIT_FIELDS[split]
    return sum(F.fixture_run(index, epochs, r)[field] * 100 for r in range(F.REPEATS)) / F.REPEATS


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tfrecord(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return F.write_nb101_tfrecord(tmp_path_factory.mktemp("nb101") / "nasbench_fixture.tfrecord")


@pytest.fixture(scope="module")
def store(tfrecord: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "nb101.sqlite"
    convert_records(tfrecord, path, progress=False)
    return path


@pytest.fixture(scope="module")
def bench(store: Path) -> NB101Benchmark:
    return NB101Benchmark(store)


def _offsets(path: Path) -> list[int]:
    return [offset for offset, _ in iter_records(path)]


def _records(path: Path) -> list[bytes]:
    return [data for _, data in iter_records(path)]


# -- TFRecord framing ------------------------------------------------------------------------------
def test_masked_crc_matches_published_values() -> None:
    assert google_crc32c.value(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert masked_crc(b"1234567890asdfghjkl") == 4134599430  # published in tfrecord readers' test suites
    framed = frame(b"abc")
    assert framed[:8] == struct.pack("<Q", 3)
    assert struct.unpack("<I", framed[8:12])[0] == masked_crc(struct.pack("<Q", 3))
    assert framed[12:15] == b"abc"
    assert struct.unpack("<I", framed[15:])[0] == masked_crc(b"abc")


def test_records_round_trip_with_their_offsets(tmp_path: Path) -> None:
    payloads = [b"", b"x", b"hello world" * 50]
    path = write_records(tmp_path / "r.tfrecord", payloads)
    assert list(iter_records(path)) == [(0, b""), (16, b"x"), (33, payloads[2])]
    assert path.stat().st_size == 33 + 16 + len(payloads[2])
    assert list(iter_records(write_records(tmp_path / "empty.tfrecord", []))) == []


@pytest.fixture()
def three(tmp_path: Path) -> tuple[Path, list[int]]:
    path = write_records(tmp_path / "three.tfrecord", [b"first record", b"second record", b"third record"])
    return path, _offsets(path)


def test_bad_data_crc_names_file_and_offset(three: tuple[Path, list[int]]) -> None:
    path, offsets = three
    data = bytearray(path.read_bytes())
    data[offsets[1] + 12 + 3] ^= 0x01  # one bit of the second record's data
    path.write_bytes(bytes(data))
    with pytest.raises(BenchmarkError, match=rf"{path}: corrupt .*data CRC mismatch .*byte offset {offsets[1]} "):
        list(iter_records(path))


def test_bad_length_crc_names_file_and_offset(three: tuple[Path, list[int]]) -> None:
    path, offsets = three
    data = bytearray(path.read_bytes())
    data[offsets[2] + 9] ^= 0x10  # the third record's length CRC
    path.write_bytes(bytes(data))
    got = []
    with pytest.raises(BenchmarkError, match=rf"{path}: corrupt .*length CRC mismatch .*byte offset {offsets[2]} "):
        for offset, _ in iter_records(path):
            got.append(offset)
    assert got == offsets[:2]  # the records before it were read


@pytest.mark.parametrize("cut", [5, 12 + 4, -2])
def test_truncated_file_names_file_and_offset(three: tuple[Path, list[int]], cut: int) -> None:
    path, offsets = three
    data = path.read_bytes()
    end = offsets[2] + cut if cut > 0 else len(data) + cut  # inside the header, the data, the final CRC
    path.write_bytes(data[:end])
    with pytest.raises(
        BenchmarkError, match=rf"{path}: truncated TFRecord file: the record at byte offset {offsets[2]} "
    ):
        list(iter_records(path))


# -- ModelMetrics protobuf -------------------------------------------------------------------------
def test_protobuf_encoding_matches_hand_written_wire_bytes() -> None:
    # field 2 (varint) = 300 -> key 0x10, varint ac 02; field 3 (64-bit) -> key 0x19 + double
    assert encode_model_metrics(ModelMetrics(trainable_parameters=300, total_time=1.5)) == (
        b"\x10\xac\x02\x19" + struct.pack("<d", 1.5)
    )
    inner = b"\x29" + struct.pack("<d", 0.25) + b"\x32\x03abc"  # test_accuracy (5), checkpoint_path (6)
    wire = b"\x0a" + bytes([len(inner)]) + inner
    decoded = decode_model_metrics(wire)
    assert decoded.evaluation_data == [EvaluationData(test_accuracy=0.25, checkpoint_path="abc")]
    assert decoded.trainable_parameters is None and decoded.total_time is None


def test_protobuf_round_trip_skips_unknown_fields_and_keeps_the_last_value() -> None:
    metrics = F.fixture_metrics(F.fixture_run(2, 36, 1), 36)
    metrics.evaluation_data[2].checkpoint_path = "gs://bucket/model.ckpt-1234"
    blob = encode_model_metrics(metrics)
    assert decode_model_metrics(blob) == metrics
    unknown = b"\x38\x96\x01" + b"\x41" + b"\x00" * 8 + b"\x4a\x02hi" + b"\x55" + b"\x00" * 4  # fields 7-10
    later = b"\x10\x07"  # trainable_parameters again: the last value wins
    decoded = decode_model_metrics(unknown + blob + later)
    assert decoded.evaluation_data == metrics.evaluation_data
    assert decoded.trainable_parameters == 7
    plain = encode_evaluation_data(metrics.evaluation_data[1])
    assert len(plain) == 45  # fields 1-5 in order: the decoder's fast path
    reordered = plain[9:18] + plain[:9] + plain[18:]  # same size, other order: the general path
    assert decode_evaluation_data(reordered) == decode_evaluation_data(plain) == metrics.evaluation_data[1]
    negative = encode_model_metrics(ModelMetrics(trainable_parameters=-5))
    assert len(negative) == 11 and decode_model_metrics(negative).trainable_parameters == -5


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"\x10\xac", "varint runs past the end"),
        (b"\x0a\x05ab", "runs past the end"),
        (b"\x11" + b"\x00" * 8, "wire type 1, expected 0"),  # trainable_parameters as a double
        (b"\x0b", "unsupported wire type 3"),
        (b"\x19\x00\x00", "64-bit field 3 runs past the end"),
    ],
)
def test_protobuf_errors(wire: bytes, message: str) -> None:
    with pytest.raises(RecordFormatError, match=message):
        decode_model_metrics(wire)


def test_record_layout_round_trip_and_errors() -> None:
    record = next(F.fixture_records())
    data = encode_record(record)
    row = json.loads(data)
    assert row[:4] == [record.module_hash, 4, record.raw_adjacency, record.raw_operations]
    assert decode_model_metrics(base64.b64decode(row[4])) == record.metrics
    assert decode_record(data) == record
    with pytest.raises(RecordFormatError, match="not JSON"):
        decode_record(b"\xff\x00")
    with pytest.raises(RecordFormatError, match="expected a UTF-8 JSON list"):
        decode_record(b'["abc", 108]')
    with pytest.raises(RecordFormatError, match="epochs is '108', not a int"):
        decode_record(json.dumps([record.module_hash, "108", "01", "a,b", ""]).encode())
    with pytest.raises(RecordFormatError, match="raw_metrics is not base64"):
        decode_record(json.dumps([record.module_hash, 108, "0100", "input,output", "%%%"]).encode())


# -- conversion ------------------------------------------------------------------------------------
def test_conversion_summary_and_meta(tfrecord: Path, tmp_path: Path) -> None:
    summary = convert_records(tfrecord, tmp_path / "out.sqlite", progress=False)
    assert summary.records == len(CELLS) * len(EPOCHS) * F.REPEATS == 60
    assert summary.cells == len(CELLS)
    assert summary.epochs == EPOCHS
    assert summary.mismatches == 0
    assert summary.sha256 == hashlib.sha256(tfrecord.read_bytes()).hexdigest()
    assert summary.source_size == tfrecord.stat().st_size
    with sqlite3.connect(tmp_path / "out.sqlite") as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        assert meta["source_sha256"] == summary.sha256
        assert meta["source_name"] == tfrecord.name and meta["source_size"] == str(summary.source_size)
        assert meta["records"] == "60" and meta["format_version"] == "1"
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 60
        repeats = conn.execute("SELECT DISTINCT repeat FROM runs ORDER BY repeat").fetchall()
        assert repeats == [(0,), (1,), (2,)]
        hashes = {h for (h,) in conn.execute("SELECT hash FROM cells")}
    assert hashes == {S.module_hash(c) for c in CELLS}
    assert sorted(os.listdir(tmp_path)) == ["out.sqlite"]  # no temporary file left


def test_default_store_path_is_beside_the_source(tfrecord: Path, tmp_path: Path) -> None:
    source = tmp_path / "nasbench_only108.tfrecord"
    source.write_bytes(tfrecord.read_bytes())
    summary = convert_records(source, progress=False)
    assert summary.store == tmp_path / "nasbench_only108.sqlite" and summary.store.is_file()


def test_means_over_repeats_every_split_epochs_and_halfway(bench: NB101Benchmark) -> None:
    for index, cell in enumerate(CELLS):
        for epochs in EPOCHS:
            for split in ("train", "valid", "test"):
                want = expected(index, split, epochs)
                assert bench.accuracy(cell, split, epochs) == pytest.approx(want, rel=1e-12)
                half = bench.accuracy(cell, split, epochs, halfway=True)
                assert half == pytest.approx(expected(index, split, epochs, halfway=True), rel=1e-12)
        assert bench.accuracy(cell) == bench.accuracy(cell, "test", 108)  # defaults: test, 108 epochs
    # literal values: cell 1 at 108 epochs, test = (560 + 8 + 72 + 2 r) / 1024 for r = 0, 1, 2
    assert bench.accuracy(CELLS[1]) == pytest.approx(642 / 1024 * 100, rel=1e-12)
    runs = bench.runs(CELLS[1], epochs=12)
    assert [r["repeat"] for r in runs] == [0, 1, 2]
    assert [r["test_accuracy"] for r in runs] == [F.fixture_run(1, 12, r)["test_accuracy"] * 100 for r in range(3)]


def test_costs(bench: NB101Benchmark) -> None:
    for index, cell in enumerate(CELLS):
        assert bench.cost(cell, "params") == F.fixture_run(index, 108, 0)["trainable_parameters"] / 1e6
        seconds = sum(F.fixture_run(index, 108, r)["training_time"] for r in range(3)) / 3
        assert bench.cost(cell, "train_seconds") == pytest.approx(seconds, rel=1e-12)
        assert bench.cost(cell, "flops") is None  # the official records have no FLOPs
        assert bench.cost(cell, "latency") is None
    with pytest.raises(BenchmarkError, match="has no record of cell"):
        bench.cost(ABSENT, "params")


def test_lookup_is_by_module_hash_so_every_labelling_matches(bench: NB101Benchmark) -> None:
    cell = CELLS[3]  # input -> conv3x3, input -> maxpool, both -> output
    relabelled = S.make_cell(
        ((0, 1, 1, 0), (0, 0, 0, 1), (0, 0, 0, 1), (0, 0, 0, 0)), ("input", "maxpool3x3", "conv3x3-bn-relu", "output")
    )
    assert relabelled != cell and S.module_hash(relabelled) == S.module_hash(cell)
    assert bench.accuracy(relabelled, "valid") == bench.accuracy(cell, "valid")
    padded = S.make_cell(  # the same graph with a dangling vertex, pruned away
        ((0, 1, 1, 1, 0), (0, 0, 0, 0, 1), (0, 0, 0, 0, 1), (0, 0, 0, 0, 0), (0, 0, 0, 0, 0)),
        ("input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "output"),
    )
    assert bench.accuracy(padded) == bench.accuracy(cell)
    assert bench.accuracy(S.to_str(cell)) == bench.accuracy(cell)  # the canonical string works too
    digest = S.module_hash(cell)
    assert bench.accuracy_by_hash(digest, "valid", 36) == bench.accuracy(cell, "valid", 36)
    assert bench.cell_by_hash(digest) == S.canonical(cell)


def test_archs_len_hashes_and_best(bench: NB101Benchmark) -> None:
    archs = list(bench.archs())
    assert len(bench) == len(archs) == len(CELLS)
    assert archs == [S.canonical(c) for c in CELLS]  # canonical cells, in source order
    assert list(bench.hashes()) == [S.module_hash(c) for c in CELLS]
    for split in ("valid", "test"):
        want = max(range(len(CELLS)), key=lambda i: expected(i, split))
        cell, value = bench.best(split)
        assert cell == S.canonical(CELLS[want])
        assert value == pytest.approx(expected(want, split), rel=1e-12)
    assert bench.best("test", epochs=4)[1] == pytest.approx(max(expected(i, "test", 4) for i in range(5)), rel=1e-12)


def test_unknown_arch_split_and_epochs(bench: NB101Benchmark, store: Path) -> None:
    with pytest.raises(
        BenchmarkError, match=rf"{store} has no record of cell .*maxpool3x3.* \(module hash {S.module_hash(ABSENT)}\)"
    ):
        bench.accuracy(ABSENT)
    with pytest.raises(BenchmarkError, match="has no record of this cell"):
        bench.accuracy_by_hash("0" * 32)
    with pytest.raises(BenchmarkError, match=r"unknown split 'validation'; accepted: train, valid, test"):
        bench.accuracy(CELLS[0], "validation")
    with pytest.raises(BenchmarkError, match=r"no 200-epoch results; available epochs: 4, 12, 36, 108"):
        bench.accuracy(CELLS[0], epochs=200)
    with pytest.raises(BenchmarkError, match="not a NAS-Bench-101 architecture"):
        bench.accuracy("0110-0001-0001-0000;input,conv5x5,maxpool3x3,output")
    with pytest.raises(BenchmarkError, match="not a NAS-Bench-101 architecture"):
        bench.accuracy((3, 3, 4, 1, 3, 1))  # an NB201 architecture
    with pytest.raises(BenchmarkError, match=r"no 50-epoch results; available epochs: 4, 12, 36, 108"):
        NB101Benchmark(store, epochs=50)
    with pytest.raises(BenchmarkError, match="CIFAR-10 results only; asked for 'cifar100'"):
        NB101Benchmark(store, dataset="cifar100")


def test_default_epochs_parameter(store: Path) -> None:
    assert NB101Benchmark(store).splits() == ("train", "valid", "test")
    short = NB101Benchmark(store, epochs=12)
    assert short.default_epochs == 12
    assert short.accuracy(CELLS[2]) == pytest.approx(expected(2, "test", 12), rel=1e-12)
    seconds = sum(F.fixture_run(2, 12, r)["training_time"] for r in range(3)) / 3
    assert short.cost(CELLS[2], "train_seconds") == pytest.approx(seconds, rel=1e-12)


def test_noise_ceiling_is_the_mean_tau_between_repeats(tmp_path: Path) -> None:
    # repeat 0 and 2 rank cells 0 < 1 < 2 < 3, repeat 1 reverses them: taus +1, -1, -1 -> mean -1/3
    records = []
    for repeat in range(3):
        for index, cell in enumerate(CELLS[:4]):
            values = F.fixture_run(index, 108, 0)
            values["test_accuracy"] = (500 + (index if repeat != 1 else -index)) / 1024
            records.append(
                NB101Record(S.module_hash(cell), 108, *F.flat(cell.matrix, cell.ops), F.fixture_metrics(values, 108))
            )
    path = F.write_nb101_tfrecord(tmp_path / "noise.tfrecord", records)
    bench = NB101Benchmark(path, progress=False)
    assert bench.noise_ceiling() == pytest.approx(-1 / 3)


def test_tfrecord_is_converted_once_into_a_cache_beside_it(
    tfrecord: Path, tmp_path: Path, bench: NB101Benchmark
) -> None:
    source = tmp_path / "nasbench_only108.tfrecord"
    source.write_bytes(tfrecord.read_bytes())
    direct = NB101Benchmark(source, progress=False)
    cache = tmp_path / "nasbench_only108.sqlite"
    assert direct.format == "tfrecord" and direct.store_path == cache and cache.is_file()
    for cell in CELLS:  # the TFRecord answers what the converted store answers
        for epochs in EPOCHS:
            for split in ("train", "valid", "test"):
                assert direct.accuracy(cell, split, epochs) == bench.accuracy(cell, split, epochs)
        assert direct.cost(cell, "params") == bench.cost(cell, "params")
    assert list(direct.archs()) == list(bench.archs())
    first = cache.stat().st_mtime_ns
    NB101Benchmark(source, progress=False)
    assert cache.stat().st_mtime_ns == first  # reused, not converted again
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    NB101Benchmark(source, progress=False)
    assert cache.stat().st_mtime_ns != first  # the source changed: converted again


def test_tfrecord_without_a_store_can_be_refused(
    tfrecord: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "nasbench_full.tfrecord"
    source.write_bytes(tfrecord.read_bytes())
    with pytest.raises(BenchmarkError, match=r"needs converting first.*nas-harness data convert nb101 .*nasbench_full"):
        NB101Benchmark(source, convert=False)
    monkeypatch.setattr("nas_harness.benchmarks.nb101.os.access", lambda path, mode: False)
    with pytest.raises(BenchmarkError, match=r"cannot write the converted store nasbench_full.sqlite.*not writable"):
        NB101Benchmark(source)
    assert not (tmp_path / "nasbench_full.sqlite").exists()


def _rewrite(src: Path, dst: Path, change) -> Path:
    """Copy a TFRecord file, passing each decoded record (and its number) through ``change``."""
    records = [decode_record(d) for d in _records(src)]
    return F.write_nb101_tfrecord(dst, (change(i, r) for i, r in enumerate(records)))


def test_wrong_stated_hash_is_rejected_or_skipped(tfrecord: Path, tmp_path: Path) -> None:
    def corrupt(i: int, record: NB101Record) -> NB101Record:
        if i == 7:
            record.module_hash = S.module_hash(ABSENT)
        return record

    bad = _rewrite(tfrecord, tmp_path / "bad.tfrecord", corrupt)
    offset = _offsets(bad)[7]
    with pytest.raises(
        BenchmarkError,
        match=rf"{bad}: record 7 at byte offset {offset}: stated module hash {S.module_hash(ABSENT)} but",
    ):
        convert_records(bad, tmp_path / "bad.sqlite", progress=False)
    assert not (tmp_path / "bad.sqlite").exists()
    summary = convert_records(bad, tmp_path / "bad.sqlite", progress=False, on_mismatch="skip")
    assert summary.mismatches == 1 and summary.records == 59


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: setattr(r.metrics, "evaluation_data", r.metrics.evaluation_data[:2]), "2 evaluation_data entries"),
        (
            lambda r: setattr(r.metrics.evaluation_data[2], "test_accuracy", 93.5),
            r"test_accuracy = 93.5 is not a fraction",
        ),
        (lambda r: setattr(r, "raw_operations", r.raw_operations.replace("input", "inp")), "not a NAS-Bench-101 cell"),
        (lambda r: setattr(r, "epochs", 0), "epochs = 0"),
    ],
)
def test_bad_records_name_their_offset(tfrecord: Path, tmp_path: Path, change, message: str) -> None:
    def apply(i: int, record: NB101Record) -> NB101Record:
        if i == 11:
            change(record)
        return record

    bad = _rewrite(tfrecord, tmp_path / "bad.tfrecord", apply)
    with pytest.raises(BenchmarkError, match=rf"record 11 at byte offset {_offsets(bad)[11]}: .*{message}"):
        convert_records(bad, tmp_path / "bad.sqlite", progress=False)
    assert os.listdir(tmp_path) == ["bad.tfrecord"]


def test_corrupt_tfrecord_fails_conversion_naming_the_offset(tfrecord: Path, tmp_path: Path) -> None:
    data = bytearray(tfrecord.read_bytes())
    offset = _offsets(tfrecord)[30]
    data[offset + 40] ^= 0xFF
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(bytes(data))
    with pytest.raises(
        BenchmarkError, match=rf"{bad}: corrupt TFRecord file: data CRC mismatch .*byte offset {offset} "
    ):
        NB101Benchmark(bad, progress=False)
    assert os.listdir(tmp_path) == ["bad.tfrecord"]


def test_killed_conversion_leaves_no_store(tfrecord: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "nb101.sqlite"
    convert_records(tfrecord, target, progress=False)
    before = target.read_bytes()
    calls = {"n": 0}
    real = nb101_convert.decode_record

    def dies_midway(data: bytes) -> NB101Record:
        calls["n"] += 1
        if calls["n"] == 25:
            raise KeyboardInterrupt  # as Ctrl-C would
        return real(data)

    monkeypatch.setattr(nb101_convert, "decode_record", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        convert_records(tfrecord, target, progress=False, batch_size=4)  # some batches were written
    assert calls["n"] == 25
    assert sorted(os.listdir(tmp_path)) == ["nb101.sqlite"]  # no partial file
    assert target.read_bytes() == before  # the earlier store is untouched
    target.unlink()
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        convert_records(tfrecord, target, progress=False, batch_size=4)
    assert os.listdir(tmp_path) == []


def test_conversion_memory_stays_flat(tmp_path: Path) -> None:
    def peak(repeats: int) -> int:
        path = F.write_nb101_tfrecord(tmp_path / f"r{repeats}.tfrecord", F.fixture_records(repeats=repeats))
        tracemalloc.start()
        try:
            convert_records(path, tmp_path / f"r{repeats}.sqlite", progress=False, batch_size=200)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(5)  # imports and caches outside the measurement
    small, large = peak(25), peak(200)  # 500 and 4,000 records
    assert large < small + 300_000, (small, large)  # unbatched, 4,000 records take 1.2 MB more


# -- format detection and bad files ----------------------------------------------------------------
def test_format_detection_and_wrong_files(tfrecord: Path, store: Path, tmp_path: Path) -> None:
    assert detect_format(store) == "store" and detect_format(tfrecord) == "tfrecord"
    unnamed = tmp_path / "records.bin"
    unnamed.write_bytes(tfrecord.read_bytes())
    assert detect_format(unnamed) == "tfrecord"  # from the first record's header
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"PK\x03\x04 not a database at all")
    with pytest.raises(BenchmarkError, match=rf"{junk}: not an SQLite database \(starts with b'PK"):
        NB101Benchmark(junk)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(BenchmarkError, match=rf"{other}: not a NAS-Bench-101 store .*no such table: meta"):
        NB101Benchmark(other)
    old = tmp_path / "old.sqlite"
    old.write_bytes(store.read_bytes())
    with sqlite3.connect(old) as conn:
        conn.execute("UPDATE meta SET value = '0' WHERE key = 'format_version'")
    with pytest.raises(BenchmarkError, match=r"store version 0, this harness reads version 1"):
        NB101Benchmark(old)
    unknown = tmp_path / "mystery.bin"
    unknown.write_bytes(b"\x00\x01\x02 something else entirely")
    with pytest.raises(BenchmarkError, match=r"not a recognised NAS-Bench-101 file .*expected one of"):
        NB101Benchmark(unknown)
    (tmp_path / "empty.tfrecord").write_bytes(b"")
    with pytest.raises(BenchmarkError, match="is empty"):
        NB101Benchmark(tmp_path / "empty.tfrecord")
    with pytest.raises(BenchmarkError, match="no such file"):
        NB101Benchmark(tmp_path / "missing.sqlite")
    with pytest.raises(BenchmarkError, match="is a directory"):
        NB101Benchmark(tmp_path)
    not_tfrecord = tmp_path / "text.tfrecord"
    not_tfrecord.write_text("this is plain text, not records")
    with pytest.raises(BenchmarkError, match=r"length CRC mismatch in the record at byte offset 0"):
        NB101Benchmark(not_tfrecord, progress=False)


# -- JSON tables -----------------------------------------------------------------------------------
def _key(cell) -> str:
    return F.json_key(cell.matrix, cell.ops)


def test_generated_json_table(tmp_path: Path) -> None:
    a, b = CELLS[3], CELLS[4]
    relabelled = S.make_cell(
        ((0, 1, 1, 0), (0, 0, 0, 1), (0, 0, 0, 1), (0, 0, 0, 0)), ("input", "maxpool3x3", "conv3x3-bn-relu", "output")
    )
    entries = {
        _key(a): {"val_accuracy": 90.0, "params": 1.25, "flops": 200.5, "synflow": 3.0},
        _key(relabelled): {"val_accuracy": 91.0, "params": 9.0, "flops": 1.0},  # isomorphic to a: averaged
        _key(b): {"val_accuracy": 80.5, "params": 2.5},
    }
    bench = NB101Benchmark(F.write_nb101_json(tmp_path / "t.json", entries))
    assert bench.format == "json" and len(bench) == 2
    assert bench.accuracy(a, "valid") == 90.5 and bench.accuracy(relabelled, "valid") == 90.5
    assert bench.accuracy(b, "valid") == 80.5
    assert bench.cost(a, "params") == 1.25 and bench.cost(a, "flops") == 200.5  # from the first entry
    assert bench.cost(b, "flops") is None and bench.cost(b, "train_seconds") is None
    assert bench.splits() == ("valid",) and bench.splits(halfway=True) == () and bench.splits(12) == ()
    assert bench.best("valid") == (S.canonical(a), 90.5)
    assert list(bench.archs()) == [S.canonical(a), S.canonical(b)]
    assert bench.noise_ceiling() is None  # sampled runs, not repeats
    with pytest.raises(
        BenchmarkError, match=r"has no 'test' accuracy after 108 epochs; available: valid at 108 epochs"
    ):
        bench.accuracy(a)
    with pytest.raises(BenchmarkError, match=r"no 36-epoch results; available epochs: 108"):
        bench.accuracy(a, "valid", epochs=36)
    with pytest.raises(BenchmarkError, match="has no record of cell"):
        bench.accuracy(CELLS[0], "valid")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"not JSON \(Expecting property name"),
        ('["a list"]', "top level holds list, not the key 'nasbench101'"),
        ('{"nasbench201": {}}', r"top level holds \['nasbench201'\], not the key 'nasbench101'"),
        ('{"nasbench101": {"cifar100": {}}}', "no data set 'cifar10' under 'nasbench101'; the file has cifar100"),
        (
            '{"nasbench101": {"cifar10": {"(1, 2, 3)": {"val_accuracy": 90}}}}',
            r"entry '\(1, 2, 3\)': not a NAS-Bench-101 cell key",
        ),
        ('{"nasbench101": {"cifar10": {"KEY": {"val_accuracy": "high"}}}}', "val_accuracy = 'high' is not an accuracy"),
        ('{"nasbench101": {"cifar10": {"KEY": {"val_accuracy": 190.0}}}}', "val_accuracy = 190.0 is not an accuracy"),
        ('{"nasbench101": {"cifar10": {"KEY": {"val_accuracy": true}}}}', "val_accuracy = True is not an accuracy"),
        ('{"nasbench101": {"cifar10": {"KEY": {"params": 1.0}}}}', "no 'val_accuracy'"),
        (
            '{"nasbench101": {"cifar10": {"KEY": {"val_accuracy": 90, "params": "big"}}}}',
            "params = 'big' is not a number",
        ),
    ],
)
def test_bad_json_tables_name_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content.replace("KEY", _key(CELLS[2])), encoding="utf-8")
    with pytest.raises(BenchmarkError, match=rf"{path}: .*{message}"):
        NB101Benchmark(path)


@pytest.mark.realdata
def test_real_json_table(shared_data: Path) -> None:
    path = shared_data / "nb101" / "nb101_cifar10_500.json"
    entries = json.loads(path.read_text())["nasbench101"]["cifar10"]
    by_hash: dict[str, list[dict]] = {}
    for key, entry in entries.items():  # grouped independently of the loader
        by_hash.setdefault(S.module_hash(S.cell_from_key(key)), []).append(entry)
    bench = NB101Benchmark(path)
    assert len(entries) == 500
    assert len(bench) == len(by_hash) == len(set(bench.hashes()))
    assert set(bench.hashes()) == set(by_hash)
    for key, entry in entries.items():
        group = by_hash[S.module_hash(S.cell_from_key(key))]
        want = sum(e["val_accuracy"] for e in group) / len(group)
        got = bench.accuracy(S.cell_from_key(key), "valid")
        assert got == (entry["val_accuracy"] if len(group) == 1 else pytest.approx(want, rel=1e-12))
        assert bench.cost(S.parse(key), "params") == group[0]["params"]
        assert bench.cost(S.parse(key), "flops") == group[0]["flops"]
    means = {h: sum(e["val_accuracy"] for e in g) / len(g) for h, g in by_hash.items()}
    top = max(means, key=means.get)
    cell, value = bench.best("valid")
    print(f"best of {len(bench)} cells: {S.to_str(cell)} {value:.4f}% valid (108 epochs)")
    assert S.module_hash(cell) == top and value == pytest.approx(means[top], rel=1e-12)
    with pytest.raises(BenchmarkError, match="available: valid at 108 epochs"):
        bench.accuracy(cell, "test")


# -- CSV tables ------------------------------------------------------------------------------------
def _csv_row(cell, *values) -> str:
    adjacency, ops = F.flat(cell.matrix, cell.ops)
    return ",".join([adjacency, f'"{ops}"', *map(str, values)])


def test_csv_table(tmp_path: Path) -> None:
    header = "adjacency,ops,epochs,valid_accuracy,test_accuracy,params,train_seconds"
    rows = [
        _csv_row(CELLS[0], 108, 90.0, 89.0, 3.5, 1000),
        _csv_row(CELLS[0], 108, 91.0, 90.0, 3.5, 1100),
        _csv_row(CELLS[0], 12, 80.0, 79.0, 3.5, 100),
        _csv_row(CELLS[2], "", 85.0, "", 1.5, ""),  # epochs default to 108; empty test accuracy
    ]
    path = tmp_path / "nb101.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    bench = NB101Benchmark(path)
    assert bench.format == "csv" and len(bench) == 2
    assert bench.accuracy(CELLS[0]) == 89.5 and bench.accuracy(CELLS[0], "valid") == 90.5
    assert bench.accuracy(CELLS[0], "valid", epochs=12) == 80.0
    assert bench.accuracy(CELLS[2], "valid") == 85.0
    with pytest.raises(BenchmarkError, match="has no test_accuracy at 108 epochs for cell"):
        bench.accuracy(CELLS[2], "test")
    assert bench.cost(CELLS[0], "params") == 3.5 and bench.cost(CELLS[0], "train_seconds") == 1050
    assert bench.cost(CELLS[2], "train_seconds") is None
    assert [r["repeat"] for r in bench.runs(CELLS[0])] == [0, 1]
    with pytest.raises(
        BenchmarkError,
        match=r"has no 'train' accuracy after 108 epochs; available: valid/test at 12 epochs; valid/test at 108 epochs",
    ):
        bench.accuracy(CELLS[0], "train")
    keyed = tmp_path / "keyed.csv"
    digest = S.module_hash(CELLS[4])
    keyed.write_text(f'key,hash,valid_accuracy\n"{_key(CELLS[4])}",{digest},77.25\n')
    assert NB101Benchmark(keyed).accuracy_by_hash(digest, "valid") == 77.25


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("adjacency,valid_accuracy\n0100,90\n", "the header has adjacency, valid_accuracy; expected a CSV table"),
        ('adjacency,ops,params\n0100,"input,output",1\n', "the header has adjacency, ops, params"),
        (
            'adjacency,ops,valid_accuracy\n0100,"input,output",ninety\n',
            "line 2: column 'valid_accuracy' value 'ninety' is not an accuracy",
        ),
        (
            'adjacency,ops,valid_accuracy\n0100,"input,output",90\n0110,"input,output",90\n',
            "line 3: not a NAS-Bench-101 cell",
        ),
        ('adjacency,ops,epochs,valid_accuracy\n0100,"input,output",-4,90\n', "line 2: column 'epochs' value '-4'"),
        (
            'adjacency,ops,hash,valid_accuracy\n0100,"input,output",abc,90\n',
            "line 2: hash abc is not the cell's module hash",
        ),
        ("adjacency,ops,valid_accuracy\n", "a header but no rows"),
    ],
)
def test_bad_csv_tables_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(BenchmarkError, match=rf"{path}: .*{message}"):
        NB101Benchmark(path)


# -- registry and CLI ------------------------------------------------------------------------------
def test_registered_benchmark_and_space(store: Path) -> None:
    from nas_harness.registry import get_registry

    registry = get_registry()
    bench = registry.create("benchmark", "nb101", path=str(store))
    space = registry.create("search_space", bench.space)
    cell = space.parse(S.to_str(CELLS[2]))
    assert bench.accuracy(cell) == pytest.approx(expected(2, "test"), rel=1e-12)


def test_cli_convert(tfrecord: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "converted.sqlite"
    assert main(["data", "convert", "nb101", str(tfrecord), "--output", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    sha = hashlib.sha256(tfrecord.read_bytes()).hexdigest()
    assert f"{out}: 60 records, 5 cells, epochs 4, 12, 36, 108" in printed
    assert f"sha256 {sha}" in printed
    assert "checksum: not one of the official files" in printed
    assert NB101Benchmark(out).accuracy(CELLS[4], "valid", 36) == pytest.approx(expected(4, "valid", 36), rel=1e-12)
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(tfrecord.read_bytes()[:-3])
    assert main(["data", "convert", "nb101", str(bad), "--no-progress"]) == 2
    assert "truncated TFRecord file" in capsys.readouterr().err
    assert not (tmp_path / "bad.sqlite").exists()


def test_official_checksums_are_recognised() -> None:
    from nas_harness.benchmarks.nb101_convert import official_name

    assert (
        official_name("4c39c3936e36a85269881d659e44e61a245babcb72cb374eacacf75d0e5f4fd1") == "nasbench_only108.tfrecord"
    )
    assert official_name("3d64db8180fb1b0207212f9032205064312b6907a3bbc81eabea10db2f5c7e9c") == "nasbench_full.tfrecord"
    assert official_name("0" * 64) is None


def test_cell_recurring_after_the_cache_is_cleared_is_not_added_twice(tmp_path: Path) -> None:
    """Repeat-major order: each cell's second run comes 4,500 new cells later, past the builder's 4,096-cell
    cache but before its 5,000-run batch was written; the cell must be found, not inserted again."""
    cells = [(S.module_hash(S.cell_from_flat(a, o)), a, o) for a, o in itertools.islice(F.nb101_cells(), 4500)]

    def records():
        for repeat in range(2):
            for module_hash, adjacency, ops in cells:
                metrics = F.fixture_metrics(F.fixture_run(0, 108, repeat), 108)
                yield NB101Record(module_hash, 108, adjacency, ops, metrics)

    source = F.write_nb101_tfrecord(tmp_path / "repeat-major.tfrecord", records())
    summary = convert_records(source, tmp_path / "store.sqlite", progress=False)
    assert (summary.records, summary.cells) == (9000, 4500)
