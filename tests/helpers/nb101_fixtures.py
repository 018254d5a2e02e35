"""Tiny NAS-Bench-101 files in the official layouts, with known metrics, for tests and benchmarks.

:func:`write_nb101_tfrecord` writes records exactly as ``nasbench_full.tfrecord`` holds them (TFRecord
framing, the JSON list ``[module_hash, epochs, raw_adjacency, raw_operations, base64 ModelMetrics]``,
three evaluations per run). Every metric is a closed-form function of (cell index, epochs, repeat),
see :func:`fixture_run`; accuracies are multiples of 1/1024, so their percentages are exact floats.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from nas_harness.benchmarks.nb101_records import EvaluationData, ModelMetrics, NB101Record, encode_record
from nas_harness.benchmarks.tfrecord import write_records
from nas_harness.spaces.nb101 import NB101Space, make_cell, module_hash

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
