"""ZiCo (Li et al., "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients", ICLR 2023).

Per Conv/Linear layer, the inverse coefficient of variation of each weight's gradient across mini-batches, summed
over the layer's weights; the score sums the logs over layers (the paper's definition of ZiCo; official
``ZeroShotProxy/compute_zico.py``: ``getgrad``, ``caculate_zico``, ``getzico``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nas_harness.api import Arch, ConfigError, Context, Direction, Proxy
from nas_harness.proxy_kit import (
    DegenerateNetworkError,
    check_batch_size,
    fetch_batch,
    reject_disconnected,
    seeded_network,
)
from nas_harness_plugins.zeroshot.common import check_bool, check_int, finite_score

__all__ = ["ZicoProxy", "zico_from_gradients"]

#: the layers whose weight gradients ZiCo reads (official ``getgrad``: ``nn.Conv2d`` or ``nn.Linear``)
ZICO_LAYERS: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)


def zico_from_gradients(grads: list[torch.Tensor]) -> tuple[float, int]:
    """``(sum over layers of log(sum_theta mean|g| / std g), number of layers that contributed)``.

    ``grads[l]`` is ``[mini-batches, weights of layer l]``. As the official ``caculate_zico``: the standard
    deviation is the population one (``np.std``), weights whose gradient does not vary across mini-batches
    (std 0) are left out, and a layer left with nothing (sum 0) adds nothing.
    """
    total, layers = 0.0, 0
    for g in grads:
        g = g.to(torch.float64)
        std = g.std(dim=0, unbiased=False)
        mean_abs = g.abs().mean(dim=0)
        varies = std != 0
        ratio_sum = float((mean_abs[varies] / std[varies]).sum())
        if ratio_sum != 0:
            total += math.log(ratio_sum)
            layers += 1
    return total, layers


class ZicoProxy(Proxy):
    """ZiCo = sum over Conv/Linear layers l of log( sum over weights theta of l of E|g_theta| / std(g_theta) ).

    ``g_theta`` is the gradient of the mean cross-entropy of one mini-batch with respect to ``theta``; the mean and
    the standard deviation run over ``batches`` mini-batches of ``batch_size`` images each, in train mode (BN
    normalises with each mini-batch's statistics). In a study they are train batch 0 of the study's stream (``batch_size
    * batches`` images) cut into ``batches`` consecutive parts; :meth:`score_network` cuts whatever batch it is
    given the same way. Higher is better.

    Options (official defaults): ``batch_size`` 128 and ``batches`` 2 (``scripts/ZiCo_NAS_ImageNet_*.sh``:
    ``--batch_size 128``; ``evolution_search.py``: ``--maxbatch 2``), ``augment`` true (the official train loader
    crops and flips), plus network options for ``space.build`` (``C``, ``N``, ``num_classes``...).

    Deviations: the two mini-batches are consecutive halves of one study batch rather than two loader draws (the
    images are the same kind: train batch 0 of a shuffled, augmented stream); the arithmetic is float64 (the
    official code runs numpy on float32 gradients). A disconnected cell, or a network none of whose weight
    gradients varies between the mini-batches, raises
    :class:`~nas_harness_plugins.zeroshot.common.DegenerateNetworkError`.
    """

    # ZiCo paper, the definition of ZiCo: ZiCo = sum_{l=1}^{D} log( sum_{theta in theta_l}
    # E[|grad_theta L(X_i, y_i; Theta)|] / sqrt(Var(grad_theta L(X_i, y_i; Theta))) ), the expectation and
    # variance over mini-batches i. The official getzico zeroes the gradients before each mini-batch
    # (network.zero_grad()) and reads weight.grad of every nn.Conv2d / nn.Linear; biases and BN parameters are
    # not used.
    name = "zeroshot.zico"
    direction = Direction.MAXIMIZE

    def __init__(self, batch_size: int = 128, batches: int = 2, augment: bool = True, **net_cfg: Any) -> None:
        self.batch_size = check_batch_size(self.name, batch_size)
        self.batches = check_int(self.name, "batches", batches, minimum=2)  # a std over one mini-batch is 0
        self.augment = check_bool(self.name, "augment", augment)
        self.net_cfg = net_cfg

    def score(self, arch: Arch, ctx: Context) -> float:
        reject_disconnected(self.name, arch, ctx)
        inputs, targets = fetch_batch(ctx, self.name, self.batch_size * self.batches, self.augment)
        net = seeded_network(self.name, arch, ctx, self.net_cfg)
        return self.score_network(net, inputs, targets)

    def score_network(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """ZiCo of ``net`` on ``(inputs, targets)`` cut into ``batches`` consecutive mini-batches: part ``i`` of
        ``N`` images is ``[i * N // batches, (i + 1) * N // batches)``."""
        if inputs.shape[0] < self.batches:
            raise ConfigError(
                f"{self.name}: needs at least batches = {self.batches} images (one per mini-batch), "
                f"got {inputs.shape[0]}"
            )
        net.train()
        layers = [m for m in net.modules() if isinstance(m, ZICO_LAYERS) and getattr(m, "weight", None) is not None]
        if not layers:
            raise DegenerateNetworkError(f"{self.name}: {type(net).__name__} has no Conv2d or Linear layer")
        weights = [m.weight for m in layers]
        per_batch: list[list[torch.Tensor]] = [[] for _ in layers]
        n = inputs.shape[0]
        for part in range(self.batches):  # zero-cost-nas' split_data bounds, as the MeCo repository's ZiCo port
            start, end = part * n // self.batches, (part + 1) * n // self.batches
            x, y = inputs[start:end], targets[start:end]
            loss = F.cross_entropy(net(x), y)
            if loss.requires_grad:
                grads = torch.autograd.grad(loss, weights, allow_unused=True)
            else:
                grads = (None,) * len(weights)
            for store, w, g in zip(per_batch, weights, grads, strict=True):
                store.append((torch.zeros_like(w) if g is None else g).detach().flatten())
        total, contributing = zico_from_gradients([torch.stack(store) for store in per_batch])
        if contributing == 0:
            raise DegenerateNetworkError(
                f"{self.name}: no weight gradient of {type(net).__name__} varies between the {self.batches} "
                "mini-batches (all gradients are constant, e.g. zero because the output does not depend on the input)"
            )
        return finite_score(self.name, total, "a gradient is infinite or NaN")
