"""The plugin contract: one register-style hook per noun (as in ``llm`` and ``tox``).

A plugin module implements any of these with ``@hookimpl`` and calls
``register(name, factory)`` for each thing it provides. A factory is a class or
a callable that takes the options from the study config as keyword arguments.

Example::

    from nas_harness.hookspecs import hookimpl

    @hookimpl
    def nas_harness_register_proxies(register):
        register("myplugin.width", WidthProxy)
"""

from __future__ import annotations

import pluggy

PROJECT = "nas_harness"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def nas_harness_register_search_spaces(register):
    """Register search spaces: ``register(name, factory)``, factory() -> SearchSpace."""


@hookspec
def nas_harness_register_benchmarks(register):
    """Register ground-truth sources: factory(**options) -> Benchmark."""


@hookspec
def nas_harness_register_proxies(register):
    """Register zero-cost proxies: factory(**options) -> Proxy."""


@hookspec
def nas_harness_register_supernets(register):
    """Register weight-sharing estimators: factory(**options) -> Supernet."""


@hookspec
def nas_harness_register_searchers(register):
    """Register searchers: factory(**options) -> Searcher."""


@hookspec
def nas_harness_golden_values(register):
    """Pin expected Kendall taus: ``register(estimator, benchmark, tau, tolerance, options=None)``.

    ``nas-harness nightly`` raises an alarm when a study of ``estimator`` (a registered name) on
    ``benchmark`` (a registered name) measures a tau outside ``tau +- tolerance``; see
    :mod:`nas_harness.golden`.
    """
