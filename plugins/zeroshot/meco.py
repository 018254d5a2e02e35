"""MeCo (Jiang et al., "MeCo: Zero-Shot NAS with One Data and Single Forward Pass via Minimum Eigenvalue of
Correlation", NeurIPS 2023).

The minimum eigenvalue of the Pearson correlation matrix of each layer's channels, over the spatial positions of
one image's feature map, summed over layers (the paper's definition of MeCo; official code
``correlation/NAS_Bench_201.py``, ``get_score`` with ``measure = 'meco'``, and
``zero-cost-nas/foresight/pruners/measures/meco.py``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from nas_harness.api import Arch, Context, Direction, Proxy
from nas_harness.proxy_kit import (
    DegenerateNetworkError,
    check_batch_size,
    fetch_batch,
    reject_disconnected,
    seeded_network,
)
from nas_harness_plugins.zeroshot.common import check_bool, finite_score

__all__ = ["MecoProxy", "min_correlation_eigenvalue"]


def min_correlation_eigenvalue(feature_map: torch.Tensor) -> float:
    """lambda_min of the Pearson correlation matrix of the rows of ``feature_map`` (``[channels, positions]``).

    As the official hook: entries that are NaN or infinite (a constant channel has no correlation) are set to 0
    before the eigenvalues are taken. Float64 and ``eigvalsh`` (the matrix is symmetric; the official code calls
    ``torch.linalg.eig`` in float32 and keeps the real parts).
    """
    corr = torch.corrcoef(feature_map.to(torch.float64))
    corr = torch.where(torch.isfinite(corr), corr, torch.zeros_like(corr))
    return float(torch.linalg.eigvalsh(corr).min())


class MecoProxy(Proxy):
    """MeCo = sum over layers of lambda_min(P(f_i(x))), P the Pearson correlation matrix of layer i's channels.

    ``f_i(x)`` is the output of the i-th module for the first image of the batch, read as ``[channels, H * W]``.
    As in the official code, "layers" are every module of the network (``net.modules()``, containers and the
    network itself included, each hooked once and counted at every call) whose output is a tensor; a module whose
    output has one value per channel and image (the pooled features, the logits) contributes 0, as the official
    code's all-NaN, zeroed matrix does. One forward pass in train mode (the official network is never put in eval
    mode), with no gradient. Higher is better.

    Options (official defaults): ``batch_size`` 1 (MeCo scores one image: ``--batch_size 1`` in
    ``correlation/NAS_Bench_201.py``; a larger batch changes only the train-mode BN statistics, the correlations
    are still those of the first image), ``augment`` true (its CIFAR train loader crops and flips), plus network
    options for ``space.build`` (``C``, ``N``, ``num_classes``...).

    Deviations: float64 correlation and ``eigvalsh`` (official: float32 and the real parts of ``eig``); outputs
    that are not tensors (tuples) are skipped (the official hook would index the tuple); the module tree is this
    harness's NB201 network (the official NAS-Bench-201 code), not zero-cost-nas' re-implementation that the MeCo
    code hooked, so sums over "every module" count a different set of containers. The MeCo_opt variant (8 random
    channels, rescaled) is not implemented. A disconnected cell raises
    :class:`~nas_harness_plugins.zeroshot.common.DegenerateNetworkError`.
    """

    # MeCo paper, the definition of MeCo: S(f) = sum_{i=1}^{D} lambda_min(P(f^i(X; theta))), P the Pearson
    # correlation matrix of the feature map of layer i (channels x positions) for one data sample X. Official
    # get_score: a forward hook on every module of net.named_modules() takes data_output[0] (the first image),
    # reshapes it to [C, -1], calls torch.corrcoef, sets NaN/inf to 0 and appends min(real(eig)); the sum skips
    # NaN/inf results.
    name = "zeroshot.meco"
    direction = Direction.MAXIMIZE

    def __init__(self, batch_size: int = 1, augment: bool = True, **net_cfg: Any) -> None:
        self.batch_size = check_batch_size(self.name, batch_size)
        self.augment = check_bool(self.name, "augment", augment)
        self.net_cfg = net_cfg

    def score(self, arch: Arch, ctx: Context) -> float:
        reject_disconnected(self.name, arch, ctx)
        inputs, targets = fetch_batch(ctx, self.name, self.batch_size, self.augment)
        net = seeded_network(self.name, arch, ctx, self.net_cfg)
        return self.score_network(net, inputs, targets)

    def score_network(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """MeCo of ``net`` for the first image of ``inputs`` (the rest only enter train-mode BN); ``targets`` is not
        read."""
        values: list[float] = []

        def hook(_m: nn.Module, _inputs: tuple[Any, ...], out: Any) -> None:
            if not isinstance(out, torch.Tensor) or out.dim() < 3:
                return  # one value per channel (or a non-tensor): the official zeroed matrix, lambda_min 0
            first = out[0].detach()
            fmap = first.reshape(first.shape[0], -1)
            if fmap.shape[1] < 2:
                return  # a single position per channel: no correlation, lambda_min 0 as above
            values.append(min_correlation_eigenvalue(fmap))

        net.train()
        handles = [m.register_forward_hook(hook) for m in net.modules()]
        try:
            with torch.no_grad():
                net(inputs)
        finally:
            for h in handles:
                h.remove()
        if not values:
            raise DegenerateNetworkError(
                f"{self.name}: no module of {type(net).__name__} returned a feature map with more than one position "
                "per channel, so there is no correlation matrix to take"
            )
        finite = [v for v in values if math.isfinite(v)]  # official: NaN and inf results are dropped from the sum
        return finite_score(self.name, sum(finite), "the sum of the eigenvalues overflowed")
