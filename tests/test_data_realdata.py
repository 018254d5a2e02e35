"""Real CIFAR-10 (the shared JPEG archive): a class-balanced subset read straight from the tar.gz."""

from __future__ import annotations

import pytest
import torch

from nas_harness.data import CIFAR10_CLASSES, NB201_NORMALIZATION, BatchProvider, load_dataset
from nas_harness.spaces.nb201 import NB201Space

pytestmark = pytest.mark.realdata

PER_CLASS = 50


@pytest.fixture(scope="module")
def cifar10_subset(shared_data):
    return load_dataset("cifar10", root=shared_data / "cifar10", limit_per_class=PER_CLASS, cache=False)


def test_subset_shapes_classes_and_balance(cifar10_subset, shared_data):
    ds = cifar10_subset
    assert ds.source == f"tar:{(shared_data / 'cifar10' / 'cifar10-jpeg.tar.gz').resolve()}"
    assert ds.class_names == CIFAR10_CLASSES  # airplane .. truck, the official label order
    assert ds.train_images.shape == (10 * PER_CLASS, 32, 32, 3) and ds.train_images.dtype == torch.uint8
    assert ds.test_images.shape == (10 * PER_CLASS, 32, 32, 3)
    assert torch.bincount(ds.train_labels, minlength=10).tolist() == [PER_CLASS] * 10
    assert torch.bincount(ds.test_labels, minlength=10).tolist() == [PER_CLASS] * 10


def test_pixel_statistics_match_the_official_normalisation(cifar10_subset):
    mean, std = NB201_NORMALIZATION["cifar10"]
    pixels = cifar10_subset.train_images.reshape(-1, 3).double() / 255
    # 500 images: the per-channel mean of the full set (125.3, 123.0, 113.9)/255 within sampling noise
    assert pixels.mean(0).tolist() == pytest.approx(list(mean), abs=0.03)
    assert pixels.std(0).tolist() == pytest.approx(list(std), abs=0.03)
    # and the images are natural images, not noise or a constant: neighbouring pixels correlate strongly
    x = cifar10_subset.train_images.double()
    a, b = x[:, :, :-1].flatten(), x[:, :, 1:].flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.8


def test_a_batch_of_64_flows(cifar10_subset):
    data = BatchProvider(cifar10_subset, seed=0)
    x, y = data.train_batch(0, 64)
    assert x.shape == (64, 3, 32, 32) and x.dtype == torch.float32
    assert y.shape == (64,) and int(y.min()) >= 0 and int(y.max()) <= 9
    assert torch.isfinite(x).all()
    plain, _ = data.train_batch(0, 64, augment=False)
    assert plain.mean().abs() < 0.3 and 0.7 < plain.std() < 1.3  # normalised to about N(0, 1)
    assert torch.equal(x, BatchProvider(cifar10_subset, seed=0).train_batch(0, 64)[0])
    xv, yv = next(data.eval_batches("valid", 64))
    assert xv.shape == (50, 3, 32, 32) and len(set(yv.tolist())) == 10  # 10% of 500, stratified


def test_real_batch_flows_through_the_built_nb201_network(cifar10_subset):
    space = NB201Space()
    # official index 1: |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|
    model = space.build(space.from_index(1), C=16, N=5, num_classes=10)
    x, y = BatchProvider(cifar10_subset, seed=0).train_batch(0, 16)
    logits = model.train()(x)
    assert logits.shape == (16, 10) and torch.isfinite(logits).all()
    loss = torch.nn.functional.cross_entropy(logits, y)
    assert abs(loss.item() - torch.log(torch.tensor(10.0)).item()) < 1.5  # an untrained 10-way classifier
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(grads) == len(list(model.parameters())) and all(torch.isfinite(g).all() for g in grads)
    # the same real images give different logits than their horizontal mirror: the input matters
    with torch.no_grad():
        model.eval()
        assert not torch.allclose(model(x), model(x.flip(-1)))
