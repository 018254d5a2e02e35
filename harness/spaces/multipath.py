"""Multi-path variants of a search space (MixPath, Chu et al., ICCV 2023).

In the variant, one choice point may activate up to ``m`` of its options at
once; their outputs are summed. Options named in ``solo`` (NB201's ``none``,
which outputs zeros) may only stand alone. An architecture is a tuple of sorted
option-index tuples, one per choice point. Its string is the base space's
layout with the active option names joined by ``,`` in option order, e.g. for
NAS-Bench-201::

    |nor_conv_3x3,skip_connect~0|+|nor_conv_1x1~0|none~1|+|...|

so a single-path architecture keeps exactly its base-space string and can be
looked up in the base space's benchmark (:meth:`MultiPathSpace.to_base`).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

from nas_harness.api import (
    ArchitectureError,
    ChoicePoint,
    Enumerable,
    HasChoicePoints,
    MultiPathLabels,
    Mutable,
    Recombinable,
    SearchSpace,
    WeightSharing,
    require,
)
from nas_harness.options import check_int
from nas_harness.spaces.masked import MaskedNetwork
from nas_harness.spaces.masks import Mask

MultiArch = tuple[tuple[int, ...], ...]
SEPARATOR = ","


class MultiPathSpace(SearchSpace, Enumerable, Mutable, Recombinable):
    """``base`` with up to ``m`` active options per choice point.

    Capabilities: :class:`~nas_harness.api.Enumerable`, :class:`~nas_harness.api.Mutable` and
    :class:`~nas_harness.api.Recombinable`. Its architectures are not one option per choice point,
    so it has no :class:`~nas_harness.api.HasChoicePoints` (:meth:`choice_points` is the base's).

    Args:
        base: a space with choice points (:class:`~nas_harness.api.HasChoicePoints`, checked here);
            its strings need a label-level string form (:class:`~nas_harness.api.MultiPathLabels`) and
            its networks a supernet (:class:`~nas_harness.api.WeightSharing`), checked where used.
        m: the most options one choice point may activate (MixPath's ``m``).
        solo: option names that may only be active alone (default ``("none",)``).
    """

    def __init__(self, base: SearchSpace, m: int, solo: Sequence[str] = ("none",)) -> None:
        self.name = f"{base.name}-multipath{m}"
        self.base = require(base, HasChoicePoints, f"the multi-path variant {self.name!r}")
        self.points: list[ChoicePoint] = self.base.choice_points()
        check_int("multi-path m", m)
        self.m = m
        self.solo = tuple(solo)
        #: per choice point, the option indices that may be combined
        self.combinable = [tuple(j for j, o in enumerate(p.options) if o not in self.solo) for p in self.points]
        if any(m > len(c) for c in self.combinable):
            raise ValueError(f"multi-path m = {m} exceeds the {min(map(len, self.combinable))} combinable options")

    # -- validation and strings ---------------------------------------------------------------
    def validate(self, arch: Sequence[Sequence[int]]) -> MultiArch:
        if len(arch) != len(self.points):
            raise ArchitectureError(f"{self.name}: {len(arch)} choice points given, expected {len(self.points)}")
        out = []
        for point, combinable, active in zip(self.points, self.combinable, arch, strict=True):
            ops = tuple(sorted(int(j) for j in active))
            names = [point.options[j] if 0 <= j < len(point.options) else repr(j) for j in ops]
            if not ops or len(ops) > self.m:
                raise ArchitectureError(
                    f"{self.name}: {point.name} has {len(ops)} active options {names}; accepted 1..{self.m}"
                )
            if len(set(ops)) != len(ops) or any(not 0 <= j < len(point.options) for j in ops):
                raise ArchitectureError(
                    f"{self.name}: {point.name} options {names} must be distinct, from {', '.join(point.options)}"
                )
            if len(ops) > 1 and any(j not in combinable for j in ops):
                raise ArchitectureError(
                    f"{self.name}: {point.name} combines {names}; {', '.join(self.solo)} may only stand alone"
                )
            out.append(ops)
        return tuple(out)

    def to_str(self, arch: MultiArch) -> str:
        arch = self.validate(arch)
        return self._labelled().format_labels(
            [SEPARATOR.join(p.options[j] for j in ops) for p, ops in zip(self.points, arch, strict=True)]
        )

    def parse(self, text: str) -> MultiArch:
        labels = self._labelled().parse_labels(text)
        arch = []
        for point, label in zip(self.points, labels, strict=True):
            ops = []
            for name in label.split(SEPARATOR):
                if name not in point.options:
                    raise ArchitectureError(
                        f"{self.name} architecture {text!r}: unknown option {name!r} at {point.name}; "
                        f"accepted: {', '.join(point.options)} (up to {self.m} joined by '{SEPARATOR}')"
                    )
                ops.append(point.options.index(name))
            arch.append(tuple(ops))
        try:
            valid = self.validate(arch)
        except ArchitectureError as exc:
            raise ArchitectureError(f"{self.name} architecture {text!r}: {exc}") from None
        if [list(a) for a in valid] != [list(a) for a in arch]:  # canonical form lists options in order
            raise ArchitectureError(
                f"{self.name} architecture {text!r}: list each point's options in the order "
                f"{', '.join(self.points[0].options)}; canonical: {self.to_str(valid)!r}"
            )
        return valid

    def _labelled(self) -> MultiPathLabels:
        return require(self.base, MultiPathLabels, f"the multi-path variant {self.name!r} (for its strings)")

    # -- base-space identity --------------------------------------------------------------------
    def from_base(self, arch: Any) -> MultiArch:
        return tuple((j,) for j in self.base.to_choices(arch))

    def to_base(self, arch: MultiArch) -> Any | None:
        """The base architecture of a single-path ``arch``; None when some point has several options."""
        arch = self.validate(arch)
        if any(len(ops) != 1 for ops in arch):
            return None
        return self.base.from_choices([ops[0] for ops in arch])

    def to_mask(self, arch: MultiArch) -> Mask:
        arch = self.validate(arch)
        return tuple(tuple(j in ops for j in range(len(p.options))) for p, ops in zip(self.points, arch, strict=True))

    # -- sampling and variation -----------------------------------------------------------------
    def point_options(self, i: int) -> list[tuple[int, ...]]:
        """Every legal active set of choice point ``i``: each option alone, then 2..m combinable ones."""
        singles = [(j,) for j in range(len(self.points[i].options))]
        combos = [c for k in range(2, self.m + 1) for c in itertools.combinations(self.combinable[i], k)]
        return singles + combos

    def size(self) -> int:
        return math.prod(len(self.point_options(i)) for i in range(len(self.points)))

    def enumerate(self) -> Iterator[MultiArch]:
        yield from itertools.product(*(self.point_options(i) for i in range(len(self.points))))

    def sample_point(self, i: int, rng: random.Random) -> tuple[int, ...]:
        """MixPath's sampling rule: a count k uniform in 1..m, then k distinct combinable options."""
        k = rng.randint(1, self.m)
        return tuple(sorted(rng.sample(self.combinable[i], k)))

    def sample(self, rng: random.Random) -> MultiArch:
        return tuple(self.sample_point(i, rng) for i in range(len(self.points)))

    def mutate(self, arch: MultiArch, rng: random.Random) -> MultiArch:
        arch = self.validate(arch)
        i = rng.randrange(len(arch))
        choices = [ops for ops in self.point_options(i) if ops != arch[i]]
        return arch[:i] + (rng.choice(choices),) + arch[i + 1 :]

    def crossover(self, a: MultiArch, b: MultiArch, rng: random.Random) -> MultiArch:
        return tuple(x if rng.random() < 0.5 else y for x, y in zip(self.validate(a), self.validate(b), strict=True))

    def choice_points(self) -> list[ChoicePoint]:
        """The base space's choice points (each may hold up to ``m`` options here)."""
        return list(self.points)

    def build(self, arch: MultiArch, **net_cfg: Any):
        """The base supernet running ``arch``'s paths (a module with a plain ``forward(x)``)."""

        base = require(self.base, WeightSharing, f"the multi-path variant {self.name!r} (for its networks)")
        return MaskedNetwork(base.build_supernet(**net_cfg), self.to_mask(arch))
