"""Ground truth for MixPath's S4 (:mod:`nas_harness.spaces.nb101_s4`): each architecture's NB101 cell,
looked up in a NAS-Bench-101 benchmark (any file :class:`~nas_harness.benchmarks.nb101.NB101Benchmark`
reads). Only the official files hold every S4 cell; a sampled table covers the few it contains."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nas_harness.api import Benchmark, BenchmarkError
from nas_harness.benchmarks.nb101 import NB101Benchmark
from nas_harness.spaces.nb101_s4 import S4Space, to_nb101


class NB101S4Benchmark(Benchmark):
    """NAS-Bench-101 ground truth of the S4 architectures; options are those of ``nb101``."""

    name = "nb101.s4"
    space = "nb101.s4"

    def __init__(self, **options: Any) -> None:
        self.nb101 = NB101Benchmark(**options)
        self.dataset = self.nb101.dataset
        self.default_epochs = self.nb101.default_epochs
        self._covered = [arch for arch in S4Space().enumerate() if self._has(arch)]
        if not self._covered:
            raise BenchmarkError(
                f"{self.nb101.path} holds none of the 34 NAS-Bench-101 cells of MixPath's S4; "
                "use the official nasbench_only108.tfrecord / nasbench_full.tfrecord (or their converted store)"
            )

    def _has(self, arch: tuple[int, ...]) -> bool:
        try:
            self.nb101.accuracy(to_nb101(arch), split=self.nb101.splits()[0])
        except BenchmarkError:
            return False
        return True

    def accuracy(self, arch: Any, split: str = "test", epochs: int | None = None) -> float:
        return self.nb101.accuracy(to_nb101(arch), split=split, epochs=epochs)

    def cost(self, arch: Any, key: str) -> float | None:
        return self.nb101.cost(to_nb101(arch), key)

    def archs(self) -> Iterator[tuple[int, ...]]:
        return iter(self._covered)

    def best(self, split: str = "test") -> tuple[tuple[int, ...], float]:
        return max(((a, self.accuracy(a, split)) for a in self._covered), key=lambda pair: pair[1])

    def noise_ceiling(self) -> float | None:
        return self.nb101.noise_ceiling()

    def __len__(self) -> int:
        return len(self._covered)
