"""Image data costs on the real CIFAR-10 JPEG archive (../shared/data/cifar10/cifar10-jpeg.tar.gz).

Measures: decoding all 60,000 JPEGs straight from the tar.gz (once), loading
the same arrays again from the decoded-array cache, and one
``train_batch(i, 64)`` (augmentation + normalisation).

    python -m pytest benchmarks/bench_data.py --benchmark-only
"""

from __future__ import annotations

import itertools

import pytest

from nas_harness.data import BatchProvider, load_dataset
from nas_harness.data.dataset import clear_memo
from tests.conftest import shared_data_dir


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("nas-harness-cache")


@pytest.fixture(scope="module")
def cifar10_root():
    root = shared_data_dir() / "cifar10"
    if not (root / "cifar10-jpeg.tar.gz").is_file():
        pytest.fail(f"the CIFAR-10 archive is not at {root}; set NAS_HARNESS_SHARED_DATA")
    return root


def test_decode_full_cifar10_targz(benchmark, cifar10_root, cache_dir):
    def decode():
        clear_memo()
        return load_dataset("cifar10", root=cifar10_root, cache=True, cache_dir=cache_dir)

    ds = benchmark.pedantic(decode, rounds=1, iterations=1)
    assert ds.train_images.shape == (50000, 32, 32, 3) and ds.test_images.shape == (10000, 32, 32, 3)


def test_load_cifar10_from_cache(benchmark, cifar10_root, cache_dir):
    clear_memo()
    load_dataset("cifar10", root=cifar10_root, cache=True, cache_dir=cache_dir)  # make sure it is cached

    def from_cache():
        clear_memo()
        return load_dataset("cifar10", root=cifar10_root, cache=True, cache_dir=cache_dir)

    ds = benchmark.pedantic(from_cache, rounds=3, iterations=1)
    assert len(ds.train_labels) == 50000


def test_train_batch_64(benchmark, cifar10_root, cache_dir):
    clear_memo()
    data = BatchProvider(load_dataset("cifar10", root=cifar10_root, cache=True, cache_dir=cache_dir), seed=0)
    counter = itertools.count()
    x, _ = benchmark(lambda: data.train_batch(next(counter), 64))
    assert x.shape == (64, 3, 32, 32)
