"""Masks of active options over a space's choice points: what a weight-sharing supernet runs.

``mask[i][j]`` is True when option ``j`` of choice point ``i`` is active. SPOS
activates exactly one option per choice point (a single path, i.e. one
architecture), MixPath up to ``m`` of them, TE-NAS prunes down from all of them.
These helpers only know the choice points, so supernet methods stay generic
over search spaces.
"""

from __future__ import annotations

from collections.abc import Sequence

from nas_harness.api import ChoicePoint

Mask = tuple[tuple[bool, ...], ...]  # [choice point][option] -> active


def single_path_mask(points: Sequence[ChoicePoint], choices: Sequence[int]) -> Mask:
    """The mask that activates option ``choices[i]`` at choice point ``i`` and nothing else."""
    if len(choices) != len(points):
        raise ValueError(f"{len(choices)} choices for {len(points)} choice points")
    for point, chosen in zip(points, choices, strict=True):
        if not 0 <= int(chosen) < len(point.options):
            raise ValueError(f"choice {chosen!r} at {point.name} is not in 0..{len(point.options) - 1}")
    return tuple(tuple(j == int(c) for j in range(len(p.options))) for p, c in zip(points, choices, strict=True))


def is_single_path(mask: Mask) -> bool:
    return all(sum(ops) == 1 for ops in mask)


def mask_choices(mask: Mask) -> tuple[int, ...]:
    """The option index per choice point of a single-path mask."""
    if not is_single_path(mask):
        raise ValueError(f"mask is not single-path: {[sum(ops) for ops in mask]} active options per choice point")
    return tuple(ops.index(True) for ops in mask)


def check_mask(mask: Mask, points: Sequence[ChoicePoint]) -> Mask:
    """``mask`` as a tuple of bool tuples, shaped like ``points``, at least one option active everywhere."""
    mask = tuple(tuple(bool(on) for on in ops) for ops in mask)
    if len(mask) != len(points) or any(len(ops) != len(p.options) for ops, p in zip(mask, points, strict=False)):
        shape = " x ".join(str(len(p.options)) for p in points)
        raise ValueError(f"a mask needs {len(points)} choice points with {shape} options, got {len(mask)}")
    if any(not any(ops) for ops in mask):
        raise ValueError("every choice point needs at least one active option")
    return mask
