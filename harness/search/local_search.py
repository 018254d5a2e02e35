"""Local search: White, Nolen & Savani, "Exploring the Loss Landscape in Neural Architecture Search"
(UAI 2021; first circulated as "Local Search is State of the Art for Neural Architecture Search
Benchmarks", 2020), Algorithm 1, as the authors' naszilla code runs it (``naszilla/nas_algorithms.py``,
``local_search``).

Each run scores ``num_init`` new random architectures and starts from the best of them (naszilla's
``num_init = 10``); it then scores the current architecture's neighbours (``space.neighbours``, every
architecture one edit away, in a random order as naszilla shuffles them) and

* ``strategy = "first"`` (first improvement, naszilla's default ``query_full_nbhd = False``): moves to the
  first neighbour that scores better than the current architecture;
* ``strategy = "best"`` (best improvement, ``query_full_nbhd = True``): scores the whole neighbourhood and
  moves to its best member when that is better.

When no neighbour is better the current architecture is a local optimum (recorded in the history) and a new
run starts from new random architectures (naszilla's ``stop_at_minimum = True``), until ``budget``
evaluations are spent. "Better" means a strictly higher score after the estimator's direction.

Deviation: naszilla skips a neighbour it queried before (it neither re-queries nor compares it); here its
first score is reused for free (:mod:`nas_harness.evaluation`), so the optimum is a true local optimum of
the scores. With a benchmark that covers only part of the space (``ctx.candidates``), random starts are
drawn from its architectures and only neighbours among them are considered: an architecture is then a local
optimum of the table's neighbourhood, which on a sparse table is often empty (each start its own optimum).
A run stops early when :data:`STALL_DRAWS` random draws in a row were all scored before (everything the
search can reach has been scored, e.g. all of a tiny space).
"""

from __future__ import annotations

import random
from typing import Any

from nas_harness.api import Arch, ConfigError, Context, Estimator, HasNeighbours, Searcher, SearchResult, require
from nas_harness.evaluation import EvaluationLog
from nas_harness.options import check_int
from nas_harness.search.incumbent import Incumbent
from nas_harness.search.pool import ArchPool
from nas_harness.seeding import derived_seed

STRATEGIES = ("first", "best")
#: random draws in a row that were all scored before, after which the search stops
STALL_DRAWS = 1000


class LocalSearch(Searcher):
    """Local search with restarts (module docstring).

    Example::

        LocalSearch(budget=150, strategy="best").search(estimator, ctx).best
    """

    name = "local_search"

    def __init__(self, budget: int = 100, strategy: str = "first", num_init: int = 10) -> None:
        self.budget = check_int("local_search: budget", budget)
        self.num_init = check_int("local_search: num_init", num_init)
        if strategy not in STRATEGIES:
            raise ConfigError(f"local_search: strategy = {strategy!r}; accepted: {', '.join(STRATEGIES)}")
        self.strategy = strategy

    def search(self, estimator: Estimator, ctx: Context) -> SearchResult:
        space = require(ctx.space, HasNeighbours, f"searcher {self.name!r}")
        rng = random.Random(derived_seed("local-search", ctx.seed))
        pool = ArchPool(ctx)
        log = EvaluationLog(estimator, ctx)
        incumbent = Incumbent(estimator.direction)

        def fitness(arch: Arch) -> float:
            return incumbent.offer(arch, log.score(arch))

        history: list[dict[str, Any]] = []
        while log.evaluations < self.budget:
            starts = self._new_starts(pool, log, rng)
            if not starts:
                break
            current = max(starts, key=fitness)  # scored already: free
            path = [current]
            optimum = False
            while log.evaluations < self.budget:
                step = self._step(space, current, pool, log, fitness, rng)
                if step is None:  # no better neighbour among those scored: an optimum if all were scored
                    optimum = self._all_scored(space, current, pool, log)
                    break
                current = step
                path.append(current)
            history.append(
                {
                    "run": len(history),
                    "path": [space.to_str(a) for a in path],  # the start, then every move
                    "score": log.score(current),
                    "local_optimum": optimum,
                    "evaluations": log.evaluations,
                }
            )
        best = incumbent.best("local_search", estimator.name, log.evaluations)
        return SearchResult(best=best, history=history, evaluations=log.evaluations, trace=log.trace)

    def _new_starts(self, pool: ArchPool, log: EvaluationLog, rng: random.Random) -> list[Arch]:
        """Up to ``num_init`` random architectures not scored before, each scored (within the budget)."""
        starts: list[Arch] = []
        repeats = 0
        while len(starts) < self.num_init and log.evaluations < self.budget and repeats < STALL_DRAWS:
            arch = pool.draw(rng)
            if log.scored(arch):
                repeats += 1
                continue
            log.score(arch)
            starts.append(arch)
            repeats = 0
        return starts

    def _step(self, space, current: Arch, pool: ArchPool, log: EvaluationLog, fitness, rng) -> Arch | None:
        """The neighbour to move to, or None when no neighbour scored within the budget is better."""
        neighbours = [n for n in space.neighbours(current) if pool.holds(n)]
        rng.shuffle(neighbours)
        here = fitness(current)
        best, best_fitness = None, here
        for neighbour in neighbours:
            if log.evaluations >= self.budget and not log.scored(neighbour):
                break  # the budget is spent: what is left of the neighbourhood stays unknown
            value = fitness(neighbour)
            if value > best_fitness:
                best, best_fitness = neighbour, value
                if self.strategy == "first":
                    break
        return best

    @staticmethod
    def _all_scored(space, current: Arch, pool: ArchPool, log: EvaluationLog) -> bool:
        """True when every neighbour of ``current`` was scored (so it is known to be a local optimum)."""
        return all(log.scored(n) for n in space.neighbours(current) if pool.holds(n))
