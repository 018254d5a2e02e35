"""Executor throughput: a trivial-proxy study over all 15,625 NB201 architectures.

The proxy and the ground truth are O(1) (``benchmarks/overhead_plugin.py``), so
this measures what an executor adds: shipping chunks of 256 architecture
strings to workers, scoring them there, streaming the rows back and writing
them to the store in the driver. Leaderboards (metrics, bootstrap) are not
written; ``bench_harness_overhead.py`` measures those.

Cases: in-process (the baseline), the process pool and a local Ray instance,
at 1 and 2 workers. The process pool starts its workers in every study; Ray's
workers stay up between studies (as on a cluster), so the Ray cases start one
instance per worker count (its start-up is reported as ``ray_init_s``) and
time rounds after one warm-up round. Each case reports architectures per
second in ``extra_info`` (and prints it); the 2-worker cases add the scaling
ratio over 1 worker.

    python -m pytest benchmarks/bench_executors.py --benchmark-only -s
"""

from __future__ import annotations

import itertools
import logging
import os
import time

import pytest

from nas_harness.config import parse_config
from nas_harness.run.executor_choice import make_executor
from nas_harness.run.world import World
from nas_harness.track.publish import run_study

PLUGINS = {"overhead": "benchmarks.overhead_plugin"}
N_ARCHS = 15625
ROUNDS = 3
CASES = [("local", 1), ("process", 1), ("process", 2), ("ray", 1), ("ray", 2)]
_counter = itertools.count()
_rates: dict[tuple[str, int], float] = {}


def _study(root, executor: str, workers: int):
    out = root / f"run{next(_counter)}"
    raw = {
        "study": {
            "name": "executors",
            "sample_size": "all",
            "output": str(out),
            "leaderboard_dir": str(out / "boards"),
            "chunk_size": 256,
            "executor": executor,
            "workers": workers,
        },
        "benchmark": {"name": "overhead.synthetic"},
        "estimators": [{"name": "overhead.conv_count"}],
    }
    cfg = parse_config(raw, "executors.toml")
    return cfg, World(cfg, plugin_modules=PLUGINS)


def _run(cfg, world) -> None:
    outcome = run_study(cfg, world=world, executor=make_executor(cfg), progress=False, write_leaderboard=False)
    assert outcome.scored == N_ARCHS and outcome.failed == 0


@pytest.fixture
def ray_instance(request):
    """A local Ray instance with ``workers`` CPUs for the Ray cases (None for the others)."""
    executor, workers = request.node.callspec.params["case"]
    if executor != "ray":
        yield None
        return
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield time.perf_counter() - start
    ray.shutdown()


@pytest.mark.parametrize("case", CASES, ids=[f"{e}-{w}" for e, w in CASES])
def test_executor_throughput(benchmark, tmp_path, case, ray_instance):
    executor, workers = case
    benchmark.pedantic(
        _run,
        setup=lambda: (_study(tmp_path, executor, workers), {}),
        rounds=ROUNDS,
        iterations=1,
        warmup_rounds=1 if executor == "ray" else 0,
    )
    stats = benchmark.stats.stats
    rate = N_ARCHS / stats.mean
    _rates[case] = rate
    info = {"archs_per_s": round(rate, 1), "best_archs_per_s": round(N_ARCHS / stats.min, 1), "cpus": os.cpu_count()}
    if ray_instance is not None:
        info["ray_init_s"] = round(ray_instance, 2)
    if workers == 2 and (executor, 1) in _rates:
        info["scaling_2_vs_1"] = round(rate / _rates[(executor, 1)], 2)
    benchmark.extra_info.update(info)
    print(f"\n{executor} x{workers}: {', '.join(f'{k} {v}' for k, v in info.items())}")
