"""The TE-NAS proxies: ``tenas.ntk``, ``tenas.linear_regions`` and ``tenas.combined``.

Defaults follow the official NAS-Bench-201 search (VITA-Group/TENAS,
``prune_tenas.py`` and ``prune_launch.py``), which is where the paper's two
indicators are actually measured:

- kappa_N on the NB201 network at ``C=3, N=1`` (the official NTK supernet size),
  network in train mode, PyTorch default initialisation (see
  :func:`~nas_harness_plugins.tenas.common.init_weights`), one batch of
  augmented training images (batch 64, as the issue states for the paper; the
  official launch script uses 72 for its NB201 search: ``tenas.prune`` does);
- R_N on the "thin" network (``C=1, N=1``, first cell only, no stem) over 3
  batches of 1,000 one-channel 3x3 crops of training images.

Every network is initialised from a seed derived from (component, study seed,
architecture), so ``tenas.combined`` reproduces the two single proxies' values
exactly, and a score does not depend on which other architectures were scored.
"""

from __future__ import annotations

import math
import statistics
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from nas_harness.api import Arch, ConfigError, Context, Direction, HarnessError, Proxy
from nas_harness.proxy_kit import require_data
from nas_harness.seeding import derived_seed
from nas_harness.spaces.nb201_supernet import NB201Supernet, arch_mask
from nas_harness_plugins.tenas.common import (
    INIT_SCHEMES,
    check_choice,
    check_positive_int,
    dense_ranks,
    device_of,
    init_weights,
    require_nb201,
    resize,
    seeded,
)
from nas_harness_plugins.tenas.linear_regions import count_linear_regions, random_crops
from nas_harness_plugins.tenas.ntk import METHODS, NTKWarning, ntk_condition


class NTKSingularError(HarnessError):
    """kappa_N is undefined for this network and batch (``on_singular = "raise"``)."""


@dataclass
class NTKMeasure:
    kappa: float  # mean over repeats; NaN when any repeat is undefined
    kappas: list[float] = field(default_factory=list)
    method: str = ""
    reason: str | None = None


class NTKProxy(Proxy):
    """kappa_N = lambda_max / lambda_min of the empirical NTK at initialisation (paper section 3.1).

    Lower predicts better trainability and accuracy (paper: kappa_N correlates
    negatively with test accuracy), so ``direction`` is MINIMIZE.

    Options:
        batch_size: images in the NTK batch (64).
        repeats: batches ``train_batch(0..repeats-1)`` averaged (1: "over one batch").
        C, N: width and cells per stage of the network ``ctx.space.build`` makes (3, 1: the
            official TE-NAS NTK network; NB201's trained size is 16, 5).
        resolution: resize the batch to this side (None: the data's, 32 for CIFAR).
        augment: NB201 crop + flip on the batch, as the official train loader (True).
        train_mode: the official computes the NTK in train mode (True).
        method: ``"auto"``, ``"jacrev"``, ``"vmap"`` or ``"loop"`` (see :mod:`..ntk`).
        chunk_size: cotangents per vectorised backward (4; None: all at once, more memory).
        init: ``"pytorch"`` (default; what the official runs use) or ``"kaiming_normal"`` (fan-out).
        reinit: draw new weights for every repeat (False: one init, new batch per repeat).
        on_singular: ``"nan"`` (return NaN, reason in :attr:`last` and an :class:`NTKWarning`)
            or ``"raise"`` (:class:`NTKSingularError`, so the study stores the reason).
        device: overrides the study's device.
        net_cfg: further keyword arguments for ``ctx.space.build`` (a table).
    """

    name = "tenas.ntk"
    direction = Direction.MINIMIZE

    def __init__(
        self,
        batch_size: int = 64,
        repeats: int = 1,
        C: int = 3,
        N: int = 1,
        resolution: int | None = None,
        augment: bool = True,
        train_mode: bool = True,
        method: str = "auto",
        chunk_size: int | None = 4,
        init: str = "pytorch",
        reinit: bool = False,
        on_singular: str = "nan",
        device: str | None = None,
        net_cfg: dict[str, Any] | None = None,
    ) -> None:
        self.batch_size = check_positive_int("tenas.ntk batch_size", batch_size, 2)
        self.repeats = check_positive_int("tenas.ntk repeats", repeats)
        self.C, self.N = check_positive_int("tenas.ntk C", C), check_positive_int("tenas.ntk N", N)
        self.resolution = None if resolution is None else check_positive_int("tenas.ntk resolution", resolution)
        self.augment, self.train_mode = bool(augment), bool(train_mode)
        self.method = check_choice("tenas.ntk method", method, METHODS)
        self.chunk_size = None if chunk_size is None else check_positive_int("tenas.ntk chunk_size", chunk_size)
        self.init = check_choice("tenas.ntk init", init, INIT_SCHEMES)
        self.reinit = bool(reinit)
        self.on_singular = check_choice("tenas.ntk on_singular", on_singular, ("nan", "raise"))
        self.device = device
        self.net_cfg = dict(net_cfg or {})
        self.last: NTKMeasure | None = None

    def build(self, arch: Arch, ctx: Context, repeat: int = 0) -> torch.nn.Module:
        data = require_data(ctx, self.name)
        with seeded("tenas-ntk-init", ctx.seed, ctx.space.to_str(arch), repeat if self.reinit else 0):
            net = ctx.space.build(arch, C=self.C, N=self.N, num_classes=data.num_classes, **self.net_cfg)
            init_weights(net, self.init, mode="fan_out")
        return net.to(device_of(self.device, ctx)).train(self.train_mode)

    def batch(self, ctx: Context, repeat: int) -> torch.Tensor:
        x, _ = require_data(ctx, self.name).train_batch(repeat, self.batch_size, augment=self.augment)
        return resize(x, self.resolution).to(device_of(self.device, ctx))

    def measure(self, arch: Arch, ctx: Context) -> NTKMeasure:
        kappas, methods, reason = [], [], None
        net = None
        for r in range(self.repeats):
            if net is None or self.reinit:
                net = self.build(arch, ctx, r)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NTKWarning)  # re-warned once below with the architecture
                res = ntk_condition(net, self.batch(ctx, r), self.method, self.chunk_size)
            kappas.append(res.kappa)
            methods.append(res.method)
            if res.reason is not None and reason is None:
                reason = f"repeat {r}: {res.reason}"
        kappa = math.nan if reason is not None else statistics.fmean(kappas)
        return NTKMeasure(kappa, kappas, "/".join(sorted(set(methods))), reason)

    def score(self, arch: Arch, ctx: Context) -> float:
        self.last = m = self.measure(arch, ctx)
        if m.reason is not None:
            text = f"tenas.ntk: kappa undefined for {ctx.space.to_str(arch)}: {m.reason}"
            if self.on_singular == "raise":
                raise NTKSingularError(text)
            warnings.warn(text, NTKWarning, stacklevel=2)
        return m.kappa


class LinearRegionsProxy(Proxy):
    """R_N: distinct ReLU activation patterns over a sample of inputs (paper section 3.2).

    Higher predicts better expressivity and accuracy (paper: R_N correlates
    positively with test accuracy): ``direction`` is MAXIMIZE. The value is the
    mean count over ``repeats`` input sets.

    Options:
        network: ``"thin"`` (default; the official TE-NAS network: the NB201 cell in a
            :class:`~nas_harness.spaces.nb201_supernet.NB201Supernet` with ``C``, ``N``, ``depth``, ``use_stem``) or
            ``"space"`` (``ctx.space.build(arch, C=C, N=N, **net_cfg)``, e.g. the NB201 network
            at ``C=16, N=5``).
        C, N, depth, use_stem: thin-network shape (1, 1, 1, False: official).
        inputs: ``"crops"`` (official: one random ``crop_size`` crop of random channels of each
            training image), ``"images"`` (whole training images, not augmented) or
            ``"gaussian"`` (standard normal inputs of the crop shape).
        crop_size: side of the crops and Gaussian inputs (3).
        samples: inputs per batch (1000); batches: batches pooled per count (3).
        repeats: independent input sets averaged (1).
        train_mode: official: train mode (BatchNorm with batch statistics) (True).
        init: ``"pytorch"`` (default) or ``"kaiming_normal"`` (fan-in, as the official intends).
        reinit: new weights per repeat (False).
        device: overrides the study's device.
        net_cfg: further keyword arguments for ``ctx.space.build`` (``network = "space"``).
    """

    name = "tenas.linear_regions"
    direction = Direction.MAXIMIZE

    def __init__(
        self,
        network: str = "thin",
        C: int = 1,
        N: int = 1,
        depth: int = 1,
        use_stem: bool = False,
        inputs: str = "crops",
        crop_size: int = 3,
        samples: int = 1000,
        batches: int = 3,
        repeats: int = 1,
        train_mode: bool = True,
        init: str = "pytorch",
        reinit: bool = False,
        device: str | None = None,
        net_cfg: dict[str, Any] | None = None,
    ) -> None:
        self.network = check_choice("tenas.linear_regions network", network, ("thin", "space"))
        self.C = check_positive_int("tenas.linear_regions C", C)
        self.N = check_positive_int("tenas.linear_regions N", N)
        if not isinstance(depth, int) or isinstance(depth, bool) or depth == 0:
            raise ConfigError(f"tenas.linear_regions depth = {depth!r}; expected -1 (all) or a positive integer")
        self.depth, self.use_stem = depth, bool(use_stem)
        self.inputs = check_choice("tenas.linear_regions inputs", inputs, ("crops", "images", "gaussian"))
        self.crop_size = check_positive_int("tenas.linear_regions crop_size", crop_size)
        self.samples = check_positive_int("tenas.linear_regions samples", samples)
        self.batches = check_positive_int("tenas.linear_regions batches", batches)
        self.repeats = check_positive_int("tenas.linear_regions repeats", repeats)
        self.train_mode = bool(train_mode)
        self.init = check_choice("tenas.linear_regions init", init, INIT_SCHEMES)
        self.reinit = bool(reinit)
        self.device = device
        self.net_cfg = dict(net_cfg or {})
        self.last: list[int] | None = None

    @property
    def in_channels(self) -> int:
        return self.C if self.network == "thin" and not self.use_stem else 3

    def build(self, arch: Arch, ctx: Context, repeat: int = 0) -> torch.nn.Module:
        data = require_data(ctx, self.name)
        with seeded("tenas-lr-init", ctx.seed, ctx.space.to_str(arch), repeat if self.reinit else 0):
            if self.network == "thin":
                require_nb201(ctx, self.name)
                net = NB201Supernet(
                    self.C, self.N, data.num_classes, depth=self.depth, use_stem=self.use_stem,
                    mask=arch_mask(ctx.space.to_choices(arch)),
                )  # fmt: skip
            else:
                net = ctx.space.build(arch, C=self.C, N=self.N, num_classes=data.num_classes, **self.net_cfg)
            init_weights(net, self.init, mode="fan_in")
        return net.to(device_of(self.device, ctx)).train(self.train_mode)

    def input_batches(self, ctx: Context, repeat: int) -> list[torch.Tensor]:
        """The ``batches`` input batches of ``repeat`` (the same for every architecture)."""
        data = require_data(ctx, self.name)
        device = device_of(self.device, ctx)
        out = []
        for b in range(self.batches):
            index = repeat * self.batches + b
            gen = torch.Generator().manual_seed(derived_seed("tenas-lr-inputs", ctx.seed, index, self.samples) % 2**63)
            if self.inputs == "gaussian":
                shape = (self.samples, self.in_channels, self.crop_size, self.crop_size)
                x = torch.randn(shape, generator=gen)
            else:
                x, _ = data.train_batch(index, self.samples, augment=False)
                if self.inputs == "crops":
                    x = random_crops(x, self.crop_size, self.in_channels, gen)
                elif x.shape[1] != self.in_channels:
                    raise ConfigError(
                        f"tenas.linear_regions: inputs = 'images' has {x.shape[1]} channels but the network "
                        f"takes {self.in_channels} (use use_stem = true or network = 'space')"
                    )
            out.append(x.to(device))
        return out

    def measure(self, arch: Arch, ctx: Context) -> list[int]:
        counts = []
        net = None
        for r in range(self.repeats):
            if net is None or self.reinit:
                net = self.build(arch, ctx, r)
            counts.append(count_linear_regions(net, self.input_batches(ctx, r)))
        return counts

    def score(self, arch: Arch, ctx: Context) -> float:
        self.last = counts = self.measure(arch, ctx)
        return float(statistics.fmean(counts))


def combine_ranks(kappas: list[float], regions: list[float], digits: int | None = None) -> list[int]:
    """TE-NAS rank combination: rank(kappa ascending) + rank(R_N descending), 0-based dense ranks.

    Lower sums are better. A NaN kappa or R_N ranks last on its indicator.
    """
    rk = dense_ranks(kappas, descending=False, digits=digits)
    rr = dense_ranks(regions, descending=True, digits=digits)
    return [a + b for a, b in zip(rk, rr, strict=True)]


class CombinedProxy(Proxy):
    """The paper's rank combination over the architectures compared (section 3.3).

    Each architecture is ranked by kappa_N (ascending: the most trainable first)
    and by R_N (descending: the most expressive first); the score is the sum of
    the two 0-based ranks, lower is better (``direction`` MINIMIZE). Ties share a
    rank ("dense" ranking, as in ``prune_tenas.py``); a NaN kappa (singular NTK)
    ranks last. The score only means something within the set scored together
    (``set_level``): the runner calls :meth:`score_many` on a seed's whole sample.

    Options:
        ntk: options of ``tenas.ntk`` (a table).
        linear_regions: options of ``tenas.linear_regions`` (a table).
        precision: round both indicators to this many significant figures before ranking
            (None: exact values; the official pruning uses 3 on relative changes).
    """

    name = "tenas.combined"
    direction = Direction.MINIMIZE
    set_level = True

    def __init__(
        self,
        ntk: dict[str, Any] | None = None,
        linear_regions: dict[str, Any] | None = None,
        precision: int | None = None,
    ) -> None:
        self.ntk = NTKProxy(**dict(ntk or {}, on_singular="nan"))
        self.linear_regions = LinearRegionsProxy(**(linear_regions or {}))
        self.precision = None if precision is None else check_positive_int("tenas.combined precision", precision)
        self.last: list[dict[str, Any]] = []

    def score(self, arch: Arch, ctx: Context) -> float:
        raise HarnessError(
            "tenas.combined ranks architectures against each other; score a set with score_many() "
            "(the study runner does), or use tenas.ntk / tenas.linear_regions for one architecture"
        )

    def score_many(self, archs: list[Arch], ctx: Context) -> list[float]:
        kappas, regions = [], []
        self.last = []
        for arch in archs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NTKWarning)
                m = self.ntk.measure(arch, ctx)
            counts = self.linear_regions.measure(arch, ctx)
            kappas.append(m.kappa)
            regions.append(float(statistics.fmean(counts)))
            self.last.append(
                {"arch": ctx.space.to_str(arch), "kappa": m.kappa, "regions": regions[-1], "reason": m.reason}
            )
        sums = combine_ranks(kappas, regions, self.precision)
        for row, s in zip(self.last, sums, strict=True):
            row["rank_sum"] = s
        return [float(s) for s in sums]
