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
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:  # torch is heavy; the core imports it only where it is used
    import torch

Arch = Hashable
CapabilityT = TypeVar("CapabilityT")


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

    The core, which every space implements, is four methods: :meth:`parse`, :meth:`to_str`,
    :meth:`sample` and :meth:`build`; :meth:`size` (None unless overridden) and
    :meth:`sample_unique` follow from them. Everything else a space may offer is a *capability*:
    a small protocol (:class:`Enumerable`, :class:`Indexed`, :class:`Mutable`, :class:`Recombinable`,
    :class:`HasNeighbours`, :class:`HasChoicePoints`, :class:`WeightSharing`,
    :class:`MultiPathLabels`) that a space has when it defines the protocol's methods, checked with
    ``isinstance(space, Capability)``. A space may also list the capabilities it has among its base
    classes, which makes forgetting one of their methods an error when the class is instantiated.
    Code that needs a capability asks with :func:`require`, which raises a :class:`CapabilityError`
    naming the space and the capability it lacks.

    Example::

        space = registry.search_space("nb201")
        arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+"
                           "|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
        space.to_str(arch)           # canonical string, round-trips
        model = space.build(arch, C=16, N=5, num_classes=10)
        isinstance(space, WeightSharing)  # True: SPOS and MixPath can train a supernet over it
    """

    name: str = ""
    #: why the space lacks a capability, keyed by the capability's class name (e.g. ``"WeightSharing"``):
    #: :func:`require` adds it to the error, e.g. to point at a related space that has it
    capability_notes: ClassVar[Mapping[str, str]] = {}

    @abc.abstractmethod
    def parse(self, text: str) -> Arch:
        """Parse a canonical string; raise :class:`ArchitectureError` naming what is wrong."""

    @abc.abstractmethod
    def to_str(self, arch: Arch) -> str:
        """The canonical string form of ``arch`` (inverse of :meth:`parse`)."""

    @abc.abstractmethod
    def sample(self, rng: random.Random) -> Arch:
        """One architecture drawn from ``rng`` (uniform unless documented)."""

    @abc.abstractmethod
    def build(self, arch: Arch, **net_cfg: Any) -> torch.nn.Module:
        """A freshly initialised network for ``arch``."""

    def size(self) -> int | None:
        """Number of architectures, or None when it is not finite or not known."""
        return None

    def sample_unique(self, n: int, rng: random.Random) -> list[Arch]:
        """``n`` distinct architectures; raises if the space holds fewer."""
        size = self.size()
        if size is not None and n > size:
            raise ConfigError(f"asked for {n} architectures but space {self.name!r} holds {size}")
        seen: dict[Arch, None] = {}
        while len(seen) < n:
            seen.setdefault(self.sample(rng))
        return list(seen)


# -- capabilities of search spaces -------------------------------------------------------------------
# Each is a runtime-checkable protocol: ``isinstance(space, Enumerable)`` is True when the space defines
# its methods, whether or not its class lists the protocol as a base. The methods are abstract so that a
# class that does list one cannot be instantiated without them.


@runtime_checkable
class Enumerable(Protocol):
    """A finite space that can list every architecture."""

    @abc.abstractmethod
    def enumerate(self) -> Iterator[Arch]:
        """Every architecture in canonical order."""

    @abc.abstractmethod
    def size(self) -> int:
        """Number of architectures (an int, never None, in an enumerable space)."""


@runtime_checkable
class Indexed(Enumerable, Protocol):
    """An enumerable space whose architectures have dense indices ``0 .. size() - 1``."""

    @abc.abstractmethod
    def index(self, arch: Arch) -> int:
        """The index of ``arch``."""

    @abc.abstractmethod
    def from_index(self, index: int) -> Arch:
        """Inverse of :meth:`index`."""


@runtime_checkable
class Mutable(Protocol):
    """A space with a local edit, e.g. for regularized evolution."""

    @abc.abstractmethod
    def mutate(self, arch: Arch, rng: random.Random) -> Arch:
        """A different architecture one local edit away from ``arch``."""


@runtime_checkable
class Recombinable(Protocol):
    """A space that can cross two architectures over."""

    @abc.abstractmethod
    def crossover(self, a: Arch, b: Arch, rng: random.Random) -> Arch:
        """A child that takes each choice from one of its parents."""


@runtime_checkable
class HasNeighbours(Protocol):
    """A space that can list an architecture's neighbourhood, e.g. for local search."""

    @abc.abstractmethod
    def neighbours(self, arch: Arch) -> list[Arch]:
        """Every architecture one local edit away from ``arch``."""


@runtime_checkable
class HasChoicePoints(Protocol):
    """A space whose architectures are one option per choice point (SPOS evolution, TE-NAS pruning)."""

    @abc.abstractmethod
    def choice_points(self) -> list[ChoicePoint]:
        """The space's choice points."""

    @abc.abstractmethod
    def to_choices(self, arch: Arch) -> tuple[int, ...]:
        """``arch`` as one option index per choice point."""

    @abc.abstractmethod
    def from_choices(self, choices: Sequence[int]) -> Arch:
        """Inverse of :meth:`to_choices`; raises :class:`ArchitectureError` for a combination that is not an
        architecture of the space."""


@runtime_checkable
class WeightSharing(HasChoicePoints, Protocol):
    """A space with choice points and a weight-sharing supernet over them (SPOS, MixPath)."""

    @abc.abstractmethod
    def build_supernet(self, **net_cfg: Any) -> torch.nn.Module:
        """A weight-sharing network holding every option of every choice point.

        Its ``forward(x, mask)`` runs the options active in ``mask``
        (:mod:`nas_harness.spaces.masks`): one per choice point computes the network of
        that architecture, so SPOS and MixPath stay generic over spaces.
        """


@runtime_checkable
class MultiPathLabels(Protocol):
    """A space with a label-level string form, so that multi-path variants
    (:class:`nas_harness.spaces.multipath.MultiPathSpace`) can name their architectures."""

    @abc.abstractmethod
    def format_labels(self, labels: Sequence[str]) -> str:
        """The space's string layout with ``labels[i]`` in place of choice point ``i``'s option name
        (multi-path variants write several options there)."""

    @abc.abstractmethod
    def parse_labels(self, text: str) -> list[str]:
        """Inverse of :meth:`format_labels`: one label per choice point (layout checked, labels not)."""


#: every capability a search space may have, in the order :func:`capabilities` lists them
CAPABILITIES: tuple[type, ...] = (
    Enumerable, Indexed, Mutable, Recombinable, HasNeighbours, HasChoicePoints, WeightSharing, MultiPathLabels
)  # fmt: skip


class CapabilityError(ConfigError, NotImplementedError):
    """A search space lacks a capability that an estimator, searcher or study needs.

    A :class:`ConfigError` (the study pairs things that do not fit) and, for code written against
    the optional methods that used to raise it, a :class:`NotImplementedError`.
    """


def capability_methods(capability: type) -> tuple[str, ...]:
    """The methods that make up ``capability`` (its own and those of the capabilities it extends)."""
    names: dict[str, None] = {}
    for cls in reversed(capability.__mro__):
        if cls in CAPABILITIES or cls is capability:
            names.update((n, None) for n, v in vars(cls).items() if callable(v) and not n.startswith("_"))
    return tuple(names)


def capabilities(space: SearchSpace) -> list[str]:
    """The names of the capabilities ``space`` has (of :data:`CAPABILITIES`)."""
    return [cap.__name__ for cap in CAPABILITIES if isinstance(space, cap)]


def missing_capability(space: Any, capability: type, who: str) -> str:
    """The message of the error :func:`require` raises: the space, the capability and its methods, and who
    needs it, followed by the space's note on why it lacks it (:attr:`SearchSpace.capability_notes`)."""
    name = getattr(space, "name", "") or type(space).__name__
    text = (
        f"{who} needs a search space with the {capability.__name__} capability "
        f"({', '.join(capability_methods(capability))}); search space {name!r} does not have it"
    )
    notes = getattr(space, "capability_notes", None) or {}
    note = next((notes[c.__name__] for c in capability.__mro__ if c.__name__ in notes), None)
    return f"{text}: {note}" if note else text


def require(space: Any, capability: type[CapabilityT], who: str) -> CapabilityT:
    """``space`` when it has ``capability``, else a :class:`CapabilityError` saying that ``who`` (e.g.
    ``"estimator 'spos.supernet'"``) needs it.

    Example::

        space = require(ctx.space, WeightSharing, f"estimator {self.name!r}")
        net = space.build_supernet(C=16, N=5)
    """
    if not isinstance(space, capability):
        raise CapabilityError(missing_capability(space, capability, who))
    return space


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
    #: scores the study already holds for this context's estimator and seed: arch string -> (score, seconds
    #: charged when it was first scored); searchers reuse them (:class:`nas_harness.evaluation.EvaluationLog`)
    known_scores: Mapping[str, tuple[float, float]] | None = None


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


@runtime_checkable
class NetworkProxy(Protocol):
    """A proxy that can score any ``torch.nn.Module`` on a batch, outside a study (library use, as
    zero-cost-nas and NASLib's ``find_measures`` offer): :func:`nas_harness.proxy_library.score_module`.

    ``score_network`` receives a freshly built network it may modify (a copy of the caller's), the batch's
    inputs and integer labels (a proxy that needs no data only reads their shape), and returns the score in
    the proxy's declared direction; a degenerate network raises (never a made-up number).
    """

    def score_network(self, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float: ...


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
    #: one entry per estimator evaluation, in the order made: ``{"step": int (0-based), "arch": str,
    #: "score": float, "seconds": float (the cost charged), "reused": bool (a stored score)}``
    #: (:class:`nas_harness.evaluation.EvaluationLog` writes it); ``history`` stays the searcher's own log
    trace: list[dict[str, Any]] = field(default_factory=list)


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
