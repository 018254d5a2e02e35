"""Provenance of a run: code version, package versions, machine, config hash.

The machine block says what a result may depend on beyond the code and the config: the CPU
model and the kernels torch dispatches to on it (``torch_cpu_capability``: AVX2, AVX512, ...),
the thread counts and the GPU. On CPU the same config gives bit-identical scores run to run on
one machine, but float reductions are ordered differently by other kernels and thread counts,
so trained supernets can differ between machines (see docs/reproducibility.md).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

_PACKAGES = (
    "nas-harness",
    "torch",
    "numpy",
    "scipy",
    "pandas",
    "pluggy",
    "nas-bench-201",
    "nats_bench",
    "nasbench-pytorch",
    "matplotlib",
)
#: environment variables that change torch's CPU kernels (their instruction set) or thread pools; each
#: changes the order of float reductions, so trained supernets differ in the last digits and their taus
#: by a few hundredths (docs/reproducibility.md)
_KERNEL_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")


def git_sha(path: Path | None = None) -> str | None:
    """The commit of the checkout holding ``path`` (default: this package), with '-dirty' if modified."""
    where = path or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            # published leaderboards are outputs, not code: rewriting them does not make a run dirty
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)", ":(top,exclude)leaderboards"],
            cwd=where, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    versions = {}
    for name in (*_PACKAGES, *extra):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's ``model name`` from ``cpuinfo`` (Linux), else ``platform.processor()``, else the machine type."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def gpu_name(device: str) -> str:
    """The CUDA device's name, or a note that CUDA is unavailable."""
    import torch

    return torch.cuda.get_device_name(device) if torch.cuda.is_available() else "unavailable"


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return f"{device} ({gpu_name(device)})"
    return f"cpu ({cpu_model()}, {psutil.cpu_count(logical=True)} logical cores)"


def machine(device: str) -> dict[str, Any]:
    """What a result may depend on beyond code and config: CPU, torch's kernels and threads, GPU."""
    import torch

    facts: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical_cores": psutil.cpu_count(logical=True),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        **{name: os.environ.get(name, "unset") for name in _KERNEL_VARIABLES},
    }
    if device.startswith("cuda"):
        facts["gpu"] = gpu_name(device)
        facts["cuda"] = torch.version.cuda or "none"
    return facts


def recorded_cpu(prov: dict[str, Any]) -> str:
    """The CPU model a provenance block records ('' for one written before the machine block)."""
    return str((prov.get("machine") or {}).get("cpu") or "")


def provenance(config_hash: str, device: str, plugins: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything a reader needs to rerun and trust a result."""
    return {
        "git_sha": git_sha(),
        "versions": package_versions(),
        "plugins": plugins or {},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": device_name(device),
        "machine": machine(device),
        "config_hash": config_hash,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
