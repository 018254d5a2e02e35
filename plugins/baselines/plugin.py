"""Registers the yardstick proxies (entry point ``baselines``)."""

from __future__ import annotations

from nas_harness.hookspecs import hookimpl
from nas_harness_plugins.baselines.proxies import FlopsProxy, ParamsProxy, RandomProxy
from nas_harness_plugins.baselines.suite_zero import EpeNasProxy, FisherProxy, GraspProxy, L2NormProxy, PlainProxy
from nas_harness_plugins.baselines.zero_cost import (
    GradNormProxy,
    JacobCovProxy,
    NaswotProxy,
    SnipProxy,
    SynflowProxy,
)

PROXIES = (
    ParamsProxy,
    FlopsProxy,
    RandomProxy,
    SynflowProxy,
    SnipProxy,
    GradNormProxy,
    JacobCovProxy,
    NaswotProxy,
)
#: NAS-Bench-Suite-Zero's other proxies (NASLib ``find_measures`` parity), registered with PROXIES
SUITE_ZERO_PROXIES = (
    GraspProxy,
    FisherProxy,
    PlainProxy,
    L2NormProxy,
    EpeNasProxy,
)


@hookimpl
def nas_harness_register_proxies(register):
    for cls in PROXIES + SUITE_ZERO_PROXIES:
        register(cls.name, cls)


# Golden values (checked by `nas-harness nightly`, see harness/golden.py): Kendall tau on the embedded
# nb201.digits benchmark as committed in leaderboards/quickstart/estimators.csv (all 300 architectures,
# seed 0, the quickstart's options and data). The tolerance is half the width of each tau's 95% bootstrap
# interval, rounded up to 0.01 (0.06 to 0.09), so the band is about the pinned tau's own interval: a tau
# outside it is a real change at this sample size (300 architectures); moves within it (another torch or
# BLAS, supernet training on another machine) are below what the benchmark can resolve.
GOLDEN_NB201_DIGITS = {  # name: (options, tau, tolerance); 95% interval in the comment
    "baselines.params": ({"C": 8, "N": 1}, 0.213, 0.07),  # 0.143..0.282
    "baselines.flops": ({"C": 8, "N": 1, "input_size": 8}, 0.213, 0.07),  # 0.143..0.282
    "baselines.random": ({}, -0.009, 0.08),  # -0.087..0.071
    "baselines.synflow": ({"C": 8, "N": 1}, 0.239, 0.08),  # 0.166..0.311
    "baselines.snip": ({"C": 8, "N": 1}, -0.037, 0.09),  # -0.117..0.044
    "baselines.grad_norm": ({"C": 8, "N": 1}, -0.070, 0.09),  # -0.151..0.011
    "baselines.jacob_cov": ({"C": 8, "N": 1}, 0.296, 0.08),  # 0.220..0.364
    "baselines.naswot": ({"C": 8, "N": 1}, 0.157, 0.08),  # 0.085..0.228
    "baselines.grasp": ({"C": 8, "N": 1}, -0.193, 0.09),  # -0.274..-0.110
    "baselines.fisher": ({"C": 8, "N": 1}, -0.357, 0.07),  # -0.415..-0.293
    "baselines.plain": ({"C": 8, "N": 1}, -0.082, 0.08),  # -0.152..-0.010
    "baselines.l2_norm": ({"C": 8, "N": 1}, 0.097, 0.08),  # 0.025..0.171
    "baselines.epe_nas": ({"C": 8, "N": 1}, 0.264, 0.07),  # 0.193..0.333
}


@hookimpl
def nas_harness_golden_values(register):
    for name, (options, tau, tolerance) in GOLDEN_NB201_DIGITS.items():
        register(name, "nb201.digits", tau=tau, tolerance=tolerance, options=options)
