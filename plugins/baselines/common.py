"""What the network-scoring baselines share: their batch, their seeded network, the layers they sum over.

Every helper here is used by more than one proxy in :mod:`.zero_cost`; keeping
them in one place keeps the proxies' bodies down to their paper's formula.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from nas_harness.api import Arch, ConfigError, Context, HarnessError
from nas_harness.seeding import derived_seed

#: The layers whose weights the zero-cost scores sum over. zero-cost-nas
#: (``foresight/pruners/p_utils.py``, ``get_layer_metric_array``) visits
#: ``nn.Conv2d`` and ``nn.Linear`` weights only: no biases, no BN parameters.
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)


class DegenerateNetworkError(HarnessError, ValueError):
    """The network cannot be scored: its output does not depend on its input (e.g. a disconnected cell)."""


def check_batch_size(proxy: str, batch_size: object, minimum: int = 1) -> int:
    """``batch_size`` as an int >= ``minimum``; a :class:`ConfigError` naming the proxy otherwise."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < minimum:
        raise ConfigError(f"{proxy}: batch_size must be an int >= {minimum}, got {batch_size!r}")
    return batch_size


def require_data(ctx: Context, proxy: str) -> Any:
    """The study's :class:`~nas_harness.data.BatchProvider`, or a :class:`ConfigError` saying it is missing."""
    if ctx.data is None:
        raise ConfigError(
            f"{proxy} scores a batch of images but the study has no image data: add a [data] section "
            f'to the study config (e.g. [data] name = "cifar10")'
        )
    return ctx.data


def fetch_batch(ctx: Context, proxy: str, batch_size: int, augment: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Train batch 0 of the study's stream (the same images for every estimator and arch), on ``ctx.device``."""
    data = require_data(ctx, proxy)
    return data.train_batch(0, batch_size, augment, device=ctx.device)


def network_config(ctx: Context, net_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``net_cfg`` with ``num_classes`` defaulting to the data set's class count (when the study has data)."""
    cfg = dict(net_cfg)
    if "num_classes" not in cfg and ctx.data is not None:
        cfg["num_classes"] = int(ctx.data.num_classes)
    return cfg


def seeded_network(proxy: str, arch: Arch, ctx: Context, net_cfg: Mapping[str, Any]) -> nn.Module:
    """``ctx.space.build(arch, ...)`` initialised from ``derived_seed(proxy, ctx.seed, arch string)``, on the device.

    The CPU generator is seeded inside :func:`torch.random.fork_rng`, so the
    caller's random state is left as it was and the network is the same in
    every process and whatever was built before.
    """
    seed = derived_seed(proxy, ctx.seed, ctx.space.to_str(arch))
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        net = ctx.space.build(arch, **network_config(ctx, net_cfg))
    return net.to(ctx.device)


def weight_layers(net: nn.Module) -> list[nn.Module]:
    """The ``nn.Conv2d`` / ``nn.Linear`` modules of ``net`` that have a weight (each shared module once)."""
    return [m for m in net.modules() if isinstance(m, WEIGHT_LAYERS) and getattr(m, "weight", None) is not None]


def weight_gradients(scalar: torch.Tensor, net: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(weight, d scalar / d weight)`` for every layer of :func:`weight_layers`.

    A weight that ``scalar`` does not depend on gets a zero gradient (as the
    ``zeros_like`` fallback of zero-cost-nas).
    """
    weights = [m.weight for m in weight_layers(net)]
    if scalar.requires_grad and weights:
        grads = torch.autograd.grad(scalar, weights, allow_unused=True)
    else:
        grads = (None,) * len(weights)
    return [(w, torch.zeros_like(w) if g is None else g) for w, g in zip(weights, grads, strict=True)]


def remove_batchnorm(net: nn.Module) -> int:
    """Replace every BatchNorm layer of ``net`` by ``nn.Identity`` in place; returns how many were replaced."""
    replaced = 0
    for name, child in list(net.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(net, name, nn.Identity())
            replaced += 1
        else:
            replaced += remove_batchnorm(child)
    return replaced


@contextmanager
def on_relu(net: nn.Module, fn: Callable[[torch.Tensor], None]) -> Iterator[None]:
    """Call ``fn(output)`` after every forward call of an ``nn.ReLU`` module of ``net`` (functional relu is not seen).

    ``output > 0`` is the unit's binary code whether or not the ReLU is in place.
    """
    handles = [m.register_forward_hook(lambda _m, _inp, out: fn(out)) for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def finite_or_nan(value: float | torch.Tensor) -> float:
    """``value`` as a float, or NaN when it is not finite (the runner records NaN as a failed score)."""
    value = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    return value if math.isfinite(value) else math.nan


def placeholder_batch(shape: tuple[int, ...], device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of one zero image of ``shape`` and label 0: what a data-free proxy's ``score_network`` reads
    the image shape from (the study path of params, flops, synflow and l2_norm)."""
    return torch.zeros((1, *shape), device=device), torch.zeros(1, dtype=torch.long, device=device)


def check_connected(proxy: str, arch: Arch, ctx: Context) -> None:
    """A :class:`DegenerateNetworkError` when the search space says ``arch`` is disconnected.

    Spaces that can tell implement ``is_disconnected(arch)`` (NAS-Bench-201: no path of non-``none`` edges
    from a cell's input to its output, so the network computes the same output for every image).
    """
    is_disconnected = getattr(ctx.space, "is_disconnected", None)
    if is_disconnected is not None and is_disconnected(arch):
        raise DegenerateNetworkError(
            f"{proxy}: architecture {ctx.space.to_str(arch)} is disconnected (its cell has no path of non-'none' "
            f"edges from input to output, so the network's output does not depend on the image): the score is "
            f"undefined"
        )


def check_input_dependence(proxy: str, outputs: torch.Tensor) -> None:
    """A :class:`DegenerateNetworkError` when every row of ``outputs`` (a batch of two or more) is the same.

    A network whose output ignores its input (a disconnected cell, every unit dead) has no data-dependent
    gradient or Jacobian to score; bit-identical logits for different images only happen then (or when
    every image of the batch is the same).
    """
    if outputs.shape[0] >= 2 and bool((outputs == outputs[:1]).all()):
        raise DegenerateNetworkError(
            f"{proxy}: the network gives the same output for all {outputs.shape[0]} images of the batch (its "
            f"output does not depend on its input, e.g. a cell with no path from input to output): the score is "
            f"undefined"
        )


def input_jacobians(net: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(J, outputs)``: row i of ``J`` ``[B, C*H*W]`` is d(sum of the network's outputs)/d(image i) (float64).

    This is ``y.backward(torch.ones_like(y)); x.grad`` of nas-without-training v1 and EPE-NAS. An output
    that does not depend on the input gives zero Jacobians.
    """
    x = inputs.detach().clone().requires_grad_(True)
    outputs = net(x)
    total = outputs.sum()
    grad = torch.autograd.grad(total, x, allow_unused=True)[0] if total.requires_grad else None
    if grad is None:
        grad = torch.zeros_like(x)
    return grad.detach().flatten(1).to(torch.float64), outputs.detach()
