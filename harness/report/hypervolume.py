"""The hypervolume of a two-objective front: accuracy (higher is better) against a cost (lower is better).

The hypervolume is the area of the part of the plane that some front member dominates and that dominates
the reference point ``(ref_accuracy, ref_cost)``: the union over members of the rectangles
``[ref_accuracy, accuracy] x [cost, ref_cost]``. Dominated members add nothing, and members no better than the
reference in either objective (accuracy <= ref_accuracy or cost >= ref_cost) add nothing. Computed exactly by
sort and sweep in O(n log n): members by accuracy, best first, each adding the strip of cost it improves on.

Example::

    hypervolume_2d([(90.0, 1.0), (80.0, 0.5)], ref=(0.0, 2.0))   # 90*1.0 + 80*0.5 = 130.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def hypervolume_2d(points: Iterable[tuple[float, float]], ref: tuple[float, float]) -> float:
    """The area dominated by ``points`` (accuracy, cost) and dominating ``ref`` (module docstring); 0.0 when
    none is better than the reference in both objectives. Non-finite values are refused."""
    ref_accuracy, ref_cost = (float(v) for v in ref)
    if not (math.isfinite(ref_accuracy) and math.isfinite(ref_cost)):
        raise ValueError(f"hypervolume reference {ref!r}; accepted: two finite numbers (accuracy, cost)")
    gains = []  # (accuracy gain, cost saving), both > 0
    for accuracy, cost in points:
        accuracy, cost = float(accuracy), float(cost)
        if not (math.isfinite(accuracy) and math.isfinite(cost)):
            raise ValueError(f"front point ({accuracy!r}, {cost!r}); accepted: finite accuracy and cost")
        if accuracy > ref_accuracy and cost < ref_cost:
            gains.append((accuracy - ref_accuracy, ref_cost - cost))
    area, covered = 0.0, 0.0  # covered: the largest cost saving of the members swept so far
    for gain, saving in sorted(gains, key=lambda p: (-p[0], -p[1])):
        if saving > covered:
            area += gain * (saving - covered)
            covered = saving
    return area
