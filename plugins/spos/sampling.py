"""Uniform path sampling (SPOS section 3.2: the prior Gamma(A) over architectures is uniform).

Each choice point draws its option independently and uniformly, which is the
uniform distribution over every architecture of a product space such as NB201. In a space
that excludes some combinations (MixPath's S4 has no all-off cell), draws that are not
architectures are redrawn: still uniform over the architectures.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from nas_harness.api import ChoicePoint
from nas_harness.seeding import derived_seed


def uniform_choices(points: Sequence[ChoicePoint], rng: random.Random) -> tuple[int, ...]:
    """One option index per choice point, each uniform over that point's options."""
    return tuple(rng.randrange(len(p.options)) for p in points)


def step_choices(
    points: Sequence[ChoicePoint],
    seed: int,
    epoch: int,
    step: int,
    accept: Callable[[tuple[int, ...]], bool] | None = None,
) -> tuple[int, ...]:
    """The path trained at ``(epoch, step)``: a function of the seed and position only, so a
    resumed training samples exactly the paths an uninterrupted one would. ``accept`` rejects
    draws that are not architectures of the space."""
    rng = random.Random(derived_seed("spos-path", seed, epoch, step))
    while True:
        choices = uniform_choices(points, rng)
        if accept is None or accept(choices):
            return choices
