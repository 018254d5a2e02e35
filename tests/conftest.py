"""Shared test fixtures. Real reference data is located through one helper."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA_ENV = "NAS_HARNESS_SHARED_DATA"


def shared_data_dir() -> Path:
    """The reference data folder: $NAS_HARNESS_SHARED_DATA, else ../shared/data beside the repo."""
    return Path(os.environ.get(SHARED_DATA_ENV, REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real reference data; fails (never skips) with a clear message when missing."""
    path = shared_data_dir()
    if not (path / "README.md").is_file():
        pytest.fail(
            f"reference data folder not found at {path}: real-data tests need the shared data "
            f"(nb201/, nb101/, cifar10/). Put it at ../shared/data beside the repository or set "
            f"{SHARED_DATA_ENV} to its path. Deselect these tests with -m 'not realdata'."
        )
    return path
