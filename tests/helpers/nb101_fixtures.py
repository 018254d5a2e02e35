"""Tiny NAS-Bench-101 files in the official layouts, with known metrics, for tests and benchmarks.

:func:`write_nb101_tfrecord` writes records exactly as ``nasbench_full.tfrecord`` holds them (TFRecord
framing, the JSON list ``[module_hash, epochs, raw_adjacency, raw_operations, base64 ModelMetrics]``,
three evaluations per run). Every metric is a closed-form function of (cell index, epochs, repeat),
see :func:`fixture_run`; accuracies are multiples of 1/1024, so their percentages are exact floats.

:func:`full_size_tfrecord` builds (once, into a cache folder) a synthetic file with the official files'
layout *and size*: every one of the 423,624 NAS-Bench-101 graphs (:func:`nb101_cells`), 4 epoch budgets x
3 repeats for ``nasbench_full.tfrecord`` (5,083,488 records), 108 epochs x 3 for ``nasbench_only108``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nas_harness.atomic import atomic_path
from nas_harness.benchmarks.nb101_records import EvaluationData, ModelMetrics, NB101Record, encode_record
from nas_harness.benchmarks.tfrecord import write_records
from nas_harness.spaces.nb101 import MAX_EDGES, MAX_VERTICES, OPS, NB101Space, cell_from_flat, make_cell, module_hash

FULL_EPOCHS: tuple[int, ...] = (4, 12, 36, 108)
REPEATS = 3
C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
#: a handful of valid cells as (matrix, ops); the first is the official README's example module
FIXTURE_CELLS: tuple[tuple[tuple[tuple[int, ...], ...], tuple[str, ...]], ...] = (
    (
        (
            (0, 1, 1, 1, 0, 1, 0),
            (0, 0, 0, 0, 0, 0, 1),
            (0, 0, 0, 0, 0, 0, 1),
            (0, 0, 0, 0, 1, 0, 0),
            (0, 0, 0, 0, 0, 0, 1),
            (0, 0, 0, 0, 0, 0, 1),
            (0, 0, 0, 0, 0, 0, 0),
        ),
        ("input", C1, C3, C3, C3, MP, "output"),
    ),
    (((0, 1), (0, 0)), ("input", "output")),
    (((0, 1, 0), (0, 0, 1), (0, 0, 0)), ("input", C3, "output")),
    (((0, 1, 1, 0), (0, 0, 0, 1), (0, 0, 0, 1), (0, 0, 0, 0)), ("input", C3, MP, "output")),
    (
        ((0, 1, 0, 0, 1), (0, 0, 1, 0, 0), (0, 0, 0, 1, 0), (0, 0, 0, 0, 1), (0, 0, 0, 0, 0)),
        ("input", C1, C3, MP, "output"),
    ),
)


def flat(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> tuple[str, str]:
    """``(raw_adjacency, raw_operations)`` as the official records write them."""
    return "".join(str(int(b)) for row in matrix for b in row), ",".join(ops)


def fixture_run(index: int, epochs: int, repeat: int) -> dict[str, float]:
    """The metrics of one run: accuracies as fractions (multiples of 1/1024), seconds, params."""
    step = FULL_EPOCHS.index(epochs) if epochs in FULL_EPOCHS else 0
    base = 560 + 8 * index + 24 * step + 2 * (repeat % 3)  # train accuracy stays below 1024 for index <= 40
    return {
        "train_accuracy": (base + 60) / 1024,
        "validation_accuracy": (base + 8) / 1024,
        "test_accuracy": base / 1024,
        "halfway_train_accuracy": (base - 40) / 1024,
        "halfway_validation_accuracy": (base - 60) / 1024,
        "halfway_test_accuracy": (base - 64) / 1024,
        "training_time": 10.0 * epochs + index + repeat / 4,
        "halfway_training_time": 5.0 * epochs + index,
        "trainable_parameters": 1_000_000 + 12_345 * index,
    }


def fixture_metrics(values: dict[str, float], epochs: int) -> ModelMetrics:
    """A ``ModelMetrics`` with the three official evaluations (start, halfway, end)."""
    return ModelMetrics(
        evaluation_data=[
            EvaluationData(0.0, 0.0, 0.1, 0.1, 0.1),
            EvaluationData(
                epochs / 2,
                values["halfway_training_time"],
                values["halfway_train_accuracy"],
                values["halfway_validation_accuracy"],
                values["halfway_test_accuracy"],
            ),
            EvaluationData(
                float(epochs),
                values["training_time"],
                values["train_accuracy"],
                values["validation_accuracy"],
                values["test_accuracy"],
            ),
        ],
        trainable_parameters=int(values["trainable_parameters"]),
        total_time=values["training_time"] * 1.25,
    )


def fixture_records(
    cells: Sequence[tuple[Any, Any]] = FIXTURE_CELLS, epochs: Iterable[int] = FULL_EPOCHS, repeats: int = REPEATS
) -> Iterator[NB101Record]:
    """Records of ``cells`` (as (matrix, ops); pruned as the official records are) for every epoch
    budget and repeat, cells interleaved the way a merged file might hold them."""

    pruned = [make_cell(matrix, ops) for matrix, ops in cells]
    for e in epochs:
        for repeat in range(repeats):
            for index, cell in enumerate(pruned):
                values = fixture_run(index, e, repeat)
                adjacency, ops = flat(cell.matrix, cell.ops)
                yield NB101Record(module_hash(cell), e, adjacency, ops, fixture_metrics(values, e))


def write_nb101_tfrecord(path: str | os.PathLike[str], records: Iterable[NB101Record] | None = None) -> Path:
    """Write ``records`` (default: :func:`fixture_records`) as an official-layout TFRecord file."""
    return write_records(path, (encode_record(r) for r in (fixture_records() if records is None else records)))


def random_records(n: int, seed: int = 0, repeats: int = REPEATS, epochs: int = 108) -> Iterator[NB101Record]:
    """``n`` records of valid random cells (``repeats`` runs per cell), random metrics."""

    rng = random.Random(seed)
    space = NB101Space()
    seen: set[str] = set()
    written = 0
    while written < n:
        cell = space.sample(rng)
        digest = module_hash(cell)
        if digest in seen:
            continue
        seen.add(digest)
        adjacency, ops = flat(cell.matrix, cell.ops)
        params = rng.randrange(200_000, 40_000_000)
        for _ in range(min(repeats, n - written)):
            values = {k: rng.uniform(0.05, 0.95) for k in fixture_run(0, epochs, 0) if "accuracy" in k}
            values |= {"training_time": rng.uniform(500, 5000), "halfway_training_time": rng.uniform(250, 2500)}
            values["trainable_parameters"] = params
            yield NB101Record(digest, epochs, adjacency, ops, fixture_metrics(values, epochs))
            written += 1


def write_nb101_json(
    path: str | os.PathLike[str], entries: dict[str, dict[str, Any]], dataset: str = "cifar10"
) -> Path:
    """A reference-layout JSON table ``{"nasbench101": {dataset: entries}}``."""
    path = Path(path)
    path.write_text(json.dumps({"nasbench101": {dataset: entries}}), encoding="utf-8")
    return path


def json_key(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> str:
    """The reference JSON key of a cell: padded to 7 vertices (dangling interior vertices before the
    output), 49 adjacency ints then 7 op codes."""
    codes = {"input": 0, "output": 1, MP: 2, C1: 3, C3: 4}
    n = len(ops)
    place = [*range(n - 1), 6]
    rows = [[0] * 7 for _ in range(7)]
    for i in range(n):
        for j in range(n):
            if matrix[i][j]:
                rows[place[i]][place[j]] = 1
    labels = [MP] * 7
    for k in range(n):
        labels[place[k]] = ops[k]
    return str(tuple([*(b for row in rows for b in row), *(codes[op] for op in labels)]))


# -- the whole space, and synthetic files at the official files' size ---------------------------------------
#: graphs in the NAS-Bench-101 space: distinct module hashes of the valid cells (Ying et al., 2019)
NB101_CELLS = 423_624
#: graphs per number of vertices, as :func:`nb101_cells` enumerates them (they sum to :data:`NB101_CELLS`)
CELLS_BY_VERTICES: dict[int, int] = {2: 1, 3: 6, 4: 84, 5: 2_441, 6: 62_010, 7: 359_082}
#: the epoch budgets of each official file
KIND_EPOCHS: dict[str, tuple[int, ...]] = {"full": FULL_EPOCHS, "only108": (108,)}
#: records of the official files: 423,624 cells x epoch budgets x 3 repeats
OFFICIAL_RECORDS: dict[str, int] = {kind: NB101_CELLS * len(e) * REPEATS for kind, e in KIND_EPOCHS.items()}
SYNTHETIC_CACHE_ENV = "NAS_HARNESS_SYNTHETIC_CACHE"
#: part of the cached files' names: bump it whenever the bytes that :func:`full_size_records` writes change
GENERATOR_VERSION = 1


def _unlabelled_graphs(n: int) -> Iterator[tuple[int, list[tuple[int, ...]]]]:
    """One adjacency per isomorphism class of the DAGs on ``n`` vertices (input 0 and output ``n - 1`` fixed)
    whose every vertex lies on an input -> output path, with at most :data:`MAX_EDGES` edges: the cells that
    pruning leaves as they are. Each comes as a bit mask over the pairs ``i < j`` in row-major order (the
    smallest mask of its class), with its automorphisms: the vertex orders ``(0, ..., n - 1)`` that map it
    to itself. Vectorised over all masks (numpy); 2**21 masks for 7 vertices, well under a second."""
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    position = {pair: k for k, pair in enumerate(pairs)}
    masks = np.arange(1 << len(pairs), dtype=np.int64)
    edges = np.zeros(len(masks), dtype=np.int8)
    for k in range(len(pairs)):
        edges += ((masks >> k) & 1).astype(np.int8)
    keep = edges <= MAX_EDGES
    # in an upper-triangular DAG every vertex lies on an input -> output path iff every interior vertex has
    # an in-edge and an out-edge (following in-edges backwards ends at 0, out-edges forwards at n - 1)
    for v in range(1, n - 1):
        into = sum(1 << position[(u, v)] for u in range(v))
        out = sum(1 << position[(v, w)] for w in range(v + 1, n))
        keep &= ((masks & into) != 0) & ((masks & out) != 0)
    if n == 2:
        keep &= masks == 1
    masks = masks[keep]
    bits = [((masks >> k) & 1).astype(bool) for k in range(len(pairs))]
    never = np.int64(1) << 62  # the image of a relabelling that would point an edge backwards

    def image(order: tuple[int, ...], rows: np.ndarray) -> np.ndarray:
        """The masks of ``rows`` relabelled so that new vertex t is old vertex order[t]."""
        new = {old: t for t, old in enumerate(order)}
        out = np.zeros(int(rows.sum()), dtype=np.int64)
        backwards = np.zeros(len(out), dtype=bool)
        for (i, j), k in position.items():
            a, b = new[i], new[j]
            if a < b:
                out |= bits[k][rows].astype(np.int64) << position[(a, b)]
            else:
                backwards |= bits[k][rows]
        return np.where(backwards, never, out)

    orders = [(0, *interior, n - 1) for interior in itertools.permutations(range(1, n - 1))]
    everything = np.ones(len(masks), dtype=bool)
    smallest = masks.copy()
    for order in orders[1:]:
        np.minimum(smallest, image(order, everything), out=smallest)
    representative = smallest == masks
    images = [image(order, representative) for order in orders]
    for row, mask in enumerate(masks[representative]):
        yield int(mask), [order for order, img in zip(orders, images, strict=True) if img[row] == mask]


def nb101_cells(limit: int | None = None) -> Iterator[tuple[str, str]]:
    """Every NAS-Bench-101 graph once, as the official records write a cell: ``(raw_adjacency,
    raw_operations)``; at most ``limit`` of them.

    All :data:`NB101_CELLS` (423,624) non-isomorphic labelled DAGs of the space, already pruned: for each
    unlabelled graph (:func:`_unlabelled_graphs`) the op labellings that are the smallest of their orbit
    under the graph's automorphisms. Deterministic order: by number of vertices (2 to 7), then adjacency,
    then labelling; so a small ``limit`` is quick (the first 2,532 cells have at most 5 vertices)."""
    produced = 0
    for n in range(2, MAX_VERTICES + 1):
        interior = n - 2
        labellings = np.array(list(itertools.product(range(len(OPS)), repeat=interior)), dtype=np.int64)
        labellings = labellings.reshape(len(OPS) ** interior, interior)
        weights = len(OPS) ** np.arange(interior)[::-1]
        codes = labellings @ weights
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        for mask, automorphisms in _unlabelled_graphs(n):
            on = {pair for k, pair in enumerate(pairs) if mask >> k & 1}
            adjacency = "".join("1" if (i, j) in on else "0" for i in range(n) for j in range(n))
            smallest = np.ones(len(codes), dtype=bool)
            for order in automorphisms[1:]:  # the first is the identity
                smallest &= codes <= labellings[:, [v - 1 for v in order[1:-1]]] @ weights
            for labels in labellings[smallest]:
                if limit is not None and produced >= limit:
                    return
                yield adjacency, ",".join(("input", *(OPS[k] for k in labels), "output"))
                produced += 1


def _check_size(kind: str, cells: int | None) -> int:
    if kind not in KIND_EPOCHS:
        raise ValueError(f"kind={kind!r}; accepted: {', '.join(KIND_EPOCHS)}")
    if cells is None:
        return NB101_CELLS
    if not 1 <= cells <= NB101_CELLS:
        raise ValueError(f"cells={cells}; accepted: 1 .. {NB101_CELLS} (the graphs of the space)")
    return cells


def full_size_records(kind: str = "full", cells: int | None = None, seed: int = 0) -> Iterator[NB101Record]:
    """The records of a synthetic ``nasbench_full.tfrecord`` (``kind="full"``: epochs 4, 12, 36, 108) or
    ``nasbench_only108.tfrecord`` (``kind="only108"``), three repeats per budget, for the first ``cells``
    graphs of :func:`nb101_cells` (default: all 423,624), as a stream.

    Cell-major order (a cell's runs together, budgets ascending, repeats within a budget). Each record's
    module hash is the project's :func:`module_hash` of its cell, so the converter's check passes; a graph
    whose hash was seen already would be skipped (the enumeration has none). Metrics are random
    (``random.Random(seed)``) but plausible: a quality per cell, accuracies rising with the budget, about
    10 to 40 s per epoch, 0.2 to 50 million parameters. Memory: one record at a time plus a set of the
    hashes seen (an int each): building the full file peaks at 57 MB above the start.
    """
    wanted = _check_size(kind, cells)
    epochs = KIND_EPOCHS[kind]
    rng = random.Random(seed)
    seen: set[int] = set()
    for adjacency, ops in nb101_cells():
        if len(seen) >= wanted:
            return
        digest = module_hash(cell_from_flat(adjacency, ops))
        key = int(digest[:16], 16)
        if key in seen:
            continue
        seen.add(key)
        quality = rng.uniform(0.75, 0.95)
        params = rng.randrange(200_000, 50_000_000)
        per_epoch = rng.uniform(10.0, 40.0)
        for e in epochs:
            grown = quality * (1.0 - 0.3 * math.exp(-e / 10))
            for _ in range(REPEATS):
                test = grown + rng.uniform(-0.01, 0.01)
                values = {
                    "train_accuracy": min(1.0, test + rng.uniform(0.02, 0.08)),
                    "validation_accuracy": min(1.0, max(0.0, test + rng.uniform(-0.005, 0.005))),
                    "test_accuracy": test,
                    "halfway_train_accuracy": 0.95 * test,
                    "halfway_validation_accuracy": 0.9 * test,
                    "halfway_test_accuracy": 0.9 * test,
                    "training_time": e * per_epoch * rng.uniform(0.97, 1.03),
                    "halfway_training_time": e * per_epoch / 2,
                    "trainable_parameters": params,
                }
                yield NB101Record(digest, e, adjacency, ops, fixture_metrics(values, e))


def write_full_size_tfrecord(
    path: str | os.PathLike[str], kind: str = "full", cells: int | None = None, seed: int = 0
) -> Path:
    """Write :func:`full_size_records` to ``path`` as a TFRecord file, streamed; returns the path."""
    return write_nb101_tfrecord(path, full_size_records(kind, cells, seed))


def synthetic_cache_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """Where synthetic benchmark files are kept: ``cache``, else ``$NAS_HARNESS_SYNTHETIC_CACHE``, else
    ``~/.cache/nas-harness/synthetic``."""
    if cache is not None:
        return Path(cache)
    given = os.environ.get(SYNTHETIC_CACHE_ENV)
    return Path(given) if given else Path.home() / ".cache" / "nas-harness" / "synthetic"


def full_size_path(
    kind: str = "full", cache: str | os.PathLike[str] | None = None, cells: int | None = None, seed: int = 0
) -> Path:
    """Where :func:`full_size_tfrecord` keeps that file (whether it is built yet or not)."""
    wanted = _check_size(kind, cells)
    name = f"nasbench_{kind}-synthetic-{wanted}cells-seed{seed}-v{GENERATOR_VERSION}.tfrecord"
    return synthetic_cache_dir(cache) / name


def full_size_tfrecord(
    kind: str = "full", cache: str | os.PathLike[str] | None = None, cells: int | None = None, seed: int = 0
) -> Path:
    """A synthetic ``nasbench_full.tfrecord`` (``kind="full"``, 5,083,488 records, about 2 GB) or
    ``nasbench_only108.tfrecord`` (``"only108"``, 1,270,872 records) in the official layout
    (:func:`full_size_records`), built on first use into :func:`synthetic_cache_dir` and reused afterwards.

    The file is written to a temporary name and renamed when complete, so an interrupted build is never
    taken for a finished one. ``cells`` (default all 423,624) makes a smaller file for tests. The name
    holds kind, cells, seed and :data:`GENERATOR_VERSION`. Building the full file takes about 5 CPU minutes
    (2.06 GB), the only108 file about 3 (515 MB): one module hash per cell dominates the latter.
    """
    path = full_size_path(kind, cache, cells, seed)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            write_full_size_tfrecord(tmp, kind, cells, seed)
    return path
