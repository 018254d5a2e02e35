"""Registers the TE-NAS proxies and searcher (entry point ``tenas``)."""

from __future__ import annotations

from nas_harness.hookspecs import hookimpl
from nas_harness_plugins.tenas.proxies import CombinedProxy, LinearRegionsProxy, NTKProxy
from nas_harness_plugins.tenas.prune import TenasPrune


@hookimpl
def nas_harness_register_proxies(register):
    for cls in (NTKProxy, LinearRegionsProxy, CombinedProxy):
        register(cls.name, cls)


@hookimpl
def nas_harness_register_searchers(register):
    register(TenasPrune.name, TenasPrune)


# Golden values (checked by `nas-harness nightly`, see harness/golden.py): Kendall tau on the embedded
# nb201.digits benchmark as committed in leaderboards/quickstart/estimators.csv (all 300 architectures,
# seed 0, the quickstart's options and data). The tolerance is half the width of each tau's 95% bootstrap
# interval, rounded up to 0.01 (0.06 to 0.09), so the band is about the pinned tau's own interval: a tau
# outside it is a real change at this sample size (300 architectures); moves within it (another torch or
# BLAS, supernet training on another machine) are below what the benchmark can resolve.
GOLDEN_NB201_DIGITS = {  # name: (tau, tolerance) with default options; 95% interval in the comment
    "tenas.ntk": (0.378, 0.07),  # 0.313..0.438
    "tenas.linear_regions": (0.218, 0.08),  # 0.144..0.285
    "tenas.combined": (0.373, 0.07),  # 0.305..0.436
}


@hookimpl
def nas_harness_golden_values(register):
    for name, (tau, tolerance) in GOLDEN_NB201_DIGITS.items():
        register(name, "nb201.digits", tau=tau, tolerance=tolerance, options={})
