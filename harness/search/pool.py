"""Where a searcher may go: the benchmark's architectures when it covers only part of the space, else the space.

An architecture outside ``ctx.candidates`` has no ground truth, so a search that returned it could not be
judged. Searchers draw random architectures from :meth:`ArchPool.draw` and keep only the mutants or
neighbours that :meth:`ArchPool.holds`.
"""

from __future__ import annotations

import random

from nas_harness.api import Arch, Context


class ArchPool:
    """The architectures a search in ``ctx`` may visit (every one of ``ctx.space`` when ``ctx.candidates`` is None)."""

    def __init__(self, ctx: Context) -> None:
        self.space = ctx.space
        self.candidates = None if ctx.candidates is None else list(ctx.candidates)
        self._members = None if self.candidates is None else set(self.candidates)

    @property
    def restricted(self) -> bool:
        """True when the benchmark covers only part of the space."""
        return self.candidates is not None

    def draw(self, rng: random.Random) -> Arch:
        """One architecture, uniform over the candidates when restricted, else ``space.sample(rng)``."""
        return rng.choice(self.candidates) if self.candidates is not None else self.space.sample(rng)

    def holds(self, arch: Arch) -> bool:
        """True when a search may visit ``arch``."""
        return self._members is None or arch in self._members
