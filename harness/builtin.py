"""The harness's own plugin: shared spaces, benchmarks and generic searchers.

Registered through the ``nas_harness`` entry point like any third-party plugin.
Imports are deferred to the factories so that listing plugins stays fast.
"""

from __future__ import annotations

from nas_harness.benchmarks.nb101 import NB101Benchmark
from nas_harness.benchmarks.nb101_s4 import NB101S4Benchmark
from nas_harness.benchmarks.nb201_convert import open_official
from nas_harness.benchmarks.table import NB201TableBenchmark
from nas_harness.groundtruth.benchmark import EmbeddedNB201Digits, GroundTruthBenchmark
from nas_harness.hookspecs import hookimpl
from nas_harness.oracle import Oracle
from nas_harness.search.local_search import LocalSearch
from nas_harness.search.rea import RegularizedEvolution
from nas_harness.searchers import RandomSearch
from nas_harness.spaces.nb101 import NB101Space
from nas_harness.spaces.nb101_s4 import S4Space
from nas_harness.spaces.nb201 import NB201Space


def _nb201_space():

    return NB201Space()


def _nb101_space():

    return NB101Space()


def _nb101_s4_space():

    return S4Space()


def _nb201_table(**options):

    return NB201TableBenchmark(**options)


def _nb201_official(**options):
    """NAS-Bench-201 ground truth from an official file (or its converted table, when current)."""
    return open_official(**options)


def _nb101(**options):
    """NAS-Bench-101 ground truth (converted store, official .tfrecord, JSON or CSV table)."""

    return NB101Benchmark(**options)


def _nb101_s4(**options):
    """NAS-Bench-101 ground truth of MixPath's S4 architectures (same files as nb101)."""

    return NB101S4Benchmark(**options)


def _nb201_digits(**options):

    return EmbeddedNB201Digits(**options)


def _groundtruth_table(**options):

    return GroundTruthBenchmark(**options)


def _random_search(**options):

    return RandomSearch(**options)


def _regularized_evolution(**options):
    return RegularizedEvolution(**options)


def _local_search(**options):
    return LocalSearch(**options)


@hookimpl
def nas_harness_register_search_spaces(register):
    register("nb201", _nb201_space)
    register("nb101", _nb101_space)
    register("nb101.s4", _nb101_s4_space)


@hookimpl
def nas_harness_register_benchmarks(register):
    register("nb201.table", _nb201_table)
    register("nb201.official", _nb201_official)
    register("nb201.digits", _nb201_digits)
    register("nb101", _nb101)
    register("nb101.s4", _nb101_s4)
    register("groundtruth.table", _groundtruth_table)


@hookimpl
def nas_harness_register_proxies(register):
    register(Oracle.name, Oracle)  # the benchmark's own ground truth as an estimator (nas_harness.oracle)


@hookimpl
def nas_harness_register_searchers(register):
    register("random", _random_search)
    register("rea", _regularized_evolution)
    register("local_search", _local_search)
