"""Merge the stores of a sharded study (``nas-harness merge``) into one results store.

``merge_shards(OUTPUT)`` finds ``OUTPUT/shard-I-of-N/results.sqlite`` (or takes
the shard stores it is given), checks that they make one whole study, copies
their rows into ``OUTPUT/results.sqlite`` and writes the leaderboards from it
(and a history row, with ``study.history``), exactly as an unsharded run would. It refuses, naming the file:

* a store not written by ``run --shard``, or one whose last run did not finish;
* shards of another study: a different config hash (or different samples);
* shards of different counts (1/3 with 0/2), the same shard twice, a missing shard;
* the same (estimator, architecture, seed) row, or (searcher, seed) search, in
  two shards: the split is a partition, so a duplicate means the shards do not
  belong together; nothing is de-duplicated silently;
* an existing ``OUTPUT/results.sqlite`` that is not an earlier merge of the
  same study (an earlier merge is rebuilt from the shards).

Prepare costs and curves are kept once per (estimator, seed): an estimator
with one-off work runs in one shard only, and a split proxy whose options are
wrong records the same failed prepare in every shard. The shards' runs are
kept (their provenance says which shard each was), followed by one merge run.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_harness.api import HarnessError
from nas_harness.config import STORE_FILENAME, config_from_stored
from nas_harness.provenance import provenance
from nas_harness.run.shards import ShardSpec, shard_of_runs
from nas_harness.run.store import Store
from nas_harness.run.world import World


class MergeError(HarnessError):
    pass


@dataclass
class ShardStore:
    path: Path
    spec: ShardSpec
    name: str
    config: dict[str, Any]
    config_hash: str
    runs: list[dict[str, Any]]


@dataclass
class MergeOutcome:
    store_path: Path
    shards: list[Path]
    results: int = 0
    leaderboard_files: list[Path] = field(default_factory=list)
    history: Any = None  # nas_harness.track.history.HistoryRecord when the merge appended to the history file


def find_shard_stores(output: str | Path) -> list[Path]:
    """The shard stores under a study's output folder (``shard-I-of-N/results.sqlite``), sorted."""
    found = sorted(Path(output).glob(f"shard-*-of-*/{STORE_FILENAME}"))
    if not found:
        raise MergeError(
            f"no shard stores under {output} (expected {output}/shard-I-of-N/results.sqlite, written by "
            "`nas-harness run CONFIG --shard I/N`); or name the shard stores: nas-harness merge OUTPUT STORE..."
        )
    return found


def read_shard(path: Path) -> ShardStore:
    if not path.is_file():
        raise MergeError(f"shard store {path} does not exist")
    store = Store(path)
    try:
        name, config, config_hash = store.study()
        runs = store.runs()
    finally:
        store.close()
    spec = shard_of_runs(runs)
    if spec is None:
        raise MergeError(f"{path} is not a shard store (no run of it was started with --shard I/N)")
    return ShardStore(path, spec, name, config, config_hash, runs)


def check_shards(shards: list[ShardStore], partial: bool = False) -> None:
    """Refuse shards that do not make one whole, finished study (see the module docstring);
    ``partial`` accepts shards that did not finish (what they hold is merged, the rest is missing)."""
    first = shards[0]
    for shard in shards[1:]:
        if shard.config_hash != first.config_hash:
            raise MergeError(
                f"shard store {shard.path} has config hash {shard.config_hash}, but {first.path} has "
                f"{first.config_hash}: they are shards of different studies (or of an edited config) and "
                "cannot be merged"
            )
        if shard.spec.count != first.spec.count:
            raise MergeError(
                f"shard store {shard.path} is shard {shard.spec} but {first.path} is shard {first.spec}: "
                "all shards of a merge must come from the same split I/N"
            )
    seen: dict[int, Path] = {}
    for shard in shards:
        if shard.spec.index in seen:
            raise MergeError(f"{seen[shard.spec.index]} and {shard.path} are both shard {shard.spec}")
        seen[shard.spec.index] = shard.path
    count = first.spec.count
    missing = [ShardSpec(i, count) for i in range(count) if i not in seen]
    if missing:
        listed = ", ".join(str(s) for s in missing)
        given = ", ".join(str(p) for p in seen.values())
        raise MergeError(
            f"shard(s) {listed} missing: {len(shards)} of {count} shard stores given ({given}); run each with "
            f"`nas-harness run CONFIG --shard {missing[0]}` (its store: OUTPUT/{missing[0].folder}/results.sqlite)"
        )
    for shard in [] if partial else shards:
        last = shard.runs[-1]["status"] if shard.runs else "never started"
        if last != "finished":
            raise MergeError(
                f"shard {shard.spec} ({shard.path}) did not finish (its last run: {last}); continue it with "
                f"`nas-harness run CONFIG --shard {shard.spec}` or `nas-harness resume {shard.path}` "
                "(or publish what is done with `nas-harness merge --partial`)"
            )


def merge_shards(
    output: str | Path,
    stores: list[str | Path] | None = None,
    plugin_modules: dict[str, str] | None = None,
    partial: bool = False,
) -> MergeOutcome:
    """Merge shard stores into ``OUTPUT/results.sqlite`` (publishing it is the caller's job:
    :func:`nas_harness.track.publish.merge_study` writes the leaderboards and the history row).

    ``partial`` merges shards that have not finished too (e.g. a long study stopped for the day):
    the leaderboard counts what is missing as failures, and its provenance names the unfinished
    shards (``partial``); a later merge of the finished shards replaces it."""
    output = Path(output)
    paths = [Path(p) for p in stores] if stores else find_shard_stores(output)
    shards = sorted((read_shard(p) for p in paths), key=lambda s: s.spec.index)
    check_shards(shards, partial)
    target = output / STORE_FILENAME
    _check_target(target, shards[0].config_hash)
    config = {**shards[0].config, "output": str(output)}
    building = target.with_name("results.merging.sqlite")
    _remove_db(building)
    store = Store(building)
    try:
        store.init_study(shards[0].name, config, shards[0].config_hash)
        for shard in shards:
            _copy_shard(store, shard, shards[0])
        _order_searches(store, config)
        cfg = config_from_stored(config, str(target))
        world = World(cfg, plugin_modules=plugin_modules)
        plugins = {name: info.version for name, info in world.registry.plugins.items()}
        config_source = shards[0].runs[-1]["provenance"].get("config", "")
        prov = {**provenance(cfg.config_hash(), cfg.device, plugins), "config": config_source}
        prov["merged_from"] = [str(s.path) for s in shards]
        unfinished = [str(s.spec) for s in shards if not s.runs or s.runs[-1]["status"] != "finished"]
        if unfinished:
            prov["partial"] = unfinished
        store.end_run(store.start_run(prov), "finished")
        results = store.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        store.conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to move into place
    except BaseException:
        store.close()
        _remove_db(building)
        raise
    store.close()
    _remove_db(target, sidecars_only=True)  # the rename replaces the old store itself atomically
    os.replace(building, target)
    outcome = MergeOutcome(target, [s.path for s in shards], results)
    outcome.world = world
    return outcome


def _check_target(target: Path, config_hash: str) -> None:
    """An existing merged store may be rebuilt; anything else in its place is refused."""
    if not target.exists():
        return
    store = Store(target)
    try:
        _, _, existing_hash = store.study()
        runs = store.runs()
    except HarnessError:
        existing_hash, runs = None, []
    finally:
        store.close()
    merged = bool(runs) and "merged_from" in runs[-1]["provenance"]
    if not merged or existing_hash != config_hash:
        what = "an unsharded run's results" if not merged else f"a merge of another study ({existing_hash})"
        raise MergeError(
            f"{target} already holds {what}; merge into another folder: "
            f"nas-harness merge NEW_OUTPUT {target.parent}/shard-*-of-*/results.sqlite"
        )


def _remove_db(path: Path, sidecars_only: bool = False) -> None:
    for suffix in ("-wal", "-shm") if sidecars_only else ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _copy_shard(store: Store, shard: ShardStore, first: ShardStore) -> None:
    """Copy one shard's rows into the merged store (run ids shifted past the ones already there)."""
    conn = store.conn
    conn.execute("ATTACH DATABASE ? AS shard", (str(shard.path),))
    try:
        _check_samples(conn, shard, first)
        _refuse_duplicates(conn, shard)
        with store.transaction() as c:
            offset = c.execute("SELECT COALESCE(MAX(run_id), 0) FROM main.runs").fetchone()[0]
            for run in shard.runs:
                prov = dict(run["provenance"])
                prov["from_shard"] = prov.pop("shard", str(shard.spec))
                prov["shard_store"] = str(shard.path)
                c.execute(
                    "INSERT INTO main.runs VALUES (?, ?, ?, ?, ?)",
                    (run["run_id"] + offset, run["started"], run["ended"], run["status"], json.dumps(prov)),
                )
            c.execute("INSERT OR IGNORE INTO main.samples SELECT * FROM shard.samples")
            c.execute(
                "INSERT INTO main.results SELECT estimator, arch, seed, score, wall_s, cpu_s, peak_mem_mb, "
                "status, error, run_id + ?, finished FROM shard.results",
                (offset,),
            )
            c.execute(
                "INSERT OR IGNORE INTO main.prepares SELECT estimator, seed, wall_s, cpu_s, peak_mem_mb, "
                "status, error, run_id + ?, finished FROM shard.prepares",
                (offset,),
            )
            c.execute(
                "INSERT INTO main.searches SELECT searcher, seed, estimator, arch, front_json, evaluations, "
                "history_json, wall_s, cpu_s, peak_mem_mb, status, error, run_id + ?, finished, trace "
                "FROM shard.searches",
                (offset,),
            )
            c.execute("INSERT OR IGNORE INTO main.series SELECT * FROM shard.series")
    finally:
        conn.execute("DETACH DATABASE shard")


def _order_searches(store: Store, config: dict[str, Any]) -> None:
    """Searches in config order (searchers, then seeds), as an unsharded run stores them."""
    searchers = [s.get("label") or s["name"] for s in config.get("searchers", [])]
    seeds = list(config.get("seeds", []))
    rows = store.conn.execute("SELECT * FROM main.searches").fetchall()
    if not rows:
        return
    rows.sort(key=lambda r: (_index(searchers, r[0]), _index(seeds, r[1])))
    with store.transaction() as c:
        c.execute("DELETE FROM main.searches")
        c.executemany(f"INSERT INTO main.searches VALUES ({', '.join('?' * len(rows[0]))})", rows)


def _index(items: list[Any], item: Any) -> int:
    return items.index(item) if item in items else len(items)


def _check_samples(conn: sqlite3.Connection, shard: ShardStore, first: ShardStore) -> None:
    mine = conn.execute("SELECT seed, position, arch FROM shard.samples ORDER BY seed, position").fetchall()
    merged = conn.execute("SELECT seed, position, arch FROM main.samples ORDER BY seed, position").fetchall()
    if merged and mine != merged:
        raise MergeError(
            f"shard store {shard.path} holds other architecture samples than {first.path} under the same config "
            "hash (did the benchmark files change between the shards' runs?); rerun that shard"
        )


def _refuse_duplicates(conn: sqlite3.Connection, shard: ShardStore) -> None:
    dup = conn.execute(
        "SELECT s.estimator, s.arch, s.seed, r.provenance_json FROM shard.results s "
        "JOIN main.results m USING (estimator, arch, seed) JOIN main.runs r ON r.run_id = m.run_id LIMIT 1"
    ).fetchone()
    if dup:
        other = json.loads(dup[3]).get("shard_store", "an earlier shard")
        raise MergeError(
            f"row (estimator {dup[0]!r}, arch {dup[1]!r}, seed {dup[2]}) is in both {shard.path} and {other}: "
            "shards of one split never overlap, so these stores do not belong together"
        )
    dup = conn.execute(
        "SELECT s.searcher, s.seed FROM shard.searches s JOIN main.searches m USING (searcher, seed) LIMIT 1"
    ).fetchone()
    if dup:
        raise MergeError(
            f"search (searcher {dup[0]!r}, seed {dup[1]}) is in {shard.path} and in an earlier shard: "
            "shards of one split never overlap, so these stores do not belong together"
        )
