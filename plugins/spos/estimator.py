"""``spos.supernet``: one SPOS supernet per study seed, trained by uniform single-path sampling.

Training, BN recalibration and scoring are the harness's weight-sharing
machinery (:mod:`nas_harness.supernets`); SPOS contributes its path rule (one
option per choice point, uniform: :mod:`.sampling`) and its presets.
"""

from __future__ import annotations

from nas_harness.api import ArchitectureError, Context
from nas_harness.spaces.masks import single_path_mask
from nas_harness.supernets.estimator import PRESETS, WeightSharingEstimator
from nas_harness.supernets.training import PathSampler
from nas_harness_plugins.spos.sampling import step_choices


class SPOSSupernet(WeightSharingEstimator):
    """SPOS weight-sharing estimator (Guo et al., ECCV 2020): validation accuracy (%) of an
    architecture with inherited, BN-recalibrated supernet weights. Options: see
    :class:`~nas_harness.supernets.estimator.WeightSharingEstimator`; presets ``paper`` and ``cpu-small``."""

    name = "spos.supernet"
    presets = PRESETS

    def path_sampler(self, ctx: Context) -> tuple[PathSampler, str]:
        points, seed, space = self._points, ctx.seed, ctx.space

        def is_arch(choices: tuple[int, ...]) -> bool:
            try:
                space.from_choices(choices)
            except ArchitectureError:
                return False
            return True

        def sampler(epoch: int, step: int):
            return single_path_mask(points, step_choices(points, seed, epoch, step, accept=is_arch))

        return sampler, "spos-uniform-single-path"
