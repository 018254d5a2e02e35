"""The oracle estimator: the benchmark's own ground truth, queried as an estimator.

The classical tabular NAS protocol (NAS-Bench-101/201, NASLib, naszilla) searches with the benchmark's
recorded accuracy as the "training" of each architecture it picks, charging the benchmark's recorded
training time for it, so a search that would take GPU-days runs in seconds. ``oracle`` does exactly that:

* ``score(arch)`` is ``benchmark.accuracy(arch, split, epochs)``: by default the ``valid`` split at the
  benchmark's default schedule, so the search never sees the split the board judges it on (the study's
  ``split``, usually ``test``); the searchers board names the oracle's split in its ``oracle_split`` column.
* ``charged_seconds(arch)`` is the benchmark's recorded training seconds of ``arch``
  (``benchmark.cost(arch, "train_seconds")``: NAS-Bench-201's official files record them for the 200-epoch
  schedule, NB101 tables and the harness's own ground-truth tables (``nb201.digits``) for theirs). Asked for
  another schedule than the one the seconds were recorded for (NB201 ``epochs = 12``), the charge is pro rata,
  ``seconds * epochs / default_epochs``: an epoch takes the same time under either learning-rate schedule.
  A benchmark that records no training time (the compact NB201 and NB101 tables in ``../shared/data``)
  is charged **0 seconds** per query, and :meth:`Oracle.cost_basis` says so (the board's ``oracle_cost``
  column): the curve against evaluations is then the one to read, the one against seconds has no oracle line.

The study gives the oracle its benchmark (:meth:`nas_harness.run.world.World.estimator` passes
``benchmark=`` to factories that declare ``needs_benchmark = True``); no other estimator sees the ground truth.

Example::

    [[estimators]]
    name = "oracle"
    label = "oracle.valid"
    options = { split = "valid" }          # epochs = 12 for NB201's 12-epoch schedule
"""

from __future__ import annotations

import random
from typing import ClassVar

from nas_harness.api import Arch, Benchmark, BenchmarkError, ConfigError, Context, Direction, Proxy
from nas_harness.options import check_int

#: the benchmark cost key holding an architecture's recorded training seconds
TRAIN_SECONDS = "train_seconds"


class Oracle(Proxy):
    """The benchmark's accuracy on ``split`` (at ``epochs``, default: the benchmark's schedule) as a score;
    charged the recorded training seconds of each architecture it scores (module docstring)."""

    name = "oracle"
    direction = Direction.MAXIMIZE
    #: the study passes its benchmark as ``benchmark=`` (nas_harness.run.world.World.estimator)
    needs_benchmark: ClassVar[bool] = True

    def __init__(self, benchmark: Benchmark | None = None, split: str = "valid", epochs: int | None = None) -> None:
        if not isinstance(benchmark, Benchmark):
            raise ConfigError(
                f"estimator {self.name!r} needs the study's benchmark (benchmark = {benchmark!r}); a study passes it "
                "itself, code outside a study must pass benchmark=<a Benchmark>"
            )
        if not isinstance(split, str) or not split:
            raise ConfigError(f"estimator {self.name!r}: split = {split!r}; accepted: a split name such as 'valid'")
        if epochs is not None:
            check_int(f"estimator {self.name!r}: epochs", epochs)
        self.benchmark, self.split, self.epochs = benchmark, split, epochs

    def prepare(self, ctx: Context) -> None:
        """Refuse a split or schedule the benchmark does not have before any search starts (one query)."""
        probe = self._probe_arch(ctx)
        try:
            self.benchmark.accuracy(probe, split=self.split, epochs=self.epochs)
        except BenchmarkError as exc:
            raise ConfigError(
                f"estimator {self.name!r}: benchmark {self.benchmark.name!r} cannot answer split = {self.split!r}"
                f"{'' if self.epochs is None else f', epochs = {self.epochs}'}: {exc}"
            ) from exc

    def _probe_arch(self, ctx: Context) -> Arch:
        if ctx.candidates:
            return ctx.candidates[0]
        listed = self.benchmark.archs()
        first = next(iter(listed), None) if listed is not None else None
        return first if first is not None else ctx.space.sample(random.Random(0))

    def score(self, arch: Arch, ctx: Context) -> float:
        return self.benchmark.accuracy(arch, split=self.split, epochs=self.epochs)

    def charged_seconds(self, arch: Arch, ctx: Context) -> float:
        """The recorded training seconds of ``arch`` (pro rata for another schedule), 0.0 when none is recorded."""
        seconds = self.benchmark.cost(arch, TRAIN_SECONDS)
        if seconds is None:
            return 0.0
        return float(seconds) * self._schedule_ratio()

    def _schedule_ratio(self) -> float:
        default = self.benchmark.default_epochs
        if self.epochs is None or not default or self.epochs == default:
            return 1.0
        return self.epochs / default

    def cost_basis(self, arch: Arch) -> str:
        """How :meth:`charged_seconds` charges (for the board): recorded seconds, pro rata, or none recorded."""
        if self.benchmark.cost(arch, TRAIN_SECONDS) is None:
            return f"no recorded training time in {self.benchmark.name}: charged 0 s"
        default = self.benchmark.default_epochs
        if self._schedule_ratio() != 1.0:
            return f"recorded training s x {self.epochs}/{default} epochs (pro rata)"
        return "recorded training s" + (f" ({default} epochs)" if default else "")

    def describe_split(self) -> str:
        """The split (and schedule) it searches on, e.g. ``valid`` or ``valid@12ep``."""
        return self.split if self.epochs is None else f"{self.split}@{self.epochs}ep"
