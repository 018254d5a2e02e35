"""Provenance of a run: code version, package versions, machine, config hash."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

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


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return f"{device} ({torch.cuda.get_device_name(device)})"
        return f"{device} (unavailable)"
    cpu = platform.processor() or platform.machine()
    try:
        import psutil

        cores = psutil.cpu_count(logical=True)
    except ImportError:  # pragma: no cover - psutil is a dependency
        cores = None
    return f"cpu ({cpu}, {cores} logical cores)"


def provenance(config_hash: str, device: str, plugins: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything a reader needs to rerun and trust a result."""
    return {
        "git_sha": git_sha(),
        "versions": package_versions(),
        "plugins": plugins or {},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": device_name(device),
        "config_hash": config_hash,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
