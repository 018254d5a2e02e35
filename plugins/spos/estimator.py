"""``spos.supernet``: one SPOS supernet per study seed, trained by uniform single-path sampling.

Training, BN recalibration and scoring are the harness's weight-sharing
machinery (:mod:`harness.supernets`); SPOS contributes its path rule (one
option per choice point, uniform: :mod:`.sampling`) and its presets.
"""

from __future__ import annotations

from typing import Any

from harness.api import Context
from harness.spaces.masks import single_path_mask
from harness.supernets.estimator import TRAINING_DEFAULTS, WeightSharingEstimator
from harness.supernets.training import PathSampler
from nas_harness_plugins.spos.sampling import step_choices

# Network, training and scoring settings of each preset; any key can be overridden in the config.
PRESETS: dict[str, dict[str, Any]] = {
    # NAS-Bench-201's weight-sharing recipe on its full-size network (for a GPU): see harness/supernets/training.py.
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


class SPOSSupernet(WeightSharingEstimator):
    """SPOS weight-sharing estimator (Guo et al., ECCV 2020): validation accuracy (%) of an
    architecture with inherited, BN-recalibrated supernet weights. Options: see
    :class:`~harness.supernets.estimator.WeightSharingEstimator`; presets ``paper`` and ``cpu-small``."""

    name = "spos.supernet"
    presets = PRESETS

    def path_sampler(self, ctx: Context) -> tuple[PathSampler, str]:
        points, seed = self._points, ctx.seed

        def sampler(epoch: int, step: int):
            return single_path_mask(points, step_choices(points, seed, epoch, step))

        return sampler, "spos-uniform-single-path"
