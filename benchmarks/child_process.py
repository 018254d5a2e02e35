"""Measure one step in a fresh Python process: seconds, peak and retained RSS, tracemalloc.

A fresh process keeps pytest's (and torch's) memory out of the figures. Peak RSS is the child's
``VmHWM`` (``ru_maxrss`` would report the forking parent's peak when that is larger).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_TEMPLATE = """
import gc, json, resource, sys, time, tracemalloc
import psutil
{setup}
args, mode = sys.argv[1:-1], sys.argv[-1]
extra = {{}}
process = psutil.Process()
gc.collect()
rss0 = process.memory_info().rss
if mode == "tracemalloc":
    tracemalloc.start()
start = time.perf_counter()
{step}
seconds = time.perf_counter() - start
gc.collect()
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")]
peak = int(hwm[0].split()[1]) * 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out = {{"seconds": seconds, "rss_before_MB": rss0 / 1e6, "peak_rss_MB": peak / 1e6,
        "peak_rss_above_start_MB": (peak - rss0) / 1e6, "rss_retained_MB": (process.memory_info().rss - rss0) / 1e6}}
if mode == "tracemalloc":
    current, traced_peak = tracemalloc.get_traced_memory()
    out.update(tracemalloc_peak_MB=traced_peak / 1e6, tracemalloc_retained_MB=current / 1e6)
out.update(extra)
print(json.dumps(out))
"""


def measure(setup: str, step: str, args: list[str], mode: str = "plain") -> dict[str, float]:
    """Run ``setup`` (imports, untimed), then time ``step`` in a fresh interpreter.

    ``step`` sees ``args`` (strings) and ``mode``, and may put more figures in ``extra``.
    ``mode = "tracemalloc"`` also traces Python allocations during the step.
    """
    script = _TEMPLATE.format(setup=textwrap.dedent(setup), step=textwrap.dedent(step))
    done = subprocess.run(
        [sys.executable, "-c", script, *args, mode], check=True, cwd=ROOT, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
