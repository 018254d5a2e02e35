"""SQLite results store: one database per study, written as each job finishes.

WAL mode, one transaction per batch of finished rows, so a killed process loses
at most the jobs still running. Resume reads what is finished and the runner
skips it. Tables:

* ``study``: the config (JSON), its hash and name (one row).
* ``runs``: one row per invocation (run or resume) with provenance.
* ``samples``: the fixed architecture sample per seed, in order.
* ``results``: one row per (estimator, arch, seed): score, costs, status, error.
* ``prepares``: one row per (estimator, seed): the one-off cost (supernet training).
* ``searches``: one row per (searcher, seed): returned architecture and cost, and its ``trace``
  (JSON: one dict per evaluation, in order; ``[]`` for a store written before traces existed).
* ``series``: curves (e.g. supernet training loss per step).

A store is marked as the harness's with SQLite's ``application_id`` (:data:`APPLICATION_ID`),
set when the file is created. An existing SQLite file is opened only when it carries that
id, is empty, or is a store written before the id existed (``application_id`` 0 with the
``study`` and ``results`` tables; it is stamped with the id when opened). Any other file
is refused untouched, so ``resume`` or ``leaderboard`` on a foreign database never writes
the harness schema (or WAL mode) into it.

A run holds an exclusive lock on its store (:class:`RunLock`, ``Store(path, exclusive=True)``):
a second run on the same output is refused while the first is alive, and a run row still
``running`` when a new run takes the lock belonged to a driver that was killed: it becomes
``interrupted``.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nas_harness.api import HarnessError

try:
    import fcntl
except ImportError:  # Windows: no advisory file locks, so a second run on one store is not refused
    fcntl = None

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
    run_id INTEGER, finished REAL NOT NULL, trace TEXT,
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

#: run statuses (the ``runs`` table); a run ends "finished" or "failed"
RUNNING = "running"
INTERRUPTED = "interrupted"  # its driver died (kill -9, power loss) before it could record an end

#: SQLite ``PRAGMA application_id`` of a nas-harness results store (the bytes "NASH")
APPLICATION_ID = 0x4E415348
#: tables that every store has, including those written before the application id was set
_CORE_TABLES = frozenset({"study", "results"})


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


class RunLock:
    """An exclusive ``fcntl.flock`` on ``<store>.lock`` held for one run; the file names the holder's pid.

    The lock goes with the process (closing, exiting or being killed releases it); the
    file stays behind, harmless, for the next run to lock.
    """

    def __init__(self, store_path: Path) -> None:
        self.path = store_path.with_name(store_path.name + ".lock")
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the run lock {self.path} of results store {store_path}: {exc}") from exc
        if fcntl is None:
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise StoreError(
                f"results store {store_path} is in use by another run (pid {holder}, holding {self.path}); "
                f"wait for it to end, or stop it and continue with `nas-harness resume {store_path.parent}`"
            ) from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        os.close(self.fd)


class Store:
    """The results of one study.

    Example::

        store = Store("runs/quickstart/results.sqlite")
        store.init_study("quickstart", config, config_hash)
        run_id = store.start_run(provenance)
        store.add_results([ResultRow("params", arch, 0, 1.2e6, 0.01, 0.01, 0.0)], run_id)
        store.done_keys()        # {(estimator, arch, seed), ...}
    """

    def __init__(self, path: str | Path, exclusive: bool = False) -> None:
        """Open (or create) the store; ``exclusive`` takes the run lock (:class:`RunLock`) first."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = RunLock(self.path) if exclusive else None
        try:
            self.conn = self._open()
        except BaseException:
            self._release()
            raise
        if exclusive:
            self._mark_interrupted()

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                ours = self._check_owner(conn)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
                _add_missing_columns(conn)
                if not ours:  # a new file, or one written before the id existed
                    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            except BaseException:
                conn.close()
                raise
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open results store {self.path}: {exc} (expected a nas-harness SQLite file)"
            ) from exc
        return conn

    def _check_owner(self, conn: sqlite3.Connection) -> bool:
        """True for a nas-harness store, False for an empty or older one; any other is refused (module docstring)."""
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id == APPLICATION_ID:
            return True
        objects = conn.execute("SELECT type, name FROM sqlite_master").fetchall()
        tables = {name for kind, name in objects if kind == "table"}
        if app_id == 0 and (not objects or tables >= _CORE_TABLES):
            return False
        found = f"application_id {app_id}" if app_id else f"tables {', '.join(sorted(tables)) or 'none'}"
        raise StoreError(
            f"{self.path} is a SQLite database of another application ({found}), not a nas-harness results "
            f"store (application_id {APPLICATION_ID}); it was left untouched. Pass a study's output folder "
            "(or its results.sqlite), or choose a new output folder"
        )

    def close(self) -> None:
        """Close the database and release the run lock (if this store holds it)."""
        self.conn.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

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
                "INSERT INTO runs (started, status, provenance_json) VALUES (?, ?, ?)",
                (time.time(), RUNNING, json.dumps(provenance, sort_keys=True)),
            )
        return int(cur.lastrowid)

    def _mark_interrupted(self) -> None:
        """With the run lock held, runs still marked running lost their driver: they were interrupted."""
        with self.transaction() as c:
            c.execute("UPDATE runs SET status = ? WHERE status = ?", (INTERRUPTED, RUNNING))

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

    def known_scores(self, estimator: str, seed: int) -> dict[str, tuple[float, float]]:
        """Arch string -> (score, wall seconds) of the finished ``ok`` rows of ``estimator`` at ``seed``: what a
        searcher with that estimator reuses instead of scoring again (``Context.known_scores``)."""
        rows = self.conn.execute(
            "SELECT arch, score, wall_s FROM results WHERE estimator = ? AND seed = ? AND status = ?",
            (estimator, seed, OK),
        )
        return {arch: (float(score), float(wall_s or 0.0)) for arch, score, wall_s in rows}

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
        *,
        trace: list[dict[str, Any]] | None = None,
    ) -> None:
        """Record one search; ``trace`` is its per-evaluation record (``SearchResult.trace``: dicts with
        ``step``, ``arch``, ``score``, ``seconds``, ``reused``), kept as JSON (None: none recorded)."""
        with self.transaction() as c:
            c.execute(
                f"INSERT OR REPLACE INTO searches ({', '.join(_SEARCH_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _SEARCH_COLUMNS)})",
                (
                    searcher, seed, estimator, arch, json.dumps(front), evaluations,
                    json.dumps(history, default=str), *_cost_values(cost), run_id, time.time(),
                    None if trace is None else json.dumps(trace, default=str),
                ),
            )  # fmt: skip

    def search_traces(self) -> dict[tuple[str, int], list[dict[str, Any]]]:
        """The trace of every search that recorded one, keyed by (searcher label, seed); searches without
        one (failed, or written before traces existed) are left out."""
        rows = self.conn.execute("SELECT searcher, seed, trace FROM searches WHERE trace IS NOT NULL")
        return {(searcher, int(seed)): json.loads(trace) for searcher, seed, trace in rows}

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


#: the searches table's columns in insertion order (``trace`` came last, added to older stores on open)
_SEARCH_COLUMNS = (
    "searcher", "seed", "estimator", "arch", "front_json", "evaluations", "history_json",
    "wall_s", "cpu_s", "peak_mem_mb", "status", "error", "run_id", "finished", "trace",
)  # fmt: skip
#: columns added after the first stores were written: (table, column, SQL type); an older store gets them on open
_ADDED_COLUMNS = (("searches", "trace", "TEXT"),)


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """ALTER TABLE an older store to the current schema (existing rows get NULL in the new columns)."""
    for table, column, kind in _ADDED_COLUMNS:
        present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _cost_values(cost: CostRow) -> tuple[Any, ...]:
    d = asdict(cost)
    return (d["wall_s"], d["cpu_s"], d["peak_mem_mb"], d["status"], d["error"])
