"""Scoring one architecture with inherited supernet weights (SPOS section 3.4).

Before evaluating a path, SPOS recomputes the BatchNorm statistics: running
statistics reset, then forward passes in train mode without gradients over a
few training batches. The shared statistics collected during supernet training
mix every path and do not fit any single one.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from nas_harness.spaces.masks import Mask

Batch = tuple[torch.Tensor, torch.Tensor]


def batchnorms(net: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recalibrate_bn(net: nn.Module, mask: Mask, batches: Iterable[Batch]) -> int:
    """Reset every BN layer's running statistics and recompute them on ``batches`` through ``mask``.

    Uses the cumulative average (``momentum=None``) rather than the exponential
    one, so the statistics are the plain mean over all the batches, whatever
    their number; the layers' momentum is restored afterwards. Returns the
    number of images used; the network is left in eval mode.
    """
    layers = batchnorms(net)
    momenta = [bn.momentum for bn in layers]
    for bn in layers:
        bn.reset_running_stats()
        bn.momentum = None
    net.train()
    seen = 0
    try:
        for x, _ in batches:
            net(x, mask)
            seen += len(x)
    finally:
        for bn, momentum in zip(layers, momenta, strict=True):
            bn.momentum = momentum
        net.eval()
    if seen == 0:
        raise ValueError("BN recalibration got no batches")
    return seen


@torch.no_grad()
def accuracy(net: nn.Module, mask: Mask, batches: Iterable[Batch]) -> float:
    """Top-1 accuracy in percent of the path ``mask`` on ``batches`` (eval mode)."""
    net.eval()
    correct = total = 0
    for x, y in batches:
        correct += int((net(x, mask).argmax(1) == y).sum())
        total += len(y)
    if total == 0:
        raise ValueError("accuracy over an empty evaluation set")
    return 100.0 * correct / total
