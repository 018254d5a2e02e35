"""AZ-NAS (Lee & Ham, CVPR 2024, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search").

Four per-architecture components and their set-level combination:

- ``zeroshot.az_expressivity``: the isotropy of each block's features: the entropy of the normalised eigenvalues of
  the channel covariance of its output (over samples and positions), summed over the blocks;
- ``zeroshot.az_progressivity``: the smallest increase of that entropy from one block to the next;
- ``zeroshot.az_trainability``: ``-sigma - 1/sigma + 2`` (largest at sigma = 1), sigma the spectral norm of a
  block's Jacobian estimated from one random (Rademacher) backward, averaged over consecutive block pairs;
- ``zeroshot.az_complexity``: the network's FLOPs (multiply-accumulates, counted as NAS-Bench-201 does);
- ``zeroshot.az_nas``: the paper's non-linear rank aggregation over the architectures scored together,
  ``sum over the four components of log(rank / n)`` (ranks ascending, 1 = the lowest value; ties share the average
  rank): a set-level estimator (``score_many``), higher is better.

Defaults and formulas follow the official NAS-Bench-201 code (github.com/cvlab-yonsei/AZ-NAS,
``NB201/ZeroShotProxy/compute_az_nas_score.py``, ``NB201/custom/tss_model.py``, ``NB201/tss_general.ipynb``):
the NB201 network at C=16, N=5 in training mode, Kaiming-normal fan-in initialisation (``init_model(model,
'kaiming_norm_fanin')``: conv/linear weights, zero biases, BN weight 1 and bias 0), one batch of 64 standard-normal
inputs at the data's resolution (``az_nas`` is not among the notebook's ``real_input_metrics``; 64 is the batch of
``configs/nas-benchmark/algos/weight-sharing.config``), FLOPs from the benchmark (computed here from the network,
which gives NAS-Bench-201's figures), and the aggregation ``np.log(stats.rankdata(score) / n)`` summed over FLOPs,
expressivity, progressivity and trainability.

How NB201 maps onto the paper's blocks: the official ``extract_cell_features`` takes the stem's output and the output
of every entry of ``cells`` (N cells, the stride-2 residual block, N cells, the residual block, N cells: 3N + 2
blocks), 3N + 3 feature maps in all (18 at N = 5); ``lastact``, pooling and classifier are not used. Expressivity
sums the 3N + 3 entropies, progressivity is the minimum over the 3N + 2 consecutive differences, trainability the mean
over the 3N + 2 consecutive pairs (a residual block's input gradient is pixel-unshuffled to its output's resolution,
as in the official code). Here those feature maps are taken with forward hooks on ``stem`` and each ``cells`` entry
of any network that has both (the NB201 network's layout). The paper has no NAS-Bench-101 setting; its network
(``nasbench-pytorch``: a ``layers`` list of the stem, the cells and the max-pools between stacks) is read the same
way, the stem and every cell (3N + 1 feature maps), the pools left out as NB201's lastact is (a pool between two cells
is part of the later pair, whose input gradient is pixel-unshuffled by 2 as at a residual block). Any other network is
read from its direct children that return 4-D feature maps, in the order they run.

Every network is initialised from ``derived_seed("zeroshot.az_nas", study seed, arch)`` and every Gaussian batch from
``derived_seed("zeroshot.az_nas", "inputs", study seed, batch_size)``, whichever AZ estimator builds it, so
``zeroshot.az_nas`` ranks exactly the values the four component proxies return.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas_harness.api import Arch, ConfigError, Context, Direction, HarnessError, Proxy
from nas_harness.costs import count_flops
from nas_harness.proxy_kit import (
    DegenerateNetworkError,
    check_batch_size,
    fetch_batch,
    reject_disconnected,
    require_data,
)
from nas_harness.seeding import derived_seed
from nas_harness_plugins.zeroshot.common import check_bool, check_choice
from nas_harness_plugins.zeroshot.swap import seeded_build

__all__ = [
    "AZComplexityProxy",
    "AZExpressivityProxy",
    "AZMeasure",
    "AZNASProxy",
    "AZNASWarning",
    "AZProgressivityProxy",
    "AZTrainabilityProxy",
    "block_entropy",
    "block_features",
    "kaiming_fan_in_init",
    "measure_network",
    "rank_aggregate",
]

#: the seed name every AZ estimator builds its networks and Gaussian batches from (so they agree)
SEED_NAME = "zeroshot.az_nas"
#: official epsilons: inside the entropy's log, and in the trainability's 1 / (sigma + eps)
LOG_EPS = 1e-8
SIGMA_EPS = 1e-6
COMPONENTS = ("expressivity", "progressivity", "trainability", "complexity")


class AZNASWarning(UserWarning):
    """``zeroshot.az_nas`` left architectures it could not score out of the ranking (their score is NaN)."""


def kaiming_fan_in_init(net: nn.Module) -> nn.Module:
    """The official ``init_model(model, 'kaiming_norm_fanin')``: Kaiming-normal (fan-in, ReLU gain) conv and linear
    weights, zero biases, affine BN / GroupNorm weight 1 and bias 0, drawn from the global torch generator."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm | nn.GroupNorm) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
    return net


# -- the blocks' feature maps ---------------------------------------------------------------------------------
def _block_modules(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """The stem and the cells of the NB201 and NB101 layouts, else the direct children (see the module doc)."""
    stem, cells = getattr(net, "stem", None), getattr(net, "cells", None)
    if isinstance(stem, nn.Module) and isinstance(cells, nn.ModuleList | nn.Sequential):
        return [("stem", stem)] + [(f"cells.{i}", cell) for i, cell in enumerate(cells)]
    layers, cell_indices = getattr(net, "layers", None), getattr(net, "cell_indices", None)
    if isinstance(layers, nn.ModuleList) and cell_indices:  # nasbench-pytorch's NB101 network
        return [("layers.0", layers[0])] + [(f"layers.{i}", layers[i]) for i in sorted(cell_indices)]
    return list(net.named_children())


def block_features(net: nn.Module, inputs: torch.Tensor, grad: bool = False) -> tuple[list[str], list[torch.Tensor]]:
    """``(names, features)``: the output of each block of ``net`` (4-D ``[B, C, H, W]``), in the order they run, from
    one forward pass in training mode (with autograd when ``grad``; the inputs then require grad, so every feature
    is in the graph). Each hook hands the rest of the network a copy of what it keeps, so later in-place ops (the
    NB201 ``lastact``'s ReLU) leave the kept features as the blocks computed them."""
    names: list[str] = []
    feats: list[torch.Tensor] = []

    def hook_for(name: str):  # one forward hook per block, naming it
        def hook(_module: nn.Module, _args: tuple[Any, ...], output: Any) -> Any:
            if isinstance(output, torch.Tensor) and output.dim() == 4:
                names.append(name)
                feats.append(output)
                return output.clone()
            return None

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in _block_modules(net)]
    try:
        x = inputs.detach().requires_grad_(True) if grad else inputs
        with torch.set_grad_enabled(grad):
            net.train()(x)
    finally:
        for h in handles:
            h.remove()
    if len(feats) < 2:
        raise ConfigError(
            f"AZ-NAS needs the feature maps of at least two blocks of the network; {type(net).__name__} gave "
            f"{len(feats)} (it reads 'stem' and each 'cells' entry of a network that has both, as NAS-Bench-201's, the "
            "stem and cells of NAS-Bench-101's 'layers', else the direct children that return 4-D feature maps)"
        )
    for name, f in zip(names, feats, strict=True):
        if not torch.isfinite(f).all():
            raise DegenerateNetworkError(f"AZ-NAS: the output of block {name!r} is not finite")
    last = feats[-1].reshape(feats[-1].shape[0], -1)
    if last.shape[0] >= 2 and bool((last == last[:1]).all()):
        raise DegenerateNetworkError(
            f"AZ-NAS: the last block ({names[-1]!r}) gives the same output for all {last.shape[0]} inputs of the batch "
            "(the network's output does not depend on its input, e.g. a cell with no path from input to output): "
            "the score is undefined"
        )
    return names, feats


# -- the components ---------------------------------------------------------------------------------------------
def block_entropy(feature: torch.Tensor, name: str = "block") -> float:
    """Expressivity of one block (the paper's expressivity; official ``compute_nas_score``): the features
    ``[B, C, H, W]`` as B*H*W samples of C channels, centred, their covariance ``F^T F / (B*H*W)``, its eigenvalues
    normalised to sum to 1, and their entropy ``-sum p log(p + 1e-8)``."""
    b, c, h, w = feature.shape
    f = feature.detach().to(torch.float64).permute(0, 2, 3, 1).reshape(b * h * w, c)
    f = f - f.mean(dim=0, keepdim=True)
    sigma = f.t() @ f / f.shape[0]
    s = torch.linalg.eigvalsh(sigma).clamp_min(0.0)  # a covariance: negative eigenvalues are rounding errors
    total = s.sum()
    if not total > 0:
        raise DegenerateNetworkError(
            f"AZ-NAS: the output of block {name!r} is constant over the batch (zero covariance): its expressivity "
            "is undefined"
        )
    p = s / total
    return float(-(p * torch.log(p + LOG_EPS)).sum())


def _pair_trainability(
    f_in: torch.Tensor, f_out: torch.Tensor, generator: torch.Generator, name: str
) -> tuple[float, bool]:
    """``(-sigma - 1/(sigma + 1e-6) + 2, identity)`` for one block (the paper's trainability; official code).

    A Rademacher ``g_out`` is backpropagated through the block to ``g_in = J^T g_out``; ``g_in`` is pixel-unshuffled
    to ``g_out``'s resolution when the block downsamples, both are read as (B*H*W) x channels, and sigma is the
    largest singular value of ``g_in^T g_out / (B*H*W)``. A block whose ``g_in`` equals ``g_out`` computes the
    identity: the official code scores it ``-inf`` (returned with ``identity`` True).
    """
    g_out = torch.randint(0, 2, f_out.shape, generator=generator).to(f_out) * 2 - 1
    (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=g_out, retain_graph=True, allow_unused=True)
    if g_in is None or not bool(g_in.any()):
        raise DegenerateNetworkError(
            f"AZ-NAS: the output of block {name!r} does not depend on its input (zero Jacobian): its trainability "
            "is undefined"
        )
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf, True
    bo, co, ho, wo = g_out.shape
    if g_in.shape[2:] != g_out.shape[2:]:
        stride = g_in.shape[2] // ho
        if stride < 1 or g_in.shape[2] != stride * ho or g_in.shape[3] != stride * wo:
            raise ConfigError(
                f"AZ-NAS: block {name!r} maps {tuple(g_in.shape[2:])} to {tuple(g_out.shape[2:])} pixels; the "
                "trainability needs an integer downsampling factor (official: pixel-unshuffle by the stride)"
            )
        g_in = F.pixel_unshuffle(g_in, stride)
    rows_in = g_in.to(torch.float64).permute(0, 2, 3, 1).reshape(bo * ho * wo, -1)
    rows_out = g_out.to(torch.float64).permute(0, 2, 3, 1).reshape(bo * ho * wo, co)
    sigma = float(torch.linalg.svdvals(rows_in.t() @ rows_out / (bo * ho * wo)).max())
    return -sigma - 1.0 / (sigma + SIGMA_EPS) + 2.0, False


@dataclass
class AZMeasure:
    """What :func:`measure_network` found for one network (components left out are None)."""

    blocks: list[str] = field(default_factory=list)
    entropies: list[float] | None = None  # per block
    expressivity: float | None = None
    progressivity: float | None = None
    block_trainability: list[float] | None = None  # per consecutive pair (pair i: block i -> block i + 1)
    trainability: float | None = None  # -inf when a block is the identity (official)
    identity_blocks: list[str] = field(default_factory=list)
    complexity: float | None = None  # FLOPs per image

    def value(self, component: str) -> float:
        value = getattr(self, component)
        if value is None:
            raise ValueError(f"component {component!r} was not measured")
        return float(value)


def rademacher_generator() -> torch.Generator:
    """The CPU generator of the trainability's Rademacher vectors (fixed: the study seed enters through the network
    and the batch; a network is scored the same wherever it is scored)."""
    return torch.Generator().manual_seed(derived_seed(SEED_NAME, "rademacher"))


def measure_network(
    net: nn.Module, inputs: torch.Tensor, components: Sequence[str] = COMPONENTS
) -> AZMeasure:  # fmt: skip
    """The requested AZ-NAS components of ``net`` (as given: not re-initialised) on ``inputs``."""
    unknown = set(components) - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown AZ-NAS components {sorted(unknown)}; accepted: {', '.join(COMPONENTS)}")
    m = AZMeasure()
    if {"expressivity", "progressivity", "trainability"} & set(components):
        grad = "trainability" in components
        m.blocks, feats = block_features(net, inputs, grad=grad)
        if {"expressivity", "progressivity"} & set(components):
            m.entropies = [block_entropy(f, n) for n, f in zip(m.blocks, feats, strict=True)]
            m.expressivity = float(sum(m.entropies))
            m.progressivity = float(min(b - a for a, b in zip(m.entropies[:-1], m.entropies[1:], strict=True)))
        if grad:
            gen = rademacher_generator()
            pairs: dict[int, float] = {}
            for i in reversed(range(1, len(feats))):  # the official order (last block first)
                pairs[i], identity = _pair_trainability(feats[i - 1], feats[i], gen, m.blocks[i])
                if identity:
                    m.identity_blocks.insert(0, m.blocks[i])
            m.block_trainability = [pairs[i] for i in range(1, len(feats))]
            m.trainability = float(np.mean(m.block_trainability))
    if "complexity" in components:
        m.complexity = float(count_flops(net, (1, *inputs.shape[1:])))
    return m


def rank_aggregate(columns: Sequence[Sequence[float]]) -> list[float]:
    """AZ-NAS's non-linear rank aggregation (official ``tss_general.ipynb``): for each architecture,
    ``sum over the columns of log(rank / n)``, ranks ascending from 1 (the lowest value) to n, ties sharing their
    average rank (``scipy.stats.rankdata``). ``-inf`` values rank lowest; NaN is refused."""
    from scipy.stats import rankdata

    total: np.ndarray | None = None
    for column in columns:
        values = np.asarray(column, dtype=np.float64)
        if np.isnan(values).any():
            raise ValueError("rank_aggregate: a column holds NaN; leave the architectures it cannot score out")
        term = np.log(rankdata(values) / len(values))
        total = term if total is None else total + term
    if total is None:
        raise ValueError("rank_aggregate needs at least one column")
    return [float(v) for v in total]


# -- the estimators ----------------------------------------------------------------------------------------------
class _AZOptions:
    """The options every AZ estimator takes (see :class:`AZExpressivityProxy`)."""

    name = "zeroshot.az"

    def __init__(
        self,
        batch_size: int = 64,
        inputs: str = "gaussian",
        augment: bool = True,
        init: str = "kaiming_fan_in",
        **net_cfg: Any,
    ) -> None:
        self.batch_size = check_batch_size(self.name, batch_size, minimum=2)  # a covariance over samples needs two
        self.inputs = check_choice(self.name, "inputs", inputs, ("gaussian", "data"))
        self.augment = check_bool(self.name, "augment", augment)
        self.init = check_choice(self.name, "init", init, ("kaiming_fan_in", "pytorch"))
        self.net_cfg = net_cfg

    def build_network(self, arch: Arch, ctx: Context) -> nn.Module:
        """``arch``'s network, built and initialised from ``derived_seed("zeroshot.az_nas", study seed, arch)``."""
        init = kaiming_fan_in_init if self.init == "kaiming_fan_in" else None
        return seeded_build(SEED_NAME, arch, ctx, self.net_cfg, init)

    def study_batch(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        """``inputs = "gaussian"``: standard-normal images of the data's shape (labels 0); ``"data"``: train batch 0."""
        if self.inputs == "data":
            return fetch_batch(ctx, self.name, self.batch_size, self.augment)
        data = require_data(ctx, self.name)
        gen = torch.Generator().manual_seed(derived_seed(SEED_NAME, "inputs", ctx.seed, self.batch_size))
        x = torch.randn((self.batch_size, *data.input_shape), generator=gen)
        return x.to(ctx.device), torch.zeros(self.batch_size, dtype=torch.long, device=ctx.device)


class _AZComponentProxy(_AZOptions, Proxy):
    direction = Direction.MAXIMIZE
    component = ""

    def score(self, arch: Arch, ctx: Context) -> float:
        if self.component != "complexity":
            reject_disconnected(self.name, arch, ctx)
        x, y = self.study_batch(ctx)
        return self.score_network(self.build_network(arch, ctx), x, y)

    def score_network(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """The component for ``net`` as given (not re-initialised), in training mode, on ``inputs``."""
        return measure_network(net, inputs, (self.component,)).value(self.component)


class AZExpressivityProxy(_AZComponentProxy):
    """AZ-NAS expressivity: the entropy of each block's normalised feature-covariance eigenvalues, summed over the
    blocks (higher: more isotropic features, predicted better).

    Options (all AZ estimators):
        batch_size: inputs per batch (64, official).
        inputs: ``"gaussian"`` (official on NB201: standard-normal images of the data's shape) or ``"data"``
            (train batch 0 of the study's stream).
        augment: NB201 crop + flip when ``inputs = "data"`` (True, as a training loader).
        init: ``"kaiming_fan_in"`` (official ``init_model``) or ``"pytorch"`` (the space's own initialisation).
        any other option: a keyword argument of ``ctx.space.build`` (``C``, ``N``, ...; ``num_classes`` defaults to
            the data's).

    Deviations (all AZ estimators): covariances, eigenvalues and singular values in float64 (official: float32);
    eigenvalues clamped at 0 (a covariance has none below, so only rounding errors are removed; the official's
    ``log`` of a negative one is NaN, which it maps to ``-inf``); a network whose blocks give a constant output, or
    whose output does not depend on its input (a disconnected cell), raises :class:`DegenerateNetworkError` where the
    official code returns ``-inf`` or a huge negative number. ``score_network`` scores the network as given; the
    study path initialises it first (the official ``compute_nas_score`` re-initialises the network it receives).
    """

    name = "zeroshot.az_expressivity"
    component = "expressivity"


class AZProgressivityProxy(_AZComponentProxy):
    """AZ-NAS progressivity: the smallest increase of the block entropy (see :class:`AZExpressivityProxy`) from one
    block to the next (higher: expressivity grows through the network; predicted better). Options, deviations: as
    :class:`AZExpressivityProxy`."""

    name = "zeroshot.az_progressivity"
    component = "progressivity"


class AZTrainabilityProxy(_AZComponentProxy):
    """AZ-NAS trainability: ``-sigma - 1/sigma + 2`` per consecutive block pair, sigma the spectral norm of the
    block's Jacobian estimated from one Rademacher backward, averaged over the pairs (at most 0, reached at
    sigma = 1: higher is predicted better). Options, deviations: as :class:`AZExpressivityProxy`.

    A block computing the identity (a cell whose only path is a skip connection) gets ``-inf`` in the official code;
    this proxy raises a :class:`DegenerateNetworkError` saying so (the runner would record ``-inf`` as a failure with
    no reason), and ``zeroshot.az_nas`` ranks such a network last on trainability, as the official code does. The
    Rademacher vectors come from a fixed seed (:func:`rademacher_generator`).
    """

    name = "zeroshot.az_trainability"
    component = "trainability"

    def score_network(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        m = measure_network(net, inputs, ("trainability",))
        if m.identity_blocks:
            raise DegenerateNetworkError(
                f"{self.name}: block(s) {', '.join(m.identity_blocks)} compute the identity (input gradient equals "
                "output gradient); the official AZ-NAS code scores such a network's trainability -inf (the worst)"
            )
        return m.value("trainability")


class AZComplexityProxy(_AZComponentProxy):
    """AZ-NAS complexity: FLOPs (multiply-accumulates per image at the batch's resolution, counted as NAS-Bench-201
    counts them, :func:`nas_harness.costs.count_flops`); more is predicted better. The official NB201 code takes the
    benchmark's FLOPs field, which this count reproduces. Options: as :class:`AZExpressivityProxy` (only the batch's
    image shape is read). A disconnected cell's FLOPs are well defined, so it is scored."""

    name = "zeroshot.az_complexity"
    component = "complexity"


class AZNASProxy(_AZOptions, Proxy):
    """AZ-NAS: ``sum over {expressivity, progressivity, trainability, complexity} of log(rank / n)`` over the
    architectures scored together (the paper's non-linear ranking aggregation; ranks ascending, so the highest
    value of a component ranks n and adds log 1 = 0). Higher is better; set-level (``score_many``).

    Each architecture's components are measured on one network and batch (the four component proxies' values, see the
    module doc). Options: those of :class:`AZExpressivityProxy`, and
        on_degenerate: ``"exclude"`` (default: an architecture that cannot be scored, a disconnected cell or a network
            with a constant block, gets NaN, is left out of the ranking (n counts the others) and is named in an
            :class:`AZNASWarning` and in :attr:`last`) or ``"raise"`` (the first such architecture fails the set).

    Deviation: the official code ranks every architecture, mapping an undefined component to ``-inf`` (so a
    disconnected cell ranks last on expressivity and progressivity, and shifts the others' ranks); here such
    architectures are left out, as the harness records a proxy that cannot score a cell as a failure rather than a
    rank. An identity block's ``-inf`` trainability is kept and ranks lowest, as in the official code.
    """

    name = "zeroshot.az_nas"
    direction = Direction.MAXIMIZE
    set_level = True

    def __init__(
        self,
        batch_size: int = 64,
        inputs: str = "gaussian",
        augment: bool = True,
        init: str = "kaiming_fan_in",
        on_degenerate: str = "exclude",
        **net_cfg: Any,
    ) -> None:
        super().__init__(batch_size, inputs, augment, init, **net_cfg)
        self.on_degenerate = check_choice(self.name, "on_degenerate", on_degenerate, ("exclude", "raise"))
        self.last: list[dict[str, Any]] = []

    def score(self, arch: Arch, ctx: Context) -> float:
        raise HarnessError(
            "zeroshot.az_nas ranks architectures against each other; score a set with score_many() (the study runner "
            "does), or use zeroshot.az_expressivity, az_progressivity, az_trainability or az_complexity for one"
        )

    def measure(self, arch: Arch, ctx: Context) -> AZMeasure:
        """All four components of ``arch``: what the component proxies return (identity blocks: trainability -inf)."""
        reject_disconnected(self.name, arch, ctx)
        x, _ = self.study_batch(ctx)
        return measure_network(self.build_network(arch, ctx), x, COMPONENTS)

    def score_many(self, archs: Sequence[Arch], ctx: Context) -> list[float]:
        self.last = []
        measures: list[AZMeasure | None] = []
        for arch in archs:
            text = ctx.space.to_str(arch)  # not an architecture: raises here, whatever on_degenerate says
            try:
                m = self.measure(arch, ctx)
            except DegenerateNetworkError as exc:
                if self.on_degenerate == "raise":
                    raise
                measures.append(None)
                self.last.append({"arch": text, "reason": str(exc)})
                continue
            measures.append(m)
            self.last.append({"arch": text, **{c: m.value(c) for c in COMPONENTS}, "reason": None})
        kept = [i for i, m in enumerate(measures) if m is not None]
        scores = [math.nan] * len(archs)
        if kept:
            columns = [[measures[i].value(c) for i in kept] for c in COMPONENTS]  # type: ignore[union-attr]
            for i, s in zip(kept, rank_aggregate(columns), strict=True):
                scores[i] = s
        for row, s in zip(self.last, scores, strict=True):
            row["az_nas"] = s
        left_out = [row for row in self.last if row["reason"] is not None]
        if left_out:
            warnings.warn(
                f"{self.name}: {len(left_out)} of {len(archs)} architectures left out of the ranking (NaN): "
                + "; ".join(row["reason"] for row in left_out),
                AZNASWarning,
                stacklevel=2,
            )
        return scores
