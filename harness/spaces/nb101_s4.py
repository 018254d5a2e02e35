"""MixPath's NAS-Bench-101 subspace S4 (Chu et al., MixPath, NAS-Bench-101 experiments).

A cell has four parallel path slots between its input and a fusion vertex: each slot is off
(``none``) or holds one of NAS-Bench-101's three ops; the active slots' outputs are summed into a
1x1 conv-BN-ReLU fusion vertex, which is the cell's output. As a NAS-Bench-101 cell::

    input -> slot vertex (its op) -> fusion (conv1x1-bn-relu) -> output,   one branch per active slot

so every S4 architecture has NAS-Bench-101 ground truth (:func:`to_nb101`; the official MixPath
code builds the same ``ModelSpec``). Up to 4 active slots make at most 9 edges and 7 vertices.
There are 4**4 - 1 = 255 architectures (slots are distinct supernet weights) and 34 distinct
NB101 graphs (slots holding the same ops in another order are isomorphic).

The choice points are the four slots, so an architecture is one option per slot: the SPOS
sampler draws it uniformly (all slots off is not an architecture), and MixPath's multi-path is
the number k of active slots, whose sum its Shadow BN normalises
(:attr:`S4Space.fusion_paths`). The supernet: :mod:`nas_harness.spaces.nb101_s4_supernet`.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from nas_harness.api import (
    ArchitectureError,
    ChoicePoint,
    Enumerable,
    Mutable,
    Recombinable,
    SearchSpace,
    WeightSharing,
)
from nas_harness.spaces.nb101_cells import Cell
from nas_harness.spaces.nb101_net import build_network
from nas_harness.spaces.nb101_s4_encoding import FUSION_OP as FUSION_OP
from nas_harness.spaces.nb101_s4_encoding import NONE as NONE
from nas_harness.spaces.nb101_s4_encoding import SEPARATOR as SEPARATOR
from nas_harness.spaces.nb101_s4_encoding import SLOT_OPTIONS as SLOT_OPTIONS
from nas_harness.spaces.nb101_s4_encoding import SLOTS as SLOTS
from nas_harness.spaces.nb101_s4_encoding import to_nb101 as to_nb101
from nas_harness.spaces.nb101_s4_encoding import validate as validate
from nas_harness.spaces.nb101_s4_supernet import S4Supernet


class S4Space(SearchSpace, Enumerable, Mutable, Recombinable, WeightSharing):
    """MixPath's S4: four path slots, each ``none`` or a NAS-Bench-101 op. Strings list the slots'
    options joined by ``+``, e.g. ``conv3x3-bn-relu+none+maxpool3x3+none``. No label-level strings
    (:class:`~nas_harness.api.MultiPathLabels`): MixPath's multi-path here is the number of active slots."""

    name = "nb101.s4"
    #: the parallel paths summed at the fusion vertex: MixPath's multi-path is how many are active
    fusion_paths: tuple[str, ...] = tuple(f"slot_{s}" for s in range(SLOTS))

    def parse(self, text: str) -> tuple[int, ...]:
        if not isinstance(text, str):
            raise ArchitectureError(f"S4 architecture must be a string, got {type(text).__name__} {text!r}")
        names = text.strip().split(SEPARATOR)
        if len(names) != SLOTS:
            raise ArchitectureError(
                f"S4 architecture {text!r} has {len(names)} slots; expected {SLOTS} joined by {SEPARATOR!r}"
            )
        unknown = [n for n in names if n not in SLOT_OPTIONS]
        if unknown:
            raise ArchitectureError(f"S4 architecture {text!r}: unknown ops {unknown}; accepted: {SLOT_OPTIONS}")
        return validate(tuple(SLOT_OPTIONS.index(n) for n in names))

    def to_str(self, arch: tuple[int, ...]) -> str:
        return SEPARATOR.join(SLOT_OPTIONS[o] for o in validate(arch))

    def size(self) -> int:
        return len(SLOT_OPTIONS) ** SLOTS - 1

    def enumerate(self) -> Iterator[tuple[int, ...]]:
        return (a for a in itertools.product(range(len(SLOT_OPTIONS)), repeat=SLOTS) if any(a))

    def sample(self, rng: random.Random) -> tuple[int, ...]:
        """Uniform over the 255 architectures."""
        while True:
            arch = tuple(rng.randrange(len(SLOT_OPTIONS)) for _ in range(SLOTS))
            if any(arch):
                return arch

    def sample_paths(self, rng: random.Random, m: int) -> tuple[int, ...]:
        """MixPath's training sampler (official ``random_choice``): k uniform in 1..m, k distinct
        slots, an op drawn uniformly for each."""
        k = rng.randint(1, min(m, SLOTS))
        arch = [0] * SLOTS
        for slot in rng.sample(range(SLOTS), k):
            arch[slot] = rng.randrange(1, len(SLOT_OPTIONS))
        return tuple(arch)

    def mutate(self, arch: tuple[int, ...], rng: random.Random) -> tuple[int, ...]:
        """Another option in one uniformly chosen slot (redrawn when every slot would be off)."""
        arch = validate(arch)
        while True:
            slot = rng.randrange(SLOTS)
            option = rng.choice([o for o in range(len(SLOT_OPTIONS)) if o != arch[slot]])
            child = arch[:slot] + (option,) + arch[slot + 1 :]
            if any(child):
                return child

    def crossover(self, a: tuple[int, ...], b: tuple[int, ...], rng: random.Random) -> tuple[int, ...]:
        a, b = validate(a), validate(b)
        while True:
            child = tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b, strict=True))
            if any(child):
                return child

    def choice_points(self) -> list[ChoicePoint]:
        return [ChoicePoint(name, SLOT_OPTIONS) for name in self.fusion_paths]

    def to_choices(self, arch: tuple[int, ...]) -> tuple[int, ...]:
        return validate(arch)

    def from_choices(self, choices: Sequence[int]) -> tuple[int, ...]:
        return validate(tuple(int(c) for c in choices))

    def to_nb101(self, arch: tuple[int, ...]) -> Cell:
        return to_nb101(arch)

    def build(self, arch: tuple[int, ...], **net_cfg: Any) -> torch.nn.Module:
        """The NAS-Bench-101 network of the arch's cell (what the benchmark trained)."""

        return build_network(to_nb101(arch), **net_cfg)

    def build_supernet(self, **net_cfg: Any) -> torch.nn.Module:
        """The S4 weight-sharing supernet (``C=128, N=3`` by default, NAS-Bench-101's skeleton)."""

        return S4Supernet(**{"C": 128, "N": 3, **net_cfg})
