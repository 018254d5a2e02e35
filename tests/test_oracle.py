"""The oracle estimator (the benchmark's ground truth as an estimator, charged its recorded training seconds) and
the searchers board it feeds: anytime-curve columns with intervals over 10 seeds, the oracle's split, the plot."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pandas as pd
import pytest

from nas_harness.api import ConfigError, Context
from nas_harness.config import parse_config
from nas_harness.embedded import __file__ as embedded_init
from nas_harness.oracle import Oracle
from nas_harness.registry import get_registry
from nas_harness.report.leaderboard import searcher_table, write_leaderboards
from nas_harness.run.store import CostRow, Store
from nas_harness.run.world import World
from nas_harness.searchers import RandomSearch
from nas_harness.testing import ToyBenchmark, ToySpace
from nas_harness.track.publish import run_study

DIGITS_CSV = Path(embedded_init).with_name("nb201_digits.csv")
SEEDS = list(range(10))


@pytest.fixture(scope="module")
def digits():
    """The embedded nb201.digits benchmark (valid and test splits, recorded training seconds), its space and
    its architectures."""
    registry = get_registry()
    bench = registry.create("benchmark", "nb201.digits")
    space = registry.create("search_space", "nb201")
    return bench, space, sorted(bench.archs(), key=space.to_str)


@pytest.fixture(scope="module")
def recorded():
    """Per architecture string: test accuracy and training seconds averaged over the table's seeds, read from
    the CSV itself (not through the benchmark)."""
    table = pd.read_csv(DIGITS_CSV)
    return table.groupby("arch")[["test_accuracy", "valid_accuracy", "train_seconds"]].mean()


def test_searching_the_whole_space_on_test_finds_the_optimum_and_charges_recorded_seconds(digits, recorded):
    bench, space, archs = digits
    oracle = Oracle(benchmark=bench, split="test")
    ctx = Context(space=space, seed=0, candidates=archs)
    oracle.prepare(ctx)
    result = RandomSearch(budget=len(archs)).search(oracle, ctx)
    assert result.evaluations == len(archs) == len(recorded)
    assert space.to_str(result.best) == recorded["test_accuracy"].idxmax()
    assert bench.accuracy(result.best) == pytest.approx(recorded["test_accuracy"].max())
    charged = sum(oracle.charged_seconds(space.parse(h["arch"]), ctx) for h in result.history)
    assert charged == pytest.approx(recorded["train_seconds"].sum())
    assert oracle.cost_basis(result.best) == "recorded training s (3 epochs)"


def test_scores_are_the_chosen_split(digits, recorded):
    bench, space, archs = digits
    ctx = Context(space=space, seed=0)
    name = space.to_str(archs[5])
    assert Oracle(benchmark=bench).score(archs[5], ctx) == pytest.approx(recorded.loc[name, "valid_accuracy"])
    assert Oracle(benchmark=bench, split="test").score(archs[5], ctx) == pytest.approx(
        recorded.loc[name, "test_accuracy"]
    )
    assert Oracle(benchmark=bench).describe_split() == "valid"


class _Scheduled(ToyBenchmark):
    """The toy benchmark with a 200-epoch schedule and 100 recorded training seconds per architecture."""

    default_epochs = 200

    def cost(self, arch, key):
        return 100.0 if key == "train_seconds" else None


def test_another_schedule_is_charged_pro_rata_and_no_record_is_charged_zero():
    ctx = Context(space=ToySpace(), seed=0)
    arch = (1, 2, 3)
    assert Oracle(benchmark=_Scheduled(), epochs=12).charged_seconds(arch, ctx) == pytest.approx(100.0 * 12 / 200)
    assert Oracle(benchmark=_Scheduled(), epochs=200).charged_seconds(arch, ctx) == 100.0
    assert "pro rata" in Oracle(benchmark=_Scheduled(), epochs=12).cost_basis(arch)
    bare = Oracle(benchmark=ToyBenchmark(), split="test")
    assert bare.charged_seconds(arch, ctx) == 0.0
    assert "charged 0 s" in bare.cost_basis(arch)


def test_bad_options_and_missing_benchmark_are_config_errors(digits):
    bench, space, archs = digits
    with pytest.raises(ConfigError, match="needs the study's benchmark"):
        Oracle()
    with pytest.raises(ConfigError, match=r"split = ''"):
        Oracle(benchmark=bench, split="")
    with pytest.raises(ConfigError, match=r"epochs = 0; accepted: a positive integer"):
        Oracle(benchmark=bench, epochs=0)
    with pytest.raises(ConfigError, match=r"split = 'train'.*available splits: test, valid"):
        Oracle(benchmark=bench, split="train").prepare(Context(space=space, seed=0, candidates=archs))


def _config(tmp_path: Path, estimators: list[dict], searchers: list[dict], seeds=SEEDS):
    raw = {
        "study": {
            "name": "oracle-study",
            "seeds": seeds,
            "sample_size": 10,
            "output": str(tmp_path / "run"),
            "leaderboard_dir": str(tmp_path / "boards"),
            "bootstrap": 200,
            "split": "test",
        },
        "benchmark": {"name": "nb201.digits"},
        "estimators": estimators,
        "searchers": searchers,
    }
    return parse_config(raw, str(tmp_path / "oracle.toml"))


def test_world_gives_the_benchmark_only_to_estimators_that_need_it(tmp_path):
    cfg = _config(tmp_path, [{"name": "oracle"}, {"name": "baselines.params"}], [])
    world = World(cfg)
    assert world.estimator("oracle").benchmark is world.benchmark
    assert not hasattr(world.estimator("baselines.params"), "benchmark")
    cfg = _config(tmp_path, [{"name": "oracle", "options": {"benchmark": "x"}}], [])
    with pytest.raises(ConfigError, match="remove `benchmark` from its options"):
        World(cfg).estimator("oracle")


def _traced_random_search(oracle: Oracle, ctx: Context, budget: int) -> tuple[str, list[dict]]:
    """Random search over the candidates with the trace the harness's traced evaluator records."""
    order = random.Random(ctx.seed).sample(list(ctx.candidates), budget)
    trace = [
        {"step": k, "arch": ctx.space.to_str(a), "score": oracle.score(a, ctx),
         "seconds": oracle.charged_seconds(a, ctx), "reused": False}
        for k, a in enumerate(order)
    ]  # fmt: skip
    best = max(trace, key=lambda t: t["score"])["arch"]
    return best, trace


BUDGET = 30


@pytest.fixture(scope="module")
def oracle_board(tmp_path_factory):
    """A 10-seed study on nb201.digits: random search with the oracle on valid, judged on test, from a store
    filled by hand (the traces the runner records), and an old-style search without a trace."""
    tmp_path = tmp_path_factory.mktemp("oracle-board")
    searchers = [
        {"name": "random", "label": "random.oracle", "estimator": "oracle.valid", "options": {"budget": BUDGET}},
        {"name": "random", "label": "random.untraced", "estimator": "oracle.valid", "options": {"budget": BUDGET}},
        {"name": "random", "label": "random.empty", "estimator": "oracle.valid", "options": {"budget": BUDGET}},
    ]
    cfg = _config(tmp_path, [{"name": "oracle", "label": "oracle.valid", "options": {"split": "valid"}}], searchers)
    world = World(cfg)
    store = Store(Path(cfg.output) / "results.sqlite")
    traces = {}
    for seed in SEEDS:
        ctx = world.context("oracle.valid", seed)
        best, trace = _traced_random_search(world.estimator("oracle.valid"), ctx, BUDGET)
        cost = CostRow(0.01, 0.01, 0.0)
        store.add_search("random.oracle", seed, "oracle.valid", best, [], BUDGET, [], cost, 1, trace=trace)
        store.add_search("random.untraced", seed, "oracle.valid", best, [], BUDGET, [], cost, 1)
        store.add_search("random.empty", seed, "oracle.valid", best, [], BUDGET, [], cost, 1, trace=[])
        traces[seed] = trace
    written = write_leaderboards(store, world, tmp_path / "boards")
    table = searcher_table(store, world)
    store.close()
    return world, traces, table, written, tmp_path / "boards" / cfg.name


def test_board_has_regret_at_budgets_and_area_with_intervals_over_ten_seeds(oracle_board, recorded):
    _, traces, table, _, _ = oracle_board
    row = table.set_index("searcher").loc["random.oracle"]
    optimum = recorded["test_accuracy"].max()
    assert row["benchmark_optimum"] == pytest.approx(optimum)
    assert row["trace_seeds"] == row["seeds"] == 10
    assert row["oracle_split"] == "valid" and row["judged_split"] == "test"
    assert row["oracle_cost"] == "recorded training s (3 epochs)"

    def regret_after(trace, n):  # the test accuracy of the best-valid architecture among the first n
        best = max(trace[:n], key=lambda t: t["score"])["arch"]
        return optimum - recorded.loc[best, "test_accuracy"]

    for budget in (10, 25):
        expected = [regret_after(traces[s], budget) for s in SEEDS]
        assert row[f"regret_at_{budget}"] == pytest.approx(sum(expected) / 10)
        assert min(expected) <= row[f"regret_at_{budget}_ci_low"] <= row[f"regret_at_{budget}"]
        assert row[f"regret_at_{budget}"] <= row[f"regret_at_{budget}_ci_high"] <= max(expected)
    assert "regret_at_50" not in table.columns  # beyond every trace
    aucs = [sum(regret_after(traces[s], n) for n in range(1, BUDGET + 1)) / BUDGET for s in SEEDS]
    assert row["regret_auc"] == pytest.approx(sum(aucs) / 10)
    assert row["regret_auc_ci_low"] < row["regret_auc"] < row["regret_auc_ci_high"]
    charged = [sum(recorded.loc[t["arch"], "train_seconds"] for t in traces[s]) for s in SEEDS]
    assert row["charged_s_mean"] == pytest.approx(sum(charged) / 10)
    # the final regret of the curve is that of the returned architecture
    assert regret_after(traces[0], BUDGET) >= 0


@pytest.mark.parametrize("label", ["random.untraced", "random.empty"])
def test_a_search_without_a_trace_keeps_blank_curve_columns(oracle_board, label):
    _, _, table, _, _ = oracle_board
    row = table.set_index("searcher").loc[label]
    assert row["seeds"] == 10 and row["trace_seeds"] == 0
    assert math.isnan(row["regret_auc"]) and math.isnan(row["regret_at_10"]) and math.isnan(row["charged_s_mean"])
    assert not math.isnan(row["accuracy_mean"])


def test_board_files_keep_every_column_and_show_the_plot(oracle_board):
    _, _, table, written, out = oracle_board
    assert out / "search_curves.png" in written
    assert (out / "search_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    csv = pd.read_csv(out / "searchers.csv")
    assert list(csv.columns) == list(table.columns)
    markdown = (out / "searchers.md").read_text()
    compact, full = markdown.split("### All columns")
    header = compact.splitlines()[2]
    assert "regret AUC [interval]" in header and "searched on" in header and "regret_at_10_ci_low" not in header
    assert "regret_at_10_ci_low" in full
    page = (out / "index.html").read_text()
    assert 'id="plot-search_curves"' in page and 'id="searchers-compact"' in page


def test_a_study_run_records_traces_charged_the_recorded_training_seconds(tmp_path, recorded):
    """End to end: the runner's traced evaluator charges the oracle's recorded seconds, also for architectures
    the study had already scored (its sample of 10 per seed), whose stored scores the search reuses."""
    searchers = [{"name": "random", "label": "random.oracle", "estimator": "oracle", "options": {"budget": 40}}]
    cfg = _config(tmp_path, [{"name": "oracle", "options": {"split": "valid"}}], searchers)
    run_study(cfg, world=World(cfg), progress=False)
    out = Path(cfg.leaderboard_dir) / cfg.name
    row = pd.read_csv(out / "searchers.csv").set_index("searcher").loc["random.oracle"]
    store = Store(Path(cfg.output) / "results.sqlite")
    traces = store.search_traces()
    store.close()
    assert sorted(seed for _, seed in traces) == SEEDS and row["trace_seeds"] == 10
    assert all(len(t) == 40 for t in traces.values())
    charged = [sum(recorded.loc[step["arch"], "train_seconds"] for step in t) for t in traces.values()]
    assert row["charged_s_mean"] == pytest.approx(sum(charged) / 10)
    reused = sum(step["reused"] for t in traces.values() for step in t)
    assert reused > 0 and row["reused_mean"] == pytest.approx(reused / 10)  # the sample's scores were reused
    assert row["regret_at_25"] >= 0
    assert row["regret_at_25_ci_low"] <= row["regret_at_25"] <= row["regret_at_25_ci_high"]
    assert (out / "search_curves.png").is_file()
