"""The Ray executor on a small local Ray instance: same rows as the local executor, and a study
whose worker is killed mid-way still finishes with every row exactly once."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys

import pandas as pd
import pytest
import ray

from nas_harness.api import ConfigError
from nas_harness.run.executor_choice import make_executor
from nas_harness.run.ray_executor import RayExecutor, gpus_per_task
from nas_harness.run.world import World
from nas_harness.track.publish import run_study
from tests.helpers.studies import TOY_PLUGINS, toy_config

KEY = ["estimator", "arch", "seed"]


@pytest.fixture(scope="module")
def local_ray():
    """One small Ray instance for the module (2 CPUs, no dashboard), shut down afterwards."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield
    ray.shutdown()


def run(cfg, executor=None):
    return run_study(cfg, world=World(cfg, plugin_modules=TOY_PLUGINS), executor=executor, progress=False)


def rows(cfg) -> pd.DataFrame:
    with sqlite3.connect(cfg.store_path) as conn:
        frame = pd.read_sql_query("SELECT * FROM results", conn)
    return frame.sort_values(KEY).reset_index(drop=True)


def middle_arch(cfg, seed: int = 0) -> str:
    world = World(cfg, plugin_modules=TOY_PLUGINS)
    sample = world.sample(seed)
    return world.space.to_str(sample[len(sample) // 2])


def test_ray_study_gives_the_local_executors_rows(tmp_path, local_ray):
    estimators = [{"name": "toy.good"}, {"name": "toy.raises"}, {"name": "toy.rank"}, {"name": "toy.supernet"}]
    local = toy_config(tmp_path / "local", estimators, seeds=[0, 1], chunk_size=5)
    on_ray = toy_config(tmp_path / "ray", estimators, seeds=[0, 1], chunk_size=5, executor="ray", workers=2)
    run(local)
    outcome = run(on_ray)  # the executor comes from the config: study.executor = "ray"
    assert outcome.scored + outcome.failed == 4 * 2 * 40
    a, b = rows(local), rows(on_ray)
    pd.testing.assert_frame_equal(a[[*KEY, "score", "status", "error"]], b[[*KEY, "score", "status", "error"]])
    assert (b[b.estimator == "toy.raises"].status == "failed").sum() > 0  # estimator errors stay rows


@pytest.mark.parametrize(("ray_retries", "resubmitted"), [(2, 0), (0, 1)], ids=["ray-retries", "driver-resubmits"])
def test_a_worker_killed_mid_study_loses_no_row_and_duplicates_none(tmp_path, local_ray, ray_retries, resubmitted):
    marker = tmp_path / "killed.txt"
    probe = toy_config(tmp_path, [{"name": "toy.good"}])
    crash = {"name": "toy.crash", "options": {"marker": str(marker), "crash_on": middle_arch(probe)}}
    cfg = toy_config(tmp_path, [{"name": "toy.good"}, crash], seeds=[0, 1], chunk_size=4)
    executor = RayExecutor(workers=2, max_retries=ray_retries, max_resubmits=1)
    outcome = run(cfg, executor)
    killed = marker.read_text().split()
    assert len(killed) == 1 and int(killed[0]) != os.getpid(), "exactly one worker process should have been killed"
    assert executor.resubmitted == resubmitted  # who retried: Ray itself, or the driver after Ray gave up
    df = rows(cfg)
    assert len(df) == 2 * 2 * 40 and not df.duplicated(KEY).any()
    assert (df.status == "ok").all(), df[df.status != "ok"].error.tolist()
    assert outcome.scored == 160 and outcome.failed == 0  # the driver got each row once, too
    killed_at = marker.stat().st_mtime
    assert (df.finished < killed_at).any() and (df.finished > killed_at).any(), "the kill should land mid-study"


def test_a_chunk_that_always_kills_its_worker_is_recorded_as_failed(tmp_path, local_ray):
    marker = tmp_path / "killed.txt"
    probe = toy_config(tmp_path, [{"name": "toy.good"}], sample_size=10)
    crash = {"name": "toy.crash", "options": {"marker": str(marker), "crash_on": middle_arch(probe), "times": 99}}
    cfg = toy_config(tmp_path, [crash, {"name": "toy.good"}], sample_size=10, chunk_size=5)
    outcome = run(cfg, RayExecutor(workers=2, max_retries=0, max_resubmits=1))
    df = rows(cfg)
    assert len(df) == 20 and outcome.failed == 5
    lost = df[df.status == "failed"]
    assert set(lost.estimator) == {"toy.crash"} and lost.error.str.contains("Ray worker lost 2 times").all()
    assert len(marker.read_text().split()) == 2  # the first try and one resubmission


def test_per_architecture_timeouts_work_in_ray_workers(tmp_path, local_ray):
    slow = {"name": "toy.slow", "options": {"delay": 0.0, "hang_on": "1-1-1"}}
    cfg = toy_config(tmp_path, [slow], sample_size=64, timeout_s=0.5, chunk_size=16)
    run(cfg, RayExecutor(workers=2))
    df = rows(cfg)
    assert df[df.arch == "1-1-1"].status.tolist() == ["timeout"]
    assert (df[df.arch != "1-1-1"].status == "ok").all()


def test_a_gpu_study_on_a_cluster_without_gpus_is_refused(tmp_path, local_ray):
    cfg = toy_config(tmp_path, [{"name": "toy.good"}], device="cuda", executor="ray")
    with pytest.raises(ConfigError, match=r"asks for 1 GPU\(s\), but the Ray instance \(local\) has 0"):
        run(cfg)


def test_gpus_per_task_follow_the_device(tmp_path):
    def cfg(**study):
        return toy_config(tmp_path, [{"name": "toy.good"}], **{"executor": "ray", **study})

    assert gpus_per_task(cfg()) == 0
    assert gpus_per_task(cfg(device="cuda")) == 1
    assert gpus_per_task(cfg(device="cuda", ray_num_gpus=0.5)) == 0.5
    with pytest.raises(ConfigError, match=r"ray_num_gpus = 1 asks Ray for GPUs but study\.device = 'cpu'"):
        gpus_per_task(cfg(ray_num_gpus=1))
    with pytest.raises(ConfigError, match="use device = 'cuda'"):
        gpus_per_task(cfg(device="cuda:1"))
    with pytest.raises(ConfigError, match=r"ray_num_gpus = -1; expected a number >= 0"):
        cfg(ray_num_gpus=-1)
    with pytest.raises(ConfigError, match="accepted: local, process, ray"):
        cfg(executor="dask")


def test_without_ray_installed_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    cfg = toy_config(tmp_path, [{"name": "toy.good"}], executor="ray")
    with pytest.raises(ConfigError, match=r"pip install 'nas-harness\[ray\]'"):
        make_executor(cfg)


def test_ray_settings_do_not_change_the_config_hash(tmp_path):
    plain = toy_config(tmp_path, [{"name": "toy.good"}])
    on_ray = toy_config(tmp_path, [{"name": "toy.good"}], executor="ray", ray_address="auto", ray_num_gpus=0)
    assert plain.config_hash() == on_ray.config_hash()
