"""SQLite results store: one database per study, written as each job finishes.

WAL mode, one transaction per batch of finished rows, so a killed process loses
at most the jobs still running. Resume reads what is finished and the runner
skips it. Tables:

* ``study``: the config (JSON), its hash and name (one row).
* ``runs``: one row per invocation (run or resume) with provenance.
* ``samples``: the fixed architecture sample per seed, in order.
* ``results``: one row per (estimator, arch, seed): score, costs, status, error.
* ``prepares``: one row per (estimator, seed): the one-off cost (supernet training).
* ``searches``: one row per (searcher, seed): returned architecture and cost.
* ``series``: curves (e.g. supernet training loss per step).
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.api import HarnessError

SCHEMA = """
CREATE TABLE IF NOT EXISTS study (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL, config_json TEXT NOT NULL, config_hash TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL, ended REAL, status TEXT NOT NULL DEFAULT 'running',
    provenance_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
    seed INTEGER NOT NULL, position INTEGER NOT NULL, arch TEXT NOT NULL,
    PRIMARY KEY (seed, position)
);
CREATE TABLE IF NOT EXISTS results (
    estimator TEXT NOT NULL, arch TEXT NOT NULL, seed INTEGER NOT NULL,
    score REAL, wall_s REAL, cpu_s REAL, peak_mem_mb REAL,
    status TEXT NOT NULL, error TEXT, run_id INTEGER, finished REAL NOT NULL,
    PRIMARY KEY (estimator, arch, seed)
);
CREATE TABLE IF NOT EXISTS prepares (
    estimator TEXT NOT NULL, seed INTEGER NOT NULL,
    wall_s REAL, cpu_s REAL, peak_mem_mb REAL, status TEXT NOT NULL, error TEXT,
    run_id INTEGER, finished REAL NOT NULL,
    PRIMARY KEY (estimator, seed)
);
CREATE TABLE IF NOT EXISTS searches (
    searcher TEXT NOT NULL, seed INTEGER NOT NULL, estimator TEXT NOT NULL,
    arch TEXT, front_json TEXT, evaluations INTEGER, history_json TEXT,
    wall_s REAL, cpu_s REAL, peak_mem_mb REAL, status TEXT NOT NULL, error TEXT,
    run_id INTEGER, finished REAL NOT NULL,
    PRIMARY KEY (searcher, seed)
);
CREATE TABLE IF NOT EXISTS series (
    owner TEXT NOT NULL, seed INTEGER NOT NULL, step INTEGER NOT NULL, key TEXT NOT NULL, value REAL,
    PRIMARY KEY (owner, seed, step, key)
);
"""

OK = "ok"
FAILED = "failed"
TIMEOUT = "timeout"


@dataclass
class ResultRow:
    estimator: str
    arch: str
    seed: int
    score: float | None
    wall_s: float
    cpu_s: float
    peak_mem_mb: float
    status: str = OK
    error: str | None = None

    def __post_init__(self) -> None:
        # NaN is a failure, recorded as such (never a score that metrics would see).
        if self.status == OK and (self.score is None or not math.isfinite(self.score)):
            self.status = FAILED
            self.error = self.error or f"estimator returned a non-finite score ({self.score!r})"
        if self.score is not None and not math.isfinite(self.score):
            self.score = None


@dataclass
class CostRow:
    """The cost of one prepare (supernet training) or one search."""

    wall_s: float
    cpu_s: float
    peak_mem_mb: float
    status: str = OK
    error: str | None = None


class StoreError(HarnessError):
    pass


class Store:
    """The results of one study.

    Example::

        store = Store("runs/quickstart/results.sqlite")
        store.init_study("quickstart", config, config_hash)
        run_id = store.start_run(provenance)
        store.add_results([ResultRow("params", arch, 0, 1.2e6, 0.01, 0.01, 0.0)], run_id)
        store.done_keys()        # {(estimator, arch, seed), ...}
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open results store {self.path}: {exc} (expected a nas-harness SQLite file)"
            ) from exc

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- study and runs ----------------------------------------------------------------
    def init_study(self, name: str, config: dict[str, Any], config_hash: str) -> None:
        """Record the study config; a store holds one study and refuses a different config."""
        row = self.conn.execute("SELECT config_hash FROM study").fetchone()
        if row is None:
            with self.transaction() as c:
                c.execute(
                    "INSERT INTO study VALUES (1, ?, ?, ?, ?)",
                    (name, json.dumps(config, sort_keys=True), config_hash, time.time()),
                )
        elif row[0] != config_hash:
            raise StoreError(
                f"results store {self.path} belongs to a study with config hash {row[0]}, "
                f"not {config_hash}; use a new output folder or resume with the original config"
            )

    def study(self) -> tuple[str, dict[str, Any], str]:
        row = self.conn.execute("SELECT name, config_json, config_hash FROM study").fetchone()
        if row is None:
            raise StoreError(f"results store {self.path} holds no study")
        return row[0], json.loads(row[1]), row[2]

    def start_run(self, provenance: dict[str, Any]) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO runs (started, provenance_json) VALUES (?, ?)",
                (time.time(), json.dumps(provenance, sort_keys=True)),
            )
        return int(cur.lastrowid)

    def end_run(self, run_id: int, status: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE runs SET ended = ?, status = ? WHERE run_id = ?", (time.time(), status, run_id))

    def runs(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT run_id, started, ended, status, provenance_json FROM runs ORDER BY run_id")
        return [
            {"run_id": r[0], "started": r[1], "ended": r[2], "status": r[3], "provenance": json.loads(r[4])}
            for r in rows
        ]

    # -- samples -------------------------------------------------------------------------
    def save_sample(self, seed: int, archs: list[str]) -> None:
        """Store the sample for ``seed``; on resume, check it is the same one."""
        stored = self.sample(seed)
        if stored:
            if stored != archs:
                raise StoreError(
                    f"results store {self.path}: the architecture sample for seed {seed} differs from the "
                    "stored one (did the benchmark or space change?); use a new output folder"
                )
            return
        with self.transaction() as c:
            c.executemany("INSERT INTO samples VALUES (?, ?, ?)", [(seed, i, a) for i, a in enumerate(archs)])

    def sample(self, seed: int) -> list[str]:
        rows = self.conn.execute("SELECT arch FROM samples WHERE seed = ? ORDER BY position", (seed,))
        return [r[0] for r in rows]

    # -- results -------------------------------------------------------------------------
    def add_results(self, rows: Iterable[ResultRow], run_id: int | None = None) -> None:
        """Insert finished rows in one transaction. A finished ``ok`` row is never overwritten."""
        now = time.time()
        values = [
            (r.estimator, r.arch, r.seed, r.score, r.wall_s, r.cpu_s, r.peak_mem_mb, r.status, r.error, run_id, now)
            for r in rows
        ]
        with self.transaction() as c:
            c.executemany(
                "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (estimator, arch, seed) DO UPDATE SET "
                "score=excluded.score, wall_s=excluded.wall_s, cpu_s=excluded.cpu_s, "
                "peak_mem_mb=excluded.peak_mem_mb, status=excluded.status, error=excluded.error, "
                "run_id=excluded.run_id, finished=excluded.finished WHERE results.status != 'ok'",
                values,
            )

    def done_keys(self, retry_failed: bool = False) -> set[tuple[str, str, int]]:
        """Keys of finished rows; with ``retry_failed`` only the successful ones count as done."""
        query = "SELECT estimator, arch, seed FROM results"
        if retry_failed:
            query += " WHERE status = 'ok'"
        return {(e, a, int(s)) for e, a, s in self.conn.execute(query)}

    def results(self) -> list[ResultRow]:
        rows = self.conn.execute(
            "SELECT estimator, arch, seed, score, wall_s, cpu_s, peak_mem_mb, status, error FROM results"
        )
        return [ResultRow(*r) for r in rows]

    def results_frame(self):  # -> pandas.DataFrame (pandas imported lazily)
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM results", self.conn)

    # -- prepares and searches --------------------------------------------------------------
    def add_prepare(self, estimator: str, seed: int, cost: CostRow, run_id: int | None = None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO prepares VALUES (?,?,?,?,?,?,?,?,?)",
                (estimator, seed, *_cost_values(cost), run_id, time.time()),
            )

    def prepare(self, estimator: str, seed: int) -> CostRow | None:
        row = self.conn.execute(
            "SELECT wall_s, cpu_s, peak_mem_mb, status, error FROM prepares WHERE estimator = ? AND seed = ?",
            (estimator, seed),
        ).fetchone()
        return CostRow(*row) if row else None

    def prepares_frame(self):
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM prepares", self.conn)

    def add_search(
        self,
        searcher: str,
        seed: int,
        estimator: str,
        arch: str | None,
        front: list[str],
        evaluations: int,
        history: list[dict[str, Any]],
        cost: CostRow,
        run_id: int | None = None,
    ) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO searches VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    searcher, seed, estimator, arch, json.dumps(front), evaluations,
                    json.dumps(history, default=str), *_cost_values(cost), run_id, time.time(),
                ),
            )  # fmt: skip

    def search_done(self, searcher: str, seed: int) -> bool:
        row = self.conn.execute(
            "SELECT status FROM searches WHERE searcher = ? AND seed = ?", (searcher, seed)
        ).fetchone()
        return row is not None and row[0] == OK

    def searches_frame(self):
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM searches", self.conn)

    # -- series ---------------------------------------------------------------------------
    def add_series(self, owner: str, seed: int, step: int, values: dict[str, float]) -> None:
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO series VALUES (?,?,?,?,?)",
                [(owner, seed, step, k, float(v)) for k, v in values.items()],
            )

    def series_frame(self):
        """One row per (owner, seed, step), one column per recorded key (e.g. loss, train_acc)."""
        import pandas as pd

        long = pd.read_sql_query("SELECT * FROM series ORDER BY owner, seed, step", self.conn)
        if long.empty:
            return pd.DataFrame(columns=["owner", "seed", "step"])
        wide = long.pivot_table(index=["owner", "seed", "step"], columns="key", values="value", aggfunc="last")
        return wide.reset_index().rename_axis(columns=None)


def _cost_values(cost: CostRow) -> tuple[Any, ...]:
    d = asdict(cost)
    return (d["wall_s"], d["cpu_s"], d["peak_mem_mb"], d["status"], d["error"])
