"""Zen-score (Lin et al., "Zen-NAS: A Zero-Shot NAS for High-Performance Image Recognition", ICCV 2021).

The expected change of the pre-global-average-pooling feature map under a small Gaussian perturbation of a
Gaussian input, on a network with N(0, 1) weights and train-mode BN, plus the log of each BN layer's scaling
(paper, Algorithm 1; official ``ZeroShotProxy/compute_zen_score.py``, ``compute_nas_score``).
Data-free: only the shape of the study's images is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from nas_harness.api import Arch, ConfigError, Context, Direction, Proxy
from nas_harness.proxy_kit import (
    DegenerateNetworkError,
    arch_seed,
    check_batch_size,
    reject_disconnected,
    seeded_network,
)
from nas_harness_plugins.zeroshot.common import check_choice, check_int, check_positive, finite_score, input_shape

__all__ = ["ZenProxy", "gaussian_init", "pre_gap_features"]

BN_STATISTICS = ("running", "batch")


def gaussian_init(net: nn.Module, generator: torch.Generator | None = None) -> None:
    """The official ``network_weight_gaussian_init``: Conv2d and Linear weights N(0, 1), their biases 0;
    BatchNorm2d and GroupNorm weights 1, biases 0.

    Draws go module by module in ``net.modules()`` order, one ``torch.randn(weight.shape)`` on the CPU from
    ``generator`` (torch's global generator when None) per weight, so the result does not depend on the device.
    """
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight
                w.copy_(torch.randn(w.shape, generator=generator, dtype=torch.float32).to(w.device, w.dtype))
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                if m.weight is not None:
                    m.weight.fill_(1.0)
                if m.bias is not None:
                    m.bias.zero_()


def _is_global(output_size: Any) -> bool:
    sizes = output_size if isinstance(output_size, tuple) else (output_size,)
    return all(s == 1 for s in sizes)


def pre_gap_features(net: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function ``x -> the feature map that ``net`` averages globally before its classifier``.

    In order: the network's own ``forward_pre_GAP`` (the ZenNAS networks' method); else the input of the last call
    of a global ``nn.AdaptiveAvgPool2d`` (output size 1) during ``net(x)`` (the NAS-Bench-201 network's
    ``global_pooling``, whose input is ``lastact``'s BN + ReLU output); else, when no such module is called, the last
    4-D tensor any module returns during ``net(x)`` (networks that pool with ``torch.mean``, as the NAS-Bench-101
    one, whose last cell returns it).
    """
    own = getattr(net, "forward_pre_GAP", None)
    if callable(own):
        return own
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d) and _is_global(m.output_size)]

    def features(x: torch.Tensor) -> torch.Tensor:
        pooled: list[torch.Tensor] = []  # the input of the last global pooling call
        last: list[torch.Tensor] = []  # the last 4-D module output

        def before_pool(_m: nn.Module, inputs: tuple[Any, ...]) -> None:
            pooled[:] = [inputs[0]]

        def after(_m: nn.Module, _inputs: tuple[Any, ...], out: Any) -> None:
            if isinstance(out, torch.Tensor) and out.dim() == 4:
                last[:] = [out]  # no copy: an in-place op after it changes what is pooled, too

        handles = [m.register_forward_pre_hook(before_pool) for m in pools]
        handles += [m.register_forward_hook(after) for m in net.modules()]
        try:
            net(x)
        finally:
            for h in handles:
                h.remove()
        found = pooled or last
        if not found:
            raise DegenerateNetworkError(
                f"{ZenProxy.name}: {type(net).__name__} produced no 4-D feature map (no global average pooling "
                "module was called, no module returned a [batch, channels, height, width] tensor): Zen-score needs "
                "the feature map before global pooling"
            )
        return found[0]

    return features


class ZenProxy(Proxy):
    """Zen-score: log E||f(x) - f(x + alpha eps)|| + sum over BN layers of log(sqrt(mean over channels of var)).

    ``f`` is the pre-global-average-pooling feature map (:func:`pre_gap_features`) of the network after the
    official Gaussian re-initialisation (:func:`gaussian_init`), in train mode; ``x`` and ``eps`` are N(0, 1) of
    the shape of ``batch_size`` study images (data-free: the study's images are never read, and a study without
    data uses 3x32x32). Higher is better. The score is the mean over ``repeats`` independent draws (weights,
    ``x``, ``eps``), each from a generator seeded with ``derived_seed(name, study seed, arch string, "gaussian")``.

    Options (official defaults): ``batch_size`` 64 (the CIFAR search scripts, ``scripts/Zen_NAS_cifar_*.sh``),
    ``repeats`` 1 (``evolution_search.py`` calls ``compute_nas_score(..., repeat=1)``; the stand-alone
    ``compute_zen_score.py`` defaults to 32), ``alpha`` 0.01 (``mixup_gamma``), ``bn_statistic`` (below), plus
    network options for ``space.build`` (``C``, ``N``, ``num_classes``...).

    Deviations, each also in ``docs/deviations.md``:

    * the norm of the feature difference is the official code's entrywise L1 norm (``torch.sum(torch.abs(...),
      dim=[1, 2, 3])``, averaged over the batch); the paper writes the Frobenius norm;
    * ``bn_statistic = "running"`` (default) reads, as the official code does, each BN layer's ``running_var``
      after the two train-mode forward passes (x, then x + alpha eps) from fresh running statistics (reset before
      each repeat, as in a freshly built network; the official stand-alone script carries them over from one
      repeat to the next). ``"batch"`` uses the paper's Algorithm 1 instead: the mini-batch variance each BN layer
      normalises with during the forward pass of ``x``; a BN layer whose input is constant over the batch (it
      sits on a branch that only ever sees zeros, e.g. behind a ``none`` edge, and outputs its bias whatever the
      input) has no scaling to undo and is left out rather than adding log 0;
    * the paper removes every residual link before scoring (Algorithm 1, step 1; ``no_reslink=True`` in the
      official search); NAS-Bench-201 cells are DAGs whose skip edges are part of the architecture, so the
      network is scored as built.

    A disconnected cell, or a feature map that does not change under the perturbation, raises
    :class:`~nas_harness_plugins.zeroshot.common.DegenerateNetworkError`.
    """

    # Zen-NAS, Algorithm 1 (Zen-Score): Zen(F) = log(Delta) + sum_i log(sigma_i), Delta = E_{x,eps} ||f(x) - f(x +
    # alpha eps)||, sigma_i = sqrt(sum_j sigma_{i,j}^2 / m) over the m channels of the i-th BN layer, all weights
    # N(0, 1), alpha = 0.01.
    name = "zeroshot.zen"
    direction = Direction.MAXIMIZE

    def __init__(
        self,
        batch_size: int = 64,
        repeats: int = 1,
        alpha: float = 0.01,
        bn_statistic: str = "running",
        **net_cfg: Any,
    ) -> None:
        self.batch_size = check_batch_size(self.name, batch_size, minimum=2)  # train-mode BN needs 2 images
        self.repeats = check_int(self.name, "repeats", repeats)
        self.alpha = check_positive(self.name, "alpha", alpha)
        self.bn_statistic = check_choice(self.name, "bn_statistic", bn_statistic, BN_STATISTICS)
        self.net_cfg = net_cfg

    def score(self, arch: Arch, ctx: Context) -> float:
        reject_disconnected(self.name, arch, ctx)
        net = seeded_network(self.name, arch, ctx, self.net_cfg)
        # data-free: the inputs only give the shape of the Gaussian draws
        inputs = torch.zeros((self.batch_size, *input_shape(ctx)), device=ctx.device)
        targets = torch.zeros(self.batch_size, dtype=torch.long, device=ctx.device)
        generator = torch.Generator().manual_seed(arch_seed(self.name, arch, ctx, "gaussian"))
        return self.score_network(net, inputs, targets, generator=generator)

    def score_network(
        self,
        net: nn.Module,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> float:
        """Zen-score of ``net`` (re-initialised in place) for Gaussian inputs of ``inputs``' shape and device.

        Per repeat, in this order from ``generator`` (on the CPU; torch's global generator when None): the weights
        (:func:`gaussian_init`), then ``x``, then ``eps``. ``targets`` is not read.
        """
        if inputs.dim() < 2 or inputs.shape[0] < 2:
            raise ConfigError(f"{self.name}: needs a batch of at least 2 inputs (train-mode BN), got {inputs.shape}")
        shape, device = tuple(inputs.shape), inputs.device
        features = pre_gap_features(net)
        bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]  # official: nn.BatchNorm2d layers
        if self.bn_statistic == "running":
            lacking = [type(m).__name__ for m in bns if m.running_var is None]
            if lacking:
                raise ConfigError(
                    f"{self.name}: bn_statistic = 'running' reads BN running variances, but {len(lacking)} BN "
                    "layer(s) keep none (track_running_stats=False); use bn_statistic = 'batch'"
                )
        net.train()
        values = []
        with torch.no_grad():
            for _ in range(self.repeats):
                gaussian_init(net, generator)
                for m in bns:
                    if m.track_running_stats:
                        m.reset_running_stats()
                x = torch.randn(shape, generator=generator, dtype=torch.float32).to(device, inputs.dtype)
                eps = torch.randn(shape, generator=generator, dtype=torch.float32).to(device, inputs.dtype)
                batch_vars: list[float] = []
                with _recording_batch_variances(bns, batch_vars, self.bn_statistic == "batch"):
                    clean = features(x)
                perturbed = features(x + self.alpha * eps)
                # the official nas_score: sum of |f(x) - f(x')| over C, H, W, averaged over the batch
                delta = (clean - perturbed).abs().double().flatten(1).sum(1).mean()
                if float(delta) == 0:
                    raise DegenerateNetworkError(
                        f"{self.name}: the pre-GAP feature map does not change when the input is perturbed "
                        "(Delta = 0): the network's output does not depend on its input"
                    )
                if self.bn_statistic == "running":
                    # official: log(sqrt(mean(running_var))) per BatchNorm layer
                    bn_term = sum(0.5 * _log(float(m.running_var.double().mean())) for m in bns)
                else:
                    bn_term = sum(0.5 * _log(v) for v in batch_vars if v != 0)
                values.append(_log(float(delta)) + bn_term)
        why = "Delta or a BN variance is infinite or NaN, or a running variance is 0"
        return finite_score(self.name, sum(values) / len(values), why)


def _log(value: float) -> float:
    """``math.log`` with log 0 = -inf (and NaN for NaN) instead of an exception: :func:`finite_score` reports it."""
    return math.log(value) if value > 0 else (-math.inf if value == 0 else math.nan)


@contextmanager
def _recording_batch_variances(bns: list[nn.Module], out: list[float], on: bool) -> Iterator[None]:
    """While active (and ``on``), append to ``out`` each BN call's mean over channels of the biased batch variance
    of its input: what train-mode BN divides by."""

    def hook(_m: nn.Module, inputs: tuple[Any, ...]) -> None:
        x = inputs[0]
        dims = [d for d in range(x.dim()) if d != 1]
        out.append(float(x.double().var(dim=dims, unbiased=False).mean()))

    handles = [m.register_forward_pre_hook(hook) for m in bns] if on else []
    try:
        yield
    finally:
        for h in handles:
            h.remove()
