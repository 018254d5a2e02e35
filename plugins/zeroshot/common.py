"""What the zeroshot proxies share: option checks, the seeded network, the study batch, refusing degenerate cells.

The seeded network and the batch behave as those of the ``baselines`` plugin (plugins never import each other, so
the few lines are repeated here): the network is ``ctx.space.build(arch, ...)`` initialised from
``derived_seed(proxy name, study seed, arch string)`` inside :func:`torch.random.fork_rng`, and the batch is train
batch 0 of the study's shared stream, so every architecture is scored on the same images.

A score that a formula leaves undefined (a cell whose output does not depend on its input, a network whose
gradients never vary) raises :class:`DegenerateNetworkError` naming the reason: never NaN, never a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nas_harness.api import Arch, ArchitectureError, ConfigError, Context
from nas_harness.seeding import derived_seed

#: input shape of the data-free proxies when the study has no image data (CIFAR's)
DEFAULT_INPUT_SHAPE: tuple[int, int, int] = (3, 32, 32)


class DegenerateNetworkError(ArchitectureError):
    """A network (or the architecture it was built from) on which a proxy's formula is undefined."""


# -- options -----------------------------------------------------------------------------------------------------
def check_int(proxy: str, key: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (bools refused); a :class:`ConfigError` naming the proxy and key otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{proxy}: {key} must be an int >= {minimum}, got {value!r}")
    return value


def check_batch_size(proxy: str, batch_size: object, minimum: int = 1) -> int:
    """``batch_size`` as an int >= ``minimum``; a :class:`ConfigError` naming the proxy otherwise."""
    return check_int(proxy, "batch_size", batch_size, minimum)


def check_bool(proxy: str, key: str, value: object) -> bool:
    """``value`` when it is a bool; a :class:`ConfigError` naming the proxy and key otherwise."""
    if not isinstance(value, bool):
        raise ConfigError(f"{proxy}: {key} must be true or false, got {value!r}")
    return value


def check_positive(proxy: str, key: str, value: object) -> float:
    """``value`` as a finite float > 0; a :class:`ConfigError` naming the proxy and key otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{proxy}: {key} must be a positive number, got {value!r}")
    return float(value)


def check_choice(proxy: str, key: str, value: object, choices: tuple[str, ...]) -> str:
    """``value`` when it is one of ``choices``; a :class:`ConfigError` naming the proxy, key and choices otherwise."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{proxy}: {key} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


# -- the study's data and network --------------------------------------------------------------------------------
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


def input_shape(ctx: Context) -> tuple[int, ...]:
    """The shape of one image of the study's data, or :data:`DEFAULT_INPUT_SHAPE` when it has none."""
    return tuple(ctx.data.input_shape) if ctx.data is not None else DEFAULT_INPUT_SHAPE


def network_config(ctx: Context, net_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``net_cfg`` with ``num_classes`` defaulting to the data set's class count (when the study has data)."""
    cfg = dict(net_cfg)
    if "num_classes" not in cfg and ctx.data is not None:
        cfg["num_classes"] = int(ctx.data.num_classes)
    return cfg


def arch_seed(proxy: str, arch: Arch, ctx: Context, *salt: object) -> int:
    """``derived_seed(proxy, ctx.seed, arch string, *salt)``: the seed of everything random about one score."""
    return derived_seed(proxy, ctx.seed, ctx.space.to_str(arch), *salt)


def seeded_network(proxy: str, arch: Arch, ctx: Context, net_cfg: Mapping[str, Any]) -> nn.Module:
    """``ctx.space.build(arch, ...)`` initialised from ``derived_seed(proxy, ctx.seed, arch string)``, on the device.

    The CPU generator is seeded inside :func:`torch.random.fork_rng`, so the caller's random state is left as it
    was and the network is the same in every process and whatever was built before.
    """
    seed = arch_seed(proxy, arch, ctx)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        net = ctx.space.build(arch, **network_config(ctx, net_cfg))
    return net.to(ctx.device)


def reject_disconnected(proxy: str, arch: Arch, ctx: Context) -> None:
    """Raise :class:`DegenerateNetworkError` when the space says ``arch`` is disconnected (``is_disconnected``).

    In such a NAS-Bench-201 cell no path of non-``none`` edges joins the input to the output: the network's
    output does not depend on its input, so no score of it measures the architecture.
    """
    is_disconnected = getattr(ctx.space, "is_disconnected", None)
    if is_disconnected is not None and is_disconnected(arch):
        raise DegenerateNetworkError(
            f"{proxy}: architecture {ctx.space.to_str(arch)} is disconnected (no path of non-'none' edges joins the "
            f"cell's input to its output), so the network's output does not depend on its input and the score is "
            f"undefined"
        )


def finite_score(proxy: str, value: float | torch.Tensor, why: str) -> float:
    """``value`` as a float; a :class:`DegenerateNetworkError` saying ``why`` when it is not finite."""
    value = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    if not math.isfinite(value):
        raise DegenerateNetworkError(f"{proxy}: the score is {value} ({why})")
    return value
