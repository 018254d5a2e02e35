"""``spos.supernet``: train one SPOS supernet per study seed, then score architectures with its weights.

:meth:`SPOSSupernet.prepare` builds the space's supernet
(:meth:`~harness.api.SearchSpace.build_supernet`) and trains it with uniform
single-path sampling (:mod:`.training`), checkpointing into the estimator's
work directory, so a killed study resumes its training and a finished one is
loaded, not retrained. :meth:`SPOSSupernet.score` inherits the weights for one
architecture, recomputes BN statistics on fixed training batches and returns
its top-1 accuracy (%) on a fixed validation set (:mod:`.calibration`).
Training is charged once (the leaderboard's ``prepare_s``), scoring per
architecture (``s_per_arch``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from harness.api import Arch, ConfigError, Context, Direction, Supernet
from harness.spaces.masks import single_path_mask
from harness.world import derived_seed
from nas_harness_plugins.spos.calibration import accuracy, recalibrate_bn
from nas_harness_plugins.spos.training import TrainSettings, train_supernet

# Network, training and scoring settings of each preset; any key can be overridden in the config.
PRESETS: dict[str, dict[str, Any]] = {
    # NAS-Bench-201's weight-sharing recipe on its full-size network (for a GPU): see training.py.
    "paper": {
        "C": 16,
        "N": 5,
        **{k: getattr(TrainSettings(), k) for k in TrainSettings.names()},
        "calibration_batches": 20,
        "calibration_batch_size": 256,
        "eval_images": None,  # the whole validation hold-out
        "eval_batch_size": 512,
    },
    # A narrow, shallow supernet trained briefly: minutes on 2 CPU cores (README: how it differs).
    "cpu-small": {
        "C": 8,
        "N": 1,
        **{k: getattr(TrainSettings(), k) for k in TrainSettings.names()},
        "epochs": 8,
        "batch_size": 128,
        "lr": 0.1,
        "calibration_batches": 4,
        "calibration_batch_size": 128,
        "eval_images": 1000,
        "eval_batch_size": 500,
    },
}
SCORING_KEYS = ("C", "N", "calibration_batches", "calibration_batch_size", "eval_images", "eval_batch_size")
CHECKPOINT = "spos-supernet.pt"


class SPOSSupernet(Supernet):
    """SPOS weight-sharing estimator: validation accuracy (%) of an architecture with inherited,
    BN-recalibrated supernet weights. Higher is better.

    Args:
        preset: ``"paper"`` (default) or ``"cpu-small"``; every other keyword overrides one of its
            settings: ``C``, ``N`` (supernet width and cells per stage), the training settings of
            :class:`~.training.TrainSettings`, ``calibration_batches`` / ``calibration_batch_size``
            (BN recalibration images per architecture), ``eval_images`` (validation images scored;
            None: all) and ``eval_batch_size``.
    """

    name = "spos.supernet"
    direction = Direction.MAXIMIZE

    def __init__(self, preset: str = "paper", **overrides: Any) -> None:
        if preset not in PRESETS:
            raise ConfigError(f"spos.supernet: preset = {preset!r}; accepted: {', '.join(PRESETS)}")
        settings = dict(PRESETS[preset])
        unknown = sorted(set(overrides) - set(settings))
        if unknown:
            raise ConfigError(f"spos.supernet: unknown option(s) {unknown}; accepted: preset, {', '.join(settings)}")
        settings.update(overrides)
        self.preset = preset
        self.settings = settings
        self.train_settings = TrainSettings(**{k: settings[k] for k in TrainSettings.names()})
        for key in ("C", "N", "calibration_batches", "calibration_batch_size", "eval_batch_size"):
            _check_positive_int(key, settings[key])
        if settings["eval_images"] is not None:
            _check_positive_int("eval_images", settings["eval_images"])
        self.net: torch.nn.Module | None = None
        self.curve: list[dict[str, float]] = []
        self._points: list = []
        self._calibration: list = []
        self._evaluation: list = []

    def prepare(self, ctx: Context) -> None:
        data = ctx.data
        if data is None:
            raise ConfigError(
                'spos.supernet trains on images but the study has no data: add a [data] section (e.g. name = "cifar10")'
            )
        s = self.settings
        self._points = ctx.space.choice_points()
        torch.manual_seed(derived_seed("spos-init", ctx.seed))
        net = ctx.space.build_supernet(C=s["C"], N=s["N"], num_classes=data.num_classes)
        checkpoint = Path(ctx.workdir) / CHECKPOINT if ctx.workdir else None
        state = train_supernet(
            net, self._points, data, self.train_settings, ctx.seed, checkpoint=checkpoint, device=ctx.device
        )
        self.net, self.curve = net.eval(), state.curve
        calib = data.calibration_batches(s["calibration_batches"], s["calibration_batch_size"], device=ctx.device)
        self._calibration = list(calib)
        self._evaluation = list(data.eval_batches("valid", s["eval_batch_size"], s["eval_images"], device=ctx.device))

    def prepare_log(self) -> list[dict[str, float]]:
        return list(self.curve)

    def score(self, arch: Arch, ctx: Context) -> float:
        if self.net is None:
            raise RuntimeError("spos.supernet: score() before prepare()")
        mask = single_path_mask(self._points, ctx.space.to_choices(arch))
        recalibrate_bn(self.net, mask, self._calibration)
        return accuracy(self.net, mask, self._evaluation)


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"spos.supernet: {name} = {value!r}; accepted: a positive integer")
