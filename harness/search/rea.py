"""Regularized (aging) evolution: Real et al., "Regularized Evolution for Image Classifier Architecture
Search", AAAI 2019, Algorithm 1.

Fill a population of ``population`` random architectures; then each cycle draws ``sample_size`` members
uniformly *with replacement* (Algorithm 1's ``sample``, as its authors' colab and NAS-Bench-201's ``R_EA.py``
draw them), mutates the best of them (``space.mutate``) into a child, appends the child and removes the
*oldest* member, whatever its score (aging). The result is the best architecture scored.

Defaults: population 10 and sample size 3, the settings NAS-Bench-201 ran REA with on its table (Dong &
Yang, ICLR 2020, section 5; AutoDL-Projects ``scripts-search/algos/R-EA.sh`` and
``exps/NATS-algos/regularized_ea.py``: ``--ea_population 10 --ea_sample_size 3``). The NAS-Bench-101 colab
that accompanies Ying et al. 2019 (``google-research/nasbench`` ``NASBench.ipynb``, ``run_evolution_search``)
used population 50 and tournament size 10 with ``mutation_rate`` 1.0 (the default of
:meth:`nas_harness.spaces.nb101.NB101Space.mutate`); give those for NB101 studies.

``budget`` counts evaluations, the initial population included (NAS-Bench-201 stopped on simulated
seconds instead; the trace's ``seconds`` give that axis). A child already scored in this search re-enters
the population with its first score and costs no evaluation (:mod:`nas_harness.evaluation`); the search
ends early after :data:`STALL_CYCLES` such cycles in a row (the population keeps revisiting what it has
scored, e.g. all of a tiny space).

With a benchmark that covers only part of the space (``ctx.candidates``), random members are drawn from
its architectures and a child must be one of them that this search has not scored yet: up to
:data:`MUTATION_TRIES` mutants of the parent are drawn, and when none qualifies the child is a random
unscored candidate instead (recorded as ``"child_from": "random"`` in the history). Without the "not scored
yet" rule the population of a sparse table closes in on a few mutually adjacent candidates and only
revisits them. On a sparse table (300 of NB201's 15,625 cells) most children are then random, and REA
behaves much like random search: the table, not the method, limits it. (A table listed for a space of
unknown size, such as NB101's, counts as partial too: its children are never revisits, which on 423k cells
changes little.)
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any

from nas_harness.api import Arch, ConfigError, Context, Estimator, Mutable, Searcher, SearchResult, require
from nas_harness.evaluation import EvaluationLog
from nas_harness.options import check_int
from nas_harness.search.incumbent import Incumbent
from nas_harness.search.pool import ArchPool
from nas_harness.seeding import derived_seed

#: cycles in a row whose child was already scored, after which the search stops
STALL_CYCLES = 1000
#: draws tried for a child inside ``ctx.candidates`` (mutants of the parent, then random candidates)
MUTATION_TRIES = 100


class RegularizedEvolution(Searcher):
    """Regularized evolution (module docstring).

    Example::

        RegularizedEvolution(budget=200, population=10, sample_size=3).search(estimator, ctx).best
    """

    name = "rea"

    def __init__(self, budget: int = 100, population: int = 10, sample_size: int = 3) -> None:
        self.budget = check_int("rea: budget", budget)
        self.population = check_int("rea: population", population)
        self.sample_size = check_int("rea: sample_size", sample_size)
        if sample_size > population:
            raise ConfigError(
                f"rea: sample_size = {sample_size} exceeds population = {population}; "
                "accepted: a sample size no larger than the population"
            )

    def search(self, estimator: Estimator, ctx: Context) -> SearchResult:
        space = require(ctx.space, Mutable, f"searcher {self.name!r}")
        rng = random.Random(derived_seed("rea", ctx.seed))
        pool = ArchPool(ctx)
        log = EvaluationLog(estimator, ctx)
        incumbent = Incumbent(estimator.direction)
        population: deque[tuple[Arch, float]] = deque()  # (architecture, fitness), oldest first
        history: list[dict[str, Any]] = []

        while len(population) < self.population and log.evaluations < self.budget:
            arch = pool.draw(rng)
            population.append((arch, incumbent.offer(arch, log.score(arch))))

        stall = 0
        while log.evaluations < self.budget and stall < STALL_CYCLES:
            sample = [rng.choice(population) for _ in range(self.sample_size)]
            parent = max(sample, key=lambda member: member[1])[0]  # the first of the fittest on ties
            child, child_from = self._child(space, parent, pool, log, rng)
            if child is None:  # a partial table with every candidate scored
                break
            before = log.evaluations
            population.append((child, incumbent.offer(child, log.score(child))))
            removed = population.popleft()[0]  # aging: the oldest member, not the worst
            stall = 0 if log.evaluations > before else stall + 1
            history.append(
                {
                    "cycle": len(history),
                    "parent": space.to_str(parent),
                    "child": space.to_str(child),
                    "child_from": child_from,
                    "removed": space.to_str(removed),
                    "evaluations": log.evaluations,
                }
            )
        best = incumbent.best("rea", estimator.name, log.evaluations)
        return SearchResult(best=best, history=history, evaluations=log.evaluations, trace=log.trace)

    @staticmethod
    def _child(space: Mutable, parent: Arch, pool: ArchPool, log: EvaluationLog, rng: random.Random):
        """A mutant of ``parent`` and where it came from (``"mutation"`` or ``"random"``); on a partial table a
        candidate not scored yet (module docstring), None when there is none left."""
        if not pool.restricted:
            return space.mutate(parent, rng), "mutation"
        for _ in range(MUTATION_TRIES):
            child = space.mutate(parent, rng)
            if pool.holds(child) and not log.scored(child):
                return child, "mutation"
        for _ in range(MUTATION_TRIES):  # a random candidate; a large table is rarely scanned in full
            arch = pool.draw(rng)
            if not log.scored(arch):
                return arch, "random"
        unscored = [a for a in pool.candidates if not log.scored(a)]
        return (rng.choice(unscored), "random") if unscored else (None, "")
