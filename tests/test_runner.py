import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from nas_harness.api import ConfigError
from nas_harness.config import StudyConfig
from nas_harness.run.executors import ProcessExecutor
from nas_harness.run.store import Store
from nas_harness.run.world import World
from nas_harness.track.publish import resume_study, run_study
from tests.helpers.studies import TOY_PLUGINS, toy_config
from tests.helpers.toy_plugin import toy_accuracy


def run(cfg, **kwargs):
    return run_study(cfg, world=World(cfg, plugin_modules=TOY_PLUGINS), progress=False, **kwargs)


def rows(cfg):
    with sqlite3.connect(cfg.store_path) as conn:
        return pd.read_sql_query("SELECT * FROM results", conn)


def board(cfg, name="estimators"):
    return pd.read_csv(os.path.join(cfg.leaderboard_dir, cfg.name, f"{name}.csv"))


def test_study_scores_every_sampled_arch_once_and_ranks_them(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.good"}, {"name": "toy.inverse"}], seeds=[0, 1])
    outcome = run(cfg)
    assert outcome.scored == 2 * 2 * 40 and outcome.failed == 0
    df = rows(cfg)
    assert len(df) == 160 and not df.duplicated(["estimator", "arch", "seed"]).any()
    lb = board(cfg).set_index("estimator")
    assert lb.loc["toy.good", "kendall_tau"] > 0.9
    # 'lower is better' is applied through the declared direction: a perfect inverse ranks perfectly
    assert lb.loc["toy.inverse", "kendall_tau"] == pytest.approx(1.0)
    assert lb.loc["toy.good", "tau_ci_low"] <= lb.loc["toy.good", "kendall_tau"] <= lb.loc["toy.good", "tau_ci_high"]
    for ext in ("csv", "md", "json"):
        assert (tmp_path / "boards" / "toy" / f"estimators.{ext}").is_file()


def test_leaderboard_ranks_best_tau_first_and_failed_estimators_last(tmp_path):
    broken = {"name": "toy.good", "options": {"nope": 1}, "label": "broken"}  # every row fails
    cfg = toy_config(tmp_path, [broken, {"name": "toy.good"}, {"name": "toy.inverse"}], sample_size=20)
    run(cfg)
    lb = board(cfg)
    assert list(lb.estimator) == ["toy.inverse", "toy.good", "broken"]  # tau 1.0, < 1.0, none
    assert lb.kendall_tau.iloc[0] >= lb.kendall_tau.iloc[1] and math.isnan(lb.kendall_tau.iloc[2])


def test_every_estimator_sees_the_same_sample_and_a_seed_fixes_it(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.good"}, {"name": "toy.raises"}], seeds=[0, 1])
    run(cfg)
    df = rows(cfg)
    for seed in (0, 1):
        archs = [set(df[(df.estimator == e) & (df.seed == seed)].arch) for e in ("toy.good", "toy.raises")]
        assert archs[0] == archs[1]
    assert set(df[df.seed == 0].arch) != set(df[df.seed == 1].arch)
    again = World(toy_config(tmp_path / "again", [{"name": "toy.good"}]), plugin_modules=TOY_PLUGINS)
    assert [again.space.to_str(a) for a in again.sample(0)] == Store(cfg.store_path).sample(0)


def test_sample_seed_gives_every_seed_the_same_architectures_and_a_seed_to_seed_tau(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.good"}], seeds=[0, 1, 2], sample_seed=1)
    run(cfg)
    df = rows(cfg)
    archs = [set(df[df.seed == seed].arch) for seed in (0, 1, 2)]
    assert archs[0] == archs[1] == archs[2] and len(archs[0]) == 40
    one_seed = World(toy_config(tmp_path / "one", [{"name": "toy.good"}], seeds=[1]), plugin_modules=TOY_PLUGINS)
    assert {one_seed.space.to_str(a) for a in one_seed.sample(1)} == archs[0]  # the sample seed 1 draws alone
    assert board(cfg).set_index("estimator").loc["toy.good", "seed_tau_archs"] == 40  # all shared between seeds
    # unset, the option leaves the hash of a config stored before it existed as it was (the store resumes)
    plain = toy_config(tmp_path / "plain", [{"name": "toy.good"}])
    stored_before = {k: v for k, v in plain.to_dict().items() if k != "sample_seed"}
    assert StudyConfig.from_dict(stored_before).config_hash() == plain.config_hash()
    assert plain.config_hash() != toy_config(tmp_path / "set", [{"name": "toy.good"}], sample_seed=0).config_hash()
    with pytest.raises(ConfigError, match=r"study\.sample_seed"):
        toy_config(tmp_path / "bad", [{"name": "toy.good"}], sample_seed="0")


def test_raising_and_nan_estimators_are_recorded_as_failed_and_the_study_completes(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.raises"}, {"name": "toy.nan"}, {"name": "toy.good"}], sample_size=64)
    outcome = run(cfg)
    df = rows(cfg)
    raised = df[(df.estimator == "toy.raises") & (df.status == "failed")]
    assert len(raised) == 16 and raised.error.str.contains("RuntimeError: cannot score").all()
    nans = df[(df.estimator == "toy.nan") & (df.status == "failed")]
    assert len(nans) == 16 and nans.error.str.contains("non-finite score").all()
    assert nans.score.isna().all()
    assert outcome.failed == 32 and outcome.scored == 3 * 64 - 32
    lb = board(cfg).set_index("estimator")
    assert lb.loc["toy.raises", "failures"] == 16
    assert lb.loc["toy.nan", "n_archs"] == 48  # failed rows are excluded from the metrics and counted


def test_unknown_options_fail_the_estimator_not_the_study(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.good", "options": {"nope": 1}, "label": "bad"}, {"name": "toy.good"}])
    run(cfg)
    df = rows(cfg)
    assert (df[df.estimator == "bad"].status == "failed").all()
    assert df[df.estimator == "bad"].error.iloc[0].startswith("prepare failed")
    assert (df[df.estimator == "toy.good"].status == "ok").all()


def test_per_job_timeout_is_recorded(tmp_path):
    cfg = toy_config(
        tmp_path, [{"name": "toy.slow", "options": {"delay": 0.0, "hang_on": "1-1-1"}}], sample_size=64, timeout_s=0.5
    )
    run(cfg)
    df = rows(cfg)
    hung = df[df.arch == "1-1-1"].iloc[0]
    assert hung.status == "timeout" and "0.5 s" in hung.error
    assert (df[df.arch != "1-1-1"].status == "ok").all()


def test_set_level_estimator_scores_the_whole_sample_at_once(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.rank"}], sample_size=64, chunk_size=4)
    run(cfg)
    df = rows(cfg)
    assert sorted(df.score) == [float(i) for i in range(64)]
    assert board(cfg).kendall_tau.iloc[0] == pytest.approx(1.0)


def test_supernet_prepare_is_charged_once_and_reloaded_on_resume(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.supernet"}], seeds=[0, 1])
    run(cfg)
    prepares = Store(cfg.store_path).prepares_frame()
    assert len(prepares) == 2 and (prepares.status == "ok").all() and (prepares.wall_s >= 0.05).all()
    lb = board(cfg)
    assert lb.prepare_s.iloc[0] == pytest.approx(prepares.wall_s.sum())
    assert lb.total_s.iloc[0] == pytest.approx(lb.prepare_s.iloc[0] + lb.score_s.iloc[0])


def test_resume_redoes_nothing_finished(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.good"}], seeds=[0, 1])
    run(cfg)
    outcome = resume_study(cfg.output, world=World(cfg, plugin_modules=TOY_PLUGINS), progress=False)
    assert outcome.scored == 0 and outcome.skipped == 80


def test_resume_with_retry_failed_redoes_only_failures(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.raises"}], sample_size=64)
    run(cfg)
    outcome = run(cfg, retry_failed=True)
    assert outcome.failed == 16 and outcome.scored == 0


def test_a_store_refuses_a_different_config(tmp_path):
    run(toy_config(tmp_path, [{"name": "toy.good"}]))
    with pytest.raises(Exception, match="config hash"):
        run(toy_config(tmp_path, [{"name": "toy.good"}], sample_size=10))


def test_random_search_is_judged_on_ground_truth(tmp_path):
    cfg = toy_config(
        tmp_path,
        [{"name": "toy.good"}],
        seeds=[0, 1, 2],
        searchers=[{"name": "random", "estimator": "toy.good", "options": {"budget": 30}}],
    )
    run(cfg)
    lb = board(cfg, "searchers").iloc[0]
    assert lb.seeds == 3 and lb.evaluations_mean == 30
    assert lb.benchmark_optimum == toy_accuracy((3, 3, 3))
    assert lb.regret_mean == pytest.approx(lb.benchmark_optimum - lb.accuracy_mean)
    assert lb.accuracy_mean >= 80  # a good proxy over 30 of 64 archs finds a top arch


def test_process_pool_executor_gives_the_same_scores(tmp_path):
    local = toy_config(tmp_path / "a", [{"name": "toy.good"}, {"name": "toy.raises"}], chunk_size=5)
    pooled = toy_config(tmp_path / "b", [{"name": "toy.good"}, {"name": "toy.raises"}], chunk_size=5)
    run(local)
    run_study(pooled, world=World(pooled, plugin_modules=TOY_PLUGINS), executor=ProcessExecutor(2), progress=False)
    key = ["estimator", "arch", "seed"]
    a = rows(local).sort_values(key).reset_index(drop=True)
    b = rows(pooled).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[[*key, "score", "status"]], b[[*key, "score", "status"]])


KILL_SCRIPT = """
import sys
from nas_harness.track.publish import run_study
from nas_harness.run.world import World
from tests.helpers.studies import TOY_PLUGINS, toy_config
from pathlib import Path
cfg = toy_config(Path(sys.argv[1]), [{"name": "toy.slow", "options": {"delay": 0.02}}, {"name": "toy.good"}],
                 sample_size=64, seeds=[0, 1], chunk_size=2)
run_study(cfg, world=World(cfg, plugin_modules=TOY_PLUGINS), progress=False)
"""


def test_study_killed_mid_way_resumes_with_every_row_exactly_once(tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path)], cwd=repo)
    store_path = tmp_path / "run" / "results.sqlite"
    deadline = time.time() + 60
    done = 0
    while time.time() < deadline and done < 20:
        time.sleep(0.05)
        if store_path.exists():
            try:
                with sqlite3.connect(store_path) as conn:
                    done = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cfg = toy_config(tmp_path, [{"name": "toy.slow", "options": {"delay": 0.02}}, {"name": "toy.good"}],
                     sample_size=64, seeds=[0, 1], chunk_size=2)  # fmt: skip
    with sqlite3.connect(store_path) as conn:
        before = pd.read_sql_query("SELECT estimator, arch, seed, finished FROM results", conn)
    assert 20 <= len(before) < 256, "the kill should land mid-study"
    outcome = run(cfg)
    after = rows(cfg)
    assert len(after) == 256 and not after.duplicated(["estimator", "arch", "seed"]).any()
    assert outcome.skipped == len(before)
    kept = after.merge(before, on=["estimator", "arch", "seed"], suffixes=("", "_before"))
    assert (kept.finished == kept.finished_before).all(), "finished rows must not be redone"
    runs = Store(store_path).runs()
    assert [r["status"] for r in runs] == ["interrupted", "finished"]  # the killed run's row, closed on resume


def test_leaderboard_json_has_provenance(tmp_path):
    cfg = toy_config(tmp_path, [{"name": "toy.good"}])
    run(cfg)
    payload = json.loads((tmp_path / "boards" / "toy" / "estimators.json").read_text())
    prov = payload["provenance"]
    assert prov["config_hash"] == cfg.config_hash()
    assert "torch" in prov["versions"] or "numpy" in prov["versions"]
    assert prov["device"].startswith("cpu")
    assert not math.isnan(payload["rows"][0]["kendall_tau"])


def test_torch_threads_apply_to_the_study_and_are_restored(tmp_path, monkeypatch):
    import torch

    seen = []
    cfg = toy_config(tmp_path, [{"name": "toy.good"}], torch_threads=1)
    original = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (seen.append(n), original(n)))
    before = torch.get_num_threads()
    run(cfg)
    assert seen[0] == 1 and seen[-1] == before and torch.get_num_threads() == before
    again = toy_config(tmp_path / "b", [{"name": "toy.good"}])
    assert again.config_hash() == cfg.config_hash()  # an execution setting, not part of the results
