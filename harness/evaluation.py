"""Every estimator call a searcher makes, scored once and logged: the per-evaluation trace of a search.

A searcher scores through an :class:`EvaluationLog` instead of calling ``estimator.score`` itself. The log

* returns the study's stored score when the study already scored the architecture for this estimator and
  seed (``ctx.known_scores``, filled by the runner): the estimator is not called, the entry is marked
  ``reused`` and charged what the first scoring cost (the estimator's ``charged_seconds`` when it defines
  it, else the stored seconds), so a board that sums the trace's seconds charges a search the same whether
  or not the proxy study ran first;
* otherwise calls the estimator and charges ``estimator.charged_seconds(arch, ctx)`` when the estimator
  defines it (an oracle charges the benchmark's recorded training seconds: simulated training), else the
  measured wall seconds of the call;
* scores an architecture at most once per search: asking again returns the first score and is **not** a
  new evaluation (no trace entry, no budget spent). Regularized evolution and local search revisit
  architectures; a tabular benchmark or a deterministic estimator would return the same number again, so
  the budget counts distinct architectures, as naszilla's local search counts its queries (an architecture
  already queried is not queried again).

Each trace entry is ``{"step", "arch", "score", "seconds", "reused"}`` (step 0-based, in the order made).

Example::

    log = EvaluationLog(estimator, ctx)
    best = max(archs, key=lambda a: estimator.direction.sign * log.score(a))
    SearchResult(best=best, evaluations=log.evaluations, trace=log.trace)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nas_harness.api import Arch, Context, Estimator, SearchSpace


class EvaluationLog:
    """Scores architectures with ``estimator`` in ``ctx``, once each, and records the trace (module docstring).

    ``space``: the space whose strings name the scored architectures, when it is not ``ctx.space`` (MixPath's
    NSGA-II scores multi-path architectures; a single path keeps its base string, so stored scores still match).
    """

    def __init__(self, estimator: Estimator, ctx: Context, space: SearchSpace | None = None) -> None:
        self.estimator = estimator
        self.ctx = ctx
        self.space = space if space is not None else ctx.space
        self.trace: list[dict[str, Any]] = []
        self._known = ctx.known_scores or {}
        self._scores: dict[str, float] = {}  # arch string -> score, every architecture scored in this search

    @property
    def evaluations(self) -> int:
        """How many distinct architectures were scored (stored scores included): the budget spent."""
        return len(self.trace)

    @property
    def seconds(self) -> float:
        """The seconds charged so far (the sum of the trace's ``seconds``)."""
        return sum(entry["seconds"] for entry in self.trace)

    def scored(self, arch: Arch) -> bool:
        """True when ``arch`` was already scored in this search (scoring it again is free)."""
        return self.space.to_str(arch) in self._scores

    def score(self, arch: Arch, compute: Callable[[], float] | None = None) -> float:
        """The estimator's score of ``arch`` (its exceptions propagate), scored at most once per search.

        ``compute``: how to score when it is not ``estimator.score(arch, ctx)`` (NSGA-II scores a path mask);
        such a call is charged its measured wall seconds.
        """
        key = self.space.to_str(arch)
        if key in self._scores:
            return self._scores[key]
        charged = getattr(self.estimator, "charged_seconds", None) if compute is None else None
        if key in self._known:
            score, seconds = self._known[key]
            score, seconds, reused = float(score), float(seconds), True
        else:
            start = time.perf_counter()
            score = float(compute() if compute is not None else self.estimator.score(arch, self.ctx))
            seconds, reused = time.perf_counter() - start, False
        if callable(charged):
            seconds = float(charged(arch, self.ctx))
        self._scores[key] = score
        self.trace.append({"step": len(self.trace), "arch": key, "score": score, "seconds": seconds, "reused": reused})
        return score
