"""Registers the 2021-2024 zero-cost proxies (entry point ``zeroshot``)."""

from __future__ import annotations

from nas_harness.hookspecs import hookimpl
from nas_harness_plugins.zeroshot.az_nas import (
    AZComplexityProxy,
    AZExpressivityProxy,
    AZNASProxy,
    AZProgressivityProxy,
    AZTrainabilityProxy,
)
from nas_harness_plugins.zeroshot.meco import MecoProxy
from nas_harness_plugins.zeroshot.swap import SwapProxy
from nas_harness_plugins.zeroshot.zen import ZenProxy
from nas_harness_plugins.zeroshot.zico import ZicoProxy

PROXIES: tuple[type, ...] = (
    ZenProxy,
    ZicoProxy,
    MecoProxy,
    SwapProxy,
    AZExpressivityProxy,
    AZProgressivityProxy,
    AZTrainabilityProxy,
    AZComplexityProxy,
    AZNASProxy,
)


@hookimpl
def nas_harness_register_proxies(register):
    for cls in PROXIES:
        register(cls.name, cls)
