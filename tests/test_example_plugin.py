"""The example third-party plugin, found through the same entry-point path as an installed package."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from nas_harness.config import parse_config
from nas_harness.registry import Registry
from nas_harness.run.world import World
from nas_harness.track.publish import run_study
from tests.helpers.entry_points import write_dist_info

EXAMPLE_SRC = Path(__file__).resolve().parents[1] / "examples" / "third-party-plugin" / "src"


@pytest.fixture
def installed_example(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write_dist_info(site, "nas-harness-example", "0.1.0", {"example": "nas_harness_example.plugin"})
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    monkeypatch.syspath_prepend(str(site))
    return [str(site), str(EXAMPLE_SRC)]


def test_example_plugin_is_listed(installed_example):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*installed_example, *sys.path]))
    out = subprocess.run(
        [sys.executable, "-m", "nas_harness.cli", "plugins"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "example 0.1.0  (entry point nas_harness_example.plugin)" in out
    assert "proxy: example.op_count" in out


def test_example_plugin_appears_in_a_leaderboard(installed_example, tmp_path):
    raw = {
        "study": {"name": "example", "sample_size": 200, "output": str(tmp_path / "run"),
                  "leaderboard_dir": str(tmp_path / "boards"), "bootstrap": 50},
        "benchmark": {"name": "overhead.synthetic"},
        "estimators": [{"name": "example.op_count"}, {"name": "example.op_count", "label": "3x3 only",
                                                        "options": {"ops": ["nor_conv_3x3"]}}],
    }  # fmt: skip
    cfg = parse_config(raw, "example.toml")
    registry = Registry()  # entry points, the example included
    registry.add_plugin("overhead", __import__("benchmarks.overhead_plugin", fromlist=["_"]))
    run_study(cfg, world=World(cfg, registry=registry), progress=False)
    board = pd.read_csv(tmp_path / "boards" / "example" / "estimators.csv").set_index("estimator")
    assert board.loc["example.op_count", "plugin"] == "example"
    # the synthetic ground truth rises with the number of convolutions, so counting them ranks well
    assert board.loc["example.op_count", "kendall_tau"] > 0.8
    assert board.loc["3x3 only", "kendall_tau"] < board.loc["example.op_count", "kendall_tau"]
