"""The public interfaces of nas-harness: one small ABC per noun.

Every plugin implements some of these and registers factories for them through
the hooks in :mod:`nas_harness.hookspecs`. The runner only talks to these types.

An *architecture* (``Arch``) is an immutable, hashable value owned by its
search space (for NAS-Bench-201 a tuple of six op indices). Between processes,
in the results store and in leaderboards it travels as the space's canonical
string (``space.to_str(arch)``), never as a pickled object.
"""

from __future__ import annotations

import abc
import enum
import random
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is heavy; the core imports it only where it is used
    import torch

Arch = Hashable


class HarnessError(Exception):
    """Base class of every error the harness raises for bad input."""


class ArchitectureError(HarnessError, ValueError):
    """An architecture string or value that a search space does not accept."""


class BenchmarkError(HarnessError):
    """A ground-truth file or table that cannot be read or does not fit."""


class ConfigError(HarnessError, ValueError):
    """A study configuration that is malformed or names unknown things."""


class Direction(enum.Enum):
    """Which way an estimator's score points: never ``abs()`` a correlation."""

    MAXIMIZE = "max"  # a higher score predicts a higher accuracy
    MINIMIZE = "min"  # a lower score predicts a higher accuracy

    @property
    def sign(self) -> int:
        """+1 or -1: multiply a score by this to get 'higher is better'."""
        return 1 if self is Direction.MAXIMIZE else -1


@dataclass(frozen=True)
class ChoicePoint:
    """One place where a search space chooses between candidate operations.

    Supernets (SPOS, MixPath) are generic over a space's choice points: for
    NAS-Bench-201 there are six, one per cell edge, each with five ops.
    """

    name: str
    options: tuple[str, ...]


class SearchSpace(abc.ABC):
    """Names architectures and builds networks for them.

    Example::

        space = registry.search_space("nb201")
        arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+"
                           "|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
        space.to_str(arch)           # canonical string, round-trips
        model = space.build(arch, C=16, N=5, num_classes=10)
    """

    name: str = ""

    @abc.abstractmethod
    def parse(self, text: str) -> Arch:
        """Parse a canonical string; raise :class:`ArchitectureError` naming what is wrong."""

    @abc.abstractmethod
    def to_str(self, arch: Arch) -> str:
        """The canonical string form of ``arch`` (inverse of :meth:`parse`)."""

    def size(self) -> int | None:
        """Number of architectures, or None when it is not finite or not known."""
        return None

    def enumerate(self) -> Iterator[Arch]:
        """Every architecture in canonical order (only for finite spaces)."""
        raise NotImplementedError(f"search space {self.name!r} cannot be enumerated")

    @abc.abstractmethod
    def sample(self, rng: random.Random) -> Arch:
        """One architecture drawn from ``rng`` (uniform unless documented)."""

    def sample_unique(self, n: int, rng: random.Random) -> list[Arch]:
        """``n`` distinct architectures; raises if the space holds fewer."""
        size = self.size()
        if size is not None and n > size:
            raise ConfigError(f"asked for {n} architectures but space {self.name!r} holds {size}")
        seen: dict[Arch, None] = {}
        while len(seen) < n:
            seen.setdefault(self.sample(rng))
        return list(seen)

    @abc.abstractmethod
    def mutate(self, arch: Arch, rng: random.Random) -> Arch:
        """A different architecture one local edit away from ``arch``."""

    def crossover(self, a: Arch, b: Arch, rng: random.Random) -> Arch:
        """A child that takes each choice from one of its parents."""
        raise NotImplementedError(f"search space {self.name!r} has no crossover")

    def neighbours(self, arch: Arch) -> list[Arch]:
        """Every architecture one local edit away from ``arch``."""
        raise NotImplementedError(f"search space {self.name!r} has no neighbours")

    def choice_points(self) -> list[ChoicePoint]:
        """The space's choice points, for weight-sharing supernets."""
        raise NotImplementedError(f"search space {self.name!r} exposes no choice points")

    def to_choices(self, arch: Arch) -> tuple[int, ...]:
        """``arch`` as one option index per choice point."""
        raise NotImplementedError(f"search space {self.name!r} exposes no choice points")

    def from_choices(self, choices: Sequence[int]) -> Arch:
        """Inverse of :meth:`to_choices`."""
        raise NotImplementedError(f"search space {self.name!r} exposes no choice points")

    @abc.abstractmethod
    def build(self, arch: Arch, **net_cfg: Any) -> torch.nn.Module:
        """A freshly initialised network for ``arch``."""

    def format_labels(self, labels: Sequence[str]) -> str:
        """The space's string layout with ``labels[i]`` in place of choice point ``i``'s option name
        (multi-path variants write several options there)."""
        raise NotImplementedError(f"search space {self.name!r} has no label-level string form")

    def parse_labels(self, text: str) -> list[str]:
        """Inverse of :meth:`format_labels`: one label per choice point (layout checked, labels not)."""
        raise NotImplementedError(f"search space {self.name!r} has no label-level string form")

    def build_supernet(self, **net_cfg: Any) -> torch.nn.Module:
        """A weight-sharing network holding every option of every choice point.

        Its ``forward(x, mask)`` runs the options active in ``mask``
        (:mod:`nas_harness.spaces.masks`): one per choice point computes the network of
        that architecture, so SPOS and MixPath stay generic over spaces.
        """
        raise NotImplementedError(f"search space {self.name!r} has no weight-sharing supernet")


class Benchmark(abc.ABC):
    """Ground truth for one search space on one data set.

    Example::

        bench = registry.benchmark("nb201.table", path="nb201.csv", dataset="cifar10")
        bench.accuracy(arch)                   # test accuracy (%) at 200 epochs
        bench.accuracy(arch, split="valid")
    """

    name: str = ""
    space: str = ""  # the registered name of the search space it covers
    dataset: str = ""
    default_epochs: int | None = None

    @abc.abstractmethod
    def accuracy(self, arch: Arch, split: str = "test", epochs: int | None = None) -> float:
        """Accuracy in percent; raise :class:`BenchmarkError` for unknown arch/split/epochs."""

    def cost(self, arch: Arch, key: str) -> float | None:
        """A cost column (``params``, ``flops``, ``latency``, ``train_seconds``) or None."""
        return None

    def archs(self) -> Iterator[Arch] | None:
        """The architectures that have ground truth, or None when it is the whole space."""
        return None

    def best(self, split: str = "test") -> tuple[Arch, float]:
        """The architecture with the highest accuracy (needs :meth:`archs` or an enumerable space)."""
        raise NotImplementedError(f"benchmark {self.name!r} cannot list its architectures")

    def noise_ceiling(self) -> float | None:
        """Seed-to-seed Kendall tau of the ground truth itself, when known."""
        return None


@dataclass
class Context:
    """What an estimator gets besides the architecture.

    ``data`` is the study's :class:`nas_harness.data.BatchProvider` (None when the
    study has no image data); its batches are a function of the study seed only,
    so every estimator sees the same images. ``workdir`` is private to this
    estimator within the study (checkpoints, caches); ``shared_workdir`` is the
    study's folder for work several estimators may share, each under a key of
    its own making (a supernet training under a digest of its settings).
    """

    space: SearchSpace
    seed: int
    device: str = "cpu"
    data: Any = None
    workdir: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    #: the architectures the benchmark has ground truth for, when it covers only part of the space
    #: (None: all of it); searchers draw from these so that what they return can be judged
    candidates: Sequence[Arch] | None = None
    shared_workdir: str | None = None


class Estimator(abc.ABC):
    """Scores architectures so that (after ``direction``) higher predicts better.

    Example::

        class Params(Proxy):
            name = "params"
            direction = Direction.MAXIMIZE
            def score(self, arch, ctx):
                net = ctx.space.build(arch)
                return float(sum(p.numel() for p in net.parameters()))
    """

    name: str = ""
    direction: Direction = Direction.MAXIMIZE
    #: True when a score only means something relative to the other archs
    #: scored with it (e.g. TE-NAS's rank combination): the runner then calls
    #: :meth:`score_many` once over the whole sample instead of per architecture.
    set_level: bool = False

    def prepare(self, ctx: Context) -> None:  # noqa: B027 - optional hook
        """One-off work before scoring (a supernet trains here); its cost is charged once."""

    def prepare_log(self) -> list[dict[str, float]]:
        """Rows describing the one-off work, e.g. a supernet's training curve (one row per epoch,
        with an ``epoch`` or ``step`` key); the runner keeps them in the store's ``series`` table."""
        return []

    def prepare_seconds(self) -> float | None:
        """Seconds the one-off work cost when :meth:`prepare` reused it (a supernet trained for another
        estimator, or by an earlier run): the runner charges the larger of this and what it measured."""
        return None

    @abc.abstractmethod
    def score(self, arch: Arch, ctx: Context) -> float:
        """The score of one architecture (NaN means failure and is recorded as such)."""

    def score_many(self, archs: Sequence[Arch], ctx: Context) -> list[float]:
        """Scores for several architectures; set-level estimators override this."""
        return [self.score(a, ctx) for a in archs]


class Proxy(Estimator):
    """A zero-cost / training-free estimator: scores one architecture at initialisation."""


class Supernet(Estimator):
    """A weight-sharing estimator: :meth:`prepare` trains once, :meth:`score` inherits weights."""

    @abc.abstractmethod
    def prepare(self, ctx: Context) -> None:
        """Train (or load from ``ctx.workdir``) the supernet."""


@dataclass
class SearchResult:
    """What a searcher returns: the chosen architecture(s) and how it got there."""

    best: Arch
    history: list[dict[str, Any]] = field(default_factory=list)
    front: list[Arch] = field(default_factory=list)  # multi-objective searchers
    evaluations: int = 0
    #: the space ``best`` and ``front`` belong to when it is not the study's (e.g. a multi-path
    #: variant); their strings are stored, and those the benchmark cannot read are reported as such
    space: SearchSpace | None = None


class Searcher(abc.ABC):
    """Picks architectures under a budget using an estimator.

    Example::

        result = registry.searcher("random")(budget=100).search(estimator, ctx)
        bench.accuracy(result.best)
    """

    name: str = ""

    @abc.abstractmethod
    def search(self, estimator: Estimator, ctx: Context) -> SearchResult:
        """Run the search; ``estimator`` is already prepared."""
