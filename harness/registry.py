"""Plugin manager: finds plugins through entry points and keeps what each registered.

Plugins are found in the entry-point group ``nas_harness`` (the built-in ones
too). The built-in plugins are the entry points of the ``nas-harness``
distribution itself: ``harness`` (the core's spaces, benchmarks and searchers)
and the shipped methods (``baselines``, ``tenas``, ``spos``, ``mixpath``); they
load first. Two environment variables select plugins, each a comma-separated
list of entry-point names:

* ``NAS_HARNESS_PLUGINS``: allow-list of third-party plugins; when set, only
  these load beside the built-in ones (which load whatever it says).
* ``NAS_HARNESS_BLOCK_PLUGINS``: block-list; these never load. It can drop a
  shipped method plugin, but not ``harness``: without the core nothing runs.

A plugin that fails to import or whose hook raises (any exception, including
``SystemExit`` and other ``BaseException`` subclasses; only ``KeyboardInterrupt``
passes) is reported (name and error) in :attr:`Registry.failures` and skipped;
the rest load normally. A name that a built-in plugin registered stays the
built-in's: a third-party plugin registering it too is reported for that name
and its registration skipped. Two third-party plugins registering the same name
is an error naming both: the later one is recorded as failed for that name,
and resolving the name raises. A third-party entry point whose plugin name is
already loaded is reported under ``NAME [DISTRIBUTION]`` and skipped.
Golden values (expected Kendall taus, see :mod:`nas_harness.golden`) that plugins
pin are kept in :attr:`Registry.golden`.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from nas_harness import hookspecs
from nas_harness.api import HarnessError
from nas_harness.golden import GoldenValue, make_golden_value

ENTRY_POINT_GROUP = "nas_harness"
BUILTIN_DISTRIBUTION = "nas-harness"  # whose entry points are the built-in plugins
CORE_PLUGIN = "harness"  # the built-in plugin that always loads
ALLOW_ENV = "NAS_HARNESS_PLUGINS"
BLOCK_ENV = "NAS_HARNESS_BLOCK_PLUGINS"

#: kind -> the hook that registers things of that kind
KINDS: dict[str, str] = {
    "search_space": "nas_harness_register_search_spaces",
    "benchmark": "nas_harness_register_benchmarks",
    "proxy": "nas_harness_register_proxies",
    "supernet": "nas_harness_register_supernets",
    "searcher": "nas_harness_register_searchers",
}
ESTIMATOR_KINDS = ("proxy", "supernet")
GOLDEN_HOOK = "nas_harness_golden_values"


class PluginError(HarnessError):
    """A plugin problem: unknown name, duplicate name, failed plugin."""


@dataclass(frozen=True)
class Registration:
    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str


@dataclass
class PluginInfo:
    name: str
    version: str = ""
    source: str = ""  # "entry point <value>" or "in-process"
    registered: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)
    error: str | None = None
    builtin: bool = False  # shipped with nas-harness (see the module docstring)

    def add_error(self, message: str) -> None:
        self.error = message if self.error is None else f"{self.error}; {message}"


def _env_list(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _distribution(ep: metadata.EntryPoint) -> str:
    """The normalised name of the distribution that declares ``ep`` ('' when unknown)."""
    name = ep.dist.name if ep.dist is not None else ""
    return re.sub(r"[-_.]+", "-", name).lower()


def _short_error(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" (at {frame.filename}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


class Registry:
    """What the installed (and allowed) plugins provide.

    Example::

        reg = Registry()                      # entry points + environment lists
        reg.names("proxy")                     # ['baselines.params', ...]
        proxy = reg.create("proxy", "baselines.params")
    """

    def __init__(
        self,
        load_entry_points: bool = True,
        extra_plugins: dict[str, object] | None = None,
        allow: Iterable[str] | None = None,
        block: Iterable[str] | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._entries: dict[tuple[str, str], Registration] = {}
        self._conflicts: dict[tuple[str, str], list[str]] = {}
        self.golden: list[GoldenValue] = []  # expected taus pinned by plugins (see nas_harness.golden)
        self.allow = set(allow) if allow is not None else _env_list(ALLOW_ENV)
        self.block = set(block) if block is not None else (_env_list(BLOCK_ENV) or set())
        if load_entry_points:
            self._load_entry_points()
        for name, module in (extra_plugins or {}).items():
            self.add_plugin(name, module, source="in-process")

    # -- loading -------------------------------------------------------------------
    def _selected(self, name: str, builtin: bool = False) -> bool:
        if builtin and name == CORE_PLUGIN:
            return True
        if name in self.block:
            return False
        return builtin or self.allow is None or name in self.allow

    def _load_entry_points(self) -> None:
        """Load the built-in entry points, then the third-party ones (each group by name)."""
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(eps, key=lambda e: (_distribution(e) != BUILTIN_DISTRIBUTION, e.name)):
            builtin = _distribution(ep) == BUILTIN_DISTRIBUTION
            if not self._selected(ep.name, builtin):
                continue
            version = ep.dist.version if ep.dist is not None else ""
            info = PluginInfo(ep.name, version, f"entry point {ep.value}", builtin=builtin)
            if ep.name in self.plugins:  # two distributions declare this plugin name: the first one loaded keeps it
                info.add_error(f"plugin name {ep.name!r} is already taken ({self.plugins[ep.name].source}); skipped")
                self.plugins[f"{ep.name} [{_distribution(ep) or 'unknown distribution'}]"] = info
                continue
            self.plugins[ep.name] = info
            try:
                module = ep.load()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a broken plugin (even one calling sys.exit) must not take the others down
                info.error = f"failed to import: {_short_error(exc)}"
                continue
            self._register_plugin(info, module)

    def add_plugin(self, name: str, module: object, source: str = "in-process", version: str = "") -> None:
        """Register a plugin object directly (tests, notebooks): same path as entry points."""
        if not self._selected(name):
            return
        if name in self.plugins:
            raise PluginError(f"a plugin named {name!r} is already loaded ({self.plugins[name].source})")
        info = PluginInfo(name, version, source)
        self.plugins[name] = info
        self._register_plugin(info, module)

    def _register_plugin(self, info: PluginInfo, module: object) -> None:
        try:
            self.pm.register(module, name=info.name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            info.error = f"failed to register: {_short_error(exc)}"
            return
        hooks = [(hook_name, self._registerer(kind, info)) for kind, hook_name in KINDS.items()]
        hooks.append((GOLDEN_HOOK, self._golden_registerer(info)))
        for hook_name, register in hooks:
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name != info.name:
                    continue
                try:
                    impl.function(register=register)
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    info.error = f"{hook_name} raised: {_short_error(exc)}"
                    self._forget(info)
                    self.pm.unregister(name=info.name)
                    return

    def _registerer(self, kind: str, info: PluginInfo) -> Callable[[str, Callable[..., Any]], None]:
        def register(name: str, factory: Callable[..., Any]) -> None:
            if not isinstance(name, str) or not name or not callable(factory):
                raise PluginError(
                    f"plugin {info.name!r} registered {kind} {name!r} with factory {factory!r}: "
                    "expected a non-empty name and a callable factory"
                )
            key = (kind, name)
            owner = self._entries.get(key)
            if owner is not None and self.plugins[owner.plugin].builtin and not info.builtin:
                info.add_error(
                    f"{kind} name {name!r} belongs to built-in plugin {owner.plugin!r}; this registration is skipped "
                    "(register it under a name of your own)"
                )
                return
            if key in self._entries or key in self._conflicts:
                owners = self._conflicts.setdefault(
                    key, [self._entries.pop(key).plugin] if key in self._entries else []
                )
                owners.append(info.name)
                named = " and ".join(map(repr, owners))
                info.add_error(f"duplicate {kind} name {name!r} registered by plugins {named}")
                return
            self._entries[key] = Registration(kind, name, factory, info.name)
            info.registered.append(key)

        return register

    def _golden_registerer(self, info: PluginInfo) -> Callable[..., None]:
        def register(
            estimator: str, benchmark: str, tau: float, tolerance: float, options: dict[str, Any] | None = None
        ) -> None:
            value = make_golden_value(info.name, estimator, benchmark, tau, tolerance, options)
            for known in self.golden:
                if (known.estimator, known.benchmark, known.options) == (estimator, benchmark, options):
                    info.add_error(
                        f"golden value for {estimator!r} on {benchmark!r} with options {options} pinned by plugins "
                        f"{known.plugin!r} and {info.name!r}; the first one is kept"
                    )
                    return
            self.golden.append(value)

        return register

    def _forget(self, info: PluginInfo) -> None:
        for key in info.registered:
            self._entries.pop(key, None)
        info.registered.clear()
        self.golden = [g for g in self.golden if g.plugin != info.name]

    # -- queries -------------------------------------------------------------------
    @property
    def failures(self) -> dict[str, str]:
        """Plugin name -> error text, for every plugin that failed in part or whole."""
        return {name: info.error for name, info in self.plugins.items() if info.error}

    def names(self, kind: str) -> list[str]:
        self._check_kind(kind)
        return sorted(name for (k, name) in self._entries if k == kind)

    def entries(self, kind: str) -> list[Registration]:
        return [self._entries[(kind, name)] for name in self.names(kind)]

    def get(self, kind: str, name: str) -> Registration:
        self._check_kind(kind)
        key = (kind, name)
        if key in self._conflicts:
            owners = " and ".join(map(repr, self._conflicts[key]))
            raise PluginError(
                f"{kind} name {name!r} is registered by more than one plugin ({owners}); "
                f"block one of them with {BLOCK_ENV}"
            )
        if key not in self._entries:
            known = ", ".join(self.names(kind)) or "none"
            failed = "; ".join(f"{p}: {e}" for p, e in self.failures.items())
            hint = f" (plugins that failed to load: {failed})" if failed else ""
            raise PluginError(f"unknown {kind} {name!r}; registered {kind} names: {known}{hint}")
        return self._entries[key]

    def get_estimator(self, name: str) -> Registration:
        """A proxy or a supernet, by name."""
        for kind in ESTIMATOR_KINDS:
            if (kind, name) in self._entries or (kind, name) in self._conflicts:
                return self.get(kind, name)
        known = ", ".join(sorted(self.names("proxy") + self.names("supernet"))) or "none"
        raise PluginError(f"unknown estimator {name!r}; registered proxies and supernets: {known}")

    def create(self, kind: str, name: str, /, **options: Any) -> Any:
        """Instantiate a registered thing; options that the factory rejects are named (any option name,
        ``kind`` and ``name`` included, goes to the factory)."""
        reg = self.get(kind, name)
        try:
            return reg.factory(**options)
        except TypeError as exc:
            raise PluginError(
                f"{kind} {name!r} (plugin {reg.plugin!r}) rejected options {sorted(options)}: {exc}"
            ) from exc

    def _check_kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise PluginError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")


_default: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry built from entry points and the environment."""
    global _default
    if _default is None or refresh:
        _default = Registry()
    return _default
