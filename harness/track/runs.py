"""What ``nas-harness compare`` and ``nightly`` compare: one study run's estimator results.

A run is named in one of three ways (:func:`load_run`):

* a study output folder (or its ``results.sqlite``): the tables are recomputed from the store, and the
  per-architecture scores are kept (:attr:`RunSummary.scores`), so that two stores can be compared on the
  architectures both scored (:mod:`nas_harness.track.compare`);
* a leaderboard folder (``<leaderboard_dir>/<study>``, or its ``estimators.json`` / ``estimators.csv``);
* ``HISTORY.csv@SELECTOR``: one row group of a history file, e.g. ``leaderboards/history.csv@latest``,
  ``@12`` (run number), ``@2026-11-24`` (UTC date) or ``@3f9c2ab`` (git sha prefix); see
  :mod:`nas_harness.track.history`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nas_harness.api import HarnessError
from nas_harness.config import STORE_FILENAME, config_from_stored
from nas_harness.provenance import recorded_cpu
from nas_harness.report.leaderboard import estimator_table, score_frame
from nas_harness.run.store import Store
from nas_harness.run.world import World
from nas_harness.track.history import is_history_file, read_history, select_group, short_sha

#: the leaderboard columns a run needs; the cost columns may be missing (then unknown)
REQUIRED = ("estimator", "kendall_tau", "tau_ci_low", "tau_ci_high")
COSTS = ("n_archs", "failures", "s_per_arch", "total_s", "peak_mem_mb", "cpu_s_per_arch", "cpu_total_s")
RUN_HELP = (
    "a run is a study output folder (with results.sqlite), a leaderboard folder (with estimators.csv) "
    "or HISTORY.csv@SELECTOR (latest, latest~K, a run number, a UTC date YYYY-MM-DD or a git sha prefix)"
)


@dataclass(frozen=True)
class EstimatorResult:
    """One estimator's ranking quality (Kendall tau and its bootstrap interval) and costs in one run."""

    estimator: str
    kendall_tau: float
    tau_ci_low: float
    tau_ci_high: float
    n_archs: float = math.nan
    failures: float = math.nan
    s_per_arch: float = math.nan
    total_s: float = math.nan
    peak_mem_mb: float = math.nan
    cpu_s_per_arch: float = math.nan
    cpu_total_s: float = math.nan


@dataclass
class RunSummary:
    """One run: where it came from, its provenance and its results by estimator label."""

    name: str
    results: dict[str, EstimatorResult] = field(default_factory=dict)
    study: str = ""
    config_hash: str = ""
    benchmark: str = ""
    git_sha: str = ""
    date: str = ""
    cpu_model: str = ""  # the CPU it ran on ('' when not recorded)
    #: per-architecture scores (a results store only; None for a leaderboard or history row): the score frame of
    #: :func:`nas_harness.report.leaderboard.score_frame` (estimator, seed, arch, signed_score, truth, ...)
    scores: pd.DataFrame | None = None
    bootstrap: int = 1000  # the study's bootstrap resamples and interval level (for a paired comparison)
    ci: float = 0.95

    def describe(self) -> str:
        facts = [
            f"study {self.study}" if self.study else "",
            f"config {self.config_hash}" if self.config_hash else "",
            f"git {short_sha(self.git_sha)}" if self.git_sha else "",
            self.date,
        ]
        known = ", ".join(f for f in facts if f)
        return f"{self.name} ({known})" if known else self.name


def summary_from_frame(frame: pd.DataFrame, name: str, **provenance: Any) -> RunSummary:
    """A run from a table with leaderboard columns (one row per estimator)."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise HarnessError(f"{name}: missing column(s) {missing}; a leaderboard of estimators has {list(REQUIRED)}")
    results = {}
    for record in frame.to_dict("records"):
        values = {c: _float(record.get(c)) for c in (*REQUIRED[1:], *COSTS)}
        results[str(record["estimator"])] = EstimatorResult(str(record["estimator"]), **values)
    benchmarks = sorted({str(b) for b in frame["benchmark"]}) if "benchmark" in frame.columns else []
    provenance.setdefault("benchmark", ", ".join(benchmarks))
    return RunSummary(name, results, **{k: "" if v is None else str(v) for k, v in provenance.items()})


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def load_run(spec: str, study: str | None = None, world_factory: Callable[[Any], Any] | None = None) -> RunSummary:
    """Load the run ``spec`` names (see the module docstring); ``study`` filters history row groups.

    ``world_factory(cfg)`` builds the World of a results store (default :class:`nas_harness.run.world.World`).
    """
    path = Path(spec)
    if not path.exists() and "@" in spec:
        file, selector = spec.rsplit("@", 1)
        return from_history(Path(file), selector, study)
    if path.is_dir():
        if (path / STORE_FILENAME).is_file():
            return from_store(path / STORE_FILENAME, spec, world_factory)
        if (path / "estimators.csv").is_file() or (path / "estimators.json").is_file():
            return from_board(path, spec)
        raise HarnessError(f"{spec}: the folder holds neither results.sqlite nor estimators.csv; {RUN_HELP}")
    if path.is_file():
        if path.suffix == ".sqlite":
            return from_store(path, spec, world_factory)
        if is_history_file(path):
            raise HarnessError(f"{spec} is a history file: say which run, e.g. {spec}@latest or {spec}@12; {RUN_HELP}")
        if path.suffix in (".json", ".csv"):
            return from_board(path, spec)
    raise HarnessError(f"{spec!r}: no such run; {RUN_HELP}")


def from_history(path: Path, selector: str, study: str | None = None) -> RunSummary:
    """One row group of a history file."""
    rows = select_group(read_history(path), selector, study=study, source=str(path))
    return summary_from_group(rows, f"{path}@{selector}")


def summary_from_group(rows: pd.DataFrame, name: str) -> RunSummary:
    """A run from one row group of a history file (its rows share run, date, sha, study and config)."""
    first = rows.iloc[0]
    return summary_from_frame(
        rows,
        f"{name} [run {first.run}]",
        study=first.study,
        config_hash=first.config_hash,
        git_sha=first.git_sha,
        date=first.date,
        cpu_model=first.cpu_model,
    )


def read_board(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Estimator rows and provenance of a written leaderboard: a folder, its estimators.csv or .json.

    Rows come from the CSV when there is one (full float precision; the JSON keeps 10 decimals),
    provenance from the JSON beside it when there is one.
    """
    if path.is_dir():
        csv_path, json_path = path / "estimators.csv", path / "estimators.json"
    elif path.suffix == ".json":
        csv_path, json_path = None, path
    else:
        csv_path, json_path = path, path.with_suffix(".json")
    try:
        payload = json.loads(json_path.read_text(encoding="utf-8")) if json_path.is_file() else {}
        prov = payload.get("provenance", {}) if isinstance(payload, dict) else {}
        if csv_path is not None and csv_path.is_file():
            frame = pd.read_csv(csv_path)
        else:
            frame = pd.DataFrame(payload["rows"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, pd.errors.ParserError) as exc:
        raise HarnessError(f"{path}: not a readable estimators leaderboard ({exc!r}); {RUN_HELP}") from exc
    return frame, prov


def from_board(path: Path, name: str) -> RunSummary:
    """A written leaderboard (see :func:`read_board`)."""
    frame, prov = read_board(path)
    return summary_from_frame(
        frame,
        name,
        study=prov.get("study"),
        config_hash=prov.get("config_hash"),
        git_sha=prov.get("git_sha"),
        date=prov.get("started"),
        cpu_model=recorded_cpu(prov),
    )


def from_store(path: Path, name: str, world_factory: Callable[[Any], Any] | None = None) -> RunSummary:
    """A results store: the estimator table is computed again from its rows and the benchmark."""

    store = Store(path)
    try:
        _, raw, config_hash = store.study()
        cfg = config_from_stored(raw, str(path))
        if world_factory is None:
            world_factory = World
        world = world_factory(cfg)
        frame = estimator_table(store, world)
        scores = score_frame(store, world)
        runs = store.runs()
    finally:
        store.close()
    last = runs[-1]["provenance"] if runs else {}
    summary = summary_from_frame(
        frame,
        name,
        study=cfg.name,
        config_hash=config_hash,
        git_sha=last.get("git_sha"),
        date=last.get("started"),
        cpu_model=recorded_cpu(last),
    )
    summary.scores, summary.bootstrap, summary.ci = scores, cfg.bootstrap, cfg.ci
    return summary
