"""Ground-truth building: recipe hash, resumable CSV, the table as a Benchmark, the embedded table."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from nas_harness.api import ConfigError, HarnessError
from nas_harness.data import load_dataset
from nas_harness.groundtruth.benchmark import GroundTruthBenchmark, embedded_table_path
from nas_harness.groundtruth.build import COLUMNS, build_groundtruth, load_groundtruth_config, read_rows
from nas_harness.groundtruth.recipe import TrainRecipe
from nas_harness.registry import get_registry
from nas_harness.spaces.nb201 import NB201Space

ROOT = Path(__file__).resolve().parents[1]
ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
]


def _write_config(tmp_path: Path, archs=ARCHS, epochs: int = 1, workers: int = 1, output: str = "gt.csv") -> Path:
    (tmp_path / "archs.txt").write_text("\n".join(archs) + "\n")
    path = tmp_path / "gt.toml"
    path.write_text(
        f"""
[groundtruth]
name = "tiny"
space = "nb201"
archs = "archs.txt"
seeds = [0, 1]
output = "{tmp_path / output}"
workers = {workers}

[recipe]
dataset = "digits"
epochs = {epochs}
C = 2
N = 1
"""
    )
    return path


def test_recipe_hash_changes_with_every_field():
    base = TrainRecipe()
    hashes = {base.hash()}
    for change in (
        {"epochs": 16},
        {"lr": 0.05},
        {"C": 16},
        {"augment": True},
        {"dataset": "cifar10"},
        {"split_seed": 1},
    ):
        hashes.add(replace(base, **change).hash())
    assert len(hashes) == 7
    assert TrainRecipe().hash() == base.hash()  # and it is stable


def test_bad_recipes_and_configs_name_the_value(tmp_path):
    with pytest.raises(ConfigError, match="epochs = 0"):
        TrainRecipe(epochs=0)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['epoch'\]"):
        TrainRecipe.from_dict({"epoch": 3})
    path = _write_config(tmp_path)
    path.write_text(path.read_text().replace("seeds = [0, 1]", "seeds = []"))
    with pytest.raises(ConfigError, match=r"seeds = \[\]"):
        load_groundtruth_config(path)


def test_a_bad_architecture_fails_before_any_training(tmp_path):
    cfg = load_groundtruth_config(_write_config(tmp_path, archs=[*ARCHS[:1], "|conv_9x9~0|+|none~0|none~1|+|a|"]))
    with pytest.raises(HarnessError, match="conv_9x9"):
        build_groundtruth(cfg, progress=False, log=lambda _: None)
    assert not cfg.output.exists()


def test_build_writes_one_row_per_arch_and_seed_and_loads_as_a_benchmark(tmp_path):
    cfg = load_groundtruth_config(_write_config(tmp_path))
    rows, errors = build_groundtruth(cfg, progress=False, log=lambda _: None)
    assert (rows, errors) == (8, [])
    table = read_rows(cfg.output, cfg.recipe.hash())
    assert sorted((r["arch"], int(r["seed"])) for r in table) == sorted((a, s) for a in ARCHS for s in (0, 1))
    bench = GroundTruthBenchmark(cfg.output, space="nb201", dataset="digits")
    space = NB201Space()
    assert len(bench) == 4 and bench.default_epochs == 1
    for arch in ARCHS:
        per_seed = [float(r["test_accuracy"]) for r in table if r["arch"] == arch]
        assert bench.accuracy(space.parse(arch)) == pytest.approx(np.mean(per_seed))
        assert 0 <= bench.accuracy(space.parse(arch), split="valid") <= 100
    # the all-none cell has no weights in its cells; the conv cell has more parameters
    assert bench.cost(space.parse(ARCHS[0]), "params") > bench.cost(space.parse(ARCHS[1]), "params")
    assert -1 <= bench.noise_ceiling() <= 1
    # running again trains nothing
    assert build_groundtruth(cfg, progress=False, log=lambda _: None) == (8, [])


def test_rows_of_another_recipe_are_refused(tmp_path):
    cfg = load_groundtruth_config(_write_config(tmp_path, archs=ARCHS[:1]))
    build_groundtruth(cfg, progress=False, log=lambda _: None)
    other = replace(cfg, recipe=replace(cfg.recipe, epochs=2))
    with pytest.raises(HarnessError, match="write to another output"):
        build_groundtruth(other, progress=False, log=lambda _: None)


def test_a_killed_build_resumes_without_duplicates(tmp_path):
    cfg_path = _write_config(tmp_path, epochs=3)
    out = tmp_path / "gt.csv"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "nas_harness.cli", "groundtruth", "train", str(cfg_path), "--no-progress"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = out.read_text().count("\n") - 1
    assert 2 <= finished < 8, "the build should be killed mid-way"
    with out.open("a") as f:
        f.write(ARCHS[3] + ",1,12.5")  # a half-written row, as a kill during a write leaves it
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    keys = [(r["arch"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys)) == 8
    assert all(r[c] != "" for r in rows for c in COLUMNS)


def test_embedded_digits_split_is_fixed_and_stratified():
    ds = load_dataset("digits")
    assert ds.train_images.shape == (1198, 8, 8, 3) and ds.test_images.shape == (599, 8, 8, 3)
    test_counts = np.bincount(ds.test_labels.numpy(), minlength=10)
    all_counts = test_counts + np.bincount(ds.train_labels.numpy(), minlength=10)
    assert test_counts.tolist() == [round(n / 3) for n in all_counts]  # a third of each class
    again = load_dataset("digits", cache=False)
    assert np.array_equal(ds.test_labels.numpy(), again.test_labels.numpy())
    assert load_dataset("digits", limit_per_class=5).train_images.shape[0] == 50


def test_the_embedded_table_matches_its_config():
    cfg = load_groundtruth_config(ROOT / "configs" / "groundtruth-nb201-digits.toml")
    rows = read_rows(embedded_table_path(), cfg.recipe.hash())  # raises if built with another recipe
    keys = {(r["arch"], int(r["seed"])) for r in rows}
    assert len(keys) == len(rows) == len(cfg.archs) * len(cfg.seeds)
    assert keys == {(a, s) for a in cfg.archs for s in cfg.seeds}
    bench = get_registry().create("benchmark", "nb201.digits")
    assert len(bench) == len(cfg.archs) >= 300
    assert bench.noise_ceiling() is not None


def test_a_study_on_the_embedded_benchmark_searches_only_where_ground_truth_exists(tmp_path):
    from nas_harness.config import parse_config
    from nas_harness.run.world import World
    from nas_harness.track.publish import run_study

    raw = {
        "study": {"name": "embedded", "seeds": [0], "sample_size": 40, "output": str(tmp_path / "run"),
                  "leaderboard_dir": str(tmp_path / "boards")},
        "benchmark": {"name": "nb201.digits"},
        "estimators": [{"name": "baselines.params", "options": {"C": 8, "N": 1}}],
        "searchers": [{"name": "random", "estimator": "baselines.params", "options": {"budget": 400}}],
    }  # fmt: skip
    cfg = parse_config(raw, "embedded.toml")
    world = World(cfg)
    assert len(world.context("baselines.params", 0).candidates) == 300
    run_study(cfg, world=world, progress=False)
    import pandas as pd

    searchers = pd.read_csv(tmp_path / "boards" / "embedded" / "searchers.csv")
    # a budget above the table's 300 architectures scores all of them and returns one with ground truth
    assert searchers.loc[0, "evaluations_mean"] == 300
    assert 0 < searchers.loc[0, "accuracy_mean"] <= 100 and pd.isna(searchers.loc[0, "errors"])
    estimators = pd.read_csv(tmp_path / "boards" / "embedded" / "estimators.csv")
    assert estimators.loc[0, "noise_ceiling"] == pytest.approx(world.benchmark.noise_ceiling())
