"""Sharding: `run --shard I/N` splits a study into independent runs; `merge` joins them into the
leaderboard an unsharded run gives, and refuses shards that do not belong together."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from nas_harness.api import ConfigError
from nas_harness.cli import main
from nas_harness.report.leaderboard import write_leaderboards
from nas_harness.run.merge import MergeError
from nas_harness.run.shards import ShardSpec
from nas_harness.run.store import Store
from nas_harness.run.world import World
from nas_harness.track.publish import merge_study, resume_study, run_study
from tests.helpers.studies import TOY_PLUGINS, toy_config

KEY = ["estimator", "arch", "seed"]
#: what a run costs, not what it found; reused_mean too: a shard's search reuses only the scores its shard holds
COSTS = ["prepare_s", "score_s", "s_per_arch", "total_s", "cpu_s_per_arch", "cpu_total_s", "peak_mem_mb",
         "search_s_mean", "charged_s_mean", "reused_mean"]  # fmt: skip
ESTIMATORS = [{"name": "toy.good"}, {"name": "toy.inverse"}, {"name": "toy.rank"}, {"name": "toy.supernet"}]
SEARCHERS = [
    {"name": "random", "estimator": "toy.good", "options": {"budget": 10}},
    {"name": "random", "estimator": "toy.supernet", "options": {"budget": 10}, "label": "random-supernet"},
]


def study(root: Path, **study):
    return toy_config(root, ESTIMATORS, seeds=[0, 1], searchers=SEARCHERS, chunk_size=7, **study)


def run_shard(cfg, spec: str):
    world = World(cfg, plugin_modules=TOY_PLUGINS)
    return run_study(cfg, world=world, progress=False, shard=ShardSpec.parse(spec))


def merge(cfg, stores=None):
    return merge_study(cfg.output, stores, plugin_modules=TOY_PLUGINS, plots=False)


def table(cfg, name: str) -> pd.DataFrame:
    frame = pd.read_csv(Path(cfg.leaderboard_dir) / cfg.name / f"{name}.csv")
    return frame.drop(columns=[c for c in COSTS if c in frame.columns])


def results(path: Path) -> pd.DataFrame:
    with sqlite3.connect(path) as conn:
        return pd.read_sql_query("SELECT * FROM results", conn)


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """One toy study run whole, and as 3 shards (not merged yet)."""
    root = tmp_path_factory.mktemp("shards")
    whole = study(root / "whole")
    run_study(whole, world=World(whole, plugin_modules=TOY_PLUGINS), progress=False, plots=False)
    cfg = study(root / "sharded")
    outcomes = [run_shard(cfg, f"{i}/3") for i in range(3)]
    return whole, cfg, outcomes


def test_three_shards_partition_the_work_and_merge_into_the_unsharded_leaderboard(sharded):
    whole, cfg, outcomes = sharded
    stores = [Path(cfg.output) / f"shard-{i}-of-3" / "results.sqlite" for i in range(3)]
    assert [o.store_path for o in outcomes] == stores and not any(o.leaderboard_files for o in outcomes)
    parts = [results(p) for p in stores]
    assert all(len(p) > 0 for p in parts)
    union = pd.concat(parts)
    assert len(union) == 4 * 2 * 40 and not union.duplicated(KEY).any()  # a partition of the work
    for label in ("toy.rank", "toy.supernet"):  # whole units: each (estimator, seed) in exactly one shard
        for seed in (0, 1):
            assert sum(((p.estimator == label) & (p.seed == seed)).any() for p in parts) == 1
    proxy = [len(p[(p.estimator == "toy.good") & (p.seed == 0)]) for p in parts]
    assert sorted(proxy) == [13, 13, 14]  # split by sample position: sizes differ by at most one
    assert not (Path(cfg.leaderboard_dir) / cfg.name).exists(), "a shard writes no leaderboard"

    outcome = merge(cfg)
    assert outcome.store_path == Path(cfg.output) / "results.sqlite" and outcome.results == 320
    merged = results(outcome.store_path).sort_values(KEY).reset_index(drop=True)
    alone = results(whole.store_path).sort_values(KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(merged[[*KEY, "score", "status"]], alone[[*KEY, "score", "status"]])
    pd.testing.assert_frame_equal(table(cfg, "estimators"), table(whole, "estimators"))
    assert table(cfg, "estimators").kendall_tau.notna().all() and (table(cfg, "estimators").failures == 0).all()
    pd.testing.assert_frame_equal(table(cfg, "searchers"), table(whole, "searchers"))
    with sqlite3.connect(outcome.store_path) as conn:
        prepares = conn.execute("SELECT estimator, seed FROM prepares ORDER BY 1, 2").fetchall()
        runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert prepares == [("toy.supernet", 0), ("toy.supernet", 1)]  # the supernet trained once per seed
    assert runs == 3 + 1  # the shards' runs and the merge

    again = merge(cfg)  # an earlier merge of the same study is rebuilt, not doubled
    assert again.results == 320


def test_a_shard_of_another_config_is_refused_naming_the_file_and_hashes(sharded, tmp_path):
    _, cfg, _ = sharded
    other = study(tmp_path, sample_size=30)
    run_shard(other, "2/3")
    stores = [Path(cfg.output) / f"shard-{i}-of-3" / "results.sqlite" for i in (0, 1)]
    stranger = Path(other.output) / "shard-2-of-3" / "results.sqlite"
    with pytest.raises(MergeError) as err:
        merge(cfg, [*stores, stranger])
    message = str(err.value)
    assert str(stranger) in message and other.config_hash() in message and cfg.config_hash() in message
    assert "different studies" in message


def test_a_missing_shard_is_reported(sharded, tmp_path):
    _, cfg, _ = sharded
    partial = tmp_path / "partial"
    for i in (0, 2):
        shutil.copytree(Path(cfg.output) / f"shard-{i}-of-3", partial / f"shard-{i}-of-3")
    with pytest.raises(MergeError, match=r"shard\(s\) 1/3 missing: 2 of 3 shard stores given") as err:
        merge_study(partial, plugin_modules=TOY_PLUGINS, plots=False)
    assert "--shard 1/3" in str(err.value)
    assert not (partial / "results.sqlite").exists()
    with pytest.raises(MergeError, match="no shard stores under"):
        merge_study(tmp_path / "empty", plugin_modules=TOY_PLUGINS)


def test_the_same_shard_twice_and_an_unfinished_shard_are_refused(sharded, tmp_path):
    _, cfg, _ = sharded
    stores = [Path(cfg.output) / f"shard-{i}-of-3" / "results.sqlite" for i in range(3)]
    with pytest.raises(MergeError, match="are both shard 1/3"):
        merge(cfg, [stores[0], stores[1], stores[1], stores[2]])
    copies = tmp_path / "copies"
    for i in range(3):
        shutil.copytree(stores[i].parent, copies / stores[i].parent.name)
    with sqlite3.connect(copies / "shard-2-of-3" / "results.sqlite") as conn:
        conn.execute("UPDATE runs SET status = 'running'")
    with pytest.raises(MergeError, match=r"shard 2/3 \(.*\) did not finish \(its last run: running\)"):
        merge_study(copies, plugin_modules=TOY_PLUGINS, plots=False)


def test_a_partial_merge_publishes_what_unfinished_shards_hold_and_says_so(sharded, tmp_path):
    _, cfg, _ = sharded
    copies = tmp_path / "copies"
    for i in range(3):
        shutil.copytree(Path(cfg.output) / f"shard-{i}-of-3", copies / f"shard-{i}-of-3")
    shard_rows = sum(len(results(copies / f"shard-{i}-of-3" / "results.sqlite")) for i in range(3))
    with sqlite3.connect(copies / "shard-2-of-3" / "results.sqlite") as conn:  # a shard stopped mid-way
        conn.execute("UPDATE runs SET status = 'running'")
        lost = conn.execute("SELECT COUNT(*) FROM results WHERE rowid % 2 = 0").fetchone()[0]
        conn.execute("DELETE FROM results WHERE rowid % 2 = 0")
    outcome = merge_study(copies, plugin_modules=TOY_PLUGINS, write_leaderboard=False, partial=True)
    store_rows = results(outcome.store_path)
    assert lost > 0 and len(store_rows) == shard_rows - lost
    with sqlite3.connect(outcome.store_path) as conn:
        provenance = conn.execute("SELECT provenance_json FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()[0]
    assert '"partial": ["2/3"]' in provenance
    board = write_leaderboards(Store(outcome.store_path), World(cfg, plugin_modules=TOY_PLUGINS), tmp_path / "lb",
                               plots=False, html=False)  # fmt: skip
    assert "- partial: unfinished shards 2/3" in next(p for p in board if p.name == "estimators.md").read_text()


def test_merge_never_overwrites_an_unsharded_store(sharded):
    whole, cfg, _ = sharded
    stores = [str(Path(cfg.output) / f"shard-{i}-of-3" / "results.sqlite") for i in range(3)]
    with pytest.raises(MergeError, match="already holds an unsharded run's results"):
        merge_study(whole.output, stores, plugin_modules=TOY_PLUGINS, plots=False)
    assert len(results(whole.store_path)) == 320


def test_resuming_a_shard_store_continues_that_shard_only(sharded):
    _, cfg, _ = sharded
    store = Path(cfg.output) / "shard-1-of-3" / "results.sqlite"
    before = len(results(store))
    outcome = resume_study(store, world=World(cfg, plugin_modules=TOY_PLUGINS), progress=False)
    assert outcome.store_path == store and outcome.scored == 0 and outcome.skipped == before
    assert len(results(store)) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [("3/3", r"index 3 is not in 0\.\.2"), ("1/0", r"not in 0\.\.-1"), ("one/3", "expected I/N"), ("1", "I/N")],
)
def test_bad_shard_specs_say_what_is_accepted(text, message):
    with pytest.raises(ConfigError, match=message):
        ShardSpec.parse(text)


CLI_CONFIG = """
[study]
name = "tiny"
seeds = [0]
sample_size = 20
bootstrap = 50
output = "{out}"
leaderboard_dir = "{boards}"

[benchmark]
name = "nb201.digits"

[[estimators]]
name = "baselines.params"
options = {{ C = 8, N = 1 }}

[[estimators]]
name = "baselines.random"
"""


def test_cli_run_shards_then_merge(tmp_path, capsys):
    def config(name):
        path = tmp_path / f"{name}.toml"
        path.write_text(CLI_CONFIG.format(out=tmp_path / name, boards=tmp_path / f"{name}-boards"))
        return str(path)

    whole, sharded = config("whole"), config("sharded")
    assert main(["run", whole, "--no-progress", "--no-plots"]) == 0
    for spec in ("0/2", "1/2"):
        assert main(["run", sharded, "--shard", spec, "--no-progress"]) == 0
        assert f"merge them: nas-harness merge {tmp_path / 'sharded'}" in capsys.readouterr().out
    assert main(["merge", str(tmp_path / "sharded"), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "merged 2 shards (40 rows)" in out and "history: run 1 (2 rows) appended" in out
    a, b = (pd.read_csv(tmp_path / f"{n}-boards" / "tiny" / "estimators.csv") for n in ("whole", "sharded"))
    drop = [c for c in COSTS if c in a.columns]
    pd.testing.assert_frame_equal(a.drop(columns=drop), b.drop(columns=drop))
    assert main(["run", sharded, "--shard", "2/2"]) == 2
    assert "index 2 is not in 0..1" in capsys.readouterr().err
