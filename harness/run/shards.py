"""Sharding: split one study into ``n`` independent runs for schedulers without Ray.

``nas-harness run CONFIG --shard I/N`` (I in 0..N-1) runs shard I of N into
``OUTPUT/shard-I-of-N/results.sqlite`` and writes no leaderboard;
``nas-harness merge OUTPUT`` merges the N shard stores (:mod:`nas_harness.run.merge`).
The split is a deterministic function of the config, so every shard computes
its own part without talking to the others:

* **per-architecture estimators** (proxies): the architecture at position
  ``p`` of a seed's fixed sample belongs to shard ``p mod N``, for every such
  estimator (so each shard scores the same architectures with all of them and
  shards differ in size by at most one architecture per estimator and seed);
* **whole units**: an estimator that scores the set at once (set-level) or does
  one-off work in ``prepare`` (a supernet's training) is never split, so that
  work happens once. Its (estimator, seed) units, in config order (estimators,
  then seeds), are dealt round robin: unit ``k`` goes to shard ``k mod N``;
  units that share that work (a supernet's budget points; estimators of one
  training family, such as MixPath's SBN with and without calibration) count as
  one unit and go to one shard;
* **searchers**: a (searcher, seed) runs in the shard that owns its estimator's
  whole unit for that seed (the supernet is trained there already); searchers
  of split proxies are dealt round robin over the (searcher, seed) units.

Every shard stores the full samples, so the merge can check they agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas_harness.api import ConfigError, Estimator
from nas_harness.config import STORE_FILENAME
from nas_harness.run.store import StoreError
from nas_harness.run.world import World

_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` of ``count`` (0-based: shards 0/3, 1/3 and 2/3 make a study)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        match = _SPEC.fullmatch(text)
        if match is None:
            raise ConfigError(f"--shard {text!r}: expected I/N with 0 <= I < N, e.g. 0/3, 1/3 and 2/3")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 0 <= index < count:
            raise ConfigError(f"--shard {text!r}: shard index {index} is not in 0..{count - 1} (shards are 0-based)")
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def folder(self) -> str:
        return f"shard-{self.index}-of-{self.count}"

    def store_path(self, output: str | Path) -> Path:
        """Where this shard's results go: ``OUTPUT/shard-I-of-N/results.sqlite``."""
        return Path(output) / self.folder / STORE_FILENAME


def is_whole_unit(world: World, label: str) -> bool:
    """True for estimators never split across shards: set-level ones and ones with one-off work."""
    try:
        estimator = world.estimator(label)
    except KeyboardInterrupt:
        raise
    except BaseException:  # plugin code that cannot even be built: split, each shard records its failed rows
        return False
    return estimator.set_level or type(estimator).prepare is not Estimator.prepare


def _work_group(world: World, label: str) -> str:
    """Estimators of one group may share one-off work (supernets: their training family)."""
    return getattr(world.estimator(label), "family", label)


class ShardPlan:
    """The part of a study that one shard runs (see the module docstring for the rule)."""

    def __init__(self, spec: ShardSpec, world: World) -> None:
        self.spec = spec
        cfg = world.cfg
        # whole units that share one-off work (a supernet training: its budget points, MixPath's SBN with
        # and without calibration) are dealt together, so that the work is done once
        whole = [e.label for e in cfg.scored_estimators() if is_whole_unit(world, e.label)]
        groups = list(dict.fromkeys((_work_group(world, label), seed) for label in whole for seed in cfg.seeds))
        group_owner = {group: k % spec.count for k, group in enumerate(groups)}
        self._whole_owner = {
            (label, seed): group_owner[(_work_group(world, label), seed)] for label in whole for seed in cfg.seeds
        }
        units = [(s, seed) for s in cfg.searchers for seed in cfg.seeds]
        self._search_owner = {
            (s.label, seed): self._whole_owner.get((s.estimator, seed), k % spec.count)
            for k, (s, seed) in enumerate(units)
        }

    def archs(self, label: str, seed: int, sample: list[str]) -> list[str]:
        """The architectures of ``sample`` (a seed's fixed sample, in order) that this shard scores."""
        owner = self._whole_owner.get((label, seed))
        if owner is not None:
            return list(sample) if owner == self.spec.index else []
        return list(sample[self.spec.index :: self.spec.count])

    def owns_search(self, label: str, seed: int) -> bool:
        return self._search_owner[(label, seed)] == self.spec.index


def shard_of_runs(runs: list[dict[str, Any]]) -> ShardSpec | None:
    """The shard a store was written by (recorded in each run's provenance), or None."""
    specs = {r["provenance"].get("shard") for r in runs}
    specs.discard(None)
    if not specs:
        return None
    if len(specs) > 1:
        raise StoreError(f"a results store holds runs of several shards ({', '.join(sorted(specs))})")
    return ShardSpec.parse(specs.pop())
