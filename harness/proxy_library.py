"""Zero-cost proxies as a library: score any network on any batch, outside a study.

Example::

    import torch
    from nas_harness.proxy_library import score_module

    net = MyNetwork()
    batch = (torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,)))
    score = score_module("baselines.synflow", net, batch)
    score_module("zeroshot.zico", net, batch)         # any registered proxy with ``score_network``

The network is deep-copied first (several proxies change it: synflow takes absolute weights and removes
BatchNorm), so the caller's network is left as it was. The proxy is built from the registry with
``options``, exactly as a study builds it, and must implement
:class:`~nas_harness.api.NetworkProxy`.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from nas_harness.api import ConfigError, NetworkProxy
from nas_harness.registry import Registry, get_registry


def network_proxies(registry: Registry | None = None) -> list[str]:
    """The registered proxies that can score a bare network (those :func:`score_module` accepts)."""
    registry = registry or get_registry()
    names = []
    for name in registry.names("proxy"):
        factory = registry.get("proxy", name).factory
        if isinstance(factory, type) and issubclass(factory, NetworkProxy):
            names.append(name)
    return sorted(names)


def score_module(
    name: str,
    net: torch.nn.Module,
    batch: tuple[torch.Tensor, torch.Tensor],
    registry: Registry | None = None,
    **options: Any,
) -> float:
    """The score of proxy ``name`` for ``net`` on ``batch`` = (inputs, integer labels)."""
    registry = registry or get_registry()
    proxy = registry.create("proxy", name, **options)
    if not isinstance(proxy, NetworkProxy):
        raise ConfigError(
            f"proxy {name!r} cannot score a bare network (it needs a study's search space); proxies that can: "
            f"{', '.join(network_proxies(registry)) or 'none'}"
        )
    inputs, targets = batch
    return float(proxy.score_network(copy.deepcopy(net), inputs, targets))
