"""MixPath estimators: a multi-path supernet per study seed, scored on single-path architectures.

Training (as the paper samples paths): every step and every choice point draws a number of
paths k uniformly from 1..m, then k distinct ops (not ``none``) without
replacement; their outputs are summed and normalised by the variant's
per-edge module (:mod:`.shadow_bn`). Scoring: the architecture's single path
(k = 1 everywhere: ``SBN_1``), BN post-calibration on fixed training batches
(switchable: ``calibrate``), then top-1 accuracy (%) on a fixed validation set.
The loop, checkpoints, calibration and scoring are the harness's
(:mod:`nas_harness.supernets`).

In a space whose choice points are parallel paths into one fusion point (``fusion_paths``:
MixPath's NAS-Bench-101 subspace S4, :mod:`nas_harness.spaces.nb101_s4`) the multi-path is the
number k of active paths: training draws k uniformly from 1..m, then k paths and an op for
each (the official ``random_choice``), and the variant's module normalises the fused sum
(Shadow BN: one BN per k); every architecture of S4 is scored on its own k.

One estimator per ablation, so a leaderboard compares them on the same
architectures: ``mixpath.supernet`` (linear SBN + calibration: the paper's
method), ``mixpath.sbn_nocal`` (SBN without calibration), ``mixpath.vanilla``
(one shared BN), ``mixpath.exponential`` (one BN per op combination) and
``mixpath.scaling`` (sum divided by k, no BN); the three ablations are
post-calibrated like the method, so they differ from it in one thing only.
"""

from __future__ import annotations

import random
from typing import Any

from torch import nn

from nas_harness.api import ConfigError, Context, WeightSharing, require
from nas_harness.options import check_int
from nas_harness.seeding import derived_seed
from nas_harness.spaces.masks import single_path_mask
from nas_harness.spaces.multipath import MultiPathSpace
from nas_harness.supernets.estimator import PRESETS as SUPERNET_PRESETS
from nas_harness.supernets.estimator import WeightSharingEstimator
from nas_harness.supernets.training import PathSampler
from nas_harness_plugins.mixpath.shadow_bn import shadow_statistics, variant_network

# The SPOS presets (harness/supernets/estimator.py) with m = 4: any non-empty subset of NB201's
# four non-none ops on an edge.
PRESETS: dict[str, dict[str, Any]] = {name: {"m": 4, **preset} for name, preset in SUPERNET_PRESETS.items()}


class MixPathSupernet(WeightSharingEstimator):
    """MixPath (Chu et al., ICCV 2023): linear Shadow BN + BN post-calibration.

    Options: ``m`` (most active paths per choice point), plus those of
    :class:`~nas_harness.supernets.estimator.WeightSharingEstimator`; presets ``paper``, ``cpu-small``.
    """

    name = "mixpath.supernet"
    variant = "sbn"
    default_calibrate = True

    def __init__(self, preset: str = "paper", **overrides: Any) -> None:
        self.presets = {k: {**v, "calibrate": self.default_calibrate} for k, v in PRESETS.items()}
        super().__init__(preset, **overrides)
        self.m = self.settings["m"]
        check_int(f"{self.name}: m", self.m)
        self.statistics: dict[str, float] = {}

    def multipath_space(self, ctx: Context) -> MultiPathSpace:
        space = require(ctx.space, WeightSharing, f"estimator {self.name!r}")
        try:
            return MultiPathSpace(space, self.m)
        except ValueError as exc:
            raise ConfigError(
                f"{self.name}: no multi-path variant of space {ctx.space.name!r} with m={self.m}: {exc}"
            ) from exc

    def build_network(self, ctx: Context, num_classes: int) -> nn.Module:
        fusion_paths = getattr(ctx.space, "fusion_paths", None)
        if fusion_paths:  # the space's paths meet at one fusion point (NB101's S4): k counts active paths
            combine, norm = variant_network(self.variant, self.m, fusion_paths, solo_names=())
        else:
            combine, norm = variant_network(self.variant, self.m, ctx.space.choice_points()[0].options)
        s = self.settings
        return ctx.space.build_supernet(
            C=s["C"], N=s["N"], num_classes=num_classes, edge_combine=combine, edge_norm=norm
        )

    def path_sampler(self, ctx: Context) -> tuple[PathSampler, str]:
        seed, space = ctx.seed, ctx.space
        if getattr(space, "fusion_paths", None):
            # k active paths, uniform in 1..m, over the space's parallel paths (S4: official random_choice)
            points = space.choice_points()

            def sampler(epoch: int, step: int):
                rng = random.Random(derived_seed("mixpath-path", seed, epoch, step))
                return single_path_mask(points, space.to_choices(space.sample_paths(rng, self.m)))

            return sampler, f"mixpath-fusion-k-m{self.m}"
        multi = self.multipath_space(ctx)

        def sampler(epoch: int, step: int):
            rng = random.Random(derived_seed("mixpath-path", seed, epoch, step))
            return multi.to_mask(multi.sample(rng))

        return sampler, f"mixpath-uniform-k-m{self.m}"

    def prepare(self, ctx: Context) -> None:
        super().prepare(ctx)
        self.statistics = shadow_statistics(self.net)  # the trained running statistics, before any calibration

    def prepare_log(self) -> list[dict[str, float]]:
        rows = super().prepare_log()
        if rows and self.statistics:
            rows[-1] = {**rows[-1], **self.statistics}
        return rows


class MixPathNoCalibration(MixPathSupernet):
    """Ablation: linear Shadow BN, scored with the running statistics of training (no post-calibration)."""

    name = "mixpath.sbn_nocal"
    default_calibrate = False
    training_family = "mixpath.supernet"  # the same training as the method: shared, trained once


class MixPathVanilla(MixPathSupernet):
    """Ablation: one BN per edge shared by every number of paths (post-calibrated)."""

    name = "mixpath.vanilla"
    variant = "vanilla"


class MixPathExponential(MixPathSupernet):
    """Ablation: one BN per combination of active ops (post-calibrated)."""

    name = "mixpath.exponential"
    variant = "exponential"


class MixPathScaling(MixPathSupernet):
    """Ablation: no BN after the sum, which is divided by the number of active paths (post-calibrated)."""

    name = "mixpath.scaling"
    variant = "scaling"


ESTIMATORS = (MixPathSupernet, MixPathNoCalibration, MixPathVanilla, MixPathExponential, MixPathScaling)
