"""A supernet estimator: train once per study seed, then score architectures with inherited weights.

:meth:`WeightSharingEstimator.prepare` builds the space's supernet and trains it
with the method's path sampler (:mod:`harness.supernets.training`),
checkpointing into the estimator's work directory, so a killed study resumes its
training and a finished one is loaded, not retrained.
:meth:`WeightSharingEstimator.score` runs one architecture's single path:
optionally recomputing the BN statistics on fixed training batches first
(:mod:`harness.supernets.calibration`), then its top-1 accuracy (%) on a fixed
validation set. Training is charged once (the leaderboard's ``prepare_s``),
scoring per architecture (``s_per_arch``).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from harness.api import Arch, ConfigError, Context, Direction, Supernet
from harness.options import check_int
from harness.spaces.masks import Mask, single_path_mask
from harness.supernets.calibration import accuracy, recalibrate_bn
from harness.supernets.training import PathSampler, TrainSettings, train_supernet
from harness.world import derived_seed

CHECKPOINT = "supernet.pt"
TRAINING_DEFAULTS: dict[str, Any] = {k: getattr(TrainSettings(), k) for k in TrainSettings.names()}
SCORING_KEYS = ("calibrate", "calibration_batches", "calibration_batch_size", "eval_images", "eval_batch_size")

# Network, training and scoring settings of the two presets SPOS and MixPath share; any key can be
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
    },
}


class WeightSharingEstimator(Supernet):
    """Validation accuracy (%) of an architecture with inherited supernet weights. Higher is better.

    Subclasses set ``name``, ``presets`` (each a full dict of settings) and
    implement :meth:`path_sampler`; they may override :meth:`build_network`.

    Args:
        preset: a key of ``presets``; every other keyword overrides one of its
            settings: ``C``, ``N`` (supernet width and cells per stage), the
            training settings of :class:`~harness.supernets.training.TrainSettings`,
            ``calibrate`` (recompute BN statistics before scoring),
            ``calibration_batches`` / ``calibration_batch_size``, ``eval_images``
            (validation images scored; None: all) and ``eval_batch_size``, plus the
            method's own keys.
    """

    direction = Direction.MAXIMIZE
    presets: ClassVar[dict[str, dict[str, Any]]] = {}

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
        self.net: nn.Module | None = None
        self.curve: list[dict[str, float]] = []
        self._points: list = []
        self._calibration: list = []
        self._evaluation: list = []

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
        data = ctx.data
        if data is None:
            raise ConfigError(
                f'{self.name} trains on images but the study has no data: add a [data] section (e.g. name = "cifar10")'
            )
        s = self.settings
        self._points = ctx.space.choice_points()
        torch.manual_seed(derived_seed(self.name, "init", ctx.seed))
        net = self.build_network(ctx, data.num_classes)
        sampler, sampler_id = self.path_sampler(ctx)
        checkpoint = Path(ctx.workdir) / CHECKPOINT if ctx.workdir else None
        state = train_supernet(
            net, sampler, data, self.train_settings, ctx.seed,
            sampler_id=sampler_id, checkpoint=checkpoint, device=ctx.device,
        )  # fmt: skip
        self.net, self.curve = net.eval(), state.curve
        if s["calibrate"]:
            batches = data.calibration_batches(s["calibration_batches"], s["calibration_batch_size"], device=ctx.device)
            self._calibration = list(batches)
        self._evaluation = list(data.eval_batches("valid", s["eval_batch_size"], s["eval_images"], device=ctx.device))

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
