"""The searchers board's columns beyond the returned architecture: anytime curves, the oracle, front quality.

For one searcher of a study (its rows of the store's ``searches`` table):

* **curves** (:mod:`nas_harness.report.search_curves`): regret at fixed evaluation budgets and the area under
  the regret curve, mean over seeds with a percentile-bootstrap interval over seeds, from each seed's trace;
  a search without a trace (an older store, a failed search) leaves these columns blank;
* **the oracle** (:mod:`nas_harness.oracle`): ``oracle_split``, the split (and schedule) the oracle searched on,
  beside ``judged_split``, the study split every searcher is judged on, and ``oracle_cost``, how its seconds
  were charged; blank for other estimators;
* **front quality** (multi-objective searchers): ``front_hypervolume``, the hypervolume of each seed's front
  members that have ground truth and a recorded cost (:func:`front_points`) in the (accuracy, cost) plane,
  normalised: accuracy / 100 and cost / the benchmark's largest recorded cost, against the fixed reference
  point (0 % accuracy, the benchmark's largest cost), so 1.0 would be a member at 100 % that costs nothing;
  mean over seeds with its interval. The cost is the searcher's own cost objective when it is ``params`` or
  ``flops`` (NSGA-II's ``cost``, default ``flops``), else ``params``; a benchmark that records neither leaves
  it blank and says so in ``hv_reference``.

Example::

    columns = searcher_columns(ok_rows, traces, world, ref, truth, optimum)
    frame = curve_frame(store, world, truth, optimum)      # the data of search_curves.png
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from nas_harness.api import ArchitectureError, BenchmarkError, Enumerable
from nas_harness.config import SearcherRef
from nas_harness.oracle import Oracle
from nas_harness.report.hypervolume import hypervolume_2d
from nas_harness.report.search_curves import Curve, best_so_far, bootstrap_means, curve_bands, summarize
from nas_harness.run.store import OK, Store
from nas_harness.run.world import World

Truth = Callable[[str], float | None]
#: the cost keys a front can be judged on (a searcher's ``cost`` option picks one; ``params`` otherwise)
FRONT_COSTS = ("params", "flops")
#: the largest size of an enumerable space whose costs are scanned for the hypervolume's reference point
MAX_SCAN = 500_000


def curves_of(
    ok: pd.DataFrame, traces: dict[tuple[str, int], list], world: World, ref: SearcherRef, truth: Truth
) -> list[Curve]:
    """The anytime curve of each successful seed of ``ref`` that has a trace (seed order); an empty trace (a
    searcher that scores no whole architecture with the estimator, e.g. ``tenas.prune``) counts as none."""
    sign = _sign(world, ref.estimator)
    found = [traces.get((ref.label, int(seed))) for seed in sorted(ok.seed)]
    return [best_so_far(trace, sign, truth) for trace in found if trace]


def _sign(world: World, label: str) -> int:
    try:
        return world.estimator(label).direction.sign
    except Exception:
        return 1


def searcher_columns(
    ok: pd.DataFrame,
    traces: dict[tuple[str, int], list],
    world: World,
    ref: SearcherRef,
    truth: Truth,
    optimum: float,
    cost_cache: dict[str, float | None],
) -> dict[str, Any]:
    """The oracle, curve and front-quality columns of one searcher (module docstring)."""
    cfg = world.cfg
    row: dict[str, Any] = {**oracle_columns(world, ref, ok), "judged_split": cfg.split}
    row.update({"trace_seeds": 0, "charged_s_mean": math.nan, "reused_mean": math.nan})
    row.update(summarize(curves_of(ok, traces, world, ref, truth), optimum, cfg.bootstrap, cfg.ci))
    row.update(front_columns(ok, world, ref, truth, cost_cache))
    return row


def oracle_columns(world: World, ref: SearcherRef, ok: pd.DataFrame) -> dict[str, str]:
    """``oracle_split`` and ``oracle_cost`` when ``ref`` searches with the oracle, else blank."""
    try:
        estimator = world.estimator(ref.estimator)
    except Exception:
        estimator = None
    if not isinstance(estimator, Oracle):
        return {"oracle_split": "", "oracle_cost": ""}
    arch = next((a for a in ok.arch if isinstance(a, str)), None)
    try:
        basis = estimator.cost_basis(world.space.parse(arch)) if arch is not None else ""
    except (ArchitectureError, BenchmarkError):
        basis = ""
    return {"oracle_split": estimator.describe_split(), "oracle_cost": basis}


def front_cost_key(world: World, ref: SearcherRef) -> str:
    """The searcher's own cost objective (its ``cost`` attribute, e.g. NSGA-II's default ``flops``) when it is one
    of :data:`FRONT_COSTS`, else ``params``."""
    try:
        cost = getattr(world.registry.create("searcher", ref.name, **ref.options), "cost", None)
    except Exception:
        cost = ref.options.get("cost")
    return cost if cost in FRONT_COSTS else FRONT_COSTS[0]


def front_points(front: list[str], world: World, key: str, truth: Truth) -> list[tuple[float, float]]:
    """(accuracy, cost) of the front members that have ground truth and a recorded ``key`` cost."""
    points = []
    for arch in front:
        accuracy = truth(arch)
        if accuracy is None:
            continue
        try:
            cost = world.benchmark.cost(world.space.parse(arch), key)
        except (ArchitectureError, BenchmarkError):
            cost = None
        if cost is not None and math.isfinite(cost):
            points.append((accuracy, float(cost)))
    return points


def largest_cost(world: World, key: str) -> float | None:
    """The benchmark's largest recorded ``key`` cost over its architectures (None: none recorded, or it
    cannot list them)."""
    archs = world.listed_archs()
    if archs is None:
        space = world.space
        if not isinstance(space, Enumerable) or space.size() > MAX_SCAN:
            return None
        archs = space.enumerate()
    values = [c for a in archs if (c := world.benchmark.cost(a, key)) is not None and math.isfinite(c)]
    return max(values) if values else None


def front_columns(
    ok: pd.DataFrame, world: World, ref: SearcherRef, truth: Truth, cost_cache: dict[str, float | None]
) -> dict[str, Any]:
    """``front_with_cost``, ``front_hypervolume`` with its interval and ``hv_reference`` (module docstring);
    blank for a searcher without fronts."""
    fronts = [front for f in ok.front_json if isinstance(f, str) and (front := json.loads(f))]
    blank = {"front_with_cost": math.nan, "front_hypervolume": math.nan, "front_hypervolume_ci_low": math.nan,
             "front_hypervolume_ci_high": math.nan, "hv_reference": ""}  # fmt: skip
    if not fronts:
        return blank
    key = front_cost_key(world, ref)
    if key not in cost_cache:
        cost_cache[key] = largest_cost(world, key)
    ref_cost = cost_cache[key]
    points = [front_points(front, world, key, truth) for front in fronts]
    row = {**blank, "front_with_cost": sum(len(p) for p in points)}
    if ref_cost is None or ref_cost <= 0:
        row["hv_reference"] = f"none: benchmark {world.benchmark.name!r} records no {key}"
        return row
    if row["front_with_cost"] == 0:  # no member can be judged (e.g. multi-path cells): unknown, not a volume of 0
        row["hv_reference"] = "none: no front member has ground truth and a cost"
        return row
    volumes = [hypervolume_2d([(a / 100.0, c / ref_cost) for a, c in p], ref=(0.0, 1.0)) for p in points]
    mean, low, high = bootstrap_means(np.array(volumes), world.cfg.bootstrap, world.cfg.ci)
    row.update(front_hypervolume=float(mean[0]), front_hypervolume_ci_low=float(low[0]),
               front_hypervolume_ci_high=float(high[0]))  # fmt: skip
    row["hv_reference"] = f"accuracy 0 %, {key} {ref_cost:.4g} (the benchmark's largest); normalised to 1 x 1"
    return row


def curve_frame(store: Store, world: World, truth: Truth, optimum: float) -> pd.DataFrame:
    """The data of ``search_curves.png``: per searcher and axis (``evaluations``, ``seconds``) the mean
    best-so-far accuracy with its interval over seeds (:func:`~nas_harness.report.search_curves.curve_bands`);
    columns searcher, estimator, axis, x, mean, low, high, seeds, optimum."""
    searches = store.searches_frame()
    traces = store.search_traces()
    frames = []
    for ref in world.cfg.searchers:
        ok = searches[(searches.searcher == ref.label) & (searches.status == OK)]
        curves = curves_of(ok, traces, world, ref, truth)
        for axis in ("evaluations", "seconds"):
            band = curve_bands(curves, axis, world.cfg.bootstrap, world.cfg.ci)
            if not band.empty:
                frames.append(band.assign(searcher=ref.label, estimator=ref.estimator, axis=axis, optimum=optimum))
    columns = ["searcher", "estimator", "axis", "x", "mean", "low", "high", "seeds", "optimum"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]
