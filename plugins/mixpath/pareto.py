"""NSGA-II's building blocks (Deb, Pratap, Agarwal & Meyarivan, IEEE TEC 2002), all objectives minimised."""

from __future__ import annotations

import math
from collections.abc import Sequence

Objectives = Sequence[float]


def dominates(a: Objectives, b: Objectives) -> bool:
    """``a`` is no worse than ``b`` in every objective and better in at least one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def non_dominated_sort(points: Sequence[Objectives]) -> list[list[int]]:
    """Fast non-dominated sorting (section III-A): the indices of front 0, front 1, ..."""
    dominated_by: list[list[int]] = [[] for _ in points]  # S_p: the points p dominates
    counts = [0] * len(points)  # n_p: how many points dominate p
    fronts: list[list[int]] = [[]]
    for p, a in enumerate(points):
        for q, b in enumerate(points):
            if dominates(a, b):
                dominated_by[p].append(q)
            elif dominates(b, a):
                counts[p] += 1
        if counts[p] == 0:
            fronts[0].append(p)
    while fronts[-1]:
        nxt = []
        for p in fronts[-1]:
            for q in dominated_by[p]:
                counts[q] -= 1
                if counts[q] == 0:
                    nxt.append(q)
        fronts.append(nxt)
    return fronts[:-1]


def crowding_distance(points: Sequence[Objectives]) -> list[float]:
    """Crowding distance within one front (section III-B); boundary points get infinity."""
    n = len(points)
    distance = [0.0] * n
    if n == 0:
        return distance
    for m in range(len(points[0])):
        order = sorted(range(n), key=lambda i: points[i][m])
        low, high = points[order[0]][m], points[order[-1]][m]
        distance[order[0]] = distance[order[-1]] = math.inf
        if high == low:
            continue
        for k in range(1, n - 1):
            distance[order[k]] += (points[order[k + 1]][m] - points[order[k - 1]][m]) / (high - low)
    return distance


def rank_and_crowding(points: Sequence[Objectives]) -> tuple[list[int], list[float]]:
    """Per point: its front index and its crowding distance within that front."""
    rank = [0] * len(points)
    crowd = [0.0] * len(points)
    for r, front in enumerate(non_dominated_sort(points)):
        for i, d in zip(front, crowding_distance([points[i] for i in front]), strict=True):
            rank[i], crowd[i] = r, d
    return rank, crowd


def select_survivors(points: Sequence[Objectives], n: int) -> list[int]:
    """NSGA-II environmental selection: whole fronts in order, the last one by crowding distance."""
    chosen: list[int] = []
    for front in non_dominated_sort(points):
        if len(chosen) + len(front) <= n:
            chosen += front
            continue
        crowd = crowding_distance([points[i] for i in front])
        by_crowding = sorted(range(len(front)), key=lambda k: -crowd[k])
        chosen += [front[k] for k in by_crowding[: n - len(chosen)]]
        break
    return chosen
