"""NAS-Bench-201 cell search space (Dong & Yang, ICLR 2020, section 2.1).

A cell has 4 nodes and 6 edges i->j (i < j); each edge holds one of 5 ops,
so there are 5**6 = 15,625 architectures. An architecture is a tuple of six op
indices in the official string's edge order: 0->1, 0->2, 1->2, 0->3, 1->3, 2->3.

The official string is ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``: one ``+``-separated
group per node 1..3, each listing ``op~i`` for its inputs i = 0..j-1.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from nas_harness.api import (
    ChoicePoint,
    HasNeighbours,
    Indexed,
    MultiPathLabels,
    Mutable,
    Recombinable,
    SearchSpace,
    WeightSharing,
)
from nas_harness.spaces.nb201_encoding import EDGES as EDGES
from nas_harness.spaces.nb201_encoding import FORM as FORM
from nas_harness.spaces.nb201_encoding import NUM_ARCHS as NUM_ARCHS
from nas_harness.spaces.nb201_encoding import NUM_NODES as NUM_NODES
from nas_harness.spaces.nb201_encoding import OPS as OPS
from nas_harness.spaces.nb201_encoding import arch_to_index as arch_to_index
from nas_harness.spaces.nb201_encoding import format_edges as format_edges
from nas_harness.spaces.nb201_encoding import index_to_arch as index_to_arch
from nas_harness.spaces.nb201_encoding import is_disconnected as is_disconnected
from nas_harness.spaces.nb201_encoding import official_order as official_order
from nas_harness.spaces.nb201_encoding import parse as parse
from nas_harness.spaces.nb201_encoding import parse_edges as parse_edges
from nas_harness.spaces.nb201_encoding import to_str as to_str
from nas_harness.spaces.nb201_encoding import validate as validate
from nas_harness.spaces.nb201_net import NB201Network
from nas_harness.spaces.nb201_supernet import NB201Supernet


class NB201Space(SearchSpace, Indexed, Mutable, Recombinable, HasNeighbours, WeightSharing, MultiPathLabels):
    """The NAS-Bench-201 cell space as a :class:`~nas_harness.api.SearchSpace`, with every capability.

    Architectures are tuples of six op indices (edge order of :data:`EDGES`);
    :meth:`enumerate` yields them in official index order.
    """

    name = "nb201"

    def parse(self, text: str) -> tuple[int, ...]:
        return parse(text)

    def to_str(self, arch: tuple[int, ...]) -> str:
        return to_str(arch)

    def size(self) -> int:
        return NUM_ARCHS

    def enumerate(self) -> Iterator[tuple[int, ...]]:
        return iter(official_order())

    def index(self, arch: tuple[int, ...]) -> int:
        """The official NAS-Bench-201 index (0..15,624) of ``arch``."""
        return arch_to_index(arch)

    def from_index(self, index: int) -> tuple[int, ...]:
        return index_to_arch(index)

    def sample(self, rng: random.Random) -> tuple[int, ...]:
        return tuple(rng.randrange(len(OPS)) for _ in EDGES)

    def mutate(self, arch: tuple[int, ...], rng: random.Random) -> tuple[int, ...]:
        """Change the op of one uniformly chosen edge to a different op (REA's mutation, NB201 section 5)."""
        arch = validate(arch)
        edge = rng.randrange(len(EDGES))
        new_op = rng.choice([op for op in range(len(OPS)) if op != arch[edge]])
        return arch[:edge] + (new_op,) + arch[edge + 1 :]

    def crossover(self, a: tuple[int, ...], b: tuple[int, ...], rng: random.Random) -> tuple[int, ...]:
        """Uniform crossover: each edge's op comes from either parent with probability 1/2."""
        a, b = validate(a), validate(b)
        return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b, strict=True))

    def neighbours(self, arch: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The 24 architectures that differ from ``arch`` on exactly one edge."""
        arch = validate(arch)
        return [
            arch[:edge] + (op,) + arch[edge + 1 :]
            for edge in range(len(EDGES))
            for op in range(len(OPS))
            if op != arch[edge]
        ]

    def choice_points(self) -> list[ChoicePoint]:
        return [ChoicePoint(f"edge_{i}->{j}", OPS) for i, j in EDGES]

    def format_labels(self, labels: Sequence[str]) -> str:
        return format_edges(labels)

    def parse_labels(self, text: str) -> list[str]:
        return parse_edges(text)

    def build_supernet(self, **net_cfg: Any) -> torch.nn.Module:
        """The weight-sharing supernet over every edge's five ops (``C=16, N=5`` by default)."""

        return NB201Supernet(**{"C": 16, "N": 5, **net_cfg})

    def to_choices(self, arch: tuple[int, ...]) -> tuple[int, ...]:
        return validate(arch)

    def from_choices(self, choices: Sequence[int]) -> tuple[int, ...]:
        return validate(tuple(choices))

    def is_disconnected(self, arch: tuple[int, ...]) -> bool:
        return is_disconnected(arch)

    def build(self, arch: tuple[int, ...], **net_cfg: Any) -> torch.nn.Module:
        """The NAS-Bench-201 evaluation network (``C=16, N=5, num_classes=10`` by default)."""

        return NB201Network(validate(arch), **net_cfg)
