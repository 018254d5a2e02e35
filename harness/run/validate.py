"""Whole-study validation: every name, option and data root is checked before any work starts.

A mistake in a study config (an unknown estimator, an option its constructor
rejects, a data root that does not exist) would otherwise surface inside the
jobs: every row stored as failed under the config's hash. :func:`validated_world`
finds them all first. It constructs (never prepares or trains) the benchmark,
its search space, every estimator and every searcher once, and raises one
:class:`~nas_harness.api.ConfigError` listing each problem with its key, its value
and what is accepted. The plain values (seeds, workers, study name, ...) are
checked earlier, by :func:`nas_harness.config.parse_config`.

Example::

    world = validated_world(load_config("quickstart"))
    run_study(world.cfg, world=world)   # the estimators built here are the ones the run uses
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from nas_harness.api import ConfigError, HarnessError
from nas_harness.config import PluginRef, StudyConfig
from nas_harness.run.world import World, split_data_options

#: what a plugin's constructor raises for options it does not accept (``ConfigError`` is a ``ValueError``)
REJECTIONS = (HarnessError, ValueError, TypeError, OSError)


def validated_world(cfg: StudyConfig, **world_options: Any) -> World:
    """A :class:`World` for ``cfg`` whose every plugin name and option was accepted.

    ``world_options`` go to :class:`World` (``registry``, ``plugin_modules``).
    Raises :class:`ConfigError` naming the config file and each bad key.
    """
    _raise_if(cfg, data_problems(cfg))  # before World(), which rejects unknown [data] keys without a file name
    world = World(cfg, **world_options)
    _raise_if(cfg, plugin_problems(world))
    return world


def data_problems(cfg: StudyConfig) -> list[str]:
    """What is wrong with the ``[data]`` section: unknown option keys, a ``root`` that does not exist."""
    if cfg.data is None:
        return []
    try:
        loader, _ = split_data_options(cfg.data.options)
    except ConfigError as exc:
        return [f"data.options: {exc}"]
    root = loader.get("root")
    if root is None:
        return []
    if not isinstance(root, str):
        return [f"data.options.root = {root!r} is not accepted; expected a folder or archive path"]
    path = Path(root).expanduser()
    if not path.exists():
        where = "" if path.is_absolute() else f" (looked for {path.absolute()})"
        return [
            f"data.options.root = {root!r}: no such file or folder{where}; accepted: a folder or archive "
            f"holding the {cfg.data.name!r} images (or no root: the data folders and embedded data sets are searched)"
        ]
    return []


def plugin_problems(world: World) -> list[str]:
    """Construct the benchmark, its space, every estimator and every searcher of ``world.cfg``;
    what each rejected, as ``key = value: why`` lines."""
    cfg, registry = world.cfg, world.registry
    problems = _benchmark_problems(world)
    for i, ref in enumerate(cfg.estimators):
        build = partial(world.estimator, ref.label)  # cached: the run uses these instances
        problems += _construct(f"estimators[{i}]", ref, registry.get_estimator, build)
    for i, ref in enumerate(cfg.searchers):
        build = partial(registry.create, "searcher", ref.name, **ref.options)
        problems += _construct(f"searchers[{i}]", ref, partial(registry.get, "searcher"), build)
    return problems


def _benchmark_problems(world: World) -> list[str]:
    ref = world.cfg.benchmark
    problems = _construct("benchmark", ref, partial(world.registry.get, "benchmark"), lambda: world.benchmark)
    if problems:
        return problems
    space = world.benchmark.space
    try:
        world.space  # noqa: B018 - builds (and caches) the space the benchmark names
    except REJECTIONS as exc:
        return [f"benchmark.name = {ref.name!r} covers search space {space!r}, which cannot be built: {exc}"]
    return []


def _construct(where: str, ref: PluginRef, resolve: Callable[[str], Any], build: Callable[[], Any]) -> list[str]:
    """``[]`` when ``resolve(ref.name)`` and ``build()`` succeed, else the one problem."""
    try:
        resolve(ref.name)
    except HarnessError as exc:
        return [f"{where}.name = {ref.name!r}: {exc}"]
    try:
        build()
    except REJECTIONS as exc:
        return [_rejected(where, ref, exc)]
    return []


def _rejected(where: str, ref: PluginRef, exc: BaseException) -> str:
    key = rejected_option(ref.options, exc)
    if key is None:
        return f"{where}.options = {ref.options!r} not accepted by {ref.name}: {exc}"
    return f"{where}.options.{key} = {ref.options[key]!r} not accepted by {ref.name}: {exc}"


def rejected_option(options: dict[str, Any], exc: BaseException) -> str | None:
    """The option key an error message is about, when it names exactly one of ``options``."""
    text = str(exc)
    unexpected = re.search(r"unexpected keyword argument '([^']+)'", text)
    if unexpected and unexpected.group(1) in options:
        return unexpected.group(1)
    for pattern in (r"'{}'", r"(?<![\w.]){} =", r"(?<![\w.]){}(?!\w)"):  # quoted, assigned, then mentioned
        named = [k for k in options if re.search(pattern.format(re.escape(k)), text)]
        if len(named) == 1:
            return named[0]
        if named:
            return None
    return None


def _raise_if(cfg: StudyConfig, problems: list[str]) -> None:
    if len(problems) == 1:
        raise ConfigError(f"{cfg.source}: {problems[0]}")
    if problems:
        raise ConfigError(f"{cfg.source}: {len(problems)} problems:\n  " + "\n  ".join(problems))
