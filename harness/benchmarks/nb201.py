"""NAS-Bench-201 ground truth from the official benchmark files.

Three official formats are read through the official packages:

* ``nb201-pth``: NAS-Bench-201 ``.pth`` files (v1.0 ``NAS-Bench-201-v1_0-e61699.pth``, v1.1
  ``NAS-Bench-201-v1_1-096897.pth``), read by ``torch.load`` and handed to
  :class:`nas_201_api.NASBench201API`.
* ``nats-pickle``: a NATS-Bench topology single file (``NATS-tss-v1_0-3ffb9*.pickle.pbz2``), a
  bz2-compressed pickle handed to ``nats_bench.create(data, "tss")``.
* ``nats-dir``: a NATS-Bench topology fast-mode directory (``NATS-tss-v1_0-3ffb9-simple/`` with
  ``meta.pickle.pbz2`` and one ``{index}.pickle.pbz2`` per architecture), read lazily, one
  architecture file at a time, each record turned into ``nats_bench``'s ``ArchResults`` as
  ``nats_bench``'s own ``reload`` does.

Every file is unpickled by the harness, never by the official packages, under one rule
(:mod:`nas_harness.benchmarks.pickles`): an allow-list of globals (ordered dicts, tensors, numpy
scalars) unless ``trust_pickle=True``. Which reader runs follows the file's content, not its name.
Before a record reaches an official class, its layout is checked (a schedule's record must be a
dict: the official ``create_from_state_dict`` would load a *string* as another file's path).

Memory: the official objects keep every trial's 200-epoch training curves (the v1.1 file is 4.7 GB
on disk and far more in memory). At load, the final seed-averaged metrics are extracted into
:class:`NB201Results`, a few numpy arrays keyed by the official architecture index (about 4 MB for
all 15,625 architectures), and each architecture's records are dropped from the API object as soon
as they are read; the API object itself is released after loading (in ``nats-dir`` lazy mode only
its list of architecture strings stays).

Queries always name the schedule: ``epochs=200`` (the official API's ``hp="200"``) unless
``epochs=12`` is asked for; the official API's own default is 12 epochs, which is never used here.

Splits per data set (the eval sets of the official records):

=================  ==============================  ================================
data set           split ``"valid"``               split ``"test"``
=================  ==============================  ================================
``cifar10``        none (use ``cifar10-valid``)    ``ori-test`` (trained on train+valid)
``cifar10-valid``  ``x-valid``                     ``ori-test`` (trained on train only)
``cifar100``       ``x-valid``                     ``x-test``
``ImageNet16-120`` ``x-valid``                     ``x-test``
=================  ==============================  ================================

Example::

    bench = NB201Benchmark("NAS-Bench-201-v1_1-096897.pth", dataset="cifar100")
    bench.accuracy((3, 3, 4, 1, 3, 1), split="valid")   # % at 200 epochs, seed-averaged
    bench.cost((3, 3, 4, 1, 3, 1), "flops")

    results = NB201Results.load("NAS-Bench-201-v1_1-096897.pth")   # load once ...
    c10 = NB201Benchmark(results=results, dataset="cifar10")          # ... view several data sets
"""

from __future__ import annotations

import gc
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nas_harness.api import Arch, ArchitectureError, Benchmark, BenchmarkError
from nas_harness.benchmarks.nb201_stream import (
    METRICS_KEY,
    DatasetMetrics,
    check_file_dict,
    check_record,
    read_single_file,
    results_metrics,
)
from nas_harness.benchmarks.pickle_stream import MemoMissError
from nas_harness.benchmarks.pickles import ForbiddenGlobal, UntrustedPickleError, load_bz2_pickle, load_torch_file
from nas_harness.spaces import nb201 as nb201_space

DATASETS: tuple[str, ...] = ("cifar10", "cifar10-valid", "cifar100", "ImageNet16-120")
SPLITS: tuple[str, ...] = ("valid", "test")
#: data set -> split -> eval-set name in the official records
EVAL_SETS: dict[str, dict[str, str]] = {
    "cifar10": {"test": "ori-test"},
    "cifar10-valid": {"valid": "x-valid", "test": "ori-test"},
    "cifar100": {"valid": "x-valid", "test": "x-test"},
    "ImageNet16-120": {"valid": "x-valid", "test": "x-test"},
}
EPOCHS: tuple[int, ...] = (12, 200)
#: how single files are read (NB201Results.load's ``reader``)
READERS: tuple[str, ...] = ("stream", "official")
#: schedule keys of the official records (NAS-Bench-201's API renames 'less'/'full' to '12'/'200')
_HP_ROW = {"12": 0, "200": 1, "less": 0, "full": 1}
#: cost keys: params (MB), flops (M), latency (s, batch of 256), train_seconds (total, 200 epochs)
COST_KEYS: tuple[str, ...] = ("params", "flops", "latency", "train_seconds")
FORMATS: dict[str, str] = {
    "nb201-pth": (
        "a NAS-Bench-201 .pth file (NAS-Bench-201-v1_0-e61699.pth / NAS-Bench-201-v1_1-096897.pth: "
        "torch.save of a dict with keys meta_archs, arch2infos {index: {'less', 'full'}}, evaluated_indexes), "
        "read by nas_201_api.NASBench201API"
    ),
    "nats-pickle": (
        "a NATS-Bench topology file (NATS-tss-v1_0-3ffb9*.pickle.pbz2: a bz2-compressed pickle of a dict "
        "with keys meta_archs, arch2infos {index: {'12', '200'}}, evaluated_indexes), read by "
        "nats_bench.create(data, 'tss')"
    ),
    "nats-dir": (
        "a NATS-Bench topology fast-mode directory (NATS-tss-v1_0-3ffb9-simple/: meta.pickle.pbz2 holding "
        "{'meta_archs': [...]} and one {index}.pickle.pbz2 per architecture), read as nats_bench reads it "
        "with fast_mode=True"
    ),
}
_ARCH_FILE = re.compile(r"^(\d+)\.pickle\.pbz2$")
_META_FILE = "meta.pickle.pbz2"


def _expected(fmt: str | None = None) -> str:
    if fmt is not None:
        return f"expected {FORMATS[fmt]}"
    return "expected one of: " + "; ".join(FORMATS.values())


def detect_format(path: str | os.PathLike[str]) -> str:
    """``nb201-pth``, ``nats-pickle`` or ``nats-dir``, from what is at ``path`` (not its name)."""
    path = Path(path)
    if not path.exists():
        raise BenchmarkError(f"{path}: no such file or directory; {_expected()}")
    if path.is_dir():
        return "nats-dir"
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise BenchmarkError(f"{path} is empty; {_expected()}")
    if head.startswith(b"BZh"):
        return "nats-pickle"
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch zip, or legacy torch / raw pickle
        return "nb201-pth"
    hint = ""
    if path.suffix.lower() in (".csv", ".tsv", ".parquet", ".pq", ".gz"):
        hint = " (for a table use nas_harness.benchmarks.table.NB201TableBenchmark)"
    raise BenchmarkError(f"{path}: not a recognised benchmark file (starts with {head!r}){hint}; {_expected()}")


class _NoCopyDict(dict):
    """A dict whose deep copy is itself: hands a freshly loaded file to an official API without a 2nd copy."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _NoCopyDict:
        return self


class NB201Results:
    """Final metrics of the architectures in one official file, in arrays keyed by official index.

    ``acc[e, d, s, i]``: seed-averaged accuracy (%) for schedule ``EPOCHS[e]``, data set
    ``DATASETS[d]``, split ``SPLITS[s]``, official index ``i`` (NaN: not in the file).
    ``costs[d, k, i]``: cost ``COST_KEYS[k]`` (from the 200-epoch records; NaN: not recorded).
    ``has_record[i]``: the file has a record of architecture ``i``. In lazy mode (``nats-dir``)
    ``loaded[i]`` says which architectures were read so far; others are read on first use.
    """

    def __init__(self, path: Path, fmt: str) -> None:
        n = nb201_space.NUM_ARCHS
        self.path = path
        self.format = fmt
        self.acc = np.full((len(EPOCHS), len(DATASETS), len(SPLITS), n), np.nan)
        self.costs = np.full((len(DATASETS), len(COST_KEYS), n), np.nan)
        self.has_record = np.zeros(n, dtype=bool)
        self.loaded = np.zeros(n, dtype=bool)
        self._reader: _LazyDirReader | None = None
        self._lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        format: str = "auto",
        lazy: bool | None = None,
        trust_pickle: bool = False,
        reader: str = "stream",
    ) -> NB201Results:
        """Read an official file (see the module docstring for formats).

        ``lazy`` (only for ``nats-dir``, default True there): read each architecture's file on first
        use instead of all 15,625 now. ``trust_pickle``: accept globals outside the allow-list (every
        format); by default only containers, numbers, strings, tensors and numpy scalars load.
        ``reader`` (single files): ``"stream"`` (default; flat memory, :mod:`.nb201_stream`) or
        ``"official"`` (the whole file through ``torch.load`` / ``pickle`` and the official API object).
        """
        if reader not in READERS:
            raise BenchmarkError(f"unknown reader {reader!r}; accepted: {', '.join(READERS)}")
        path = Path(path)
        fmt = detect_format(path) if format == "auto" else format
        if fmt not in FORMATS:
            raise BenchmarkError(f"unknown format {format!r} for {path}; accepted: auto, {', '.join(FORMATS)}")
        if not path.exists():
            raise BenchmarkError(f"{path}: no such file or directory; {_expected(fmt)}")
        if (fmt == "nats-dir") != path.is_dir():
            kind = "a directory" if path.is_dir() else "a file"
            raise BenchmarkError(f"{path} is {kind}, not format {fmt!r}; {_expected(fmt)}")
        if lazy and fmt != "nats-dir":
            raise BenchmarkError(f"lazy loading needs the fast-mode directory format (nats-dir); {path} is {fmt}")
        results = cls(path, fmt)
        if fmt in ("nb201-pth", "nats-pickle") and reader == "stream":
            try:
                results._read_streamed(trust_pickle)
            except MemoMissError as exc:  # a file that reads back objects long after writing them
                warnings.warn(f"{path}: {exc}; reading it whole instead (memory grows with the file)", stacklevel=2)
                results = cls(path, fmt)
                reader = "official"
        if fmt in ("nb201-pth", "nats-pickle") and reader == "official":
            api = _open_nb201_pth(path, trust_pickle) if fmt == "nb201-pth" else _open_nats_pickle(path, trust_pickle)
            results._extract_all(api)
            del api
            _return_freed_memory()
        elif fmt == "nats-dir":
            results._reader = _LazyDirReader(results, trust_pickle)
            if not (lazy if lazy is not None else True):
                results.ensure_loaded()
        return results

    def _read_streamed(self, trust_pickle: bool) -> None:
        """One streaming pass over a single file (:func:`.nb201_stream.read_single_file`)."""
        path, fmt = self.path, self.format
        try:
            meta_archs, infos, _ = read_single_file(
                path, fmt, trust_pickle=trust_pickle, eval_sets=EVAL_SETS, expected=_expected(fmt)
            )
        except (BenchmarkError, MemoMissError):
            raise
        except ForbiddenGlobal as exc:
            raise UntrustedPickleError(path, exc.global_name) from exc
        except Exception as exc:  # truncated, not a pickle, a damaged zip or bz2 stream, ...
            raise BenchmarkError(f"{path}: cannot read it ({type(exc).__name__}: {exc}); {_expected(fmt)}") from exc
        to_official = _official_indexes(meta_archs, path)
        for file_index in sorted(infos):
            record = infos.pop(file_index)
            check_record(record, file_index, path, _expected(fmt))
            official = _map_index(to_official, file_index, path)
            for hp, state in record.items():
                row = _HP_ROW.get(str(hp))
                if row is not None:
                    if METRICS_KEY not in state:
                        raise BenchmarkError(
                            f"{path}: the record of architecture {file_index} schedule {hp!r} is not an ArchResults "
                            f"state (no all_results/dataset_seed); {_expected(fmt)}"
                        )
                    self._fill(official, row, state[METRICS_KEY])
            self.has_record[official] = True
        self.loaded[:] = True
        _return_freed_memory()

    def _fill(self, official: int, row: int, metrics: Mapping[str, DatasetMetrics]) -> None:
        """Put one architecture's metrics for schedule row ``row`` into the arrays (costs: 200 epochs only)."""
        for d, dataset in enumerate(DATASETS):
            found = metrics.get(dataset)
            if found is None:
                continue
            for s, split in enumerate(SPLITS):
                if split in found.accuracy:
                    self.acc[row, d, s, official] = found.accuracy[split]
            if row == _HP_ROW["200"]:
                for k, key in enumerate(COST_KEYS):
                    value = found.costs.get(key)
                    self.costs[d, k, official] = np.nan if value is None else float(value)

    def _extract_all(self, api: Any) -> None:
        """Move every record out of ``api`` into the arrays, dropping each as soon as it is read."""
        to_official = _official_indexes(api.meta_archs, self.path)
        infos = api.arch2infos_dict
        for file_index in sorted(infos):
            hp2results = infos.pop(file_index)
            self._extract(_map_index(to_official, file_index, self.path), hp2results, file_index)
            del hp2results
        self.loaded[:] = True

    def _extract(
        self, official: int, hp2results: Mapping[str, Any], file_index: int, where: Path | None = None
    ) -> None:
        """Read one architecture's final metrics from its official ``{schedule: ArchResults}``."""
        where = where or self.path
        try:
            for hp, results in hp2results.items():
                row = _HP_ROW.get(str(hp))
                if row is not None:  # else a schedule this benchmark does not serve
                    self._fill(official, row, results_metrics(results, EVAL_SETS))
        except BenchmarkError:
            raise
        except Exception as exc:
            raise BenchmarkError(
                f"{where}: the record of architecture {file_index} does not have the official layout "
                f"({type(exc).__name__}: {exc}); {_expected(self.format)}"
            ) from exc
        self.has_record[official] = True

    def ensure_loaded(self, indexes: Iterable[int] | None = None) -> None:
        """Read the given architectures (all when None) in lazy mode; a no-op otherwise."""
        if self._reader is None:
            return
        with self._lock:
            todo = np.flatnonzero(~self.loaded) if indexes is None else [i for i in indexes if not self.loaded[i]]
            for official in todo:
                self._reader.read(int(official))
            if self.loaded.all() and self._reader is not None:
                self._reader = None  # release the API object
                _return_freed_memory()

    # -- queries ---------------------------------------------------------------------------------
    @property
    def lazy(self) -> bool:
        return self._reader is not None

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        return self.acc.nbytes + self.costs.nbytes + self.has_record.nbytes + self.loaded.nbytes

    def records(self) -> np.ndarray:
        """Official indices of the architectures the file has records of."""
        if self._reader is not None:
            return np.flatnonzero(self._reader.in_dir)
        return np.flatnonzero(self.has_record)

    def __repr__(self) -> str:
        return f"NB201Results({str(self.path)!r}, format={self.format!r}, records={len(self.records())})"


def _return_freed_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc's malloc_trim; a no-op elsewhere).

    Without it the process keeps most of the loading peak as fragmented, unused heap (80 of 81 MB
    retained after the synthetic full-size file).
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass


def _official_indexes(meta_archs: Any, path: Path) -> np.ndarray:
    """Official index of each file index (files list architectures as strings in ``meta_archs``)."""
    if not isinstance(meta_archs, list | tuple):
        raise BenchmarkError(f"{path}: meta_archs is a {type(meta_archs).__name__}, not a list of architecture strings")
    official = nb201_space.official_order()
    out = np.empty(len(meta_archs), dtype=np.int64)
    for i, text in enumerate(meta_archs):
        try:
            arch = nb201_space.parse(text)
        except ArchitectureError as exc:
            raise BenchmarkError(
                f"{path}: meta_archs[{i}] = {text!r} is not a NAS-Bench-201 architecture: {exc}"
            ) from exc
        out[i] = i if i < len(official) and official[i] == arch else nb201_space.arch_to_index(arch)
    return out


def _map_index(to_official: np.ndarray, file_index: Any, path: Path) -> int:
    if not isinstance(file_index, int | np.integer) or not 0 <= file_index < len(to_official):
        raise BenchmarkError(
            f"{path}: arch2infos has key {file_index!r}, not an index into meta_archs (0..{len(to_official) - 1})"
        )
    return int(to_official[file_index])


def _check_file_dict(raw: Any, path: Path, fmt: str) -> dict:
    """``raw`` is the dict an official single file holds, every record a dict of schedule -> dict."""
    for file_index, record in check_file_dict(raw, path, _expected(fmt))["arch2infos"].items():
        check_record(record, file_index, path, _expected(fmt))
    return raw


def _open_nb201_pth(path: Path, trust_pickle: bool) -> Any:
    from nas_201_api import NASBench201API

    raw = _check_file_dict(
        load_torch_file(path, trust_pickle=trust_pickle, expected=_expected("nb201-pth")), path, "nb201-pth"
    )
    try:
        api = NASBench201API(_NoCopyDict(raw), verbose=False)
    except Exception as exc:
        raise BenchmarkError(
            f"{path}: NASBench201API rejected it ({type(exc).__name__}: {exc}); {_expected('nb201-pth')}"
        ) from exc
    finally:
        del raw
    api.filename = path.name
    return api


def _open_nats_pickle(path: Path, trust_pickle: bool) -> Any:
    import nats_bench

    raw = _check_file_dict(
        load_bz2_pickle(path, trust_pickle=trust_pickle, expected=_expected("nats-pickle")), path, "nats-pickle"
    )
    try:
        api = nats_bench.create(_NoCopyDict(raw), "tss", fast_mode=False, verbose=False)
    except Exception as exc:
        raise BenchmarkError(
            f"{path}: nats_bench rejected it ({type(exc).__name__}: {exc}); {_expected('nats-pickle')}"
        ) from exc
    finally:
        del raw
    api.filename = path.name
    return api


class _LazyDirReader:
    """Reads a fast-mode directory one architecture file at a time (as ``nats_bench``'s ``reload`` does)."""

    def __init__(self, results: NB201Results, trust_pickle: bool) -> None:
        self.results = results
        self.trust_pickle = trust_pickle
        meta_archs = self._meta_archs(results.path)
        to_official = _official_indexes(meta_archs, results.path)
        self.file_of = np.full(nb201_space.NUM_ARCHS, -1, dtype=np.int64)
        self.file_of[to_official] = np.arange(len(to_official))
        self.in_dir = np.zeros(nb201_space.NUM_ARCHS, dtype=bool)
        for name in os.listdir(results.path):
            match = _ARCH_FILE.match(name)
            if match and int(match.group(1)) < len(to_official):
                self.in_dir[to_official[int(match.group(1))]] = True

    def _meta_archs(self, directory: Path) -> Any:
        meta_path = directory / _META_FILE
        if not meta_path.is_file():
            raise BenchmarkError(f"{directory}: cannot read it (no {_META_FILE} in it); {_expected('nats-dir')}")
        meta = load_bz2_pickle(meta_path, trust_pickle=self.trust_pickle, expected=_expected("nats-dir"))
        if not isinstance(meta, dict) or "meta_archs" not in meta:
            found = sorted(map(str, meta)) if isinstance(meta, dict) else type(meta).__name__
            raise BenchmarkError(f"{meta_path}: holds {found}, not {{'meta_archs': [...]}}; {_expected('nats-dir')}")
        return meta["meta_archs"]

    def read(self, official: int) -> None:
        results = self.results
        if self.in_dir[official]:
            file_index = int(self.file_of[official])
            names = (f"{file_index:06d}.pickle.pbz2", f"{file_index}.pickle.pbz2")
            where = next((results.path / n for n in names if (results.path / n).exists()), results.path / names[1])
            results._extract(official, self._hp2results(where, file_index), file_index, where=where)
        results.loaded[official] = True

    def _hp2results(self, where: Path, file_index: int) -> dict[str, Any]:
        """``{schedule: ArchResults}`` of one architecture file."""
        from nats_bench.api_utils import ArchResults

        expected = (
            "expected a bz2-compressed pickle of {'12': ArchResults state, '200': ArchResults state} as in "
            + FORMATS["nats-dir"]
        )
        record = load_bz2_pickle(where, trust_pickle=self.trust_pickle, expected=expected)
        check_record(record, file_index, where, _expected("nats-dir"))
        try:
            return {hp: ArchResults.create_from_state_dict(state) for hp, state in record.items()}
        except Exception as exc:
            raise BenchmarkError(f"{where}: cannot read it ({type(exc).__name__}: {exc}); {expected}") from exc


class NB201Benchmark(Benchmark):
    """NAS-Bench-201 ground truth for one data set from an official file (see the module docstring).

    Args:
        path: the official file or fast-mode directory (or give ``results``).
        dataset: ``cifar10``, ``cifar10-valid``, ``cifar100`` or ``ImageNet16-120``.
        format: ``auto`` (from the content), ``nb201-pth``, ``nats-pickle`` or ``nats-dir``.
        lazy: ``nats-dir`` only: read architecture files on first use (default True there).
        trust_pickle: allow any pickled object, in every format (only for files you trust).
        results: an already loaded :class:`NB201Results` to share between data sets.
    """

    name = "nb201.official"
    space = "nb201"
    default_epochs = 200

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        dataset: str = "cifar10",
        *,
        format: str = "auto",
        lazy: bool | None = None,
        trust_pickle: bool = False,
        results: NB201Results | None = None,
    ) -> None:
        if dataset not in DATASETS:
            raise BenchmarkError(f"unknown NAS-Bench-201 data set {dataset!r}; accepted: {', '.join(DATASETS)}")
        if results is None:
            if path is None:
                raise BenchmarkError(f"NB201Benchmark needs a path or loaded results; {_expected()}")
            results = NB201Results.load(path, format=format, lazy=lazy, trust_pickle=trust_pickle)
        self.results = results
        self.dataset = dataset
        self._d = DATASETS.index(dataset)

    @property
    def path(self) -> Path:
        return self.results.path

    # -- argument checks -------------------------------------------------------------------------
    def _split_row(self, split: str) -> int:
        if split not in SPLITS:
            raise BenchmarkError(f"unknown split {split!r}; accepted: {', '.join(SPLITS)}")
        if split not in EVAL_SETS[self.dataset]:
            hint = " (CIFAR-10 validation accuracy is data set 'cifar10-valid')" if self.dataset == "cifar10" else ""
            raise BenchmarkError(
                f"data set {self.dataset!r} has no {split!r} split in NAS-Bench-201{hint}; "
                f"accepted: {', '.join(EVAL_SETS[self.dataset])}"
            )
        return SPLITS.index(split)

    def _epochs_row(self, epochs: int | None) -> int:
        epochs = self.default_epochs if epochs is None else epochs
        if epochs not in EPOCHS:
            raise BenchmarkError(
                f"NAS-Bench-201 has no {epochs!r}-epoch schedule; accepted epochs: {', '.join(map(str, EPOCHS))}"
            )
        return EPOCHS.index(epochs)

    def _index(self, arch: Arch) -> int:
        try:
            if isinstance(arch, str):
                arch = nb201_space.parse(arch)
            return nb201_space.arch_to_index(arch)  # type: ignore[arg-type]
        except ArchitectureError as exc:
            raise BenchmarkError(f"not a NAS-Bench-201 architecture: {exc}") from exc

    def _describe(self, index: int) -> str:
        return f"{nb201_space.to_str(nb201_space.index_to_arch(index))} (official index {index})"

    # -- Benchmark ---------------------------------------------------------------------------------
    def accuracy(self, arch: Arch, split: str = "test", epochs: int | None = None) -> float:
        s, e = self._split_row(split), self._epochs_row(epochs)
        index = self._index(arch)
        self.results.ensure_loaded([index])
        value = float(self.results.acc[e, self._d, s, index])
        if np.isnan(value):
            if not self.results.has_record[index]:
                raise BenchmarkError(f"{self.path} has no record of architecture {self._describe(index)}")
            raise BenchmarkError(
                f"{self.path} has no {self.dataset!r} {split!r} accuracy at {EPOCHS[e]} epochs for "
                f"architecture {self._describe(index)}"
            )
        return value

    def cost(self, arch: Arch, key: str) -> float | None:
        if key not in COST_KEYS:
            return None
        index = self._index(arch)
        self.results.ensure_loaded([index])
        value = float(self.results.costs[self._d, COST_KEYS.index(key), index])
        return None if np.isnan(value) else value

    def archs(self) -> Iterator[Arch]:
        """Architectures the file has records of (with a 200-epoch test accuracy, once read)."""
        results = self.results
        test = results.acc[self._epochs_row(None), self._d, SPLITS.index("test")]
        for index in results.records():
            if not results.loaded[index] or np.isfinite(test[index]):
                yield nb201_space.index_to_arch(int(index))

    def accuracy_array(self, split: str = "test", epochs: int | None = None) -> np.ndarray:
        """Accuracies by official index (read-only, NaN: absent); reads everything in lazy mode."""
        s, e = self._split_row(split), self._epochs_row(epochs)
        self.results.ensure_loaded()
        view = self.results.acc[e, self._d, s].view()
        view.flags.writeable = False
        return view

    def best(self, split: str = "test", epochs: int | None = None) -> tuple[Arch, float]:
        """Highest-accuracy architecture (reads every architecture file in lazy mode)."""
        values = self.accuracy_array(split, epochs)
        if not np.isfinite(values).any():
            raise BenchmarkError(f"{self.path} has no {self.dataset!r} {split!r} accuracies")
        index = int(np.nanargmax(values))
        return nb201_space.index_to_arch(index), float(values[index])

    def __repr__(self) -> str:
        return f"NB201Benchmark({str(self.path)!r}, dataset={self.dataset!r}, format={self.results.format!r})"
