"""``spos.evolution``: SPOS's evolutionary architecture search (SPOS section 3.4, Algorithm 1).

Each generation keeps the top-``parents`` architectures seen so far (by the
estimator's score, after its direction), then forms the next population from
``mutations`` mutants (each gene redrawn uniformly with probability
``mutation_prob``), ``crossovers`` children (each gene from one of two
parents, with equal chance) and random architectures up to ``population``.
Paper defaults: population 50, top-10 parents, 25 mutations with probability
0.1, 25 crossovers, 20 generations. A candidate is rejected before it is
scored when it was seen before (no architecture is evaluated twice) or breaks
the constraint (``max_params`` / ``max_flops``, in millions, counted on
``space.build(arch, **constraint_net)`` as NAS-Bench-201 counts them). With a
benchmark that covers only part of the space, only its architectures are
considered (``ctx.candidates``): random members are drawn from them, and
mutants or children outside them are rejected like illegal ones.

Genes are the space's choice points (:meth:`~nas_harness.api.HasChoicePoints.to_choices`),
so the search is generic over spaces that have them (others are refused up front).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from nas_harness.api import Arch, ConfigError, Context, Estimator, HasChoicePoints, Searcher, SearchResult, require
from nas_harness.costs import flops_millions, params_millions
from nas_harness.evaluation import EvaluationLog
from nas_harness.options import check_ints
from nas_harness.search.incumbent import fitness
from nas_harness.seeding import derived_seed
from nas_harness_plugins.spos.sampling import uniform_choices


class SPOSEvolution(Searcher):
    name = "spos.evolution"

    def __init__(
        self,
        population: int = 50,
        parents: int = 10,
        mutations: int = 25,
        crossovers: int = 25,
        mutation_prob: float = 0.1,
        generations: int = 20,
        max_params: float | None = None,
        max_flops: float | None = None,
        constraint_net: dict[str, Any] | None = None,
        max_tries: int = 10,
    ) -> None:
        check_ints("spos.evolution", population=population, parents=parents, generations=generations,
                   max_tries=max_tries)  # fmt: skip
        check_ints("spos.evolution", minimum=0, mutations=mutations, crossovers=crossovers)
        if mutations + crossovers > population:
            raise ConfigError(
                f"spos.evolution: mutations + crossovers = {mutations + crossovers} exceeds population = {population}"
            )
        if not isinstance(mutation_prob, int | float) or not 0.0 <= mutation_prob <= 1.0:
            raise ConfigError(f"spos.evolution: mutation_prob = {mutation_prob!r}; accepted: a number in [0, 1]")
        for key, value in (("max_params", max_params), ("max_flops", max_flops)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
                raise ConfigError(f"spos.evolution: {key} = {value!r}; accepted: a number > 0 (millions) or none")
        self.population, self.parents, self.generations = population, parents, generations
        self.mutations, self.crossovers, self.mutation_prob = mutations, crossovers, float(mutation_prob)
        self.max_params, self.max_flops = max_params, max_flops
        self.constraint_net = dict(constraint_net or {})
        self.max_tries = max_tries

    def search(self, estimator: Estimator, ctx: Context) -> SearchResult:
        rng = random.Random(derived_seed("spos-evolution", ctx.seed))
        space = require(ctx.space, HasChoicePoints, f"searcher {self.name!r}")
        points = space.choice_points()
        allowed = None if ctx.candidates is None else {space.to_str(a) for a in ctx.candidates}
        log = EvaluationLog(estimator, ctx)  # every estimator call, once, with its trace
        scores: dict[str, float] = {}  # arch string -> score (after direction); every evaluation, once
        rejected: set[str] = set()  # broke the constraint (or outside the benchmark)
        history: list[dict[str, Any]] = []

        def admit(choices: tuple[int, ...]) -> Arch | None:
            """The architecture when it is new and legal, else None (SPOS's ``is_legal``)."""
            arch = space.from_choices(choices)
            key = space.to_str(arch)
            if key in scores or key in rejected:
                return None
            if (allowed is not None and key not in allowed) or not self._within_constraint(arch, ctx):
                rejected.add(key)
                return None
            return arch

        def fill(population: list[Arch], count: int, make: Callable[[], tuple[int, ...]]) -> None:
            """Add up to ``count`` new legal architectures from ``make``, giving up after max_tries * count draws."""
            target = len(population) + count
            seen = {space.to_str(a) for a in population}
            for _ in range(self.max_tries * count):
                if len(population) >= target:
                    break
                arch = admit(make())
                if arch is not None and space.to_str(arch) not in seen:
                    population.append(arch)
                    seen.add(space.to_str(arch))

        if ctx.candidates is not None:  # draw random members where ground truth exists (mutants may leave it)
            pool = [space.to_choices(a) for a in ctx.candidates]

            def random_genes() -> tuple[int, ...]:
                return rng.choice(pool)
        else:

            def random_genes() -> tuple[int, ...]:
                return uniform_choices(points, rng)

        population: list[Arch] = []
        fill(population, self.population, random_genes)
        for generation in range(self.generations):
            for arch in population:
                scores[space.to_str(arch)] = fitness(log.score(arch), estimator.direction)
            ranked = sorted(scores, key=lambda k: scores[k], reverse=True)
            top = [space.parse(k) for k in ranked[: self.parents] if scores[k] > -math.inf]
            history.append(
                {
                    "generation": generation,
                    "evaluations": len(scores),
                    "best_arch": ranked[0],
                    "best_score": estimator.direction.sign * scores[ranked[0]],
                    "top_mean_score": estimator.direction.sign
                    * (sum(scores[k] for k in ranked[: self.parents]) / min(self.parents, len(ranked))),
                }
            )
            if generation == self.generations - 1 or not top:
                break
            parent_genes = [space.to_choices(a) for a in top]
            population = []
            fill(population, self.mutations, lambda g=parent_genes: self._mutate(rng.choice(g), points, rng))
            fill(population, self.crossovers, lambda g=parent_genes: self._cross(rng.choice(g), rng.choice(g), rng))
            fill(population, self.population - len(population), random_genes)
            if not population:
                break
        finite = [k for k in scores if scores[k] > -math.inf]
        if not finite:
            raise RuntimeError(f"spos.evolution: estimator {estimator.name!r} gave no finite score")
        best = max(finite, key=lambda k: scores[k])
        return SearchResult(best=space.parse(best), history=history, evaluations=log.evaluations, trace=log.trace)

    def _mutate(self, genes: tuple[int, ...], points, rng: random.Random) -> tuple[int, ...]:
        return tuple(
            rng.randrange(len(p.options)) if rng.random() < self.mutation_prob else g
            for g, p in zip(genes, points, strict=True)
        )

    @staticmethod
    def _cross(a: tuple[int, ...], b: tuple[int, ...], rng: random.Random) -> tuple[int, ...]:
        return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b, strict=True))

    def _within_constraint(self, arch: Arch, ctx: Context) -> bool:
        if self.max_params is None and self.max_flops is None:
            return True
        net = ctx.space.build(arch, **self.constraint_net)
        if self.max_params is not None and params_millions(net) > self.max_params:
            return False
        return self.max_flops is None or flops_millions(net) <= self.max_flops
