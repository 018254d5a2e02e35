"""Train every (architecture, seed) of a ground-truth config; one CSV row per finished pair.

The CSV is the store: a row is appended, flushed and fsynced as each training finishes, so a
killed build loses at most the trainings in flight. Running the same config again reads the
rows already there, drops a half-written last line, and trains only what is missing; rows of
another recipe (another recipe hash) in the same file are an error, never mixed.

Config (TOML)::

    [groundtruth]
    name = "nb201-digits"
    space = "nb201"
    archs = "groundtruth-nb201-digits.archs"   # one architecture string per line, relative to the config
    seeds = [0, 1]
    output = "harness/embedded/nb201_digits.csv"
    workers = 2                                  # training processes (1: in this process)
    device = "cpu"

    [recipe]                                     # nas_harness.groundtruth.recipe.TrainRecipe fields
    dataset = "digits"
    epochs = 20
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import multiprocessing
import os
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas_harness.api import ConfigError, HarnessError
from nas_harness.groundtruth.recipe import TrainRecipe
from nas_harness.groundtruth.trainer import train_architecture
from nas_harness.registry import get_registry

COLUMNS = (
    "arch",
    "seed",
    "test_accuracy",
    "valid_accuracy",
    "epochs",
    "params",
    "flops",
    "train_seconds",
    "recipe_hash",
)


@dataclass(frozen=True)
class GroundTruthConfig:
    name: str
    space: str
    archs: tuple[str, ...]
    seeds: tuple[int, ...]
    output: Path
    recipe: TrainRecipe
    workers: int = 1
    device: str = "cpu"


def load_groundtruth_config(path: str | os.PathLike[str]) -> GroundTruthConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read a TOML ground-truth config: {exc}") from exc
    unknown = sorted(set(raw) - {"groundtruth", "recipe"})
    if unknown or "groundtruth" not in raw:
        raise ConfigError(f"{path}: sections must be [groundtruth] and [recipe]; got {sorted(raw)}")
    gt = dict(raw["groundtruth"])
    accepted = {"name", "space", "archs", "seeds", "output", "workers", "device"}
    if set(gt) - accepted:
        raise ConfigError(
            f"{path}: unknown [groundtruth] key(s) {sorted(set(gt) - accepted)}; accepted: {sorted(accepted)}"
        )
    missing = sorted({"name", "space", "archs", "seeds", "output"} - set(gt))
    if missing:
        raise ConfigError(f"{path}: [groundtruth] lacks {missing}")
    seeds = gt["seeds"]
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    ):
        raise ConfigError(f"{path}: [groundtruth] seeds = {seeds!r}; expected a non-empty list of integers")
    workers = gt.get("workers", 1)
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"{path}: [groundtruth] workers = {workers!r}; expected a positive integer")
    archs_file = (path.parent / gt["archs"]).resolve()
    try:
        archs = tuple(line.strip() for line in archs_file.read_text().splitlines() if line.strip())
    except OSError as exc:
        raise ConfigError(f"{path}: [groundtruth] archs file {archs_file} cannot be read: {exc}") from exc
    if len(set(archs)) != len(archs):
        raise ConfigError(f"{archs_file}: an architecture is listed twice")
    return GroundTruthConfig(
        name=str(gt["name"]),
        space=str(gt["space"]),
        archs=archs,
        seeds=tuple(seeds),
        output=Path(gt["output"]),
        recipe=TrainRecipe.from_dict(raw.get("recipe", {})),
        workers=workers,
        device=str(gt.get("device", "cpu")),
    )


def read_rows(path: Path, recipe_hash: str) -> list[dict[str, str]]:
    """Rows already in ``path`` (a half-written last line is cut off first)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # killed mid-write: drop the partial line
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            return []
        if tuple(reader.fieldnames) != COLUMNS:
            raise HarnessError(f"{path}: columns {reader.fieldnames} are not a ground-truth table's {list(COLUMNS)}")
        rows = list(reader)
    other = sorted({r["recipe_hash"] for r in rows} - {recipe_hash})
    if other:
        raise HarnessError(
            f"{path} holds rows of recipe {other} but this config's recipe is {recipe_hash}; "
            "write to another output (a table holds one recipe)"
        )
    return rows


def _train_job(space_name: str, arch_text: str, seed: int, recipe: TrainRecipe, device: str) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)  # the networks are small: threads cost more than they gain, and workers share cores
    space = get_registry().create("search_space", space_name)
    return train_architecture(space, space.parse(arch_text), seed, recipe, device)


def build_groundtruth(
    cfg: GroundTruthConfig, progress: bool = True, log: Callable[[str], None] = print
) -> tuple[int, list[str]]:
    """Train what is missing; returns (rows now in the table, errors of failed trainings)."""
    from tqdm import tqdm

    recipe_hash = cfg.recipe.hash()
    space = get_registry().create("search_space", cfg.space)
    for text in cfg.archs:
        space.parse(text)  # a bad architecture string fails before any training
    done = {(r["arch"], int(r["seed"])) for r in read_rows(cfg.output, recipe_hash)}
    todo = [(a, s) for s in cfg.seeds for a in cfg.archs if (a, s) not in done]
    log(f"{cfg.name}: {len(done)} rows done, {len(todo)} to train, recipe {recipe_hash}, {cfg.workers} worker(s)")
    cfg.output.parent.mkdir(parents=True, exist_ok=True)
    new_file = not cfg.output.exists() or cfg.output.stat().st_size == 0
    errors: list[str] = []
    with cfg.output.open("a", newline="") as f, tqdm(total=len(todo), disable=not progress, desc=cfg.name) as bar:
        writer = csv.writer(f)
        if new_file:
            writer.writerow(COLUMNS)

        def finish(arch: str, seed: int, result: dict[str, Any] | BaseException) -> None:
            if isinstance(result, BaseException):
                errors.append(f"{arch} seed {seed}: {type(result).__name__}: {result}")
            else:
                row = {**result, "arch": arch, "seed": seed, "epochs": cfg.recipe.epochs, "recipe_hash": recipe_hash}
                writer.writerow([row[c] for c in COLUMNS])
                f.flush()
                os.fsync(f.fileno())
            bar.update()

        if cfg.workers == 1:
            for arch, seed in todo:
                try:
                    finish(arch, seed, _train_job(cfg.space, arch, seed, cfg.recipe, cfg.device))
                except Exception as exc:
                    finish(arch, seed, exc)
        else:
            context = multiprocessing.get_context("forkserver" if sys.platform != "win32" else "spawn")
            with cf.ProcessPoolExecutor(cfg.workers, mp_context=context) as pool:
                futures = {pool.submit(_train_job, cfg.space, a, s, cfg.recipe, cfg.device): (a, s) for a, s in todo}
                for future in cf.as_completed(futures):
                    arch, seed = futures[future]
                    finish(arch, seed, future.exception() or future.result())
    return len(done) + len(todo) - len(errors), errors
