"""One proxy, registered through the ``nas_harness`` entry point."""

from __future__ import annotations

from nas_harness.api import Direction, HasChoicePoints, Proxy, require
from nas_harness.hookspecs import hookimpl


class OpCount(Proxy):
    """How many choice points hold one of ``ops`` (more convolutions: more capacity)."""

    name = "example.op_count"
    direction = Direction.MAXIMIZE

    def __init__(self, ops: tuple[str, ...] = ("nor_conv_1x1", "nor_conv_3x3")) -> None:
        self.ops = set(ops)

    def score(self, arch, ctx):
        # it reads choice points: a space without them (e.g. "nb101") fails naming the capability it lacks
        space = require(ctx.space, HasChoicePoints, f"proxy {self.name!r}")
        points = space.choice_points()
        choices = space.to_choices(arch)
        return float(sum(point.options[c] in self.ops for point, c in zip(points, choices, strict=True)))


@hookimpl
def nas_harness_register_proxies(register):
    register(OpCount.name, OpCount)
