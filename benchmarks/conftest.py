"""Shared fixtures of the pytest-benchmark suites."""

from __future__ import annotations

import pytest

from tests.helpers.images import one_torch_thread


@pytest.fixture(scope="module")
def one_thread():
    """torch on one thread (the studies' setting): the machine's 2 cores are shared."""
    with one_torch_thread():
        yield
