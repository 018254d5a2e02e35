"""A ground-truth table written by :mod:`nas_harness.groundtruth.build`, as a Benchmark.

Accuracies are averaged over the table's seeds; :meth:`GroundTruthBenchmark.noise_ceiling` is the
table's own seed-to-seed Kendall tau (mean over seed pairs), the best tau any estimator can expect.
"""

from __future__ import annotations

import itertools
import os
from importlib import resources
from pathlib import Path

import numpy as np

from nas_harness.api import BenchmarkError, Indexed
from nas_harness.benchmarks.table import TableBenchmark, TableSchema
from nas_harness.metrics import kendall_tau
from nas_harness.registry import get_registry


def _schema(dataset: str, epochs: int | None) -> TableSchema:
    return TableSchema(
        arch_column="arch",
        seed_column="seed",
        accuracy_columns={dataset: {"test": "test_accuracy", "valid": "valid_accuracy"}},
        cost_columns={dataset: {"params": "params", "flops": "flops", "train_seconds": "train_seconds"}},
        optional_columns=frozenset({"valid_accuracy"}),
        epochs=epochs,
    )


class GroundTruthBenchmark(TableBenchmark):
    """A seed-averaged ground-truth table over part of a search space (``space`` by registered name)."""

    name = "groundtruth"

    def __init__(
        self, path: str | os.PathLike[str], space: str = "nb201", dataset: str = "digits", name: str | None = None
    ):
        import pandas as pd

        path = Path(path)
        try:
            head = pd.read_csv(path, usecols=["epochs"], nrows=1)
        except (OSError, ValueError) as exc:
            raise BenchmarkError(
                f"{path}: not a ground-truth table (from `nas-harness groundtruth train`): {exc}"
            ) from exc
        epochs = int(head["epochs"].iloc[0]) if len(head) else None
        space_obj = get_registry().create("search_space", space)
        dense = isinstance(space_obj, Indexed) and space_obj.size() is not None
        super().__init__(
            path,
            dataset,
            schema=_schema(dataset, epochs),
            parse=space_obj.parse,
            space=space,
            index=space_obj.index if dense else None,
            from_index=space_obj.from_index if dense else None,
            size=space_obj.size() if dense else None,
            name=name,
        )
        self._to_str = space_obj.to_str

    def _arch_text(self, arch) -> str:
        return self._to_str(arch)

    def noise_ceiling(self) -> float | None:
        """Mean Kendall tau-b between the test accuracies of every two seeds (None with one seed)."""
        import pandas as pd

        frame = pd.read_csv(self.path, usecols=["arch", "seed", "test_accuracy"])
        by_seed = frame.pivot_table(index="arch", columns="seed", values="test_accuracy")
        taus = []
        for a, b in itertools.combinations(by_seed.columns, 2):
            both = by_seed[[a, b]].dropna()
            if len(both) >= 2:
                taus.append(kendall_tau(both[a].to_numpy(), both[b].to_numpy()))
        return float(np.mean(taus)) if taus else None


#: The table that ships inside the package (built by configs/groundtruth-nb201-digits.toml).
def embedded_table_path() -> Path:
    return Path(str(resources.files("nas_harness.embedded").joinpath("nb201_digits.csv")))


class EmbeddedNB201Digits(GroundTruthBenchmark):
    """``nb201.digits``: NB201 architectures trained on scikit-learn's digits; ships with the package."""

    name = "nb201.digits"

    def __init__(self, path: str | os.PathLike[str] | None = None):
        super().__init__(path or embedded_table_path(), space="nb201", dataset="digits", name=self.name)
