"""A stand-in multi-path estimator for MixPath's NSGA-II tests: no supernet, a known score per path."""

from __future__ import annotations

from nas_harness.api import Direction, Estimator
from nas_harness.spaces.multipath import MultiPathSpace
from nas_harness.spaces.nb201 import OPS

CONV1, CONV3 = OPS.index("nor_conv_1x1"), OPS.index("nor_conv_3x3")


class PathCounter(Estimator):
    """Accuracy = the number of conv ops on the path; every mask scored is recorded in ``calls``."""

    name = "paths"
    direction = Direction.MAXIMIZE

    def __init__(self):
        self.calls = []

    def multipath_space(self, ctx):
        return MultiPathSpace(ctx.space, 2)

    def score_path(self, mask):
        self.calls.append(mask)
        return float(sum(ops[CONV1] + ops[CONV3] for ops in mask))

    def score(self, arch, ctx):
        raise NotImplementedError
