"""CPU costs of the NAS-Bench-201 network (C=16, N=5, 10 classes) and of counting its FLOPs.

Measures: building the network with the all-conv3x3 cell (the most layers to
initialise), a forward pass of a 64-image 32x32 batch with that cell (the largest,
220 MFLOPs per image; eval mode, no autograd), the same batch forward + backward
(training mode), and ``count_flops`` on one image. ``extra_info`` records torch's
thread count.

    python -m pytest benchmarks/bench_nb201_network.py --benchmark-only
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas_harness.costs import count_flops
from nas_harness.spaces.nb201_net import NB201Network

ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
BATCH = 64


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(BATCH, 3, 32, 32, generator=g), torch.randint(0, 10, (BATCH,), generator=g)


def _note_threads(benchmark) -> None:
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()


def test_build_network(benchmark):
    _note_threads(benchmark)
    model = benchmark(NB201Network, ALL_CONV3)
    assert len(model.cells) == 17


def test_forward_batch64_all_conv3x3(benchmark, batch):
    _note_threads(benchmark)
    torch.manual_seed(0)
    model = NB201Network(ALL_CONV3).eval()
    x, _ = batch

    def forward():
        with torch.no_grad():
            return model(x)

    model(x[:2])  # warm-up allocations outside the timing
    out = benchmark(forward)
    assert out.shape == (BATCH, 10)


def test_forward_backward_batch64_all_conv3x3(benchmark, batch):
    _note_threads(benchmark)
    torch.manual_seed(0)
    model = NB201Network(ALL_CONV3).train()
    x, y = batch
    loss_fn = nn.CrossEntropyLoss()

    def step():
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    loss = benchmark(step)
    assert torch.isfinite(loss)


def test_count_flops(benchmark):
    _note_threads(benchmark)
    model = NB201Network(ALL_CONV3)
    flops = benchmark(count_flops, model)
    assert flops == 220_119_690
