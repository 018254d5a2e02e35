"""Registers the MixPath estimators (method and ablations) and NSGA-II (entry point ``mixpath``)."""

from __future__ import annotations

from nas_harness.hookspecs import hookimpl
from nas_harness_plugins.mixpath.estimator import ESTIMATORS
from nas_harness_plugins.mixpath.nsga2 import MixPathNSGA2


@hookimpl
def nas_harness_register_supernets(register):
    for cls in ESTIMATORS:
        register(cls.name, cls)


@hookimpl
def nas_harness_register_searchers(register):
    register(MixPathNSGA2.name, MixPathNSGA2)


# Golden values (checked by `nas-harness nightly`, see harness/golden.py): Kendall tau on the embedded
# nb201.digits benchmark as committed in leaderboards/quickstart/estimators.csv (all 300 architectures,
# seed 0, the quickstart's options and data). The tolerance is half the width of each tau's 95% bootstrap
# interval, rounded up to 0.01 (0.06 to 0.09), so the band is about the pinned tau's own interval: a tau
# outside it is a real change at this sample size (300 architectures); moves within it (another torch or
# BLAS, supernet training on another machine) are below what the benchmark can resolve.

#: the quickstart's supernet options (30 short epochs over the 898 training digits, the ground truth's width)
QUICKSTART_OPTIONS = {"preset": "cpu-small", "epochs": 30, "batch_size": 64, "augment": False,
                      "calibration_batch_size": 64, "eval_images": 300}  # fmt: skip
GOLDEN_NB201_DIGITS = {  # name: (tau, tolerance); 95% interval in the comment
    "mixpath.supernet": (0.511, 0.06),  # 0.449..0.568
    "mixpath.sbn_nocal": (0.336, 0.07),  # 0.269..0.399 (scores mixpath.supernet's shared training)
    "mixpath.vanilla": (0.459, 0.07),  # 0.388..0.523
    "mixpath.exponential": (0.477, 0.07),  # 0.412..0.536
    "mixpath.scaling": (0.565, 0.06),  # 0.504..0.624
}


@hookimpl
def nas_harness_golden_values(register):
    for name, (tau, tolerance) in GOLDEN_NB201_DIGITS.items():
        register(name, "nb201.digits", tau=tau, tolerance=tolerance, options=QUICKSTART_OPTIONS)
