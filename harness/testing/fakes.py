"""Fake worlds with known answers: a 64-architecture toy space, benchmarks whose accuracies are closed-form,
and an oracle estimator that scores with them.

Example::

    space = ToySpace()                               # 4**3 architectures, tuples of three ints in 0..3
    bench = FakeBenchmark(NB201Space(), n=20)        # 20 NB201 cells with a fixed accuracy each
    OracleProxy(bench).score(next(bench.archs()), ctx) == bench.accuracy(next(bench.archs()))
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from typing import Any

from nas_harness.api import (
    Arch,
    ArchitectureError,
    Benchmark,
    BenchmarkError,
    ConfigError,
    Context,
    Direction,
    HasChoicePoints,
    Proxy,
    SearchSpace,
)
from nas_harness.options import check_int
from nas_harness.seeding import derived_seed

_UNIT = float(2**63)  # derived_seed() is a 63-bit integer: divide by this for a number in [0, 1)


def _unit(*parts: object) -> float:
    """A number in [0, 1) that is a fixed function of ``parts``."""
    return derived_seed(*parts) / _UNIT


class ToySpace(SearchSpace):
    """64 architectures (tuples of three ints in 0..3, written ``"1-2-3"``) and no networks: for searchers,
    runners and anything else that only moves architectures around."""

    name = "toy"

    def parse(self, text: str) -> tuple[int, ...]:
        try:
            arch = tuple(int(x) for x in text.split("-"))
        except (AttributeError, ValueError):
            raise ArchitectureError(f"toy architecture {text!r}: expected three ints 0..3 joined by '-'") from None
        if len(arch) != 3 or not all(0 <= x <= 3 for x in arch):
            raise ArchitectureError(f"toy architecture {text!r}: expected three ints 0..3 joined by '-'")
        return arch

    def to_str(self, arch: Arch) -> str:
        return "-".join(map(str, arch))

    def size(self) -> int:
        return 64

    def enumerate(self) -> Iterator[tuple[int, ...]]:
        return iter(itertools.product(range(4), repeat=3))

    def sample(self, rng: random.Random) -> tuple[int, ...]:
        return tuple(rng.randrange(4) for _ in range(3))

    def mutate(self, arch: Any, rng: random.Random) -> tuple[int, ...]:
        i = rng.randrange(3)
        return arch[:i] + (rng.choice([v for v in range(4) if v != arch[i]]),) + arch[i + 1 :]

    def build(self, arch: Arch, **net_cfg: Any):
        raise NotImplementedError("toy architectures have no network")


class FactorySpace(SearchSpace):
    """Architectures that are the names of network factories: ``build(name, **net_cfg)`` calls
    ``factories[name](**net_cfg)``. For testing a proxy on networks written by hand (a known answer per network).

    Example::

        space = FactorySpace({"wide": lambda **cfg: nn.Conv2d(3, 8, 3), "narrow": lambda **cfg: nn.Conv2d(3, 2, 3)})
        ctx = Context(space=space, seed=0, data=tiny_provider())
    """

    name = "factories"

    def __init__(self, factories: dict[str, Any]) -> None:
        self.factories = dict(factories)

    def parse(self, text: str) -> str:
        if text not in self.factories:
            raise ArchitectureError(f"architecture {text!r}: not one of the factories {sorted(self.factories)}")
        return text

    def to_str(self, arch: Arch) -> str:
        return str(arch)

    def sample(self, rng: random.Random) -> str:
        return rng.choice(sorted(self.factories))

    def mutate(self, arch: Any, rng: random.Random) -> str:
        return rng.choice([a for a in sorted(self.factories) if a != arch])

    def build(self, arch: Arch, **net_cfg: Any):
        return self.factories[arch](**net_cfg)


def toy_accuracy(arch: Any) -> float:
    """The toy benchmark's accuracy (%): distinct for all 64 toy architectures, best at ``(3, 3, 3)``."""
    return 50.0 + 10 * arch[0] + 2.5 * arch[1] + 0.5 * arch[2]


class ToyBenchmark(Benchmark):
    """Ground truth of :class:`ToySpace`: :func:`toy_accuracy` plus ``offset``."""

    name = "toy.bench"
    space = "toy"
    dataset = "toy"

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def accuracy(self, arch: Arch, split: str = "test", epochs: int | None = None) -> float:
        return toy_accuracy(arch) + self.offset

    def best(self, split: str = "test") -> tuple[Arch, float]:
        arch = (3, 3, 3)
        return arch, self.accuracy(arch)


class FakeBenchmark(Benchmark):
    """A benchmark for any search space whose accuracies are a fixed function of the architecture.

    Where the space has choice points the accuracy is additive over them (each option of each point has
    a weight drawn from ``seed``), so searchers can climb it; otherwise it is a hash of the architecture's
    string. Values lie in [40, 90) percent; ``valid`` is ``test`` minus one point.

    ``n``: None covers the whole space; an int restricts the ground truth to ``n`` distinct architectures
    drawn from ``seed`` (then :meth:`archs` lists them, a study samples from them and an architecture outside
    them raises :class:`BenchmarkError`, as a real table does).
    """

    name = "fake"
    dataset = "fake"
    SPLITS = ("test", "valid")

    def __init__(self, space: SearchSpace, n: int | None = None, seed: int = 0) -> None:
        self._space = space
        self.space = space.name
        self.seed = seed
        self._weights = _choice_weights(space, seed)
        self._table: dict[str, Arch] | None = None
        if n is not None:
            check_int("FakeBenchmark: n", n)
            self._table = {space.to_str(a): a for a in distinct_archs(space, n, seed=derived_seed("fake-table", seed))}

    def accuracy(self, arch: Arch, split: str = "test", epochs: int | None = None) -> float:
        if split not in self.SPLITS:
            raise BenchmarkError(f"fake benchmark: split {split!r}; accepted: {', '.join(self.SPLITS)}")
        text = self._space.to_str(arch)
        if self._table is not None and text not in self._table:
            raise BenchmarkError(f"fake benchmark has no ground truth for {text}")
        if self._weights is not None:
            choices = self._space.to_choices(arch)
            quality = sum(w[c] for w, c in zip(self._weights, choices, strict=True)) / len(self._weights)
            quality += 1e-6 * _unit("fake-tie", self.seed, text)  # no two architectures tie
        else:
            quality = _unit("fake-accuracy", self.seed, text)
        return 40.0 + 50.0 * quality - (1.0 if split == "valid" else 0.0)

    def archs(self) -> Iterator[Arch] | None:
        return None if self._table is None else iter(list(self._table.values()))

    def best(self, split: str = "test") -> tuple[Arch, float]:
        if self._table is None:
            raise NotImplementedError("a fake benchmark over the whole space has no listed architectures")
        arch = max(self._table.values(), key=lambda a: self.accuracy(a, split))
        return arch, self.accuracy(arch, split)


def _choice_weights(space: SearchSpace, seed: int) -> list[list[float]] | None:
    """One weight in [0, 1) per option of each choice point, or None when the space has no choice points."""
    points = space.choice_points() if isinstance(space, HasChoicePoints) else None
    if not points:
        return None
    return [[_unit("fake-weight", seed, i, o) for o in range(len(p.options))] for i, p in enumerate(points)]


def distinct_archs(space: SearchSpace, n: int, seed: int = 0, pool: list[Arch] | None = None) -> list[Arch]:
    """``n`` distinct architectures drawn from ``seed`` (from ``pool`` when given, else ``space.sample``)."""
    rng = random.Random(derived_seed("nas_harness.testing", seed))
    if pool is not None:
        if n > len(pool):
            raise ValueError(f"asked for {n} architectures from a pool of {len(pool)}")
        return rng.sample(list(pool), n)
    found: dict[str, Arch] = {}
    for _ in range(1000 * n):
        arch = space.sample(rng)
        found.setdefault(space.to_str(arch), arch)
        if len(found) == n:
            return list(found.values())
    raise ValueError(f"space {space.name!r} gave fewer than {n} distinct architectures in {1000 * n} draws")


class OracleProxy(Proxy):
    """Scores with a benchmark's accuracy plus seeded Gaussian noise of scale ``noise`` (0: a perfect ranking).

    ``benchmark`` None: a :class:`FakeBenchmark` over the context's whole space (seed 0). The default
    estimator of :func:`~nas_harness.testing.check_searcher`.
    """

    name = "testing.oracle"
    direction = Direction.MAXIMIZE

    def __init__(self, benchmark: Benchmark | None = None, noise: float = 0.0) -> None:
        if isinstance(noise, bool) or not isinstance(noise, int | float) or not math.isfinite(noise) or noise < 0:
            raise ConfigError(f"{self.name}: noise = {noise!r}; accepted: a finite number >= 0")
        self.benchmark, self.noise = benchmark, float(noise)
        self._fakes: dict[str, FakeBenchmark] = {}

    def _bench(self, ctx: Context) -> Benchmark:
        if self.benchmark is not None:
            return self.benchmark
        if ctx.space.name not in self._fakes:
            self._fakes[ctx.space.name] = FakeBenchmark(ctx.space)
        return self._fakes[ctx.space.name]

    def score(self, arch: Arch, ctx: Context) -> float:
        accuracy = self._bench(ctx).accuracy(arch)
        if not self.noise:
            return accuracy
        rng = random.Random(derived_seed(self.name, ctx.seed, ctx.space.to_str(arch)))
        return accuracy + self.noise * rng.gauss(0.0, 1.0)
