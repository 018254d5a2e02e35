"""The ``nas-harness`` command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import traceback
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nas_harness
from nas_harness.api import HarnessError
from nas_harness.benchmarks.nb101 import convert_records
from nas_harness.benchmarks.nb101_convert import official_name
from nas_harness.benchmarks.nb201_convert import convert_nb201
from nas_harness.config import DEFAULT_CONFIG, check_device, config_from_stored, load_config, shipped_config_names
from nas_harness.groundtruth.benchmark import GroundTruthBenchmark
from nas_harness.groundtruth.build import build_groundtruth, load_groundtruth_config
from nas_harness.options import check_int
from nas_harness.registry import KINDS, Registry, get_registry
from nas_harness.report.leaderboard import (
    COMPACT_TABLES,
    estimator_table,
    searcher_table,
    to_markdown,
    write_leaderboards,
)
from nas_harness.run.shards import ShardSpec
from nas_harness.run.store import OK, Store
from nas_harness.run.validate import validated_world
from nas_harness.run.world import World
from nas_harness.track.alarms import Thresholds
from nas_harness.track.compare import compare_runs, format_comparison
from nas_harness.track.history import groups, read_history
from nas_harness.track.nightly import run_nightly
from nas_harness.track.publish import merge_study, resume_study, run_study
from nas_harness.track.runs import load_run

if TYPE_CHECKING:
    from nas_harness.run.runner import StudyOutcome

DISTRIBUTION = "nas-harness"

# Exit codes (docs/configs.md, "Exit codes"): scripts and CI tell these apart.
EXIT_OK = 0  # done
EXIT_CHECK_FAILED = 1  # nightly found a regression; plugins --strict found a plugin that failed to load
EXIT_USAGE = 2  # bad arguments or config (argparse exits 2 too); nothing was run
EXIT_INTERNAL = 3  # a bug: an unexpected exception, traceback printed
EXIT_WORK_FAILED = 4  # run/resume: an estimator failed on every architecture; groundtruth train: some rows failed
EXIT_INTERRUPTED = 130  # Ctrl-C


def _cmd_run(args: argparse.Namespace) -> int:

    cfg = load_config(args.config)
    if args.output:
        cfg.output = args.output
    if args.leaderboard_dir:
        cfg.leaderboard_dir = args.leaderboard_dir
    if args.executor:
        cfg.executor = args.executor
    if args.workers is not None:
        cfg.workers = check_int("--workers", args.workers)
    if args.device:
        cfg.device = check_device(args.device, "--device")
    if args.ray_address:
        cfg.ray_address = args.ray_address
    shard = ShardSpec.parse(args.shard) if args.shard else None
    world = validated_world(cfg)  # every name and option, before a store or folder is made
    outcome = run_study(
        cfg,
        world=world,
        progress=not args.no_progress,
        retry_failed=args.retry_failed,
        plots=not args.no_plots,
        shard=shard,
    )
    code = _report(outcome)
    if shard is not None:
        print(f"shard {shard} done; when every shard is, merge them: nas-harness merge {cfg.output}")
    return code


def _cmd_merge(args: argparse.Namespace) -> int:

    outcome = merge_study(args.output, args.stores or None, plots=not args.no_plots, partial=args.partial)
    print(f"merged {len(outcome.shards)} shards ({outcome.results} rows) into {outcome.store_path}")
    for path in outcome.leaderboard_files:
        if path.suffix in (".md", ".html"):
            print(f"leaderboard: {path}")
    if outcome.history is not None:
        print(f"history: run {outcome.history.run} ({outcome.history.rows} rows) appended to {outcome.history.path}")
    return 0


def _cmd_groundtruth_train(args: argparse.Namespace) -> int:

    cfg = load_groundtruth_config(args.config)
    if args.workers is not None:
        cfg = dataclasses.replace(cfg, workers=check_int("--workers", args.workers))
    if args.output:
        cfg = dataclasses.replace(cfg, output=Path(args.output))
    rows, errors = build_groundtruth(cfg, progress=not args.no_progress)
    for error in errors:
        print(f"failed: {error}", file=sys.stderr)
    bench = GroundTruthBenchmark(cfg.output, space=cfg.space, dataset=cfg.recipe.dataset)
    ceiling = bench.noise_ceiling()
    print(
        f"{cfg.output}: {rows} rows, {len(bench)} architectures, noise ceiling (seed-to-seed tau) "
        f"{'n/a' if ceiling is None else f'{ceiling:.3f}'}"
    )
    return EXIT_WORK_FAILED if errors else EXIT_OK


def _cmd_data_convert(args: argparse.Namespace) -> int:
    if args.benchmark == "nb201":
        return _convert_nb201(args)
    if args.trust_pickle:
        raise HarnessError("--trust-pickle is for nb201 files (NAS-Bench-101 files hold no pickles)")
    summary = convert_records(
        args.file,
        args.output,
        progress=not args.no_progress,
        on_mismatch="skip" if args.skip_mismatches else "raise",
    )
    epochs = ", ".join(map(str, summary.epochs)) or "none"
    print(f"{summary.store}: {summary.records} records, {summary.cells} cells, epochs {epochs}")
    print(f"source {summary.source} ({summary.source_size} bytes) sha256 {summary.sha256}")
    official = official_name(summary.sha256)
    print(
        f"checksum: the official {official}"
        if official
        else "checksum: not one of the official files (nasbench_full / nasbench_only108.tfrecord)"
    )
    if summary.mismatches:
        print(f"skipped {summary.mismatches} records whose stated module hash is not their cell's")
    print(f"converted in {summary.seconds:.1f} s")
    return 0


def _convert_nb201(args: argparse.Namespace) -> int:
    if args.skip_mismatches:
        raise HarnessError("--skip-mismatches is for nb101 files (module hashes of NAS-Bench-101 records)")
    summary = convert_nb201(args.file, args.output, trust_pickle=args.trust_pickle)
    print(
        f"{summary.table}: {summary.archs} architectures, {summary.columns} columns (provenance: {summary.table}.json)"
    )
    print(f"source {summary.source} ({summary.format}, {summary.source_size} bytes) sha256 {summary.sha256}")
    print(
        "name: one of the official files' (NAS-Bench-201 publishes no checksums; compare the SHA-256)"
        if summary.official_name
        else "name: not an official file's name"
    )
    print(f"converted in {summary.seconds:.1f} s; nb201.official now reads this table for {summary.source.name}")
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:

    outcome = resume_study(
        args.study, progress=not args.no_progress, retry_failed=args.retry_failed, plots=not args.no_plots
    )
    return _report(outcome)


def _report(outcome: StudyOutcome) -> int:
    """Print where the results are; :data:`EXIT_WORK_FAILED` when an estimator failed on every architecture."""
    print(f"results store: {outcome.store_path}")
    print(f"scored {outcome.scored}, failed {outcome.failed}, already done {outcome.skipped}")
    for path in outcome.leaderboard_files:
        if path.suffix in (".md", ".html"):
            print(f"leaderboard: {path}")
    if outcome.history is not None:
        print(f"history: run {outcome.history.run} ({outcome.history.rows} rows) appended to {outcome.history.path}")
    for path in outcome.leaderboard_files:
        if path.suffix == ".md":
            print()
            print(path.read_text(encoding="utf-8"))
    failed = failed_everywhere(outcome.store_path)
    for label, (rows, error) in failed.items():
        print(
            f"nas-harness: estimator {label!r} failed on every architecture ({rows} rows); first error: {error}",
            file=sys.stderr,
        )
    return EXIT_WORK_FAILED if failed else EXIT_OK


def failed_everywhere(store_path: Path) -> dict[str, tuple[int, str]]:
    """Estimator label -> (rows, first error) for each estimator with no successful row in the store."""

    store = Store(store_path)
    try:
        results = store.results()
    finally:
        store.close()
    rows: dict[str, int] = {}
    first_error: dict[str, str] = {}
    succeeded: set[str] = set()
    for row in results:
        rows[row.estimator] = rows.get(row.estimator, 0) + 1
        if row.status == OK:
            succeeded.add(row.estimator)
        else:
            first_error.setdefault(row.estimator, f"{row.status}: {row.error}")
    return {label: (n, first_error[label]) for label, n in rows.items() if label not in succeeded}


def _cmd_leaderboard(args: argparse.Namespace) -> int:

    store_path = _store_path(args.study)
    store = Store(store_path)
    try:
        _, raw, _ = store.study()
        cfg = config_from_stored(raw, str(store_path))
        if args.reference is not None:  # reporting only: not part of the config hash
            cfg = config_from_stored({**raw, "reference": args.reference}, str(store_path))
        world = World(cfg)
        if args.out or args.html:
            for path in write_leaderboards(store, world, args.out, plots=not args.no_plots):
                print(f"wrote {path}", file=sys.stderr)
        tables = {"estimators": estimator_table(store, world)}
        if cfg.searchers:
            tables["searchers"] = searcher_table(store, world)
        for name, frame in tables.items():
            if args.format == "csv":
                print(frame.to_csv(index=False), end="")
            elif args.format == "json":
                print(frame.to_json(orient="records", indent=2))
            else:
                prov = {"store": str(store_path)}
                print(to_markdown(frame, f"{cfg.name}: {name}", prov, compact=name in COMPACT_TABLES))
    finally:
        store.close()
    return 0


def _store_path(study: str) -> Path:
    path = Path(study)
    if path.is_dir():
        path = path / "results.sqlite"
    if not path.is_file():
        raise HarnessError(f"no results store at {path}; pass a study output folder or its results.sqlite")
    return path


def _cmd_curves(args: argparse.Namespace) -> int:

    store = Store(_store_path(args.study))
    try:
        frame = store.series_frame()
    finally:
        store.close()
    if args.estimator:
        if args.estimator not in set(frame.owner):
            known = ", ".join(sorted(set(frame.owner))) or "none"
            raise HarnessError(f"no curve recorded for {args.estimator!r}; recorded: {known}")
        frame = frame[frame.owner == args.estimator]
    frame = frame.dropna(axis=1, how="all")
    if args.format == "csv":
        print(frame.to_csv(index=False), end="")
    else:
        print(frame.to_markdown(index=False, floatfmt=".4g"))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:

    before, after = load_run(args.run_a, study=args.study), load_run(args.run_b, study=args.study)
    print(format_comparison(compare_runs(before, after)))
    return 0


def _cmd_nightly(args: argparse.Namespace) -> int:

    cfg = load_config(args.config)
    if args.leaderboard_dir:
        cfg.leaderboard_dir = args.leaderboard_dir
    limits = {"cost_ratio": args.cost_ratio, "min_s_per_arch": args.min_s_per_arch,
              "min_total_s": args.min_total_s, "min_mem_mb": args.min_mem_mb}  # fmt: skip
    thresholds = Thresholds(**{k: v for k, v in limits.items() if v is not None})
    report = run_nightly(
        cfg, args.baseline, thresholds, output=args.output, world_factory=validated_world, progress=not args.no_progress
    )
    print(report.summary_line() if report.ok else report.text())
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


def _cmd_history(args: argparse.Namespace) -> int:

    frame = read_history(args.file)
    if args.study:
        frame = frame[frame.study == args.study]
    table = groups(frame)
    print(table.to_string(index=False) if len(table) else f"{args.file}: no runs")
    return 0


def version() -> str:
    """The installed distribution's version (``nas_harness.__version__`` when it is not installed)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return nas_harness.__version__


def plugins_report(reg: Registry) -> dict[str, Any]:
    """What ``nas-harness plugins`` shows, as JSON-ready data (``plugins --json``)."""
    plugins = []
    for name, info in sorted(reg.plugins.items()):
        registered: dict[str, list[str]] = {kind: [] for kind in KINDS}
        for kind, item in info.registered:
            registered.setdefault(kind, []).append(item)
        golden = [
            {
                "estimator": g.estimator,
                "benchmark": g.benchmark,
                "tau": g.tau,
                "tolerance": g.tolerance,
                "options": g.options,
            }
            for g in reg.golden
            if g.plugin == name
        ]
        plugins.append(
            {
                "name": name,
                "version": info.version,
                "source": info.source,
                "builtin": info.builtin,
                "registered": registered,
                "golden_values": golden,
                "error": info.error,  # failures and skipped registrations, as the text output's ERROR line
            }
        )
    return {
        "plugins": plugins,
        "allow_list": None if reg.allow is None else sorted(reg.allow),
        "block_list": sorted(reg.block),
    }


def _cmd_plugins(args: argparse.Namespace) -> int:
    reg = get_registry()
    code = EXIT_CHECK_FAILED if reg.failures and args.strict else EXIT_OK
    if args.json:
        print(json.dumps(plugins_report(reg), indent=2))
        return code
    if not reg.plugins:
        print("no plugins found in entry-point group 'nas_harness'")
    for name, info in sorted(reg.plugins.items()):
        version = f" {info.version}" if info.version else ""
        print(f"{name}{version}  ({info.source})")
        for kind, item in info.registered:
            print(f"    {kind}: {item}")
        for golden in (g for g in reg.golden if g.plugin == name):
            print(f"    golden value: {golden.describe()}")
        if info.error:
            print(f"    ERROR: {info.error}")
    if reg.allow is not None:
        print(f"allow-list: {', '.join(sorted(reg.allow))}")
    if reg.block:
        print(f"block-list: {', '.join(sorted(reg.block))}")
    return code


def _listing(kinds: tuple[str, ...]):
    def run(args: argparse.Namespace) -> int:
        reg = get_registry()
        for kind in kinds:
            for entry in reg.entries(kind):
                doc = (getattr(entry.factory, "__doc__", None) or "").strip().splitlines()
                summary = f"  {doc[0]}" if doc else ""
                print(f"{entry.name}  [{kind}, plugin {entry.plugin}]{summary}")
        return 0

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nas-harness",
        description="Benchmark NAS methods: rank architectures against ground truth, publish leaderboards.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    shipped = ", ".join(shipped_config_names())
    run = sub.add_parser("run", help="run a study from a TOML config", description="Run (or continue) a study.")
    run.add_argument(
        "config",
        nargs="?",
        default=DEFAULT_CONFIG,
        help=f"a TOML file, or the name of a shipped config ({shipped}); default {DEFAULT_CONFIG}. "
        "Its output folders are relative to the working directory",
    )
    run.add_argument("--output", help="results folder (overrides study.output)")
    run.add_argument("--leaderboard-dir", help="leaderboard folder (overrides study.leaderboard_dir)")
    run.add_argument("--executor", choices=["local", "process", "ray"], help="overrides study.executor")
    run.add_argument("--workers", type=int, help="process-pool size or Ray tasks at once (overrides study.workers)")
    run.add_argument(
        "--ray-address", help='Ray cluster to join: "auto" or "ray://HOST:PORT" (overrides study.ray_address)'
    )
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N (0-based) into OUTPUT/shard-I-of-N/; join them with `nas-harness merge OUTPUT`",
    )
    run.add_argument("--device", help="cpu, cuda or cuda:N (overrides study.device)")
    run.add_argument("--retry-failed", action="store_true", help="redo rows that failed in an earlier run")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--no-plots", action="store_true", help="leaderboard tables and page without PNG plots")
    run.set_defaults(func=_cmd_run)

    merge = sub.add_parser(
        "merge",
        help="merge the shard stores of a study run with --shard I/N and write its leaderboards",
        description="Merge OUTPUT/shard-I-of-N/results.sqlite (or the shard stores named) into "
        "OUTPUT/results.sqlite; refuses shards of another config, a missing shard or overlapping shards.",
    )
    merge.add_argument("output", help="the study's output folder (the merged store goes to OUTPUT/results.sqlite)")
    merge.add_argument("stores", nargs="*", help="shard stores (default: OUTPUT/shard-*-of-*/results.sqlite)")
    merge.add_argument("--no-plots", action="store_true", help="leaderboard tables and page without PNG plots")
    merge.add_argument(
        "--partial", action="store_true",
        help="also merge shards that did not finish: publish what is done (missing rows count as failures)",
    )  # fmt: skip
    merge.set_defaults(func=_cmd_merge)

    resume = sub.add_parser("resume", help="continue a killed or failed study", description="Continue a study.")
    resume.add_argument("study", help="the study's output folder (or its results.sqlite)")
    resume.add_argument("--retry-failed", action="store_true", help="redo rows that failed in an earlier run")
    resume.add_argument("--no-progress", action="store_true", help="no progress bar")
    resume.add_argument("--no-plots", action="store_true", help="leaderboard tables and page without PNG plots")
    resume.set_defaults(func=_cmd_resume)

    board = sub.add_parser("leaderboard", help="print (and write) a study's leaderboard", description="Leaderboard.")
    board.add_argument(
        "study",
        nargs="?",
        default="runs/quickstart",
        help="study output folder or results.sqlite (default runs/quickstart)",
    )
    board.add_argument("--format", choices=["csv", "md", "json"], default="md", help="output format (default md)")
    board.add_argument("--out", help="also write the leaderboard folder (tables, plots, index.html) under this folder")
    board.add_argument(
        "--html",
        action="store_true",
        help="also write the leaderboard folder (tables, plots, index.html) under --out or the study's leaderboard_dir",
    )
    board.add_argument("--no-plots", action="store_true", help="with --out/--html: no PNG plots")
    board.add_argument(
        "--reference", metavar="LABEL",
        help="compare every estimator with this one, paired on the same architectures (as study.reference; "
        "default: the study's reference, else baselines.params when the study has it)",
    )  # fmt: skip
    board.set_defaults(func=_cmd_leaderboard)

    curves = sub.add_parser(
        "curves",
        help="print the curves a study recorded (supernet training loss, accuracy, ...)",
        description="Curves.",
    )
    curves.add_argument("study", help="study output folder or results.sqlite")
    curves.add_argument("--estimator", help="only this estimator label")
    curves.add_argument("--format", choices=["csv", "md"], default="md", help="output format (default md)")
    curves.set_defaults(func=_cmd_curves)

    groundtruth = sub.add_parser("groundtruth", help="build a ground-truth table by training architectures")
    gt_sub = groundtruth.add_subparsers(dest="gt_command", required=True, metavar="ACTION")
    train = gt_sub.add_parser(
        "train",
        help="train every (architecture, seed) of a config; resumable",
        description="Train architectures with a fixed recipe and append one CSV row per finished (arch, seed).",
    )
    train.add_argument("config", help="ground-truth config (see configs/groundtruth-nb201-digits.toml)")
    train.add_argument("--workers", type=int, help="training processes (overrides groundtruth.workers)")
    train.add_argument("--output", help="table to write (overrides groundtruth.output)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=_cmd_groundtruth_train)

    data = sub.add_parser("data", help="prepare benchmark data files")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    convert = data_sub.add_parser(
        "convert",
        help="convert an official benchmark file into the harness's store or table",
        description="nb101: convert an official NAS-Bench-101 TFRecord file (nasbench_full.tfrecord, "
        "nasbench_only108.tfrecord) into an SQLite store, without TensorFlow; pass the store to the nb101 "
        "benchmark (path = STORE). nb201: convert an official NAS-Bench-201 .pth or NATS-Bench topology file "
        "(single file or fast-mode folder) into a table with every data set, split and schedule, read by "
        "nb201.table (path = TABLE) and used by nb201.official for that file automatically.",
    )
    convert.add_argument("benchmark", choices=["nb101", "nb201"], help="which benchmark's file it is")
    convert.add_argument("file", help="the official file")
    convert.add_argument(
        "--output",
        help="store or table to write (default: FILE with suffix .sqlite for nb101, FILE.nb201.csv for nb201)",
    )
    convert.add_argument(
        "--trust-pickle",
        action="store_true",
        help="nb201: accept globals outside the allow-list (as inert placeholders; nothing in the file is run)",
    )
    convert.add_argument(
        "--skip-mismatches",
        action="store_true",
        help="skip records whose stated module hash is not their cell's (default: stop with an error)",
    )
    convert.add_argument("--no-progress", action="store_true", help="no progress bar")
    convert.set_defaults(func=_cmd_data_convert)

    _add_history_commands(sub)

    plugins = sub.add_parser("plugins", help="list plugins, versions and what each registered")
    plugins.add_argument("--strict", action="store_true", help="exit 1 if any plugin failed to load")
    plugins.add_argument("--json", action="store_true", help="print the listing as JSON (for scripts)")
    plugins.set_defaults(func=_cmd_plugins)

    listings = {
        "spaces": ("search_space",),
        "benchmarks": ("benchmark",),
        "estimators": ("proxy", "supernet"),
        "searchers": ("searcher",),
    }
    for command, kinds in listings.items():
        p = sub.add_parser(command, help=f"list registered {command}")
        p.set_defaults(func=_listing(kinds))
    assert set(k for ks in listings.values() for k in ks) == set(KINDS)
    return parser


def _add_history_commands(sub) -> None:
    """compare, nightly and history (see harness/runs.py, harness/nightly.py, harness/history.py)."""
    runs = (
        "RUN is a study output folder (with results.sqlite), a leaderboard folder (with estimators.csv) or "
        "HISTORY.csv@SELECTOR, where SELECTOR is latest, latest~K (K runs before the latest), a run number, "
        "a UTC date YYYY-MM-DD (the latest run that day) or a git sha prefix (7 to 40 hex digits)."
    )
    compare = sub.add_parser(
        "compare",
        help="compare two runs: tau and costs per estimator, A -> B",
        description="Per estimator: Kendall tau A -> B, the change, and whether the bootstrap intervals are "
        "disjoint (DROP/GAIN) or overlap; seconds per arch, total seconds and peak memory A -> B with the ratio; "
        f"estimators added and removed. {runs}",
    )
    compare.add_argument("run_a", metavar="RUN_A", help="the earlier run (the baseline)")
    compare.add_argument("run_b", metavar="RUN_B", help="the later run")
    compare.add_argument("--study", help="history selectors pick only runs of this study")
    compare.set_defaults(func=_cmd_compare)

    nightly = sub.add_parser(
        "nightly",
        help="run a study afresh; exit 1 with a report on a regression (for cron and CI)",
        description="Run the study in a new folder, then compare it with the baseline: exit 1 when an "
        "estimator's Kendall tau dropped outside the bootstrap intervals (new high < old low), a cost (CPU seconds, "
        "peak memory) grew past --cost-ratio (and its floor or recent spread), or a plugin's golden value is missed; "
        "otherwise print one line and exit 0. "
        f"Errors exit 2. {runs}",
    )
    nightly.add_argument(
        "config", help="study config: a TOML file (e.g. configs/nightly.toml) or a shipped config's name"
    )
    nightly.add_argument(
        "--baseline",
        help="a history file (its latest run of the same study and config hash) or a RUN; "
        "default: <leaderboard_dir>/history.csv",
    )
    nightly.add_argument("--cost-ratio", type=float, help="alarm when a cost grows past this ratio (default 1.5)")
    nightly.add_argument("--min-s-per-arch", type=float, help="CPU s/arch rise below this never alarms (default 0.002)")
    nightly.add_argument("--min-total-s", type=float, help="CPU total-s growth below this never alarms (default 2)")
    nightly.add_argument("--min-mem-mb", type=float, help="peak-memory growth below this never alarms (default 16)")
    nightly.add_argument("--output", help="results folder (default: a new <study.output>/<UTC time>)")
    nightly.add_argument("--leaderboard-dir", help="leaderboard folder (overrides study.leaderboard_dir)")
    nightly.add_argument("--no-progress", action="store_true", help="no progress bar")
    nightly.set_defaults(func=_cmd_nightly)

    history = sub.add_parser("history", help="list the runs (row groups) recorded in a history file")
    history.add_argument("file", nargs="?", default="leaderboards/history.csv", help="default leaderboards/history.csv")
    history.add_argument("--study", help="only runs of this study")
    history.set_defaults(func=_cmd_history)


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (see :data:`EXIT_OK` and the codes after it)."""
    args = build_parser().parse_args(argv)  # a usage error exits 2 (argparse's SystemExit)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"nas-harness: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("nas-harness: interrupted; finished rows are saved, continue with `nas-harness resume`", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        print(
            "nas-harness: internal error (a bug in the harness or a plugin): please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
