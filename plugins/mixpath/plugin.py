"""Registers the MixPath estimators (method and ablations) and NSGA-II (entry point ``mixpath``)."""

from __future__ import annotations

from harness.hookspecs import hookimpl
from nas_harness_plugins.mixpath.estimator import ESTIMATORS
from nas_harness_plugins.mixpath.nsga2 import MixPathNSGA2


@hookimpl
def nas_harness_register_supernets(register):
    for cls in ESTIMATORS:
        register(cls.name, cls)


@hookimpl
def nas_harness_register_searchers(register):
    register(MixPathNSGA2.name, MixPathNSGA2)
