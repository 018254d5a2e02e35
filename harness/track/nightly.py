"""``nas-harness nightly``: run a study afresh, compare it with a baseline, check golden values.

The baseline is read *before* the study runs:

* by default, the latest row group of ``<leaderboard_dir>/history.csv`` with the
  same study name and config hash (the previous night, as the same config ran it);
* ``--baseline HISTORY.csv``: the same rule on another history file;
* ``--baseline RUN``: any run ``nas-harness compare`` accepts (a study output
  folder, a leaderboard folder, ``HISTORY.csv@SELECTOR``).

The study runs in a fresh folder, ``<study.output>/<UTC time>`` (never resumed
from an earlier night, so every cost is measured again), writes its
leaderboards and appends its history rows as any run does. The report's alarms
are those of :mod:`nas_harness.track.alarms` (cost alarms on CPU seconds, with a noise band
from the history's recent runs of the same study and config when the baseline
comes from a history file); no baseline yet (the first night) is not an alarm,
and golden values are checked regardless.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas_harness.api import HarnessError
from nas_harness.config import STORE_FILENAME, StudyConfig
from nas_harness.golden import ALARM, NOT_CHECKED, GoldenCheck, check_golden
from nas_harness.run.world import World
from nas_harness.track.alarms import (
    Alarm,
    Noise,
    Thresholds,
    golden_alarms,
    history_noise,
    regression_alarms,
    unchecked_costs,
)
from nas_harness.track.compare import Comparison, compare_runs, format_comparison
from nas_harness.track.history import history_path, is_history_file, latest_group, read_history, runs_of
from nas_harness.track.publish import run_study
from nas_harness.track.runs import RunSummary, from_board, load_run, summary_from_group


@dataclass
class NightlyReport:
    """Everything one nightly run found; :attr:`ok` is False when there is any alarm."""

    study: str
    output: Path
    current: RunSummary
    baseline: RunSummary | None
    baseline_note: str = ""
    comparison: Comparison | None = None
    alarms: list[Alarm] = field(default_factory=list)
    golden: list[GoldenCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was not judged, and why

    @property
    def ok(self) -> bool:
        return not self.alarms

    def summary_line(self) -> str:
        """One line for a quiet night."""
        base = f"no regression against {self.baseline.describe()}" if self.baseline else self.baseline_note
        checked = [c for c in self.golden if c.status != NOT_CHECKED]
        passed = sum(c.status != ALARM for c in checked)
        notes = "".join(f"; {note}" for note in self.notes)
        return (
            f"nightly {self.study}: {len(self.current.results)} estimators, {base}; "
            f"golden values {passed}/{len(checked)} within band{notes}; results in {self.output}"
        )

    def text(self) -> str:
        """The full report: alarms first, then golden values and the comparison."""
        lines = [f"nightly {self.study}: {len(self.alarms)} alarm(s)", ""]
        lines += [f"ALARM [{alarm.kind}] {alarm.message}" for alarm in self.alarms]
        lines += [f"note: {note}" for note in self.notes]
        if self.golden:
            lines += ["", "golden values:"]
            lines += [f"  {check.status}: {check.describe()}" for check in self.golden]
        lines.append("")
        if self.comparison is not None:
            lines.append(format_comparison(self.comparison))
        else:
            lines.append(self.baseline_note)
        lines += ["", f"results: {self.output}"]
        return "\n".join(lines)


@dataclass(frozen=True)
class Baseline:
    """The run a nightly is judged against (None: there is none yet, ``note`` says why) and the noise
    band of its costs (from a history file's recent runs of the same study and config; else empty)."""

    run: RunSummary | None
    note: str = ""
    noise: Noise = field(default_factory=dict)


def resolve_baseline(cfg: StudyConfig, spec: str | None = None) -> Baseline:
    """The baseline of a nightly run of ``cfg`` (see the module docstring)."""
    path = history_path(cfg) if spec is None else Path(spec)
    if spec is not None and not (path.is_file() and is_history_file(path)):
        return Baseline(load_run(spec))
    if not path.exists():
        return Baseline(None, f"no baseline yet: {path} does not exist (this run starts it)")
    frame = read_history(path)
    rows = latest_group(frame, cfg.name, cfg.config_hash())
    if rows is None:
        return Baseline(
            None, f"no baseline yet: no run of study {cfg.name!r} with config hash {cfg.config_hash()} in {path}"
        )
    return Baseline(summary_from_group(rows, str(path)), "", history_noise(runs_of(frame, cfg.name, cfg.config_hash())))


def fresh_output(base: str | Path) -> Path:
    """A new folder under ``base`` named by the UTC time (with a suffix when taken)."""
    stamp = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    candidate, n = Path(base) / stamp, 1
    while candidate.exists():
        candidate, n = Path(base) / f"{stamp}-{n}", n + 1
    return candidate


def run_nightly(
    cfg: StudyConfig,
    baseline: str | None = None,
    thresholds: Thresholds | None = None,
    output: str | Path | None = None,
    world_factory: Callable[[StudyConfig], Any] | None = None,
    progress: bool = False,
) -> NightlyReport:
    """Run ``cfg`` in a fresh output folder and judge it against ``baseline`` and the golden values."""

    thresholds = thresholds or Thresholds()
    base = resolve_baseline(cfg, baseline)
    out = Path(output) if output else fresh_output(cfg.output)
    if (out / STORE_FILENAME).exists():
        raise HarnessError(f"{out} already holds a results store; nightly measures afresh, give a new --output")
    cfg = dataclasses.replace(cfg, output=str(out))
    if world_factory is None:
        world_factory = World
    world = world_factory(cfg)
    run_study(cfg, world=world, progress=progress)
    current = from_board(Path(cfg.leaderboard_dir) / cfg.name, f"this run ({out})")
    comparison = compare_runs(base.run, current) if base.run is not None else None
    alarms = regression_alarms(comparison, thresholds, base.noise) if comparison is not None else []
    notes = _unchecked_note(unchecked_costs(comparison)) if comparison is not None else []
    measured = {label: result.kendall_tau for label, result in current.results.items()}
    checks = check_golden(cfg.estimators, cfg.benchmark.name, measured, world.registry.golden)
    alarms += golden_alarms(checks)
    return NightlyReport(cfg.name, out, current, base.run, base.note, comparison, alarms, checks, notes)


def _unchecked_note(labels: list[str]) -> list[str]:
    if not labels:
        return []
    return [
        f"CPU costs not checked for {', '.join(labels)}: the baseline has no CPU seconds (written before they "
        "were recorded; a history.csv started then keeps its format: move it aside to start one that records them)"
    ]
