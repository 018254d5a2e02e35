"""What the network-scoring baselines share beyond :mod:`nas_harness.proxy_kit`: the layers they sum over,
their gradients and Jacobians, BatchNorm removal, ReLU hooks, the input-dependence check.

Every helper here is used by more than one proxy of this plugin; keeping them in one place keeps the proxies'
bodies down to their paper's formula.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from nas_harness.proxy_kit import DegenerateNetworkError

#: The layers whose weights the zero-cost scores sum over. zero-cost-nas
#: (``foresight/pruners/p_utils.py``, ``get_layer_metric_array``) visits
#: ``nn.Conv2d`` and ``nn.Linear`` weights only: no biases, no BN parameters.
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)


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
