"""The generator of synthetic NAS-Bench-101 files at the official size (tests.helpers.nb101_fixtures):
the enumeration of the whole space, the records, the cache. Small sizes only (seconds); the full-size
files are built and converted by ``benchmarks/bench_nb101_convert.py`` (``NB101_FULL_SIZE=1``).
"""

from __future__ import annotations

import collections
import itertools
import tracemalloc
from pathlib import Path

import pytest

from nas_harness.api import ArchitectureError
from nas_harness.benchmarks.nb101 import convert_records
from nas_harness.benchmarks.nb101_records import decode_record
from nas_harness.benchmarks.tfrecord import iter_records
from nas_harness.spaces.nb101 import OPS, cell_from_flat, make_cell, module_hash
from tests.helpers import nb101_fixtures as F


def test_enumeration_finds_the_official_number_of_graphs() -> None:
    counts = collections.Counter(len(ops.split(",")) for _, ops in F.nb101_cells())
    assert counts == F.CELLS_BY_VERTICES
    assert sum(counts.values()) == F.NB101_CELLS == 423_624


def _brute_force_hashes(max_vertices: int) -> set[str]:
    """Module hashes of every valid cell of at most ``max_vertices`` vertices, from every labelled
    upper-triangular matrix (pruned as the official API prunes)."""
    hashes = set()
    for n in range(2, max_vertices + 1):
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        for on in itertools.product((0, 1), repeat=len(pairs)):
            rows = [[0] * n for _ in range(n)]
            for (i, j), bit in zip(pairs, on, strict=True):
                rows[i][j] = bit
            try:
                pruned = make_cell(rows, ["input", *[OPS[0]] * (n - 2), "output"])
            except ArchitectureError:
                continue  # invalid whatever its labels
            if len(pruned.ops) < n:
                continue  # pruning removes vertices whatever the labels: a smaller matrix gives that cell
            for labels in itertools.product(OPS, repeat=n - 2):
                hashes.add(module_hash(make_cell(rows, ["input", *labels, "output"])))
    return hashes


def test_small_cells_are_every_graph_once() -> None:
    """Up to 5 vertices the enumeration gives every graph that brute force finds, each once, already pruned."""
    small = sum(F.CELLS_BY_VERTICES[n] for n in range(2, 6))
    hashes = []
    for adjacency, ops in F.nb101_cells(small):
        cell = cell_from_flat(adjacency, ops)
        assert len(cell.ops) == len(ops.split(","))  # nothing to prune
        hashes.append(module_hash(cell))
    assert len(set(hashes)) == len(hashes) == small == 2_532
    assert set(hashes) == _brute_force_hashes(5)


def test_full_size_file_converts(tmp_path: Path) -> None:
    path = F.full_size_tfrecord("full", cache=tmp_path, cells=40)
    assert path.parent == tmp_path and path.name.startswith("nasbench_full-synthetic-40cells")
    records = [decode_record(data) for _, data in iter_records(path)]
    assert [(r.epochs) for r in records[:12]] == [4, 4, 4, 12, 12, 12, 36, 36, 36, 108, 108, 108]
    assert len({r.module_hash for r in records}) == 40
    summary = convert_records(path, tmp_path / "store.sqlite", progress=False)
    assert (summary.records, summary.cells, summary.mismatches) == (40 * 12, 40, 0)
    assert summary.epochs == F.FULL_EPOCHS

    only108 = F.full_size_tfrecord("only108", cache=tmp_path, cells=40)
    summary = convert_records(only108, tmp_path / "store108.sqlite", progress=False)
    assert (summary.records, summary.cells, summary.epochs) == (40 * 3, 40, (108,))
    assert F.OFFICIAL_RECORDS == {"full": 5_083_488, "only108": 1_270_872}


def test_cache_is_reused_and_found_through_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(F.SYNTHETIC_CACHE_ENV, str(tmp_path / "cache"))
    path = F.full_size_tfrecord("only108", cells=5)
    assert path == F.full_size_path("only108", cells=5) and path.parent == tmp_path / "cache"
    before = path.read_bytes()

    def never(*args, **kwargs):
        raise AssertionError("rebuilt a cached file")

    monkeypatch.setattr(F, "write_full_size_tfrecord", never)
    assert F.full_size_tfrecord("only108", cells=5) == path
    assert path.read_bytes() == before
    assert F.full_size_path("only108", cells=5, seed=1) != path


def test_interrupted_build_leaves_nothing_to_reuse(tmp_path: Path, monkeypatch) -> None:
    real = F.full_size_records

    def interrupted(*args, **kwargs):
        yield from itertools.islice(real(*args, **kwargs), 7)
        raise KeyboardInterrupt

    monkeypatch.setattr(F, "full_size_records", interrupted)
    with pytest.raises(KeyboardInterrupt):
        F.full_size_tfrecord("full", cache=tmp_path, cells=3)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(F, "full_size_records", real)
    path = F.full_size_tfrecord("full", cache=tmp_path, cells=3)
    assert sum(1 for _ in iter_records(path)) == 36
    assert list(tmp_path.iterdir()) == [path]


def test_records_are_a_stream() -> None:
    """The whole-space generator yields its first record at once and holds one record at a time."""
    tracemalloc.start()
    try:
        records = F.full_size_records("full")
        first = next(records)
        for _ in itertools.islice(records, 6_000):
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert first.epochs == 4 and first.raw_operations == "input,output"
    assert peak < 8e6


@pytest.mark.parametrize(("kind", "cells"), [("108", None), ("full", 0), ("full", F.NB101_CELLS + 1)])
def test_bad_sizes_are_refused(kind: str, cells: int | None, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="accepted"):
        F.full_size_tfrecord(kind, cache=tmp_path, cells=cells)
