"""Study configuration: a TOML file, validated into dataclasses with readable errors.

Example (the shipped ``nas_harness/configs/quickstart.toml`` is a complete one)::

    [study]
    name = "nb201-cifar10"
    seeds = [0, 1]
    sample_size = 200          # architectures per seed, shared by every estimator
    output = "runs/nb201-cifar10"

    [benchmark]
    name = "nb201.table"
    options = { path = "${NB201_TABLE}", dataset = "cifar10" }

    [[estimators]]
    name = "baselines.params"

String values may reference environment variables as ``${NAME}`` (or
``${NAME:-default}``); an unset variable without a default is an error.

:func:`load_config` takes a path, or the bare name of a config that ships inside the package
(``quickstart``: see :func:`resolve_config`). Relative folders in a config (``study.output``,
``study.leaderboard_dir``) are relative to the working directory, wherever the file lies.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from nas_harness.api import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
EXECUTORS = ("local", "process", "ray")
#: a study name is a folder name under the leaderboard folder: no separators, no leading dot
STUDY_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
STUDY_NAME_ACCEPTED = "letters, digits, '.', '_' and '-', not starting with '.'"
DEVICE = re.compile(r"cpu|cuda(:\d+)?|mps")
#: the results store of a study (or shard) folder; the one place that spells it
STORE_FILENAME = "results.sqlite"


@dataclass
class PluginRef:
    """A registered thing with its options; ``label`` is its name in results and tables."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def __post_init__(self) -> None:
        self.label = self.label or self.name


@dataclass
class SearcherRef(PluginRef):
    estimator: str = ""  # label of the estimator the searcher uses


#: the estimator a study is judged against when ``study.reference`` is unset (and it is among the estimators)
DEFAULT_REFERENCE = "baselines.params"

#: estimator option naming the training epochs a supernet is also scored at (a budget curve)
BUDGET_OPTION = "score_at"


@dataclass
class BudgetPoint(PluginRef):
    """An estimator scored at an earlier point of its own training (``score_at``): label ``LABEL@epochE``."""

    of: str = ""  # label of the estimator whose training it is a point of
    epoch: int = 0


def budget_points(ref: PluginRef) -> list[BudgetPoint]:
    """The points ``ref``'s ``score_at`` option asks for (none when it has none; the estimator
    itself checks the option's value when it is built)."""
    epochs = ref.options.get(BUDGET_OPTION)
    if not isinstance(epochs, list) or not all(isinstance(e, int) and not isinstance(e, bool) for e in epochs):
        return []
    return [
        BudgetPoint(ref.name, {**ref.options, "score_epoch": e}, f"{ref.label}@epoch{e}", of=ref.label, epoch=e)
        for e in sorted(set(epochs))
    ]


@dataclass
class StudyConfig:
    name: str
    benchmark: PluginRef
    estimators: list[PluginRef]
    searchers: list[SearcherRef] = field(default_factory=list)
    data: PluginRef | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    sample_size: int | None = 100  # None: every architecture the benchmark has
    #: draw every seed's sample with this seed (the same architectures for every seed: the seeds then vary the
    #: batches and initialisations only, which the seed-to-seed stability column needs); None: each seed its own
    sample_seed: int | None = None
    output: str = "runs/study"
    leaderboard_dir: str = "leaderboards"
    split: str = "test"  # ground-truth split the estimators are ranked against
    epochs: int | None = None  # None: the benchmark's default schedule (200 for NB201)
    device: str = "cpu"
    executor: str = "local"
    workers: int = 1
    ray_address: str | None = None  # executor "ray": None starts a local instance; "auto", "ray://HOST:PORT"
    ray_num_gpus: float | None = None  # GPUs per Ray task (None: 1 when device is cuda, else 0)
    torch_threads: int | None = None  # torch threads in the driver (None: torch's default); workers use 1
    chunk_size: int = 16
    timeout_s: float = 600.0
    top_k: list[float] = field(default_factory=lambda: [10.0])
    bootstrap: int = 1000
    ci: float = 0.95
    history: bool = True  # append the estimator rows to <leaderboard_dir>/history.csv after each run
    reference: str | None = None  # an estimator label every other one is compared with, pairwise on the same archs
    source: str = ""  # where the config came from (file path), not hashed

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("source")
        return d

    def to_toml_dict(self) -> dict[str, Any]:
        """The config in the TOML file's shape, which :func:`parse_config` accepts again."""
        d = self.to_dict()
        sections = ("benchmark", "data", "estimators", "searchers")
        raw: dict[str, Any] = {k: d[k] for k in sections if d[k] is not None}
        raw["study"] = {k: v for k, v in d.items() if k not in sections and v is not None}
        if self.sample_size is None:
            raw["study"]["sample_size"] = "all"
        return raw

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudyConfig:
        """Inverse of :meth:`to_dict` (as saved in a results store)."""
        d = dict(d)
        d["benchmark"] = PluginRef(**d["benchmark"])
        d["data"] = PluginRef(**d["data"]) if d.get("data") else None
        d["estimators"] = [PluginRef(**e) for e in d["estimators"]]
        d["searchers"] = [SearcherRef(**s) for s in d["searchers"]]
        return cls(**d)

    def config_hash(self) -> str:
        """Hash of everything that changes results (not the output folders)."""
        d = self.to_dict()
        execution = ("workers", "executor", "chunk_size", "torch_threads", "ray_address", "ray_num_gpus")
        for key in ("name", "output", "leaderboard_dir", "history", "reference", *execution):
            d.pop(key)
        if d["sample_seed"] is None:  # unset: the hash of every config written before the option existed
            d.pop("sample_seed")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def reference_label(self) -> str | None:
        """The estimator every other one is judged against, pairwise: ``reference`` when set, else the first
        ``baselines.params`` estimator of the study ("does it beat the parameter count?"), else None.

        Reporting only: like ``reference`` itself it is not part of :meth:`config_hash` nor of :meth:`to_dict`
        (which keeps ``reference`` as configured), so results, stores and hashes do not depend on it.
        """
        if self.reference is not None:
            return self.reference
        return next((e.label for e in self.estimators if e.name == DEFAULT_REFERENCE), None)

    def scored_estimators(self) -> list[PluginRef]:
        """Every estimator the study scores: each configured one followed by its budget points."""
        return [point for ref in self.estimators for point in (ref, *budget_points(ref))]

    @property
    def store_path(self) -> Path:
        return Path(self.output) / STORE_FILENAME


def expand_env(value: Any, where: str) -> Any:
    """Replace ``${VAR}`` references in strings (recursively); unset variables are errors."""
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            var, default = match.group(1), match.group(2)
            if var in os.environ:
                return os.environ[var]
            if default is not None:
                return default
            raise ConfigError(f"{where}: environment variable {var} is not set (referenced as {match.group(0)!r})")

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_env(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _expect(value: Any, types: type | tuple[type, ...], where: str, accepted: str) -> Any:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
        raise ConfigError(f"{where} = {value!r} is not accepted; expected {accepted}")
    return value


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _plugin_ref(raw: Any, where: str, cls: type[PluginRef] = PluginRef) -> PluginRef:
    _expect(raw, dict, where, "a table with at least 'name'")
    allowed = {"name", "options", "label"} | ({"estimator"} if cls is SearcherRef else set())
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; accepted keys: {sorted(allowed)}")
    name = _expect(raw.get("name"), str, f"{where}.name", "a registered plugin name (see `nas-harness plugins`)")
    options = _expect(raw.get("options", {}), dict, f"{where}.options", "a table of keyword options")
    label = _expect(raw.get("label", ""), str, f"{where}.label", "a string")
    if cls is SearcherRef:
        estimator = _expect(raw.get("estimator", ""), str, f"{where}.estimator", "an estimator label")
        return SearcherRef(name, options, label, estimator)
    return cls(name, options, label)


_STUDY_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "name": (str, "a string"),
    "seeds": (list, "a list of integers"),
    "sample_size": ((int, str), 'a positive integer or "all"'),
    "sample_seed": (int, "an integer: every seed uses the sample drawn with it"),
    "output": (str, "a folder path"),
    "leaderboard_dir": (str, "a folder path"),
    "split": (str, "a ground-truth split such as 'test' or 'valid'"),
    "epochs": (int, "a training-schedule length the benchmark has (e.g. 200)"),
    "device": (str, "'cpu', 'cuda' or 'cuda:N'"),
    "executor": (str, f"one of {EXECUTORS}"),
    "workers": (int, "a positive integer"),
    "ray_address": (str, '"auto", "ray://HOST:PORT" or "HOST:PORT" of a running Ray cluster'),
    "ray_num_gpus": ((int, float), "GPUs per Ray task, a number >= 0 (e.g. 1 or 0.5)"),
    "torch_threads": (int, "a positive integer (torch threads of the driver process)"),
    "chunk_size": (int, "a positive integer"),
    "timeout_s": ((int, float), "a positive number of seconds"),
    "top_k": (list, "a list of percentages in (0, 100]"),
    "bootstrap": (int, "a non-negative integer"),
    "ci": (float, "a number in (0, 1)"),
    "history": (bool, "true or false (append this study's rows to <leaderboard_dir>/history.csv)"),
    "reference": (str, "the label of one of the study's estimators (e.g. baselines.params)"),
}


def parse_config(raw: dict[str, Any], source: str = "<config>") -> StudyConfig:
    """Validate a config dict (as read from TOML) into a :class:`StudyConfig`."""
    raw = expand_env(raw, source)
    unknown = set(raw) - {"study", "benchmark", "data", "estimators", "searchers"}
    if unknown:
        raise ConfigError(
            f"{source}: unknown section(s) {sorted(unknown)}; accepted: study, benchmark, data, estimators, searchers"
        )
    study = _expect(raw.get("study", {}), dict, f"{source}: [study]", "a table")
    for key, value in study.items():
        if key not in _STUDY_KEYS:
            raise ConfigError(f"{source}: unknown key study.{key}; accepted keys: {sorted(_STUDY_KEYS)}")
        types, accepted = _STUDY_KEYS[key]
        _expect(value, types, f"{source}: study.{key}", accepted)
    if "benchmark" not in raw:
        raise ConfigError(f"{source}: missing [benchmark] section (which ground truth to rank against)")
    estimators = [_plugin_ref(e, f"{source}: estimators[{i}]") for i, e in enumerate(raw.get("estimators", []))]
    searchers = [
        _plugin_ref(s, f"{source}: searchers[{i}]", SearcherRef) for i, s in enumerate(raw.get("searchers", []))
    ]
    if not estimators:
        raise ConfigError(f"{source}: no [[estimators]] given; a study needs at least one")
    where = f"{source}: study.name" if "name" in study else f"{source}: the study name (from the file name)"
    cfg = StudyConfig(
        name=check_study_name(study.get("name", Path(source).stem), where),
        benchmark=_plugin_ref(raw["benchmark"], f"{source}: [benchmark]"),
        estimators=estimators,
        searchers=searchers,  # type: ignore[arg-type]
        data=_plugin_ref(raw["data"], f"{source}: [data]") if "data" in raw else None,
        source=source,
        **{k: v for k, v in study.items() if k not in ("name", "sample_size")},
    )
    sample_size = study.get("sample_size", cfg.sample_size)
    if sample_size == "all":
        cfg.sample_size = None
    elif isinstance(sample_size, int) and sample_size > 0:
        cfg.sample_size = sample_size
    else:
        raise ConfigError(f'{source}: study.sample_size = {sample_size!r}; expected a positive integer or "all"')
    _check_values(cfg, source)
    return cfg


def check_study_name(name: str, where: str) -> str:
    """``name`` when it is a safe folder name (:data:`STUDY_NAME`); a :class:`ConfigError` otherwise."""
    if not isinstance(name, str) or not STUDY_NAME.fullmatch(name):
        raise ConfigError(f"{where} = {name!r} is not accepted; a study name uses {STUDY_NAME_ACCEPTED}")
    return name


def check_device(device: str, where: str) -> str:
    """``device`` when torch can be asked for it by that name; a :class:`ConfigError` otherwise."""
    if not isinstance(device, str) or not DEVICE.fullmatch(device):
        raise ConfigError(f"{where} = {device!r}; accepted: cpu, cuda, cuda:N, mps")
    return device


def _check_values(cfg: StudyConfig, source: str) -> None:
    seeds = cfg.seeds
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ConfigError(f"{source}: study.seeds = {seeds!r}; expected a non-empty list of non-negative integers")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{source}: study.seeds = {seeds!r} repeats a seed; list each seed once")
    if cfg.executor not in EXECUTORS:
        raise ConfigError(f"{source}: study.executor = {cfg.executor!r}; accepted: {', '.join(EXECUTORS)}")
    if cfg.ray_num_gpus is not None and cfg.ray_num_gpus < 0:
        raise ConfigError(f"{source}: study.ray_num_gpus = {cfg.ray_num_gpus!r}; expected a number >= 0")
    if cfg.torch_threads is not None and cfg.torch_threads < 1:
        raise ConfigError(f"{source}: study.torch_threads = {cfg.torch_threads!r}; expected a positive integer")
    for key in ("workers", "chunk_size"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"{source}: study.{key} = {getattr(cfg, key)!r}; expected a positive integer")
    if cfg.timeout_s <= 0:
        raise ConfigError(f"{source}: study.timeout_s = {cfg.timeout_s!r}; expected a positive number")
    check_device(cfg.device, f"{source}: study.device")
    if not all(isinstance(k, int | float) and 0 < k <= 100 for k in cfg.top_k):
        raise ConfigError(f"{source}: study.top_k = {cfg.top_k!r}; expected percentages in (0, 100]")
    if not 0 < cfg.ci < 1 or cfg.bootstrap < 0:
        raise ConfigError(f"{source}: study.ci must be in (0, 1) and study.bootstrap >= 0")
    labels = [e.label for e in cfg.estimators]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(f"{source}: estimator label(s) {dupes} used twice; give each a distinct `label`")
    if cfg.reference is not None and cfg.reference not in labels:
        raise ConfigError(f"{source}: study.reference = {cfg.reference!r} is not among the study's estimators {labels}")
    searcher_labels = [s.label for s in cfg.searchers]
    if len(set(searcher_labels)) != len(searcher_labels):
        raise ConfigError(f"{source}: searcher labels {searcher_labels} repeat; give each a distinct `label`")
    for s in cfg.searchers:
        if s.estimator not in labels:
            raise ConfigError(
                f"{source}: searcher {s.label!r} uses estimator {s.estimator!r}, which is not among the "
                f"study's estimators {labels}"
            )


#: The package whose ``*.toml`` files are the shipped study configs (package data of the wheel).
SHIPPED_CONFIGS = "nas_harness.configs"
#: What ``nas-harness run`` runs without a config: the shipped quickstart.
DEFAULT_CONFIG = "quickstart"


def shipped_configs_dir() -> Path:
    """The folder of the shipped study configs (inside the installed package)."""
    return Path(str(resources.files(SHIPPED_CONFIGS)))


def shipped_config_names() -> list[str]:
    """Names of the shipped study configs, each runnable as ``nas-harness run NAME``."""
    return sorted(p.stem for p in shipped_configs_dir().glob("*.toml"))


def _shipped_hint() -> str:
    return (
        f"shipped configs (run by name, e.g. `nas-harness run {DEFAULT_CONFIG}`): {', '.join(shipped_config_names())}"
    )


def is_config_name(config: str | os.PathLike[str]) -> bool:
    """Whether ``config`` is a bare name (no path separator, no ``.toml``) rather than a path."""
    text = os.fspath(config)
    separators = {"/", os.sep, *([os.altsep] if os.altsep else [])}
    return text not in ("", ".", "..") and not any(sep in text for sep in separators) and not text.endswith(".toml")


def resolve_config(config: str | os.PathLike[str]) -> Path:
    """The file a config argument names.

    A path names itself (relative to the working directory). A bare name (``quickstart``: no path separator, no
    ``.toml``) names the shipped config of that name, unless a file of that exact name is in the working directory.
    A bare name that is neither is an error listing the shipped names."""
    path = Path(config)
    if not is_config_name(config) or path.is_file():
        return path
    shipped = shipped_configs_dir() / f"{os.fspath(config)}.toml"
    if shipped.is_file():
        return shipped
    raise ConfigError(
        f"config file {path} does not exist (no such file in {Path.cwd()}, and no shipped config of that name); "
        f"{_shipped_hint()}"
    )


def config_source(path: Path) -> str:
    """How a config's provenance names its file: the path as given, or ``nas_harness/configs/NAME.toml`` for a
    shipped one (the same on every machine and install, not the site-packages path)."""
    try:
        shipped = path.resolve().parent == shipped_configs_dir().resolve()
    except OSError:
        shipped = False
    return f"{SHIPPED_CONFIGS.replace('.', '/')}/{path.name}" if shipped else str(path)


def load_config(path: str | os.PathLike[str]) -> StudyConfig:
    """Read and validate a TOML study config: a path, or a shipped config's name (see :func:`resolve_config`).

    The config hash does not depend on where the file lies (``StudyConfig.source`` is not hashed)."""
    path = resolve_config(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; {_shipped_hint()}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            f"a study config is a TOML file such as the shipped {SHIPPED_CONFIGS.replace('.', '/')}/quickstart.toml"
        ) from None
    except OSError as exc:  # a folder, no permission, ...
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    return parse_config(raw, config_source(path))


def config_from_stored(stored: dict[str, Any], source: str) -> StudyConfig:
    """Rebuild the StudyConfig saved in a store (validated again, as a file would be)."""
    return parse_config(StudyConfig.from_dict(stored).to_toml_dict(), source)
