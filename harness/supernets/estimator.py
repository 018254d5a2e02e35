"""A supernet estimator: train once per study seed, then score architectures with inherited weights.

:meth:`WeightSharingEstimator.prepare` builds the space's supernet and trains it
with the method's path sampler (:mod:`nas_harness.supernets.training`),
checkpointing into the estimator's work directory, so a killed study resumes its
training and a finished one is loaded, not retrained.
:meth:`WeightSharingEstimator.score` runs one architecture's single path:
optionally recomputing the BN statistics on fixed training batches first
(:mod:`nas_harness.supernets.calibration`), then its top-1 accuracy (%) on a fixed
validation set. Training is charged once (the leaderboard's ``prepare_s``),
scoring per architecture (``s_per_arch``).

Training is shared: its checkpoints live in the study's shared work folder
under a digest of everything that shapes the trained weights (method, network,
training settings, resolution, data, seed), so two estimators that differ only
in how they score (MixPath's SBN with and without calibration, or the points of
a budget curve) train once; a file lock keeps two processes from training the
same supernet at once, and each estimator still reports the training's seconds.

Budget curves: ``score_at = [E1, E2, ...]`` keeps the weights after those
epochs of the one training run; an estimator with ``score_epoch = E`` scores
with them (the study config expands ``score_at`` into one such estimator per
epoch, labelled ``LABEL@epochE``).
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

try:
    import fcntl
except ImportError:  # not on Windows: trainings are then not locked against a second process
    fcntl = None

import torch
from torch import nn

from nas_harness.api import Arch, ConfigError, Context, Direction, Supernet, WeightSharing, require
from nas_harness.options import check_int
from nas_harness.seeding import derived_seed
from nas_harness.spaces.masks import Mask, single_path_mask
from nas_harness.supernets.calibration import accuracy, recalibrate_bn
from nas_harness.supernets.training import PathSampler, TrainingState, TrainSettings, load_snapshot, train_supernet

CHECKPOINT = "supernet.pt"
TRAINING_DEFAULTS: dict[str, Any] = {k: getattr(TrainSettings(), k) for k in TrainSettings.names()}
SCORING_KEYS = ("calibrate", "calibration_batches", "calibration_batch_size", "eval_images", "eval_batch_size")
BUDGET_KEYS = ("score_at", "score_epoch")  # which checkpoints are kept / scored: not part of the training
#: settings every preset has besides its own: image side (None: the data set's) and budget-curve epochs
COMMON_DEFAULTS: dict[str, Any] = {"resolution": None, "score_at": None, "score_epoch": None}

# Network, training and scoring settings of the presets SPOS and MixPath share; any key can be
# overridden in a study config.
PRESETS: dict[str, dict[str, Any]] = {
    # NAS-Bench-201's weight-sharing recipe on its full-size network (a GPU job): see training.py.
    "paper": {
        "C": 16,
        "N": 5,
        **TRAINING_DEFAULTS,
        "calibrate": True,
        "calibration_batches": 20,
        "calibration_batch_size": 256,
        "eval_images": None,  # the whole validation hold-out
        "eval_batch_size": 512,
        **COMMON_DEFAULTS,
    },
    # A narrow, shallow supernet trained briefly: minutes on 2 CPU cores (plugins/spos/README.md).
    "cpu-small": {
        "C": 8,
        "N": 1,
        **TRAINING_DEFAULTS,
        "epochs": 8,
        "batch_size": 128,
        "lr": 0.1,
        "calibrate": True,
        "calibration_batches": 4,
        "calibration_batch_size": 128,
        "eval_images": 1000,
        "eval_batch_size": 500,
        **COMMON_DEFAULTS,
    },
}
# The CPU recipe that ranks real CIFAR-10 (issue 16, docs/supernets-cpu.md): the cpu-small network
# on all training images average-pooled to 16 px (as NB201 made ImageNet16), 24 epochs: about 10
# (SPOS) / 20 (MixPath) minutes of training on one core.
PRESETS["cpu"] = {**PRESETS["cpu-small"], "epochs": 24, "resolution": 16}


class WeightSharingEstimator(Supernet):
    """Validation accuracy (%) of an architecture with inherited supernet weights. Higher is better.

    Subclasses set ``name``, ``presets`` (each a full dict of settings) and
    implement :meth:`path_sampler`; they may override :meth:`build_network`.

    Args:
        preset: a key of ``presets``; every other keyword overrides one of its
            settings: ``C``, ``N`` (supernet width and cells per stage), the
            training settings of :class:`~nas_harness.supernets.training.TrainSettings`,
            ``calibrate`` (recompute BN statistics before scoring),
            ``calibration_batches`` / ``calibration_batch_size``, ``eval_images``
            (validation images scored; None: all) and ``eval_batch_size``, plus the
            method's own keys.
    """

    direction = Direction.MAXIMIZE
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    #: estimators of one family with equal training settings train the same supernet (same
    #: initialisation, same steps) and share it; default: the estimator's name
    training_family: ClassVar[str | None] = None

    @property
    def family(self) -> str:
        return self.training_family or self.name

    def __init__(self, preset: str = "paper", **overrides: Any) -> None:
        if preset not in self.presets:
            raise ConfigError(f"{self.name}: preset = {preset!r}; accepted: {', '.join(self.presets)}")
        settings = dict(self.presets[preset])
        unknown = sorted(set(overrides) - set(settings))
        if unknown:
            raise ConfigError(f"{self.name}: unknown option(s) {unknown}; accepted: preset, {', '.join(settings)}")
        settings.update(overrides)
        self.preset, self.settings = preset, settings
        self.train_settings = TrainSettings(**{k: settings[k] for k in TrainSettings.names()})
        for key in ("C", "N", "calibration_batches", "calibration_batch_size", "eval_batch_size"):
            self._check_positive_int(key, settings[key])
        if settings["eval_images"] is not None:
            self._check_positive_int("eval_images", settings["eval_images"])
        if not isinstance(settings["calibrate"], bool):
            raise ConfigError(f"{self.name}: calibrate = {settings['calibrate']!r}; accepted: true or false")
        if settings["resolution"] is not None:
            self._check_positive_int("resolution", settings["resolution"])
        self.keep_epochs = self._budget_epochs(settings["score_at"], settings["score_epoch"])
        self.net: nn.Module | None = None
        self.curve: list[dict[str, float]] = []
        self.training_seconds = 0.0  # what the training cost, also when it was done by another estimator
        self._points: list = []
        self._calibration: list = []
        self._evaluation: list = []

    def _budget_epochs(self, score_at: Any, score_epoch: Any) -> tuple[int, ...]:
        """The epochs whose weights training keeps (``score_at``), checked against ``epochs``."""
        epochs = self.train_settings.epochs
        if score_at is None:
            score_at = []
        if not isinstance(score_at, list | tuple) or any(
            isinstance(e, bool) or not isinstance(e, int) or not 1 <= e < epochs for e in score_at
        ):
            raise ConfigError(
                f"{self.name}: score_at = {score_at!r}; accepted: a list of epochs between 1 and {epochs - 1} "
                f"(the final epoch {epochs} is the estimator's own score)"
            )
        if score_epoch is not None and score_epoch not in score_at:
            raise ConfigError(f"{self.name}: score_epoch = {score_epoch!r}; accepted: one of score_at {score_at}")
        return tuple(sorted(set(score_at)))

    # -- what a method provides --------------------------------------------------------------
    @abc.abstractmethod
    def path_sampler(self, ctx: Context) -> tuple[PathSampler, str]:
        """The rule choosing each training step's path, and a short id of it (stored in checkpoints)."""

    def build_network(self, ctx: Context, num_classes: int) -> nn.Module:
        return ctx.space.build_supernet(C=self.settings["C"], N=self.settings["N"], num_classes=num_classes)

    def score_mask(self, arch: Arch, ctx: Context) -> Mask:
        """The path scored for ``arch`` (a single path of the study's space)."""
        return single_path_mask(self._points, ctx.space.to_choices(arch))

    # -- the estimator -------------------------------------------------------------------------
    def prepare(self, ctx: Context) -> None:
        require(ctx.space, WeightSharing, f"estimator {self.name!r}")
        if ctx.data is None:
            raise ConfigError(
                f'{self.name} trains on images but the study has no data: add a [data] section (e.g. name = "cifar10")'
            )
        s = self.settings
        data = ctx.data.at_resolution(s["resolution"])
        self._points = ctx.space.choice_points()
        torch.manual_seed(derived_seed(self.family, "init", ctx.seed))
        net = self.build_network(ctx, data.num_classes)
        sampler, sampler_id = self.path_sampler(ctx)
        folder = self.training_folder(ctx, data, sampler_id)
        checkpoint = folder / CHECKPOINT if folder is not None else None
        with _training_lock(folder):
            state = train_supernet(
                net, sampler, data, self.train_settings, ctx.seed, sampler_id=sampler_id,
                checkpoint=checkpoint, device=ctx.device, keep_epochs=self.keep_epochs,
            )  # fmt: skip
        self.curve = self._scored_curve(state, net, checkpoint, ctx.device)
        self.training_seconds = sum(row["seconds"] for row in self.curve)
        self.net = net.eval()
        if s["calibrate"]:
            batches = data.calibration_batches(s["calibration_batches"], s["calibration_batch_size"], device=ctx.device)
            self._calibration = list(batches)
        self._evaluation = list(data.eval_batches("valid", s["eval_batch_size"], s["eval_images"], device=ctx.device))

    def _scored_curve(self, state: TrainingState, net: nn.Module, checkpoint: Path | None, device: str) -> list:
        """The training curve up to the scored epoch, after loading that epoch's weights (``score_epoch``)."""
        epoch = self.settings["score_epoch"]
        if epoch is None:
            return state.curve
        load_snapshot(net, state, epoch, checkpoint, device)
        return state.curve[:epoch]

    def training_identity(self, data: Any, sampler_id: str, seed: int) -> dict[str, Any]:
        """Everything that shapes the trained weights: estimators with equal identities share one training."""
        trained = {k: v for k, v in self.settings.items() if k not in SCORING_KEYS and k not in BUDGET_KEYS}
        return {
            "family": self.family, "sampler": sampler_id, "settings": trained, "data": data.fingerprint(), "seed": seed
        }  # fmt: skip

    def training_folder(self, ctx: Context, data: Any, sampler_id: str) -> Path | None:
        """Where this estimator's training checkpoints live: shared by identity when the study has a shared folder."""
        if ctx.shared_workdir is None:
            if not ctx.workdir:
                return None
            Path(ctx.workdir).mkdir(parents=True, exist_ok=True)
            return Path(ctx.workdir)
        identity = json.dumps(self.training_identity(data, sampler_id, ctx.seed), sort_keys=True, default=str)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        folder = Path(ctx.shared_workdir) / "supernets" / f"{sampler_id}-seed{ctx.seed}-{digest}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "identity.json").write_text(identity + "\n")
        return folder

    def prepare_seconds(self) -> float | None:
        return self.training_seconds

    def prepare_log(self) -> list[dict[str, float]]:
        return list(self.curve)

    def score(self, arch: Arch, ctx: Context) -> float:
        return self.score_path(self.score_mask(arch, ctx))

    def score_path(self, mask: Mask) -> float:
        """Accuracy (%) of any path of the supernet (multi-path ones too, for searchers over them)."""
        if self.net is None:
            raise RuntimeError(f"{self.name}: scoring before prepare()")
        if self.settings["calibrate"]:
            recalibrate_bn(self.net, mask, self._calibration)
        return accuracy(self.net, mask, self._evaluation)

    def _check_positive_int(self, name: str, value: object) -> None:
        check_int(f"{self.name}: {name}", value)


@contextmanager
def _training_lock(folder: Path | None) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (a process that wants the same training waits, then loads it)."""
    if folder is None or fcntl is None:
        yield
        return
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
