"""Registers the SPOS supernet estimator and evolutionary searcher (entry point ``spos``)."""

from __future__ import annotations

from harness.hookspecs import hookimpl
from nas_harness_plugins.spos.estimator import SPOSSupernet
from nas_harness_plugins.spos.evolution import SPOSEvolution


@hookimpl
def nas_harness_register_supernets(register):
    register(SPOSSupernet.name, SPOSSupernet)


@hookimpl
def nas_harness_register_searchers(register):
    register(SPOSEvolution.name, SPOSEvolution)
