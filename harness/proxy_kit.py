"""What every network-scoring proxy needs from a study: its batch, its seeded network, its refusals.

Plugins never import each other, so the pieces several proxy plugins share live here (``baselines``,
``zeroshot`` and any third-party proxy plugin use them):

- the batch: train batch 0 of the study's shared stream (:func:`fetch_batch`), so every estimator and every
  architecture is scored on the same images;
- the network: ``ctx.space.build(arch, ...)`` initialised from ``derived_seed(proxy name, study seed, arch
  string)`` inside :func:`torch.random.fork_rng` (:func:`seeded_network`), so a score does not depend on what ran
  before it or in which process;
- the refusals: a disconnected cell, or a network on which the proxy's formula is undefined, raises
  :class:`DegenerateNetworkError` naming the reason (never NaN, never a made-up number); a bad option raises
  :class:`~nas_harness.api.ConfigError` naming the proxy and the key.

Example::

    from nas_harness.proxy_kit import fetch_batch, reject_disconnected, seeded_network

    def score(self, arch, ctx):
        reject_disconnected(self.name, arch, ctx)
        inputs, targets = fetch_batch(ctx, self.name, 64, augment=False)
        net = seeded_network(self.name, arch, ctx, {"C": 16})
        ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nas_harness.api import Arch, ArchitectureError, ConfigError, Context
from nas_harness.seeding import derived_seed


class DegenerateNetworkError(ArchitectureError):
    """A network (or the architecture it was built from) on which a proxy's formula is undefined."""


def check_batch_size(proxy: str, batch_size: object, minimum: int = 1) -> int:
    """``batch_size`` as an int >= ``minimum`` (bools refused); a :class:`ConfigError` naming the proxy otherwise."""
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
    return require_data(ctx, proxy).train_batch(0, batch_size, augment, device=ctx.device)


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
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(arch_seed(proxy, arch, ctx))
        net = ctx.space.build(arch, **network_config(ctx, net_cfg))
    return net.to(ctx.device)


def reject_disconnected(proxy: str, arch: Arch, ctx: Context) -> None:
    """Raise :class:`DegenerateNetworkError` when the space says ``arch`` is disconnected (``is_disconnected``).

    In such a NAS-Bench-201 cell no path of non-``none`` edges joins the input to the output: the network's
    output does not depend on its input, so no score of it measures the architecture. Spaces that cannot tell
    do not implement ``is_disconnected``; the proxies then refuse such networks from their outputs.
    """
    is_disconnected = getattr(ctx.space, "is_disconnected", None)
    if is_disconnected is not None and is_disconnected(arch):
        raise DegenerateNetworkError(
            f"{proxy}: architecture {ctx.space.to_str(arch)} is disconnected (no path of non-'none' edges joins the "
            f"cell's input to its output), so the network's output does not depend on its input and the score is "
            f"undefined"
        )
