"""The best architecture a search has scored so far, by the estimator's score after its direction."""

from __future__ import annotations

import math

from nas_harness.api import Arch, Direction


def fitness(score: float, direction: Direction) -> float:
    """``score`` oriented so that higher is better; a failed (NaN or infinite) score is ``-inf``, never chosen
    over a finite one."""
    key = direction.sign * score
    return key if math.isfinite(key) else -math.inf


class Incumbent:
    """Keeps the architecture with the highest :func:`fitness` offered so far (the first one on ties)."""

    def __init__(self, direction: Direction) -> None:
        self.direction = direction
        self.arch: Arch | None = None
        self.fitness = -math.inf

    def offer(self, arch: Arch, score: float) -> float:
        """Consider ``arch`` scored ``score``; returns its fitness."""
        key = fitness(score, self.direction)
        if key > self.fitness:
            self.arch, self.fitness = arch, key
        return key

    def best(self, who: str, estimator_name: str, tries: int) -> Arch:
        """The best architecture; a RuntimeError naming ``who`` when no score was finite."""
        if self.arch is None:
            raise RuntimeError(f"{who}: estimator {estimator_name!r} gave no finite score in {tries} tries")
        return self.arch
