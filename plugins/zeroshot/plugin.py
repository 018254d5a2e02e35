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


# Golden values (checked by `nas-harness nightly`, see harness/golden.py): Kendall tau on the embedded
# nb201.digits benchmark as committed in leaderboards/quickstart/estimators.csv (seed 0, the quickstart's
# options and data), tolerance half the 95% bootstrap interval rounded up to 0.01, as the baselines pin theirs.
GOLDEN_NB201_DIGITS = {  # name: (options, tau, tolerance); 95% interval in the comment
    "zeroshot.zen": ({"C": 8, "N": 1}, 0.209, 0.08),  # 0.135..0.282
    "zeroshot.zico": ({"C": 8, "N": 1}, 0.103, 0.07),  # 0.034..0.172
    "zeroshot.meco": ({"C": 8, "N": 1}, 0.235, 0.07),  # 0.166..0.301
    "zeroshot.swap": ({"C": 8, "N": 1}, 0.108, 0.08),  # 0.031..0.185
    "zeroshot.az_expressivity": ({"C": 8, "N": 1}, 0.220, 0.07),  # 0.156..0.287
    "zeroshot.az_progressivity": ({"C": 8, "N": 1}, 0.434, 0.07),  # 0.370..0.492
    "zeroshot.az_trainability": ({"C": 8, "N": 1}, 0.161, 0.08),  # 0.082..0.238
    "zeroshot.az_complexity": ({"C": 8, "N": 1}, 0.213, 0.07),  # 0.143..0.282
    "zeroshot.az_nas": ({"C": 8, "N": 1}, 0.298, 0.07),  # 0.232..0.360
}


@hookimpl
def nas_harness_golden_values(register):
    for name, (options, tau, tolerance) in GOLDEN_NB201_DIGITS.items():
        register(name, "nb201.digits", tau=tau, tolerance=tolerance, options=options)
