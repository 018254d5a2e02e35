"""Tiny NAS-Bench-201 / NATS-Bench (topology) files in the official formats, with known metrics.

The files are built from the packages' own record classes
(:class:`nas_201_api.api_utils.ResultsCount` / :class:`~nas_201_api.api_utils.ArchResults` and their
``nats_bench`` twins) and saved as the official files are, so they load through the real
``NASBench201API`` and ``nats_bench.create``; tests and benchmarks use them instead of the multi-GB
originals. Every metric is a closed-form function of (architecture index, schedule, data set, eval
set, seed), see :func:`fixture_accuracy`, so tests can assert exact values:

* NAS-Bench-201 ``.pth`` (v1.0 ``NAS-Bench-201-v1_0-e61699.pth`` / v1.1 ``NAS-Bench-201-v1_1-096897.pth``):
  ``torch.save`` of ``{"meta_archs": [str, ...], "arch2infos": {index: {"less": ArchResults-state,
  "full": ArchResults-state}}, "evaluated_indexes": [int, ...], "total_archs": int}``; ``less`` is the
  12-epoch schedule, ``full`` the 200-epoch one. v1.0's ``less`` covers ``cifar10-valid`` only.
* NATS-Bench topology single file (``NATS-tss-v1_0-3ffb9.pickle.pbz2``): a bz2-compressed pickle of
  the same dict, but each ``arch2infos[index]`` is keyed by schedule ``{"12": ..., "200": ...}``.
* NATS-Bench fast-mode directory (``NATS-tss-v1_0-3ffb9-simple/``): ``meta.pickle.pbz2`` holding
  ``{"meta_archs": [...]}`` and one ``{index}.pickle.pbz2`` per architecture holding
  ``{"12": ArchResults-state, "200": ArchResults-state}``.

An ArchResults state is ``{"arch_index", "arch_str", "all_results": {(dataset, seed): ResultsCount-state},
"dataset_seed": {dataset: [seeds]}, "clear_net_done"}``; a ResultsCount state is its ``__dict__``
(``train_acc1es``/``train_losses``/``train_times`` keyed by epoch, ``eval_acc1es``/``eval_losses``/
``eval_times`` keyed ``"<set>@<epoch>"``, ``params`` (MB), ``flop`` (M), ``latency`` (list of seconds),
``epochs``, ``seed``, ...). The eval sets per data set are those of the official records
(:data:`EVAL_SETS`).
"""

from __future__ import annotations

import bz2
import csv
import os
import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from nas_harness.spaces import nb201 as nb201_space

NB201_V10_NAME = "NAS-Bench-201-v1_0-e61699.pth"
NB201_V11_NAME = "NAS-Bench-201-v1_1-096897.pth"
NATS_TSS_BASE = "NATS-tss-v1_0-3ffb9"
NATS_PICKLE_NAME = f"{NATS_TSS_BASE}.pickle.pbz2"
NATS_DIR_NAME = f"{NATS_TSS_BASE}-simple"
PICKLE_EXT = "pickle.pbz2"

#: data sets of the official records, in the order the originals list them
DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
#: eval sets each data set's records hold (``train`` is separate)
EVAL_SETS: dict[str, tuple[str, ...]] = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("ori-test", "x-valid", "x-test"),
    "ImageNet16-120": ("ori-test", "x-valid", "x-test"),
}
NUM_CLASSES = {"cifar10-valid": 10, "cifar10": 10, "cifar100": 100, "ImageNet16-120": 120}
#: seeds per schedule and data set, shaped like NAS-Bench-201 v1.1 (200 epochs: 1-3 trials; 12: one,
#: two on cifar10-valid)
SEEDS: dict[str, dict[str, tuple[int, ...]]] = {
    "200": {"cifar10-valid": (777, 888), "cifar10": (777, 888, 999), "cifar100": (777, 888), "ImageNet16-120": (777,)},
    "12": {"cifar10-valid": (777, 888), "cifar10": (777,), "cifar100": (777,), "ImageNet16-120": (777,)},
}
#: official indices of the architectures the small fixtures hold
FIXTURE_INDEXES: tuple[int, ...] = (0, 1, 42, 7777, 15624)

# Every offset is a dyadic rational, so sums are exact in float64.
_BASE = {"cifar10": 80.0, "cifar10-valid": 70.0, "cifar100": 50.0, "ImageNet16-120": 30.0}
_SET_OFFSET = {"x-valid": 1.0, "x-test": 2.0, "ori-test": 3.0, "train": 4.0}
_HP_OFFSET = {"200": 0.0, "12": -20.0}
_SEED_OFFSET = {777: 0.5, 888: -0.25, 999: 0.125}
_EPOCH_TIME = 0.5  # seconds per evaluation pass in the curves


def fixture_accuracy(index: int, hp: str, dataset: str, setname: str, seed: int) -> float:
    """The final-epoch accuracy (%) the fixtures record for one trial."""
    return _BASE[dataset] + _SET_OFFSET[setname] + _HP_OFFSET[str(hp)] + _SEED_OFFSET[seed] + (index % 64) * 0.125


def expected_accuracy(index: int, dataset: str, setname: str, hp: str = "200") -> float:
    """The seed-averaged accuracy a loader must report (what the official API's average gives)."""
    seeds = SEEDS[str(hp)][dataset]
    return sum(fixture_accuracy(index, hp, dataset, setname, s) for s in seeds) / len(seeds)


def fixture_costs(index: int, dataset: str) -> dict[str, float]:
    """params (MB), flops (M), latency (s) and per-epoch train time (s) of an architecture."""
    k = index % 64
    classes = NUM_CLASSES[dataset]
    return {
        "params": 0.5 + k / 64 + classes / 1024,
        "flops": 50.0 + 2.0 * k + classes / 8,
        "latency": 1 / 64 + (index % 8) / 256,
        "train_epoch_seconds": 5.0 + (index % 4),
    }


def expected_train_seconds(index: int, dataset: str, hp: str = "200") -> float:
    """Total training time (s) the full-curve fixtures record (same for every seed)."""
    return fixture_costs(index, dataset)["train_epoch_seconds"] * int(hp)


def _kept_epochs(epochs: int, curve_every: int) -> list[int]:
    kept = list(range(0, epochs, max(1, curve_every)))
    if kept[-1] != epochs - 1:
        kept.append(epochs - 1)
    return kept


def _results_count_state(
    rc_cls: type,
    *,
    index: int,
    arch_str: str,
    hp: str,
    dataset: str,
    seed: int,
    curve_every: int = 1,
    with_times: bool = True,
) -> dict[str, Any]:
    """One trial as the official files store it: ``ResultsCount(...).state_dict()`` with curves filled in.

    ``curve_every > 1`` keeps every n-th epoch (plus the last) of the curves and drops the time
    curves, which the official query functions tolerate; it keeps full-size synthetic files small.
    """
    epochs = int(hp)
    kept = _kept_epochs(epochs, curve_every)
    costs = fixture_costs(index, dataset)

    def curve(final: float) -> dict[int, float]:
        return {e: final * (e + 1) / epochs for e in kept}

    def losses() -> dict[int, float]:
        return {e: 1.0 + (epochs - 1 - e) / epochs for e in kept}

    arch_config = {"channel": 16, "num_cells": 5, "arch_str": arch_str, "class_num": NUM_CLASSES[dataset]}
    rc = rc_cls(
        dataset,
        None,  # trained weights: the benchmark files keep them in a separate archive
        curve(fixture_accuracy(index, hp, dataset, "train", seed)),
        losses(),
        costs["params"],
        costs["flops"],
        arch_config,
        seed,
        epochs,
        [costs["latency"]],
    )
    train_times = {e: costs["train_epoch_seconds"] for e in kept} if with_times else None
    rc.update_train_info(rc.train_acc1es, None, rc.train_losses, train_times)
    state = rc.state_dict()
    state["eval_names"] = list(EVAL_SETS[dataset])
    state["eval_acc1es"] = {}
    state["eval_losses"] = {}
    state["eval_times"] = {}
    for name in EVAL_SETS[dataset]:
        final = fixture_accuracy(index, hp, dataset, name, seed)
        for e in kept:
            key = f"{name}@{e}"
            state["eval_acc1es"][key] = final * (e + 1) / epochs
            state["eval_losses"][key] = 1.0 + (epochs - 1 - e) / epochs
            if with_times:
                state["eval_times"][key] = _EPOCH_TIME
    return state


def arch_results_state(
    package: str,
    index: int,
    hp: str,
    *,
    datasets: Sequence[str] = DATASETS,
    curve_every: int = 1,
    with_times: bool = True,
    seeds: dict[str, dict[str, tuple[int, ...]]] = SEEDS,
) -> dict[str, Any]:
    """``ArchResults.state_dict()`` of one architecture and schedule, built with ``package``'s classes.

    ``package`` is ``"nas_201_api"`` or ``"nats_bench"``; ``seeds``: schedule -> data set -> trial seeds.
    """
    if package == "nas_201_api":
        from nas_201_api.api_utils import ArchResults, ResultsCount
    elif package == "nats_bench":
        from nats_bench.api_utils import ArchResults, ResultsCount
    else:
        raise ValueError(f"package must be 'nas_201_api' or 'nats_bench', not {package!r}")
    arch_str = nb201_space.to_str(nb201_space.index_to_arch(index))
    results = ArchResults(index, arch_str)
    for dataset in datasets:
        for seed in seeds[str(hp)][dataset]:
            state = _results_count_state(
                ResultsCount,
                index=index,
                arch_str=arch_str,
                hp=str(hp),
                dataset=dataset,
                seed=seed,
                curve_every=curve_every,
                with_times=with_times,
            )
            results.update(dataset, seed, ResultsCount.create_from_state_dict(state))
    return results.state_dict()


def _meta_archs(indexes: Sequence[int], full_meta: bool) -> tuple[list[str], list[int]]:
    """meta_archs and the file index of each architecture in ``indexes``."""
    if full_meta:
        return [nb201_space.to_str(a) for a in nb201_space.official_order()], list(indexes)
    return [nb201_space.to_str(nb201_space.index_to_arch(i)) for i in indexes], list(range(len(indexes)))


def nb201_pth_dict(
    indexes: Iterable[int] = FIXTURE_INDEXES,
    *,
    version: str = "v1_1",
    full_meta: bool = True,
    curve_every: int = 1,
    with_times: bool = True,
) -> dict[str, Any]:
    """The dict a NAS-Bench-201 ``.pth`` file holds.

    ``full_meta``: meta_archs lists all 15,625 architectures in official order (as the originals do)
    and ``arch2infos`` is keyed by official index; otherwise meta_archs lists only ``indexes`` and
    the file indices are 0..n-1 (a loader must then map by string).
    """
    if version not in ("v1_0", "v1_1"):
        raise ValueError(f"version must be 'v1_0' or 'v1_1', not {version!r}")
    indexes = list(indexes)
    meta_archs, file_indexes = _meta_archs(indexes, full_meta)
    less_datasets = ("cifar10-valid",) if version == "v1_0" else DATASETS
    arch2infos = {}
    for official, file_index in zip(indexes, file_indexes, strict=True):
        less = arch_results_state(
            "nas_201_api", official, "12", datasets=less_datasets, curve_every=curve_every, with_times=with_times
        )
        full = arch_results_state("nas_201_api", official, "200", curve_every=curve_every, with_times=with_times)
        less["arch_index"] = full["arch_index"] = file_index
        arch2infos[file_index] = {"less": less, "full": full}
    return {
        "meta_archs": meta_archs,
        "arch2infos": arch2infos,
        "evaluated_indexes": sorted(arch2infos),
        "total_archs": len(meta_archs),
    }


def write_nb201_pth(
    path: str | os.PathLike[str],
    indexes: Iterable[int] = FIXTURE_INDEXES,
    *,
    version: str = "v1_1",
    full_meta: bool = True,
    legacy: bool = True,
    curve_every: int = 1,
    with_times: bool = True,
) -> Path:
    """Write a NAS-Bench-201 ``.pth`` file; ``legacy`` uses torch's pre-1.6 (non-zip) format, as the originals."""
    import torch

    path = Path(path)
    data = nb201_pth_dict(indexes, version=version, full_meta=full_meta, curve_every=curve_every, with_times=with_times)
    torch.save(data, path, _use_new_zipfile_serialization=not legacy)
    return path


def nats_tss_dict(
    indexes: Iterable[int] = FIXTURE_INDEXES, *, full_meta: bool = True, curve_every: int = 1
) -> dict[str, Any]:
    """The dict a NATS-Bench topology single file holds (schedules keyed ``"12"`` and ``"200"``)."""
    indexes = list(indexes)
    meta_archs, file_indexes = _meta_archs(indexes, full_meta)
    arch2infos = {}
    for official, file_index in zip(indexes, file_indexes, strict=True):
        infos = {hp: arch_results_state("nats_bench", official, hp, curve_every=curve_every) for hp in ("12", "200")}
        for state in infos.values():
            state["arch_index"] = file_index
        arch2infos[file_index] = infos
    return {"meta_archs": meta_archs, "arch2infos": arch2infos, "evaluated_indexes": sorted(arch2infos)}


def _bz2_pickle(obj: Any, path: Path) -> None:
    # exactly what nats_bench.api_utils.pickle_save does (protocol 4), without its extension handling
    with bz2.BZ2File(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=4)


def write_nats_pickle(
    path: str | os.PathLike[str],
    indexes: Iterable[int] = FIXTURE_INDEXES,
    *,
    full_meta: bool = True,
    curve_every: int = 1,
) -> Path:
    """Write a NATS-Bench topology single ``.pickle.pbz2`` file."""
    path = Path(path)
    _bz2_pickle(nats_tss_dict(indexes, full_meta=full_meta, curve_every=curve_every), path)
    return path


def write_nats_dir(
    directory: str | os.PathLike[str],
    indexes: Iterable[int] = FIXTURE_INDEXES,
    *,
    full_meta: bool = True,
    curve_every: int = 1,
) -> Path:
    """Write a NATS-Bench topology fast-mode directory (``meta.pickle.pbz2`` + ``{index}.pickle.pbz2``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = nats_tss_dict(indexes, full_meta=full_meta, curve_every=curve_every)
    _bz2_pickle({"meta_archs": data["meta_archs"]}, directory / f"meta.{PICKLE_EXT}")
    for file_index, infos in data["arch2infos"].items():
        _bz2_pickle(infos, directory / f"{file_index}.{PICKLE_EXT}")
    return directory


def write_synthetic_nb201_pth(
    path: str | os.PathLike[str],
    n_archs: int = nb201_space.NUM_ARCHS,
    *,
    curve_every: int = 25,
    legacy: bool = True,
) -> Path:
    """A full-size (by default all 15,625 architectures) NAS-Bench-201 v1.1 ``.pth`` for memory measurements.

    Same layout and metrics as :func:`write_nb201_pth`, but the curves keep every ``curve_every``-th
    epoch and no time curves (the originals keep every epoch: about 25x more curve data at the
    default, several GB), so that it can be written in a minute or two.
    """
    return write_nb201_pth(
        path,
        range(n_archs),
        version="v1_1",
        full_meta=True,
        legacy=legacy,
        curve_every=curve_every,
        with_times=False,
    )


#: the official-layout table columns (``../shared/data/nb201/nb201_test_accuracy.csv``)
TABLE_COLUMNS = {
    "cifar10": "CIFAR10TestAccuracy200Epochs",
    "cifar100": "CIFAR100TestAccuracy200Epochs",
    "ImageNet16-120": "ImageNetTestAccuracy200Epochs",
}
TABLE_ARCH_COLUMN = "ArchitectureString"
#: the eval set behind each table column (the official "test" accuracies)
TABLE_SETS = {"cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}


def table_rows(indexes: Iterable[int] = range(nb201_space.NUM_ARCHS)) -> list[dict[str, Any]]:
    """Rows of an official-layout table, values from :func:`expected_accuracy` (200 epochs)."""
    rows = []
    for i in indexes:
        row: dict[str, Any] = {col: expected_accuracy(i, ds, TABLE_SETS[ds]) for ds, col in TABLE_COLUMNS.items()}
        row[TABLE_ARCH_COLUMN] = nb201_space.to_str(nb201_space.index_to_arch(i))
        row["UniqueString"] = ""
        rows.append(row)
    return rows


def write_nb201_table(path: str | os.PathLike[str], indexes: Iterable[int] = range(nb201_space.NUM_ARCHS)) -> Path:
    """Write an official-layout CSV table (same columns as the reference table) with fixture values."""
    path = Path(path)
    rows = table_rows(indexes)
    columns = [*TABLE_COLUMNS.values(), TABLE_ARCH_COLUMN, "UniqueString"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path
