"""Read an official NAS-Bench-201 / NATS-Bench single file in one streaming pass, with flat memory.

The official ``.pth`` (torch's legacy layout or its zip layout) and the NATS-Bench topology single
``.pickle.pbz2`` hold one dict: ``meta_archs``, ``arch2infos`` ``{index: {schedule: ArchResults
state}}``, ``evaluated_indexes``. Its pickle is read by
:class:`~nas_harness.benchmarks.pickle_stream.StreamingUnpickler`; as soon as one ArchResults state
(one architecture and schedule: every trial's curves) is complete, its final metrics are taken by the
official package's own classes and methods (``ArchResults.create_from_state_dict``, ``get_eval``,
``get_compute_costs``: :func:`state_metrics`), and the state is emptied in place, so the curves never
pile up: peak memory does not grow with the file.

The allow-list of :mod:`nas_harness.benchmarks.pickles` applies: a global outside
:data:`~nas_harness.benchmarks.pickles.SAFE_GLOBALS` raises
:class:`~nas_harness.benchmarks.pickles.UntrustedPickleError` unless ``trust_pickle``. Nothing the file
names is ever called here, allowed or not: tensors (trained weights in v1.0) become
:class:`TensorStub` placeholders without their storage, and with ``trust_pickle`` any other global
becomes an inert :class:`OpaqueObject`.

Example::

    meta_archs, records = read_single_file("NAS-Bench-201-v1_1-096897.pth", "nb201-pth", trust_pickle=False)
    records[file_index]["full"]   # {data set: DatasetMetrics}
"""

from __future__ import annotations

import bz2
import codecs
import collections
import importlib
import io
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas_harness.api import BenchmarkError
from nas_harness.benchmarks.pickle_stream import StreamingUnpickler
from nas_harness.benchmarks.pickles import SAFE_GLOBALS, ForbiddenGlobal

#: torch's legacy format starts with this number pickled (torch/serialization.py MAGIC_NUMBER)
TORCH_MAGIC = 0x1950A86A20F9469CFC6C
#: the key a read ArchResults state keeps its metrics under once its curves are dropped
METRICS_KEY = "__nas_harness_metrics__"
#: data set -> split -> eval-set name in the official records (the nb201 module's table)
EvalSets = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class DatasetMetrics:
    """One architecture, schedule and data set: seed-averaged final accuracy per split, and costs."""

    accuracy: dict[str, float] = field(default_factory=dict)  # split -> percent
    costs: dict[str, float | None] = field(default_factory=dict)  # params, flops, latency, train_seconds


class TensorStub:
    """Where the file has a tensor (trained weights): its size only; the harness never needs the values."""

    def __init__(self, *args: Any) -> None:
        self.size = tuple(args[2]) if len(args) > 2 and isinstance(args[2], tuple | list) else None

    def __repr__(self) -> str:
        return f"TensorStub(size={self.size})"


class OpaqueObject:
    """Stands in for any global of a trusted file that is not on the allow-list; never runs its code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _opaque_global(module: str, name: str) -> type:
    return type(name, (OpaqueObject,), {"__module__": f"opaque:{module}"})


_TORCH_STUBS = {
    ("torch._utils", "_rebuild_tensor"): TensorStub,
    ("torch._utils", "_rebuild_tensor_v2"): TensorStub,
    ("torch._utils", "_rebuild_parameter"): lambda tensor, *rest: tensor,
    ("torch", "Size"): tuple,
}
_PLAIN = {("collections", "OrderedDict"): collections.OrderedDict, ("_codecs", "encode"): codecs.encode}


def make_resolver(trust_pickle: bool) -> Callable[[str, str], Any]:
    """``GLOBAL`` resolution: allow-listed names to safe stand-ins or the (data-only) numpy originals."""

    def resolve(module: str, name: str) -> Any:
        key = (module, name)
        if key in _TORCH_STUBS:
            return _TORCH_STUBS[key]
        if module == "torch" and name.endswith("Storage"):  # a storage type named by a tensor's persistent id
            return TensorStub
        if key in _PLAIN:
            return _PLAIN[key]
        if key in SAFE_GLOBALS:  # numpy scalars and dtypes: they only build values from bytes
            return getattr(importlib.import_module(module), name)
        if trust_pickle:
            return _opaque_global(module, name)
        raise ForbiddenGlobal(f"{module}.{name}")

    return resolve


def _storage_stub(pid: Any) -> TensorStub:
    return TensorStub()


def results_metrics(results: Any, eval_sets: EvalSets) -> dict[str, DatasetMetrics]:
    """Final metrics of one official ``ArchResults`` object (one architecture and schedule), per data set.

    Accuracy is ``get_eval(set)["accuracy"]`` (the last epoch) averaged over the data set's seeds, as
    ``get_metrics(..., is_random=False)`` does; costs are ``get_compute_costs`` (params, FLOPs, latency,
    ``T-train@total``), computed by the object's own package.
    """
    out: dict[str, DatasetMetrics] = {}
    for dataset in results.get_dataset_names():
        if dataset not in eval_sets:
            continue
        trials = results.query(dataset)
        if not trials:
            continue
        common = set.intersection(*(set(t.get_eval_set()) for t in trials.values()))
        metrics = DatasetMetrics()
        for split, setname in eval_sets[dataset].items():
            if setname in common:
                accs = [float(t.get_eval(setname)["accuracy"]) for t in trials.values()]
                metrics.accuracy[split] = sum(accs) / len(accs)
        cost = results.get_compute_costs(dataset)
        for key, official in (("params", "params"), ("flops", "flops"), ("latency", "latency")):
            metrics.costs[key] = cost.get(official)
        metrics.costs["train_seconds"] = cost.get("T-train@total")
        out[dataset] = metrics
    return out


def state_metrics(state: dict, package: str, eval_sets: EvalSets) -> dict[str, DatasetMetrics]:
    """:func:`results_metrics` computed straight from one ArchResults state dict, the way ``package`` does.

    The official classes would do the same in ~15 ms per state (``get_eval`` and ``get_times`` format and
    sum every epoch's key); here only the numbers used are read, with the same arithmetic:
    ``package`` ``"nas_201_api"`` (NAS-Bench-201 ``.pth``) averages with numpy, ``"nats_bench"``
    (NATS-Bench) with ``sum / len`` and repairs inconsistent FLOPs/params across seeds by taking seed
    888's (its ``get_compute_costs``). tests/test_nb201_stream.py checks equality with the official
    classes on every architecture of the fixture files.
    """
    if package not in ("nas_201_api", "nats_bench"):
        raise ValueError(f"package must be 'nas_201_api' or 'nats_bench', not {package!r}")
    average = _np_mean if package == "nas_201_api" else _plain_mean
    all_results, dataset_seed = state["all_results"], state["dataset_seed"]
    out: dict[str, DatasetMetrics] = {}
    for dataset, seeds in dataset_seed.items():
        if dataset not in eval_sets or not seeds:
            continue
        trials = [all_results[(dataset, seed)] for seed in seeds]
        common = set.intersection(*(set(t["eval_names"]) for t in trials))
        metrics = DatasetMetrics()
        for split, setname in eval_sets[dataset].items():
            if setname in common:
                accs = [float(t["eval_acc1es"][f"{setname}@{t['epochs'] - 1}"]) for t in trials]
                metrics.accuracy[split] = sum(accs) / len(accs)
        flops, params = [t["flop"] for t in trials], [t["params"] for t in trials]
        if package == "nats_bench":
            flops, params = _nats_legacy_fix(flops, seeds), _nats_legacy_fix(params, seeds)
        latencies = [-1.0 if t["latency"] is None else sum(t["latency"]) / len(t["latency"]) for t in trials]
        latencies = [x for x in latencies if x > 0]
        train = [_train_total(t, package) for t in trials]
        metrics.costs["params"] = average(params)
        metrics.costs["flops"] = average(flops)
        metrics.costs["latency"] = average(latencies) if latencies else None
        metrics.costs["train_seconds"] = average(train) if train[0] is not None else None
        out[dataset] = metrics
    return out


def _np_mean(values: list[Any]) -> float:
    return float(np.mean(values))


def _plain_mean(values: list[Any]) -> float:
    return sum(values) / len(values)


def _nats_legacy_fix(values: list[Any], seeds: list[int]) -> list[Any]:
    """nats_bench's fix of legacy FLOPs/params: values that differ across seeds -> seed 888's alone."""
    if len(values) > 1 and len({f"{x:.5f}" for x in values}) > 1:
        return [values[seeds.index(888)]]
    return values


def _train_total(trial: dict, package: str) -> float | None:
    """``get_times()["T-train@total"]`` of one trial: the sum of its per-epoch training seconds."""
    times = trial.get("train_times")
    if times is None or not isinstance(times, dict):
        return None
    return float(np.sum(list(times.values()))) if package == "nas_201_api" else sum(times.values())


class _MetricsTaker:
    """``on_dict`` hook: a complete ArchResults state gives its metrics and drops its curves."""

    def __init__(self, package: str, eval_sets: EvalSets, where: Path, expected: str) -> None:
        self.expected = expected
        self.package = package
        self.eval_sets = eval_sets
        self.where = where
        self.states = 0

    def __call__(self, d: dict) -> None:
        if "all_results" not in d or "dataset_seed" not in d or METRICS_KEY in d:
            return
        self.take(d)

    def take(self, state: dict) -> None:
        try:
            metrics = state_metrics(state, self.package, self.eval_sets)
        except Exception as exc:
            raise BenchmarkError(
                f"{self.where}: the record of architecture {state.get('arch_index')!r} does not have the official "
                f"layout ({type(exc).__name__}: {exc}); {self.expected}"
            ) from exc
        state.clear()
        state[METRICS_KEY] = metrics
        self.states += 1


def _open_stream(path: Path, fmt: str, expected: str) -> tuple[Any, bool]:
    """(binary stream of the file's pickle(s), whether it is torch's legacy layout)."""
    if fmt == "nats-pickle":
        return bz2.BZ2File(path, "rb"), False
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        names = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
        if not names:
            raise BenchmarkError(f"{path}: a zip file without data.pkl, not a torch file; {expected}")
        return archive.open(names[0]), False
    return open(path, "rb"), True


FILE_KEYS = ("meta_archs", "arch2infos", "evaluated_indexes")


def check_file_dict(raw: Any, path: Path, expected: str) -> dict:
    """``raw`` is the dict an official single file holds: :data:`FILE_KEYS`, ``arch2infos`` a dict."""
    if not isinstance(raw, dict) or any(k not in raw for k in FILE_KEYS):
        found = sorted(map(str, raw)) if isinstance(raw, dict) else type(raw).__name__
        raise BenchmarkError(f"{path}: holds {found}, not the NAS-Bench-201 dict; {expected}")
    infos = raw["arch2infos"]
    if not isinstance(infos, dict):
        raise BenchmarkError(f"{path}: arch2infos is a {type(infos).__name__}, not a dict; {expected}")
    return raw


def check_record(record: Any, file_index: Any, where: Path, expected: str) -> None:
    """One architecture's ``{schedule: ArchResults state dict}``; anything else never reaches an official class."""
    problem = None
    if not isinstance(record, dict):
        problem = f"a {type(record).__name__}, not a dict of schedule -> record"
    else:
        bad = next((hp for hp, state in record.items() if not isinstance(state, dict)), None)
        if bad is not None:
            problem = f"schedule {bad!r} holds a {type(record[bad]).__name__}, not a record (a dict)"
    if problem is not None:
        raise BenchmarkError(f"{where}: the record of architecture {file_index!r} is {problem}; {expected}")


def read_single_file(
    path: str | Path,
    fmt: str,
    *,
    trust_pickle: bool,
    eval_sets: EvalSets,
    expected: str,
    generation: int | None = None,
) -> tuple[Any, dict[Any, Any], int]:
    """Stream one official single file: (meta_archs, arch2infos with each state's metrics, states read).

    ``expected`` (what the file should be) ends every error message.
    Each ``arch2infos[index][schedule]`` is ``{METRICS_KEY: {data set: DatasetMetrics}}``. Raises
    :class:`~nas_harness.benchmarks.pickle_stream.MemoMissError` when the file reads back an object
    the streaming reader forgot (then read it with an ordinary load), ``ForbiddenGlobal`` for a global
    outside the allow-list, ``pickle.UnpicklingError`` and friends for a damaged file.
    """
    path = Path(path)
    package = "nats_bench" if fmt == "nats-pickle" else "nas_201_api"
    taker = _MetricsTaker(package, eval_sets, path, expected)
    stream, legacy = _open_stream(path, fmt, expected)
    with stream:
        reader = io.BufferedReader(stream) if not isinstance(stream, io.BufferedIOBase) else stream
        options: dict[str, Any] = {"generation": generation} if generation else {}
        unpickler = StreamingUnpickler(
            reader.read,
            resolve=make_resolver(trust_pickle),
            persistent_load=_storage_stub,
            on_dict=taker,
            **options,
        )
        raw = unpickler.load()
        if legacy and raw == TORCH_MAGIC:  # magic, protocol version, system info, then the object
            unpickler.load()
            unpickler.load()
            raw = unpickler.load()
    infos = check_file_dict(raw, path, expected)["arch2infos"]
    for record in infos.values():  # states the hook did not see (e.g. an OrderedDict record)
        if isinstance(record, dict):
            for state in record.values():
                if isinstance(state, dict) and METRICS_KEY not in state and "all_results" in state:
                    taker.take(state)
    return raw["meta_archs"], infos, taker.states
