"""Registers the SPOS supernet estimator and evolutionary searcher (entry point ``spos``)."""

from __future__ import annotations

from nas_harness.hookspecs import hookimpl
from nas_harness_plugins.spos.estimator import SPOSSupernet
from nas_harness_plugins.spos.evolution import SPOSEvolution


@hookimpl
def nas_harness_register_supernets(register):
    register(SPOSSupernet.name, SPOSSupernet)


@hookimpl
def nas_harness_register_searchers(register):
    register(SPOSEvolution.name, SPOSEvolution)


# Golden values (checked by `nas-harness nightly`, see harness/golden.py): Kendall tau on the embedded
# nb201.digits benchmark as committed in leaderboards/quickstart/estimators.csv (all 300 architectures,
# seed 0, the quickstart's options and data). The tolerance is half the width of each tau's 95% bootstrap
# interval, rounded up to 0.01 (0.06 to 0.09), so the band is about the pinned tau's own interval: a tau
# outside it is a real change at this sample size (300 architectures); moves within it (another torch or
# BLAS, supernet training on another machine) are below what the benchmark can resolve.

#: the quickstart's supernet options (30 short epochs over the 898 training digits, the ground truth's width)
QUICKSTART_OPTIONS = {"preset": "cpu-small", "epochs": 30, "batch_size": 64, "augment": False,
                      "calibration_batch_size": 64, "eval_images": 300}  # fmt: skip


@hookimpl
def nas_harness_golden_values(register):
    register(SPOSSupernet.name, "nb201.digits", tau=0.473, tolerance=0.07, options=QUICKSTART_OPTIONS)  # 0.402..0.539
