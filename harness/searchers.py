"""Searchers that every plugin can pair with any estimator."""

from __future__ import annotations

import random

from nas_harness.api import Context, Estimator, Searcher, SearchResult
from nas_harness.evaluation import EvaluationLog
from nas_harness.options import check_int
from nas_harness.search.incumbent import Incumbent
from nas_harness.seeding import derived_seed


class RandomSearch(Searcher):
    """Random search (Li & Talwalkar, UAI 2019): score ``budget`` distinct random
    architectures with the estimator and return the best-scored one.

    Example::

        RandomSearch(budget=100).search(estimator, ctx).best
    """

    name = "random"

    def __init__(self, budget: int = 100) -> None:
        check_int("random search budget", budget)
        self.budget = budget

    def search(self, estimator: Estimator, ctx: Context) -> SearchResult:
        rng = random.Random(derived_seed("random-search", ctx.seed))
        if ctx.candidates is not None:  # a benchmark over part of the space: search where ground truth exists
            archs = rng.sample(list(ctx.candidates), min(self.budget, len(ctx.candidates)))
        else:
            archs = ctx.space.sample_unique(self.budget, rng)
        log = EvaluationLog(estimator, ctx)
        incumbent = Incumbent(estimator.direction)
        history = []
        for step, arch in enumerate(archs):
            score = log.score(arch)
            history.append({"step": step, "arch": ctx.space.to_str(arch), "score": score})
            incumbent.offer(arch, score)
        best = incumbent.best("random search", estimator.name, self.budget)
        return SearchResult(best=best, history=history, evaluations=log.evaluations, trace=log.trace)
