"""The 2-D hypervolume of (accuracy up, cost down) fronts: hand values and brute-force grid counting."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pandas as pd
import pytest

from nas_harness.config import parse_config
from nas_harness.embedded import __file__ as embedded_init
from nas_harness.report.hypervolume import hypervolume_2d
from nas_harness.report.leaderboard import searcher_table
from nas_harness.run.store import CostRow, Store
from nas_harness.run.world import World


def test_one_point_is_its_rectangle():
    assert hypervolume_2d([(90.0, 1.0)], ref=(0.0, 2.0)) == pytest.approx(90.0 * 1.0)


def test_two_points_by_hand():
    # rectangles [0, 90] x [1, 2] (area 90) and [0, 80] x [0.5, 2] (area 120) overlap in [0, 80] x [1, 2] (80)
    assert hypervolume_2d([(90.0, 1.0), (80.0, 0.5)], ref=(0.0, 2.0)) == pytest.approx(90 + 120 - 80)


def test_dominated_and_duplicate_points_add_nothing():
    front = [(90.0, 1.0), (80.0, 0.5)]
    extra = [(85.0, 1.5), (70.0, 0.9), (90.0, 1.0), (80.0, 0.5)]  # each dominated by (or equal to) a member
    assert hypervolume_2d(front + extra, ref=(0.0, 2.0)) == pytest.approx(hypervolume_2d(front, ref=(0.0, 2.0)))


def test_points_no_better_than_the_reference_add_nothing():
    ref = (50.0, 2.0)
    assert hypervolume_2d([(40.0, 1.0), (90.0, 3.0), (50.0, 1.0), (90.0, 2.0)], ref=ref) == 0.0
    assert hypervolume_2d([], ref=ref) == 0.0
    # a point worse in accuracy beside a good one: only the good one's rectangle (40 x 1) counts
    assert hypervolume_2d([(40.0, 0.0), (90.0, 1.0)], ref=ref) == pytest.approx(40.0)


def test_order_does_not_matter():
    points = [(60.0, 0.2), (90.0, 1.5), (75.0, 0.7), (88.0, 1.1)]
    values = {round(hypervolume_2d(list(p), ref=(0.0, 2.0)), 9) for p in itertools.permutations(points)}
    assert len(values) == 1


def _grid_count(points: list[tuple[int, int]], ref: tuple[int, int]) -> int:
    """Unit cells [a, a+1] x [c, c+1] dominated by some point and dominating the reference, counted one by one."""
    ref_a, ref_c = ref
    top = max([ref_a, *(a for a, _ in points)])
    low = min([ref_c, *(c for _, c in points)])
    count = 0
    for a in range(ref_a, top):
        for c in range(low, ref_c):
            if any(a + 1 <= pa and c >= pc for pa, pc in points):
                count += 1
    return count


@pytest.mark.parametrize("seed", range(25))
def test_matches_brute_force_grid_counting(seed):
    rng = random.Random(seed)
    points = [(rng.randint(-3, 20), rng.randint(-2, 15)) for _ in range(rng.randint(1, 12))]
    ref = (rng.randint(-2, 5), rng.randint(8, 14))
    assert hypervolume_2d(points, ref=ref) == _grid_count(points, ref)


def test_non_finite_values_are_refused_naming_them():
    with pytest.raises(ValueError, match="nan"):
        hypervolume_2d([(math.nan, 1.0)], ref=(0.0, 2.0))
    with pytest.raises(ValueError, match="reference"):
        hypervolume_2d([(1.0, 1.0)], ref=(0.0, math.inf))


# -- on the searchers board -------------------------------------------------------------------------------
def _rect_union(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Area of [0, acc] x [cost, 1] for two points, by inclusion-exclusion."""
    area = a[0] * (1 - a[1]) + b[0] * (1 - b[1])
    return area - min(a[0], b[0]) * (1 - max(a[1], b[1]))


def test_board_front_hypervolume_against_the_benchmarks_largest_cost(tmp_path):
    table = pd.read_csv(Path(embedded_init).with_name("nb201_digits.csv")).groupby("arch").mean(numeric_only=True)
    a, b, c = table.index[:3]
    raw = {
        "study": {"name": "hv", "seeds": [0, 1], "sample_size": 5, "output": str(tmp_path / "run"),
                  "leaderboard_dir": str(tmp_path / "boards"), "bootstrap": 200},
        "benchmark": {"name": "nb201.digits"},
        "estimators": [{"name": "oracle"}],
        "searchers": [
            {"name": "mixpath.nsga2", "label": "nsga2.flops", "estimator": "oracle", "options": {"cost": "flops"}},
            {"name": "random", "label": "single", "estimator": "oracle"},
            {"name": "mixpath.nsga2", "label": "nsga2.default", "estimator": "oracle"},
            {"name": "mixpath.nsga2", "label": "nsga2.unjudged", "estimator": "oracle"},
        ],
    }  # fmt: skip
    world = World(parse_config(raw, str(tmp_path / "hv.toml")))
    store = Store(tmp_path / "run" / "results.sqlite")
    no_truth = "|nor_conv_3x3+skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|"  # multi-path: no ground truth
    fronts = {0: [a, b, no_truth], 1: [c]}
    for seed, front in fronts.items():
        store.add_search("nsga2.flops", seed, "oracle", a, front, 3, [], CostRow(0.1, 0.1, 0.0), 1)
        store.add_search("single", seed, "oracle", a, [], 3, [], CostRow(0.1, 0.1, 0.0), 1)
        store.add_search("nsga2.default", seed, "oracle", a, front, 3, [], CostRow(0.1, 0.1, 0.0), 1)
        store.add_search("nsga2.unjudged", seed, "oracle", a, [no_truth], 3, [], CostRow(0.1, 0.1, 0.0), 1)
    rows = searcher_table(store, world).set_index("searcher")
    store.close()
    largest = table["flops"].max()

    def point(arch):
        return table.loc[arch, "test_accuracy"] / 100, table.loc[arch, "flops"] / largest

    expected = [_rect_union(point(a), point(b)), point(c)[0] * (1 - point(c)[1])]
    row = rows.loc["nsga2.flops"]
    assert row["front_with_cost"] == 3 and row["front_with_truth"] == 3
    assert row["front_hypervolume"] == pytest.approx(sum(expected) / 2)
    assert row["front_hypervolume_ci_low"] == pytest.approx(min(expected))  # two seeds: the interval spans both
    assert row["front_hypervolume_ci_high"] == pytest.approx(max(expected))
    assert row["hv_reference"].startswith(f"accuracy 0 %, flops {largest:.4g}")
    assert math.isnan(rows.loc["single", "front_hypervolume"]) and rows.loc["single", "hv_reference"] == ""
    assert rows.loc["nsga2.default", "front_hypervolume"] == row["front_hypervolume"]  # NSGA-II's default cost: flops
    unjudged = rows.loc["nsga2.unjudged"]  # fronts of multi-path cells only: no volume to report, not a volume of 0
    assert unjudged["front_with_cost"] == 0 and math.isnan(unjudged["front_hypervolume"])
    assert unjudged["hv_reference"] == "none: no front member has ground truth and a cost"
