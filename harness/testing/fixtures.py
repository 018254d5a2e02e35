"""pytest fixtures over the kit's helpers; load them with ``pytest_plugins = ["nas_harness.testing.fixtures"]``
(in a test module or the root ``conftest.py``).

This is the kit's only module that imports pytest: the package itself never needs it.

* ``nas_one_torch_thread``: runs the test on one torch thread;
* ``nas_tiny_context``: :func:`~nas_harness.testing.tiny_context` (seed 0, NB201, random 8x8 images) with
  ``workdir`` and ``shared_workdir`` in the test's ``tmp_path``;
* ``nas_tiny_archs``: four distinct architectures of that context's space;
* ``nas_tiny_provider``: :func:`~nas_harness.testing.tiny_provider` batches (seed 0);
* ``nas_fake_benchmark``: :func:`~nas_harness.testing.fake_benchmark` (32 NB201 cells, closed-form accuracies).

Example::

    pytest_plugins = ["nas_harness.testing.fixtures"]

    def test_scores_are_finite(nas_tiny_context, nas_tiny_archs):
        assert all(math.isfinite(MyProxy().score(a, nas_tiny_context)) for a in nas_tiny_archs)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nas_harness.api import Arch, Context
from nas_harness.data import BatchProvider
from nas_harness.testing.fakes import FakeBenchmark
from nas_harness.testing.tiny import fake_benchmark, one_torch_thread, tiny_archs, tiny_context, tiny_provider


@pytest.fixture
def nas_one_torch_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture
def nas_tiny_context(tmp_path: Path) -> Context:
    (tmp_path / "work").mkdir()
    (tmp_path / "shared").mkdir()
    return tiny_context(0, workdir=str(tmp_path / "work"), shared_workdir=str(tmp_path / "shared"))


@pytest.fixture
def nas_tiny_archs(nas_tiny_context: Context) -> list[Arch]:
    return tiny_archs(nas_tiny_context.space, 4)


@pytest.fixture
def nas_tiny_provider() -> BatchProvider:
    return tiny_provider(0)


@pytest.fixture
def nas_fake_benchmark() -> FakeBenchmark:
    return fake_benchmark()
