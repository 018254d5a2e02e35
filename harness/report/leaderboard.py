"""Leaderboard tables from a results store: CSV, Markdown and JSON, with provenance.

Two tables per study:

* ``estimators``: one row per (benchmark, estimator): how well it ranks the
  shared sample (Kendall tau-b with a bootstrap interval, Spearman, Pearson,
  top-k precision), how it compares with the reference estimator (paired on the
  same architectures; by default ``baselines.params`` when the study has it),
  how stable its scores are between seeds (``seed_tau``) and what it cost
  (one-off prepare, scoring, peak memory).
* ``searchers``: one row per (benchmark, searcher): ground-truth accuracy of the
  returned architecture over seeds, regret against the benchmark optimum, cost.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nas_harness.api import ArchitectureError, Benchmark, BenchmarkError, Direction
from nas_harness.atomic import atomic_path, write_text_atomic
from nas_harness.config import BudgetPoint, PluginRef
from nas_harness.metrics import clean, kendall_tau, paired_difference, ranking_report
from nas_harness.report.cells import format_cell
from nas_harness.report.compact import BEATS, TIE, WORSE, compact_rows, reference_of
from nas_harness.report.compact_searchers import compact_searchers
from nas_harness.report.page import write_index, write_study_page
from nas_harness.report.plots import write_plots
from nas_harness.report.search_board import curve_frame, searcher_columns
from nas_harness.run.store import OK, Store
from nas_harness.run.world import World


def _truth(bench: Benchmark, world: World, arch: str) -> float:
    cfg = world.cfg
    return bench.accuracy(world.space.parse(arch), split=cfg.split, epochs=cfg.epochs)


def _truth_or_none(bench: Benchmark, world: World, arch: str) -> float | None:
    """Ground truth of ``arch``, or None when the benchmark has none (or cannot even read it, e.g. a
    multi-path architecture returned by a searcher of another space)."""
    try:
        return _truth(bench, world, arch)
    except (BenchmarkError, ArchitectureError):
        return None


def estimator_table(store: Store, world: World, refs: list[PluginRef] | None = None) -> pd.DataFrame:
    """One row per estimator of ``refs`` (default: the configured ones, without budget points), best tau first."""
    cfg = world.cfg
    bench = world.benchmark
    results = store.results_frame()
    prepares = store.prepares_frame()
    samples = {seed: store.sample(seed) for seed in cfg.seeds}
    truth_cache: dict[str, float] = {}
    rows = []
    oriented: dict[str, list[tuple[list[float], list[float]]]] = {}  # label -> per seed (scores, truth)
    for ref in cfg.estimators if refs is None else refs:
        mine = results[results.estimator == ref.label]
        direction = _direction(world, ref.label)
        pairs = oriented[ref.label] = _oriented_pairs(mine, samples, direction, world, truth_cache)
        report = ranking_report(pairs, cfg.top_k, cfg.bootstrap, cfg.ci, seed=cfg.seeds[0])
        top_half = ranking_report([_top_half(s, t) for s, t in pairs], (), 0)  # where the hard choices are
        prep = prepares[prepares.estimator == ref.label]
        stability = seed_stability(mine, samples) if len(samples) >= 2 else None
        score_s, score_cpu_s = float(mine.wall_s.sum()), float(mine.cpu_s.sum())
        prepare_s = float(prep.wall_s.sum()) if len(prep) else 0.0
        prepare_cpu_s = float(prep.cpu_s.sum()) if len(prep) else 0.0
        n_scored = int((mine.status == OK).sum())
        row: dict[str, Any] = {
            "benchmark": cfg.benchmark.label,
            "estimator": ref.label,
            "plugin": _plugin_of(world, ref.label),
            "direction": direction.value if direction is not None else "?",
            "n_archs": report.kendall.n,
            "kendall_tau": report.kendall.value,
            "tau_ci_low": report.kendall.low,
            "tau_ci_high": report.kendall.high,
            "spearman": report.spearman.value,
            "pearson": report.pearson.value,
            "tau_top_half": top_half.kendall.value,
        }
        for k, res in report.top_k.items():
            row[f"top{k:g}%_precision"] = res.value
        row.update(
            {
                "failures": int((mine.status != OK).sum()) + _missing(mine, samples),
                "nan_excluded": report.kendall.n_excluded,
                "prepare_s": prepare_s,
                "score_s": score_s,
                "s_per_arch": score_s / n_scored if n_scored else math.nan,
                "total_s": prepare_s + score_s,
                # CPU seconds of this process (all its threads): what nightly cost alarms compare
                "cpu_s_per_arch": score_cpu_s / n_scored if n_scored else math.nan,
                "cpu_total_s": prepare_cpu_s + score_cpu_s,
                "peak_mem_mb": float(max(mine.peak_mem_mb.max(), prep.peak_mem_mb.max() if len(prep) else 0.0))
                if len(mine)
                else math.nan,
                "noise_ceiling": bench.noise_ceiling(),
            }
        )
        notes = [report.kendall.note] if report.kendall.note else []
        if stability is not None:  # two seeds or more: how much the scores move between seeds' batches
            row.update({"seed_tau": stability.tau, "seed_tau_archs": stability.archs})
            notes += [stability.note] if stability.note else []
        row["note"] = "; ".join(notes)
        rows.append(row)
    reference = cfg.reference_label()
    if reference is not None:
        if reference not in oriented:  # e.g. the budget table's rows: judge them against it all the same
            mine = results[results.estimator == reference]
            direction = _direction(world, reference)
            oriented[reference] = _oriented_pairs(mine, samples, direction, world, truth_cache)
        _add_paired_columns(rows, oriented, reference, cfg)
    # a leaderboard: best ranking first; estimators with no tau (all failed) last, in config order
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return table.sort_values("kendall_tau", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def _direction(world: World, label: str) -> Direction | None:
    """The estimator's declared direction, or None when it cannot even be built."""
    try:
        return world.estimator(label).direction
    except Exception:
        return None


def _oriented_pairs(mine: pd.DataFrame, samples: dict, direction: Direction | None, world: World, truth_cache: dict):
    """Per seed: (scores oriented higher-is-better, NaN where missing or failed; ground truth), in sample order."""
    sign = direction.sign if direction is not None else 1
    bench = world.benchmark
    pairs = []
    for seed, archs in samples.items():
        ok = mine[(mine.seed == seed) & (mine.status == OK)].set_index("arch")["score"]
        scores = [sign * ok[a] if a in ok.index else math.nan for a in archs]
        truth = [truth_cache.setdefault(a, _truth(bench, world, a)) for a in archs]
        pairs.append((scores, truth))
    return pairs


def _add_paired_columns(rows: list[dict], oriented: dict, reference: str, cfg: Any) -> None:
    """``tau_minus_reference`` with its paired-bootstrap interval, one-sided p and the verdict ``vs_reference``,
    on the same architectures."""
    for row in rows:
        pairs = oriented[row["estimator"]]
        samples = [(s, r, t) for (s, t), (r, _) in zip(pairs, oriented[reference], strict=True)]
        diff, low, high, p = paired_difference(samples, n_boot=cfg.bootstrap, ci=cfg.ci, seed=cfg.seeds[0])
        verdict = "" if row["estimator"] == reference else reference_verdict(low, high)
        row.update(
            {"reference": reference, "tau_minus_reference": diff, "diff_ci_low": low, "diff_ci_high": high,
             "p_not_better": p, "vs_reference": verdict}
        )  # fmt: skip


def reference_verdict(low: float, high: float) -> str:
    """``beats`` when the paired interval of tau minus the reference's tau lies above 0, ``worse`` when below,
    ``tie`` when it holds 0; blank when there is no interval (e.g. constant scores: no tau to compare)."""
    if math.isnan(low) or math.isnan(high):
        return ""
    return BEATS if low > 0 else WORSE if high < 0 else TIE


#: seed_tau is left blank when two seeds share fewer architectures than this
MIN_SEED_ARCHS = 10
#: the seed pairs left out of seed_tau are named one by one up to this many, counted beyond
SHORT_PAIRS_NAMED = 3


@dataclass(frozen=True)
class SeedStability:
    """Kendall tau between an estimator's scores of two seeds on the architectures both seeds scored
    (mean over seed pairs; NaN when no pair shares :data:`MIN_SEED_ARCHS`), the architectures it was
    computed on (mean over pairs) and a note for pairs left out."""

    tau: float
    archs: float
    note: str = ""


def seed_stability(mine: pd.DataFrame, samples: dict[int, list[str]]) -> SeedStability:
    """How stable an estimator's scores are across seeds (their batches, initialisations, trainings).

    Each seed draws its own sample, so two seeds share only the architectures both drew (all of them with
    ``sample_size = "all"``); only finite scores count. Seed pairs sharing fewer than :data:`MIN_SEED_ARCHS`
    give no value and are named in the note.
    """
    ok = mine[mine.status == OK]
    scores = {seed: ok[ok.seed == seed].set_index("arch")["score"].astype(float) for seed in samples}
    taus, counts, short = [], [], []
    for first, second in itertools.combinations(samples, 2):
        a, b = scores[first], scores[second]
        shared = sorted(set(a.index[np.isfinite(a)]) & set(b.index[np.isfinite(b)]))
        counts.append(len(shared))
        if len(shared) < MIN_SEED_ARCHS:
            short.append(f"seeds {first} and {second} share {len(shared)}")
            continue
        pair = clean(a[shared].to_numpy(), b[shared].to_numpy())
        taus.append(math.nan if pair.note else kendall_tau(pair.scores, pair.truth))
    finite = [t for t in taus if not math.isnan(t)]
    note = ""
    if len(short) > SHORT_PAIRS_NAMED:  # many seeds with their own samples: count the pairs, do not list them
        note = (
            f"seed_tau: {len(short)} of {len(counts)} seed pairs share fewer than {MIN_SEED_ARCHS} scored "
            f"architectures (at most {max(counts)}; each seed drew its own sample), left out"
        )
    elif short:
        note = f"seed_tau: {'; '.join(short)} scored architectures (fewer than {MIN_SEED_ARCHS}, left out)"
    elif taus and not finite:
        note = "seed_tau: constant scores within a seed"
    return SeedStability(float(np.mean(finite)) if finite else math.nan, float(np.mean(counts)), note)


def _top_half(scores: list[float], truth: list[float]) -> tuple[list[float], list[float]]:
    """The (score, truth) pairs of the architectures whose truth is at or above the sample's median."""
    median = float(pd.Series(truth).median())
    kept = [(s, t) for s, t in zip(scores, truth, strict=True) if t >= median]
    return [s for s, _ in kept], [t for _, t in kept]


def budget_table(store: Store, world: World) -> pd.DataFrame:
    """How ranking grows with training: one row per (supernet, scored epoch), the final epoch included.

    Columns: estimator (the configured label), epoch, images_seen and training_s (cumulative, from the
    training curve), then the ranking metrics of that epoch's scores (as in :func:`estimator_table`).
    Empty when no estimator has ``score_at``.
    """
    cfg = world.cfg
    points = [p for p in cfg.scored_estimators() if isinstance(p, BudgetPoint)]
    if not points:
        return pd.DataFrame()
    curves = store.series_frame()
    rows = []
    for ref in cfg.estimators:
        mine = [p for p in points if p.of == ref.label]
        if not mine:
            continue
        final_epoch = _final_epoch(curves, ref.label)
        table = estimator_table(store, world, [*mine, ref]).set_index("estimator")
        for label, epoch in [*((p.label, p.epoch) for p in mine), (ref.label, final_epoch)]:
            row = table.loc[label]
            images, seconds = _training_spent(curves, label)
            rows.append(
                {
                    "estimator": ref.label, "epoch": epoch, "images_seen": images, "training_s": seconds,
                    **{k: row[k] for k in _BUDGET_METRICS if k in row}, "scored_as": label,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


_BUDGET_METRICS = (
    "n_archs", "kendall_tau", "tau_ci_low", "tau_ci_high", "spearman", "tau_top_half", "failures",
    "reference", "tau_minus_reference", "diff_ci_low", "diff_ci_high", "p_not_better", "vs_reference",
)  # fmt: skip


def _curve_of(curves: pd.DataFrame, label: str) -> pd.DataFrame:
    return curves[curves.owner == label] if "owner" in curves else curves.iloc[0:0]


def _final_epoch(curves: pd.DataFrame, label: str) -> float:
    curve = _curve_of(curves, label)
    return float(curve.step.max()) if len(curve) else math.nan


def _training_spent(curves: pd.DataFrame, label: str) -> tuple[float, float]:
    """Images and seconds the training curve of ``label`` adds up to (mean over seeds)."""
    curve = _curve_of(curves, label)
    if curve.empty or "images" not in curve or "seconds" not in curve:
        return math.nan, math.nan
    per_seed = curve.groupby("seed")[["images", "seconds"]].sum()
    return float(per_seed.images.mean()), float(per_seed.seconds.mean())


def _missing(mine: pd.DataFrame, samples: dict[int, list[str]]) -> int:
    """Sampled architectures with no row at all (e.g. a study interrupted before them)."""
    return sum(len(archs) for archs in samples.values()) - len(mine)


def _plugin_of(world: World, label: str) -> str:
    try:
        return world.estimator_plugin(label)
    except Exception:
        return "?"


def benchmark_optimum(world: World) -> float:
    """The benchmark's best accuracy on the study's split (NaN when it cannot list its architectures)."""
    try:
        return world.benchmark.best(world.cfg.split)[1]
    except (NotImplementedError, BenchmarkError):
        return math.nan


def truth_lookup(world: World) -> Callable[[str], float | None]:
    """``arch string -> ground truth on the study split`` (None: none), cached."""
    cache: dict[str, float | None] = {}

    def truth(arch: str) -> float | None:
        if arch not in cache:
            cache[arch] = _truth_or_none(world.benchmark, world, arch)
        return cache[arch]

    return truth


def searcher_table(store: Store, world: World) -> pd.DataFrame:
    """One row per searcher: the returned architecture's ground truth over seeds, then the oracle, anytime-curve
    and front-quality columns (:mod:`nas_harness.report.search_board`), failures and errors."""
    cfg = world.cfg
    searches = store.searches_frame()
    prepares = store.prepares_frame()
    traces = store.search_traces()
    optimum = benchmark_optimum(world)
    truth = truth_lookup(world)
    cost_cache: dict[str, float | None] = {}
    rows = []
    for ref in cfg.searchers:
        mine = searches[searches.searcher == ref.label]
        ok = mine[mine.status == OK]
        accs, missing = [], []
        for arch in ok.arch:
            acc = truth(arch)
            if acc is None:  # a searcher returned an architecture the benchmark has no ground truth for
                missing.append(f"no ground truth for {arch}")
            else:
                accs.append(acc)
        fronts = [front for f in ok.front_json if isinstance(f, str) and (front := json.loads(f))]
        front_accs = [[truth(a) for a in front] for front in fronts]
        judged = [a for accs_ in front_accs for a in accs_ if a is not None]
        prep = prepares[prepares.estimator == ref.estimator]
        rows.append(
            {
                "benchmark": cfg.benchmark.label,
                "searcher": ref.label,
                "estimator": ref.estimator,
                "seeds": len(ok),
                "accuracy_mean": float(pd.Series(accs).mean()) if accs else math.nan,
                "accuracy_std": float(pd.Series(accs).std(ddof=0)) if accs else math.nan,
                "regret_mean": optimum - float(pd.Series(accs).mean()) if accs else math.nan,
                "benchmark_optimum": optimum,
                "evaluations_mean": float(ok.evaluations.mean()) if len(ok) else math.nan,
                "search_s_mean": float(ok.wall_s.mean()) if len(ok) else math.nan,
                "prepare_s": float(prep.wall_s.sum()) if len(prep) else 0.0,
                "front_size_mean": float(pd.Series([len(f) for f in fronts]).mean()) if fronts else math.nan,
                "front_with_truth": len(judged) if fronts else math.nan,  # blank: not a multi-objective searcher
                "front_best_accuracy": max(judged) if judged else math.nan,
                **searcher_columns(ok, traces, world, ref, truth, optimum, cost_cache),
                "failures": int((mine.status != OK).sum()),
                "archs": " ; ".join(ok.arch),
                "errors": " ; ".join([*(e for e in mine.error if isinstance(e, str)), *missing]),
            }
        )
    return pd.DataFrame(rows, columns=_union_columns(rows, before="failures"))


def _union_columns(rows: list[dict[str, Any]], before: str) -> list[str]:
    """Every key of ``rows`` in first-seen order, except that keys a later row adds go just before ``before``
    rather than after the last column, and the regret-at-budget columns (each searcher has those of the budgets
    its traces reach) stand together in budget order."""
    columns: list[str] = list(rows[0]) if rows else []
    for row in rows[1:]:
        for key in row:
            if key not in columns:
                columns.insert(columns.index(before) if before in columns else len(columns), key)
    budgets = [c for c in columns if c.startswith("regret_at_")]
    if not budgets:
        return columns
    rest = [c for c in columns if c not in budgets]
    at = rest.index("regret_auc_ci_high") + 1 if "regret_auc_ci_high" in rest else columns.index(budgets[0])
    order = {"": 0, "_ci_low": 1, "_ci_high": 2}  # regret_at_B, regret_at_B_ci_low, regret_at_B_ci_high
    ordered = sorted(budgets, key=lambda c: (int(c.split("_")[2]), order[c[len("regret_at_") :].lstrip("0123456789")]))
    return rest[:at] + ordered + rest[at:]


def score_frame(store: Store, world: World) -> pd.DataFrame:
    """Every successful score next to its ground truth (the data of the scatter plots).

    Columns: estimator, seed, arch, score, signed_score (score times the declared
    direction, so higher always predicts better), direction, truth. Rows whose
    architecture has no ground truth are left out.
    """
    results = store.results_frame()
    ok = results[results.status == OK]
    truth_cache: dict[str, float | None] = {}
    frames = []
    for ref in world.cfg.estimators:
        mine = ok[ok.estimator == ref.label]
        if mine.empty:
            continue
        try:
            direction = world.estimator(ref.label).direction
            sign, name = direction.sign, direction.value
        except Exception:
            sign, name = 1, "?"
        truth = [truth_cache.setdefault(a, _truth_or_none(world.benchmark, world, a)) for a in mine.arch]
        frames.append(
            pd.DataFrame(
                {
                    "estimator": ref.label,
                    "seed": mine.seed.to_numpy(),
                    "arch": mine.arch.to_numpy(),
                    "score": mine.score.to_numpy(dtype=float),
                    "signed_score": sign * mine.score.to_numpy(dtype=float),
                    "direction": name,
                    "truth": [math.nan if t is None else t for t in truth],
                }
            )
        )
    columns = ["estimator", "seed", "arch", "score", "signed_score", "direction", "truth"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).dropna(subset=["truth"])[columns]


# -- rendering ---------------------------------------------------------------------------
def escape_markdown(value: Any) -> str:
    """A table cell that cannot break a Markdown table (pipes, newlines, backslashes) nor inject HTML into
    the rendered page (``<``, ``>`` and ``&`` become entities: labels and errors come from configs and plugins)."""
    text = html.escape(format_cell(value), quote=False).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.split())  # newlines and runs of white space -> one space


def to_markdown(frame: pd.DataFrame, title: str, prov: dict[str, Any], compact: bool = False) -> str:
    """A table as Markdown with its provenance. ``compact`` leads with the compact table (the estimator
    leaderboard's, :mod:`nas_harness.report.compact`, or the searchers', :mod:`nas_harness.report.compact_searchers`)
    and puts the full one after it, under "All columns"."""
    lines = [f"## {escape_markdown(title)}", ""]
    rows = compact_rows(frame) if compact and not frame.empty else None
    narrow = compact_searchers(frame) if compact and rows is None and not frame.empty else None
    if rows is not None:
        lines += [*_compact_markdown(rows, reference_of(frame)), "", "### All columns", ""]
    elif narrow is not None:
        header = [escape_markdown(c) for c in narrow.columns]
        lines += [*_markdown_table(header, narrow.itertuples(index=False)), "", "### All columns", ""]
    if frame.empty:
        lines.append("(no rows)")
    else:
        lines += _markdown_table([escape_markdown(c) for c in frame.columns], frame.itertuples(index=False))
    lines += ["", "Provenance:", ""]
    lines += [f"- {escape_markdown(k)}: {escape_markdown(_flat(v))}" for k, v in prov.items()]
    return "\n".join(lines) + "\n"


#: the tables whose Markdown and HTML lead with a compact view (every column follows under "All columns")
COMPACT_TABLES = ("estimators", "searchers")


def _markdown_table(header: list[str], records: Any) -> list[str]:
    """Markdown table lines: ``header`` (already escaped) and one line per record (escaped here)."""
    body = ["| " + " | ".join(escape_markdown(v) for v in record) + " |" for record in records]
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|", *body]


def _compact_markdown(rows: list, reference: str | None) -> list[str]:
    """The compact estimator table (estimator, tau [interval], verdict, Spearman, s/arch, failures)."""
    header = ["estimator", "Kendall tau [interval]", *([f"vs {escape_markdown(reference)}"] if reference else []),
              "Spearman", "s/arch", "failures"]  # fmt: skip
    records = []
    for row in rows:
        tau = format_cell(row.tau)
        if tau and not (math.isnan(row.low) or math.isnan(row.high)):
            tau = f"{tau} [{format_cell(row.low)}, {format_cell(row.high)}]"
        verdict = [row.vs_reference] if reference else []
        records.append([row.estimator, tau, *verdict, row.spearman, row.s_per_arch, row.failures])
    return _markdown_table(header, records)


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _provenance_block(store: Store, world: World) -> dict[str, Any]:
    runs = store.runs()
    last = runs[-1]["provenance"] if runs else {}
    return {
        "study": world.cfg.name,
        "config": last.get("config") or world.cfg.source,  # the file it ran from, also when redrawn later
        "config_hash": world.cfg.config_hash(),
        "git_sha": last.get("git_sha"),
        "device": last.get("device"),
        "machine": last.get("machine", {}),  # CPU model, torch kernels and threads, GPU
        "versions": last.get("versions", {}),
        "plugins": last.get("plugins", {}),
        "runs": len(runs),
        "started": last.get("started"),
        "split": world.cfg.split,
        "seeds": world.cfg.seeds,
        "sample_size": world.cfg.sample_size or "all",
        "bootstrap": f"{world.cfg.bootstrap} resamples, {world.cfg.ci:.0%} percentile interval",
        # a merge of shards that had not finished (`merge --partial`): what is missing counts as failures
        **({"partial": f"unfinished shards {', '.join(last['partial'])}"} if last.get("partial") else {}),
        **_reference_provenance(world.cfg.reference, world.cfg.reference_label()),
    }


def _reference_provenance(configured: str | None, label: str | None) -> dict[str, str]:
    if label is None:
        return {}
    return {"reference": label if configured else f"{label} (the default: study.reference is unset)"}


@dataclass
class Board:
    """A study's leaderboard in memory: its tables by name (estimators, searchers, budget) and provenance."""

    tables: dict[str, pd.DataFrame]
    prov: dict[str, Any]


def make_board(store: Store, world: World) -> Board:
    """The tables and provenance of the study in ``store`` (nothing written)."""
    tables = {"estimators": estimator_table(store, world)}
    if world.cfg.searchers:
        tables["searchers"] = searcher_table(store, world)
    budget = budget_table(store, world)
    if not budget.empty:
        tables["budget"] = budget
    return Board(tables, _provenance_block(store, world))


def board_dir(world: World, out_dir: str | Path | None = None) -> Path:
    """``<leaderboard_dir>/<study>`` (or ``<out_dir>/<study>``)."""
    return Path(out_dir or world.cfg.leaderboard_dir) / world.cfg.name


def write_tables(board: Board, out: Path, title: str) -> list[Path]:
    """Each table as CSV, Markdown and JSON in ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in board.tables.items():
        csv_path, md_path, json_path = (out / f"{name}.{ext}" for ext in ("csv", "md", "json"))
        with atomic_path(csv_path) as tmp:
            frame.to_csv(tmp, index=False)
        markdown = to_markdown(frame, f"{title}: {name}", board.prov, compact=name in COMPACT_TABLES)
        write_text_atomic(md_path, markdown)
        payload = {"provenance": board.prov, "rows": json.loads(frame.to_json(orient="records"))}
        write_text_atomic(json_path, json.dumps(payload, indent=2, default=str))
        written += [csv_path, md_path, json_path]
    return written


def write_leaderboards(
    store: Store, world: World, out_dir: str | Path | None = None, plots: bool = True, html: bool = True
) -> list[Path]:
    """Write estimators/searchers tables as CSV, Markdown and JSON, then the plots (PNG) and the
    HTML pages (the study's index.html and the top-level one); returns the files written.

    The tables are written first: a failing plot or page is reported as a
    :class:`LeaderboardWarning` (and named on the page), never raised.
    """
    board = make_board(store, world)
    written = write_tables(board, board_dir(world, out_dir), world.cfg.name)
    if plots or html:
        written += write_plots_and_pages(store, world, out_dir, board.tables, board.prov, plots=plots, html=html)
    return written


class LeaderboardWarning(UserWarning):
    """A plot or HTML page of a leaderboard could not be written (the tables were)."""


def write_plots_and_pages(
    store: Store,
    world: World,
    out_dir: str | Path | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    prov: dict[str, Any] | None = None,
    plots: bool = True,
    html: bool = True,
) -> list[Path]:
    """The plots and HTML pages of a study whose tables are written; returns the files written.

    ``tables`` and ``prov`` default to the published ``estimators.json`` /
    ``searchers.json`` (so this can run after something else used them, e.g. the
    history append that the tau-over-time plot reads). Every failure is a :class:`LeaderboardWarning`
    (and a note on the page), never an exception.
    """
    out = Path(out_dir or world.cfg.leaderboard_dir) / world.cfg.name
    files: dict[str, Path] = {}
    errors: dict[str, str] = {}
    try:
        if tables is None:
            tables, published_prov = _published(out)
            prov = prov if prov is not None else published_prov
        prov = prov if prov is not None else _provenance_block(store, world)
    except Exception as exc:
        warnings.warn(f"{out}: no tables to plot: {type(exc).__name__}: {exc}", LeaderboardWarning, stacklevel=2)
        return []
    if plots:
        try:
            history_path = out.parent / "history.csv"
            history = pd.read_csv(history_path) if history_path.is_file() else None
            budget = tables.get("budget")
            scores = score_frame(store, world)
            curves = None
            if world.cfg.searchers:
                curves = curve_frame(store, world, truth_lookup(world), benchmark_optimum(world))
            result = write_plots(out, tables["estimators"], scores, history, world.cfg.name, budget, curves)
            files, errors = result.files, result.errors
        except Exception as exc:  # e.g. matplotlib missing or a history file that cannot be read
            errors["all"] = f"{type(exc).__name__}: {exc}"
        for name, error in errors.items():
            warnings.warn(f"{out}: plots ({name}) not written: {error}", LeaderboardWarning, stacklevel=2)
    written = list(files.values())
    if html:
        try:
            written.append(write_study_page(out, world.cfg.name, tables, prov, files, errors))
            written.append(write_index(out.parent))
        except Exception as exc:
            message = f"{out}: HTML page not written: {type(exc).__name__}: {exc}"
            warnings.warn(message, LeaderboardWarning, stacklevel=2)
    return written


def _published(out: Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The tables and provenance as written in ``out`` (from the JSON files, which keep labels as text
    and blanks as null)."""
    tables, prov = {}, {}
    for name in ("estimators", "searchers", "budget"):
        path = out / f"{name}.json"
        if name == "estimators" or path.is_file():
            payload = json.loads(path.read_text(encoding="utf-8"))
            tables[name] = pd.DataFrame(payload["rows"])
            prov = prov or payload.get("provenance", {})
    return tables, prov
