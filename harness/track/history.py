"""Run history: ``<leaderboard_dir>/history.csv``, one row per estimator per study run.

Every study run that writes leaderboards appends its estimators' rows (opt out
with ``history = false`` in ``[study]``). The file is append-only: the header is
written once and a file keeps the columns it was started with: :data:`COLUMNS` for
a new file; a file of the first format (:data:`COLUMNS_V1`, before the CPU-seconds
and CPU-model columns) is still read (those columns unknown) and appended to in
its own format. A file with other columns is an error, never rewritten. The rows
one run appended form a *row group* numbered by the ``run`` column (1, 2, ...);
``nas-harness compare`` and ``nas-harness nightly`` select groups with a selector
(:func:`select_group`):

* ``latest`` (or ``latest~K``: K groups before it),
* a run number (``12``; up to 6 digits),
* a UTC date (``2026-11-24``: the latest group of that day),
* a git sha prefix (7 to 40 hex digits, the latest group with that code version).

Example::

    board = make_board(store, world)              # nas_harness.report.leaderboard
    record = record_study(world, board.tables["estimators"], board.prov)
    frame = read_history(record.path)
    group = select_group(frame, "latest", study="quickstart")
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from nas_harness.api import HarnessError
from nas_harness.provenance import recorded_cpu

if TYPE_CHECKING:
    from nas_harness.config import StudyConfig
    from nas_harness.run.world import World

try:  # POSIX: appends from concurrent studies are serialised with an advisory lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

FILE_NAME = "history.csv"

#: the columns of the first history format, in order (files started before the CPU columns)
COLUMNS_V1 = (
    "run",  # row-group number: the rows one study run appended
    "date",  # UTC, ISO 8601, when the run appended its rows
    "git_sha",
    "study",
    "config_hash",
    "benchmark",
    "dataset",
    "split",
    "estimator",
    "kendall_tau",
    "tau_ci_low",
    "tau_ci_high",
    "spearman",
    "n_archs",
    "failures",
    "s_per_arch",
    "total_s",
    "peak_mem_mb",
)
#: the columns of a new history.csv, in order: the first format's, then CPU seconds (what nightly
#: cost alarms compare: machine load does not inflate them) and the CPU model the run ran on
COLUMNS = (*COLUMNS_V1, "cpu_s_per_arch", "cpu_total_s", "cpu_model")
#: the headers a history file may have, newest first
FORMATS = (COLUMNS, COLUMNS_V1)
#: columns copied from a leaderboard's estimator rows (all numbers)
METRICS = (*COLUMNS_V1[COLUMNS_V1.index("kendall_tau") :], "cpu_s_per_arch", "cpu_total_s")
_NUMBERS = METRICS
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_SELECTOR_HELP = (
    "accepted selectors: latest, latest~K, a run number (e.g. 12), a UTC date (YYYY-MM-DD) "
    "or a git sha prefix (7 to 40 hex digits)"
)


class HistoryError(HarnessError):
    """A history file that is not ours or is corrupt, or a selector that matches nothing."""


@dataclass(frozen=True)
class HistoryRecord:
    """What one run appended: ``rows`` rows as row group ``run`` of ``path``."""

    path: Path
    run: int
    rows: int


def history_path(cfg: StudyConfig) -> Path:
    """The history file of a study: ``<leaderboard_dir>/history.csv``."""
    return Path(cfg.leaderboard_dir) / FILE_NAME


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- writing ------------------------------------------------------------------------------
def record_study(world: World, estimators: pd.DataFrame, prov: dict[str, Any]) -> HistoryRecord:
    """Append the study's estimator table (with its provenance) to the study's history file."""
    cfg = world.cfg
    frame = estimators
    dataset = getattr(world.benchmark, "dataset", "") or ""
    return append_rows(history_path(cfg), rows_from_board(frame.to_dict("records"), prov, dataset, utc_now()))


def rows_from_board(records: list[dict[str, Any]], prov: dict[str, Any], dataset: str, date: str) -> list[dict]:
    """History rows (without ``run``) from a leaderboard's estimator rows and its provenance."""
    base = {
        "date": date,
        "git_sha": prov.get("git_sha") or "",
        "study": prov.get("study", ""),
        "config_hash": prov.get("config_hash", ""),
        "dataset": dataset,
        "split": prov.get("split", ""),
        "cpu_model": recorded_cpu(prov),
    }
    return [
        {**base, "benchmark": row.get("benchmark", ""), "estimator": row["estimator"], **_metrics(row)}
        for row in records
    ]


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    return {col: row.get(col) for col in METRICS}


def append_rows(path: str | Path, rows: list[dict[str, Any]]) -> HistoryRecord:
    """Append ``rows`` as the next row group; the header is written only into a new (or empty) file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", newline="", encoding="utf-8") as f:
        _lock(f)
        f.seek(0)
        text = f.read()
        writer = csv.writer(f, lineterminator="\n")
        columns = COLUMNS
        if text.strip():
            frame = parse_history(text, path)
            columns = _header(text)  # the file's own format
            if not text.endswith("\n"):
                raise HistoryError(
                    f"{path}: the last line is incomplete (a run killed while writing?); "
                    "remove that line, the harness never rewrites history"
                )
            run = int(frame.run.max()) + 1 if len(frame) else 1
        else:
            f.truncate(0)  # empty or white space only: a new file
            writer.writerow(COLUMNS)
            run = 1
        writer.writerows([_cell(run if col == "run" else row.get(col)) for col in columns] for row in rows)
    return HistoryRecord(path, run, len(rows))


def _lock(f: Any) -> None:
    if fcntl is not None:
        with contextlib.suppress(OSError):  # e.g. a file system without locks: append unlocked
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""  # unknown (e.g. no tau: every architecture failed)
    return value


# -- reading ------------------------------------------------------------------------------
def _header(text: str) -> tuple[str, ...]:
    return tuple(next(csv.reader(io.StringIO(text)), ()))


def is_history_file(path: str | Path) -> bool:
    """Whether ``path`` is a file whose header is a history header (of any format)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return tuple(next(csv.reader(f), ())) in FORMATS
    except (OSError, UnicodeDecodeError):
        return False


def read_history(path: str | Path) -> pd.DataFrame:
    """The whole history file, validated; a foreign or corrupt file is an error naming the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HistoryError(
            f"history file {path} does not exist (studies append to <leaderboard_dir>/history.csv)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(f"cannot read history file {path}: {exc}") from exc
    return parse_history(text, path)


def parse_history(text: str, path: str | Path = "<history>") -> pd.DataFrame:
    """The rows of a history file's text, with every column of :data:`COLUMNS` (unknown where the
    file's format has no such column: NaN for numbers, '' for text)."""
    reader = csv.reader(io.StringIO(text))
    header = tuple(next(reader, []))
    if header not in FORMATS:
        raise HistoryError(
            f"{path} is not a nas-harness history file: its columns are {list(header)}, expected {list(COLUMNS)} "
            f"(or the first format's {len(COLUMNS_V1)} columns); "
            "move it aside (a new one is then started) or use another leaderboard_dir"
        )
    records = []
    for row in reader:
        if not row:
            continue
        line = reader.line_num
        if len(row) != len(header):
            raise HistoryError(
                f"{path}, line {line}: {len(row)} fields, expected {len(header)} ({', '.join(header)}); "
                "the file is corrupt, fix or remove that line"
            )
        record: dict[str, Any] = dict.fromkeys(COLUMNS, "") | dict(zip(header, row, strict=True))
        for col in _NUMBERS:
            record[col] = _number(record[col], path, line, col)
        record["run"] = _run_number(record["run"], path, line)
        if not _DATE.fullmatch(record["date"]):
            raise HistoryError(f"{path}, line {line}: date = {record['date']!r}; expected YYYY-MM-DDTHH:MM:SSZ")
        records.append(record)
    return pd.DataFrame(records, columns=list(COLUMNS))


def _number(value: str, path: str | Path, line: int, col: str) -> float:
    if value == "":
        return math.nan
    try:
        return float(value)
    except ValueError:
        raise HistoryError(f"{path}, line {line}: {col} = {value!r} is not a number") from None


def _run_number(value: str, path: str | Path, line: int) -> int:
    if not value.isdigit() or int(value) < 1:
        raise HistoryError(f"{path}, line {line}: run = {value!r}; expected a positive integer (the row group)")
    return int(value)


# -- selecting row groups -----------------------------------------------------------------
def groups(frame: pd.DataFrame) -> pd.DataFrame:
    """One line per row group, oldest first: run, date, git_sha, study, config_hash, benchmark, estimators."""
    if frame.empty:
        return pd.DataFrame(columns=["run", "date", "git_sha", "study", "config_hash", "benchmark", "estimators"])
    first = frame.groupby("run", sort=True).first()
    out = first[["date", "git_sha", "study", "config_hash", "benchmark"]].copy()
    out["estimators"] = frame.groupby("run", sort=True).size()
    return out.reset_index()


def select_group(frame: pd.DataFrame, selector: str, study: str | None = None, source: str = "") -> pd.DataFrame:
    """The rows of the row group ``selector`` names (see the module docstring), optionally of one study."""
    where = f"{source}@{selector}" if source else selector
    pool = frame if study is None else frame[frame.study == study]
    table = groups(pool)
    selector = selector.strip()
    if (m := re.fullmatch(r"latest(?:~(\d+))?", selector)) is not None:
        back = int(m.group(1) or 0)
        chosen = table.run.iloc[-1 - back] if back < len(table) else None
        what = f"{back} runs before the latest" if back else "latest run"
    elif re.fullmatch(r"\d{1,6}", selector):
        chosen = int(selector) if int(selector) in set(table.run) else None
        what = f"run {selector}"
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", selector):
        day = table[table.date.str.startswith(selector)]
        chosen = day.run.iloc[-1] if len(day) else None
        what = f"run on {selector} (UTC)"
    elif re.fullmatch(r"[0-9a-fA-F]{7,40}", selector):
        code = table[table.git_sha.str.lower().str.startswith(selector.lower())]
        chosen = code.run.iloc[-1] if len(code) else None
        what = f"run at git sha {selector}"
    else:
        raise HistoryError(f"{where}: {selector!r} is not a history selector; {_SELECTOR_HELP}")
    if chosen is None:
        scope = f" of study {study!r}" if study else ""
        raise HistoryError(f"{where}: no {what}{scope}; {describe_groups(table)}")
    return pool[pool.run == chosen]


def runs_of(frame: pd.DataFrame, study: str, config_hash: str) -> pd.DataFrame:
    """The rows of every run of ``study`` with ``config_hash`` (the runs a nightly compares like with like)."""
    return frame[(frame.study == study) & (frame.config_hash == config_hash)]


def latest_group(frame: pd.DataFrame, study: str, config_hash: str) -> pd.DataFrame | None:
    """The latest row group of ``study`` with ``config_hash`` (the default nightly baseline), or None."""
    same = runs_of(frame, study, config_hash)
    if same.empty:
        return None
    return same[same.run == same.run.max()]


def describe_groups(table: pd.DataFrame, last: int = 5) -> str:
    """A short list of the latest row groups, for error messages."""
    if table.empty:
        return "the history has no runs"
    lines = [
        f"run {r.run} {r.date} git {short_sha(r.git_sha) or '?'} study {r.study} config {r.config_hash}"
        for r in table.tail(last).itertuples()
    ]
    return "latest runs: " + "; ".join(lines)


def short_sha(sha: str) -> str:
    """The first 10 hex digits of a git sha, keeping a '-dirty' mark."""
    sha = str(sha or "")
    return sha[:10] + ("-dirty" if sha.endswith("-dirty") and len(sha) > 16 else "")
