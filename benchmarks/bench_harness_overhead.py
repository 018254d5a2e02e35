"""Harness overhead: a trivial-proxy study over all 15,625 NB201 architectures.

Covers scoring calls, one store transaction per chunk, metrics (Kendall tau-b,
Spearman, Pearson, top-k, 1000 bootstrap resamples) and writing the leaderboards.
Target (issue 2): under 10 s on the 2-core CI machine.

    python -m pytest benchmarks/bench_harness_overhead.py --benchmark-only
"""

from __future__ import annotations

import itertools

from nas_harness.config import parse_config
from nas_harness.run.world import World
from nas_harness.track.publish import run_study

PLUGINS = {"overhead": "benchmarks.overhead_plugin"}
_counter = itertools.count()


def _study(tmp_path, chunk_size: int):
    out = tmp_path / f"run{next(_counter)}"
    raw = {
        "study": {
            "name": "overhead",
            "sample_size": "all",
            "output": str(out),
            "leaderboard_dir": str(out / "boards"),
            "chunk_size": chunk_size,
        },
        "benchmark": {"name": "overhead.synthetic"},
        "estimators": [{"name": "overhead.conv_count"}],
    }
    cfg = parse_config(raw, "overhead.toml")
    return cfg, World(cfg, plugin_modules=PLUGINS)


def test_overhead_full_nb201_trivial_proxy(benchmark, tmp_path):
    def run(cfg, world):
        outcome = run_study(cfg, world=world, progress=False)
        assert outcome.scored == 15625

    benchmark.pedantic(run, setup=lambda: (_study(tmp_path, chunk_size=256), {}), rounds=3, iterations=1)
