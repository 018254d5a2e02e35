"""Plugin code that misbehaves the way real plugins do, for the robustness tests.

Use it beside the toy plugin (its space and benchmark): ``FAULTY_PLUGINS`` names both.

* ``faulty.raises``: raises a ``BaseException`` that is not an ``Exception`` (``SystemExit``,
  ``GeneratorExit`` or :class:`PluginAbort`) in its constructor, in ``prepare`` or in ``score``;
* ``faulty.swallow``: wraps its work in ``except Exception: pass`` (which must not swallow
  the harness's time limit), giving up after ``cap_s`` seconds;
* ``faulty.pid``: writes its process id into ``folder`` and sleeps ``delay`` s per architecture
  (to find the pool's worker processes);
* the searcher ``faulty.exit`` calls ``sys.exit``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from nas_harness.api import Proxy, Searcher
from nas_harness.hookspecs import hookimpl
from tests.helpers.studies import TOY_PLUGINS
from tests.helpers.toy_plugin import toy_accuracy

FAULTY_PLUGINS = {**TOY_PLUGINS, "faulty": "tests.helpers.faulty_plugin"}


class PluginAbort(BaseException):
    """A plugin's own BaseException subclass (as some libraries define for 'stop everything')."""


KINDS: dict[str, type[BaseException]] = {
    "SystemExit": SystemExit,
    "GeneratorExit": GeneratorExit,
    "PluginAbort": PluginAbort,
}


def _raise(kind: str, where: str) -> None:
    raise KINDS[kind](f"plugin gave up in {where}")


class RaisingBaseProxy(Proxy):
    """Raises a ``kind`` BaseException in ``where``: "init", "prepare" or "score"."""

    name = "faulty.raises"

    def __init__(self, kind: str = "SystemExit", where: str = "score") -> None:
        self.kind, self.where = kind, where
        if where == "init":
            _raise(kind, where)

    def prepare(self, ctx):
        if self.where == "prepare":
            _raise(self.kind, "prepare")

    def score(self, arch, ctx):
        _raise(self.kind, "score")


class SwallowingProxy(Proxy):
    """Busy for ``cap_s`` seconds, catching every ``Exception`` raised meanwhile."""

    name = "faulty.swallow"

    def __init__(self, cap_s: float = 3.0) -> None:
        self.cap_s = cap_s

    def score(self, arch, ctx):
        deadline = time.monotonic() + self.cap_s
        while time.monotonic() < deadline:
            try:  # noqa: SIM105 - the very pattern under test
                time.sleep(0.01)
            except Exception:
                pass
        return toy_accuracy(arch)


class PidProxy(Proxy):
    """Writes ``folder/<pid>`` and sleeps ``delay`` seconds per architecture."""

    name = "faulty.pid"

    def __init__(self, folder: str, delay: float = 0.5) -> None:
        self.folder, self.delay = Path(folder), delay

    def score(self, arch, ctx):
        (self.folder / str(os.getpid())).touch()
        time.sleep(self.delay)
        return toy_accuracy(arch)


class ExitingSearcher(Searcher):
    name = "faulty.exit"

    def search(self, estimator, ctx):
        sys.exit("searcher gave up")


@hookimpl
def nas_harness_register_proxies(register):
    for cls in (RaisingBaseProxy, SwallowingProxy, PidProxy):
        register(cls.name, cls)


@hookimpl
def nas_harness_register_searchers(register):
    register("faulty.exit", ExitingSearcher)
