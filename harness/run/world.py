"""The objects a study config resolves to, built lazily once per process.

The driver and every worker process build their own :class:`World` from the
same config, so nothing heavy (data sets, networks, estimators) is pickled
between processes: only the config and architecture strings travel.
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path
from typing import Any

from nas_harness.api import Arch, Benchmark, ConfigError, Context, Enumerable, Estimator, SearchSpace, require
from nas_harness.config import PluginRef, StudyConfig
from nas_harness.data import BatchProvider, load_dataset
from nas_harness.registry import Registry, get_registry
from nas_harness.seeding import derived_seed


class World:
    """Registry things for one study config.

    ``plugin_modules`` maps plugin names to importable module paths that are
    registered in-process on top of the entry points (worker processes import
    them again), which is how tests add plugins without installing them.
    """

    def __init__(
        self,
        cfg: StudyConfig,
        registry: Registry | None = None,
        plugin_modules: dict[str, str] | None = None,
    ) -> None:
        self.cfg = cfg
        self.plugin_modules = dict(plugin_modules or {})
        if registry is None:
            registry = get_registry() if not self.plugin_modules else Registry()
            for name, module in self.plugin_modules.items():
                if name not in registry.plugins:
                    registry.add_plugin(name, importlib.import_module(module))
        self.registry = registry
        self._benchmark: Benchmark | None = None
        self._space: SearchSpace | None = None
        self._dataset: Any = None
        self._estimators: dict[str, Estimator] = {}
        self._providers: dict[int, Any] = {}
        self._prepared: set[tuple[str, int]] = set()
        self._listed: list[Arch] | None = None
        self._listed_known = False
        if cfg.data is not None:
            split_data_options(cfg.data.options)  # reject unknown [data] keys before any work starts

    @property
    def benchmark(self) -> Benchmark:
        if self._benchmark is None:
            ref = self.cfg.benchmark
            self._benchmark = self.registry.create("benchmark", ref.name, **ref.options)
        return self._benchmark

    @property
    def space(self) -> SearchSpace:
        if self._space is None:
            self._space = self.registry.create("search_space", self.benchmark.space)
        return self._space

    def estimator_ref(self, label: str) -> PluginRef:
        """The configured estimator (or budget point of one) labelled ``label``."""
        return next(e for e in self.cfg.scored_estimators() if e.label == label)

    def estimator(self, label: str) -> Estimator:
        """The configured estimator ``label``, built once per process.

        An estimator whose factory declares ``needs_benchmark = True`` (the oracle, :mod:`nas_harness.oracle`)
        gets the study's benchmark as the keyword ``benchmark``; no other estimator ever sees the ground truth.
        """
        if label not in self._estimators:
            ref = self.estimator_ref(label)
            reg = self.registry.get_estimator(ref.name)
            options = dict(ref.options)
            if getattr(reg.factory, "needs_benchmark", False) is True:
                if "benchmark" in options:
                    raise ConfigError(
                        f"estimator {label!r} ({ref.name}) gets the study's [benchmark] itself; "
                        "remove `benchmark` from its options"
                    )
                options["benchmark"] = self.benchmark
            self._estimators[label] = self.registry.create(reg.kind, ref.name, **options)
        return self._estimators[label]

    def estimator_plugin(self, label: str) -> str:
        ref = self.estimator_ref(label)
        return self.registry.get_estimator(ref.name).plugin

    def data_provider(self, seed: int) -> Any:
        """The study's shared batches for ``seed`` (None when the config has no [data])."""
        if self.cfg.data is None:
            return None
        if seed not in self._providers:
            loader_options, provider_options = split_data_options(self.cfg.data.options)
            if self._dataset is None:
                self._dataset = load_dataset(self.cfg.data.name, **loader_options)
            self._providers[seed] = BatchProvider(self._dataset, seed=seed, **provider_options)
        return self._providers[seed]

    def workdir(self, label: str, seed: int) -> Path:
        path = Path(self.cfg.output) / "work" / _safe_name(label) / f"seed{seed}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def context(self, label: str, seed: int) -> Context:
        return Context(
            space=self.space,
            seed=seed,
            device=self.cfg.device,
            data=self.data_provider(seed),
            workdir=str(self.workdir(label, seed)),
            candidates=self.candidates(),
            shared_workdir=str(Path(self.cfg.output) / "work" / "shared"),
        )

    def listed_archs(self) -> list[Arch] | None:
        """The benchmark's architectures sorted by string, or None when it does not list them.

        Listed once per process: a large table (NB101's store canonicalises every cell) is not
        walked again for the sample and the candidates.
        """
        if not self._listed_known:
            listed = self.benchmark.archs()
            self._listed = None if listed is None else sorted(listed, key=self.space.to_str)
            self._listed_known = True
        return self._listed

    def candidates(self) -> list[Arch] | None:
        """The benchmark's architectures when it covers only part of the space (sorted by string), else None."""
        listed = self.listed_archs()
        size = self.space.size()
        return None if listed is None or (size is not None and len(listed) >= size) else listed

    def ensure_prepared(self, label: str, seed: int) -> None:
        """Call ``prepare`` once per process (a trained supernet loads its checkpoint here)."""
        if (label, seed) not in self._prepared:
            self.estimator(label).prepare(self.context(label, seed))
            self._prepared.add((label, seed))

    def mark_prepared(self, label: str, seed: int) -> None:
        self._prepared.add((label, seed))

    def sample(self, seed: int) -> list[Arch]:
        """The study's fixed architecture sample for ``seed``, shared by every estimator.

        Drawn from the benchmark's architectures when it lists them (a table
        that covers part of a space), else from the space, with a generator
        seeded by (benchmark name, seed) only; by (benchmark name, ``sample_seed``)
        for every seed when the study sets ``sample_seed``.
        """
        sample_seed = seed if self.cfg.sample_seed is None else self.cfg.sample_seed
        rng = random.Random(derived_seed("sample", self.cfg.benchmark.name, sample_seed))
        pool = self.listed_archs()  # the full list, even when it covers the space
        if pool is not None:
            if self.cfg.sample_size is None:
                return list(pool)
            if self.cfg.sample_size > len(pool):
                raise_too_large(self.cfg.sample_size, len(pool), self.cfg.benchmark.name)
            return rng.sample(pool, self.cfg.sample_size)
        if self.cfg.sample_size is None:
            space = require(
                self.space, Enumerable, f'study.sample_size = "all" (benchmark {self.cfg.benchmark.name!r})'
            )
            return list(space.enumerate())
        return self.space.sample_unique(self.cfg.sample_size, rng)


def raise_too_large(asked: int, available: int, bench: str) -> None:
    raise ConfigError(
        f"study.sample_size = {asked} but benchmark {bench!r} has ground truth for {available} architectures; "
        f'ask for at most {available} or "all"'
    )


def _safe_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in label)


#: [data] keys that choose and load the data set; the rest shape the seeded batches.
_LOADER_KEYS = frozenset({"root", "limit_per_class", "cache", "cache_dir", "download"})
_PROVIDER_KEYS = frozenset({"valid_size", "split_seed", "mean", "std", "padding", "resolution"})


def split_data_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``[data]`` options as (loader keywords, batch-provider keywords); unknown keys are a :class:`ConfigError`."""
    unknown = sorted(set(options) - _LOADER_KEYS - _PROVIDER_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown [data] option(s) {', '.join(map(repr, unknown))}; "
            f"accepted: name, {', '.join(sorted(_LOADER_KEYS | _PROVIDER_KEYS))}"
        )
    loader = {k: v for k, v in options.items() if k in _LOADER_KEYS}
    provider = {k: v for k, v in options.items() if k in _PROVIDER_KEYS}
    return loader, provider
