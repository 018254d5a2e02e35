"""``zeroshot.swap``: SWAP-Score (Peng et al., ICLR 2024, "SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast
NAS").

The score is the number of distinct *sample-wise activation patterns* of a network on a batch: each ReLU unit's
binary code across the batch's samples (1 where the unit is active), collected over every ReLU layer, counted as
a set (the paper's SWAP-Score: the cardinality of the set of sample-wise patterns). More distinct patterns mean a more
expressive network, so higher predicts better.

Defaults follow the official code (github.com/pym1024/SWAP, ``src/metrics/swap.py`` and ``correlation.py``):

- hooks on every ``nn.ReLU`` module whose input is a 4-D feature map, their outputs' signs concatenated over the
  layers, ``torch.unique`` over the units' rows;
- 16 input samples (``--input_samples 16``) of the training set, neither cropped nor flipped (its CIFAR train
  transform is a ``RandomCrop(32, padding=0)``, a no-op at 32 px, and its loader does not shuffle);
- 32 repeats (``--repeats 32``), each re-initialising the network (``network_weight_gaussian_init``: conv and
  linear weights N(0, 1), biases 0, BN weight 1 and bias 0) and averaging the counts;
- the network in training mode (the script never calls ``eval()``), under ``torch.no_grad()``.

The regularised score (the paper's SWAP-Score with regularisation, for model-size control during the search)
multiplies the count by ``exp(-(Theta - mu)^2 / sigma)``; the official ``cal_regular_factor`` takes ``Theta`` as
the network's parameter count in thousands (every named parameter, ``count_parameters`` / 1e3).

Failures (a disconnected cell, a network whose output ignores its input) raise
:class:`~nas_harness_plugins.zeroshot.common.DegenerateNetworkError` naming the reason.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from nas_harness.api import Arch, ConfigError, Context, Direction, Proxy
from nas_harness.proxy_kit import (
    DegenerateNetworkError,
    arch_seed,
    check_batch_size,
    fetch_batch,
    network_config,
    reject_disconnected,
)
from nas_harness_plugins.zeroshot.common import check_bool, check_choice, check_int

__all__ = ["SwapProxy", "count_distinct_patterns", "gaussian_init", "relu_patterns", "seeded_build"]

#: bits packed into one int64 key when counting distinct patterns (63: the sign bit stays clear)
_WORD_BITS = 63


def seeded_build(
    proxy: str,
    arch: Arch,
    ctx: Context,
    net_cfg: Mapping[str, Any],
    init: Callable[[nn.Module], object] | None = None,
    *salt: object,
) -> nn.Module:
    """``ctx.space.build(arch, **net_cfg)`` (``num_classes`` from the data) and ``init`` on it, drawn from the CPU
    generator seeded with ``derived_seed(proxy, study seed, arch string, *salt)`` inside
    :func:`torch.random.fork_rng` (the caller's random state is left alone), then moved to ``ctx.device``.

    :func:`~nas_harness_plugins.zeroshot.common.seeded_network` with an initialisation and a salt (a repeat).
    """
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(arch_seed(proxy, arch, ctx, *salt))
        net = ctx.space.build(arch, **network_config(ctx, net_cfg))
        if init is not None:
            init(net)
    return net.to(ctx.device)


def gaussian_init(net: nn.Module) -> nn.Module:
    """The official ``network_weight_gaussian_init``: conv and linear weights N(0, 1), their biases 0, BN / GroupNorm
    weights 1 and biases 0, drawn from the global torch generator (the study seeds it)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm | nn.GroupNorm) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
    return net


@contextmanager
def _hooks(modules: list[nn.Module], hook: Callable[..., Any]) -> Iterator[None]:
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def relu_patterns(net: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(codes, outputs)``: ``codes`` ``[units, samples]`` bool, row u the activation pattern of unit u (output > 0)
    over the batch, for every call of an ``nn.ReLU`` module on a 4-D input (official ``hook_in_forward``; functional
    ReLUs are not seen); ``outputs`` the network's output. Runs ``net`` in training mode under ``no_grad``."""
    codes: list[torch.Tensor] = []

    def hook(_module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
        if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
            if not torch.isfinite(output).all():
                raise DegenerateNetworkError("zeroshot.swap: a ReLU layer's output is not finite")
            codes.append((output > 0).flatten(1))  # sign of a ReLU output: 1 active, 0 not

    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    with _hooks(relus, hook), torch.no_grad():
        outputs = net.train()(inputs)
    if not codes:
        raise ConfigError(
            "zeroshot.swap counts the activation patterns of nn.ReLU modules applied to 4-D feature maps; the "
            f"network ({type(net).__name__}) has none"
        )
    return torch.cat(codes, dim=1).t(), outputs


def count_distinct_patterns(codes: torch.Tensor) -> int:
    """The number of distinct rows of the bool matrix ``codes`` ``[units, samples]`` (``torch.unique(dim=0)`` of the
    official code, on the rows packed into 63-bit integer keys)."""
    if codes.dim() != 2:
        raise ValueError(f"codes must be [units, samples], got shape {tuple(codes.shape)}")
    words = []
    for start in range(0, codes.shape[1], _WORD_BITS):
        chunk = codes[:, start : start + _WORD_BITS]
        key = torch.zeros(codes.shape[0], dtype=torch.int64, device=codes.device)
        for bit in range(chunk.shape[1]):
            key |= chunk[:, bit].to(torch.int64) << bit
        words.append(key)
    if len(words) == 1:
        return int(torch.unique(words[0]).numel())
    return int(torch.unique(torch.stack(words, dim=1), dim=0).shape[0])


def _check_input_dependence(who: str, outputs: torch.Tensor) -> None:
    """A :class:`DegenerateNetworkError` when every sample of a batch of two or more gives the same output."""
    flat = outputs.reshape(outputs.shape[0], -1)
    if flat.shape[0] >= 2 and bool((flat == flat[:1]).all()):
        raise DegenerateNetworkError(
            f"{who}: the network gives the same output for all {flat.shape[0]} images of the batch (its output does "
            "not depend on its input, e.g. a cell with no path from input to output): the score is undefined"
        )


class SwapProxy(Proxy):
    """SWAP-Score: the number of distinct sample-wise ReLU activation patterns on one batch (higher is better).

    ``score(arch, ctx)`` builds the network ``repeats`` times (each from ``derived_seed(name, study seed, arch,
    repeat)``, re-initialised by ``init``), scores each with :meth:`score_network` on the same batch (train batch 0
    of the study, ``batch_size`` images) and returns the mean, as the official script does. ``score_network`` scores
    the network it is given, with its own weights: one repeat.

    Options:
        batch_size: samples per pattern (16, official ``--input_samples``); the patterns are ``batch_size``-bit codes.
        repeats: re-initialisations averaged (32, official ``--repeats``).
        augment: NB201 crop + flip on the batch (False: the official loader neither crops nor flips).
        init: ``"gaussian"`` (official ``network_weight_gaussian_init``) or ``"pytorch"`` (the space's own).
        mu, sigma: SWAP-reg's Gaussian on the model size, in thousands of parameters (None, None: plain SWAP;
            give both for the regularised score ``count * exp(-(Theta - mu)^2 / sigma)``, sigma > 0).
        reg_params: what ``Theta`` counts: ``"all"`` (official ``count_parameters``: every parameter) or ``"conv"``
            (the convolution parameter count: Conv2d weights and biases only).
        any other option: a keyword argument of ``ctx.space.build`` (``C``, ``N``, ...; ``num_classes`` defaults to
            the data's).

    Deviations: the official hooks count ``torch.sign`` of each ReLU output; ``output > 0`` is the same code for any
    finite output (a non-finite one raises here). The official keeps every repeat's hooks registered on the same
    network; here each repeat is a fresh network. A network whose output does not depend on its input (a
    disconnected cell) raises :class:`~nas_harness_plugins.zeroshot.common.DegenerateNetworkError` instead of
    counting the patterns of its input-free layers.
    """

    name = "zeroshot.swap"
    direction = Direction.MAXIMIZE

    def __init__(
        self,
        batch_size: int = 16,
        repeats: int = 32,
        augment: bool = False,
        init: str = "gaussian",
        mu: float | None = None,
        sigma: float | None = None,
        reg_params: str = "all",
        **net_cfg: Any,
    ) -> None:
        self.batch_size = check_batch_size(self.name, batch_size, minimum=2)  # patterns across samples need two
        self.repeats = check_int(self.name, "repeats", repeats)
        self.augment = check_bool(self.name, "augment", augment)
        self.init = check_choice(self.name, "init", init, ("gaussian", "pytorch"))
        if (mu is None) != (sigma is None):
            raise ConfigError(f"{self.name}: mu = {mu!r}, sigma = {sigma!r}; give both (SWAP-reg) or neither")
        for key, value in (("mu", mu), ("sigma", sigma)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            ):
                raise ConfigError(
                    f"{self.name}: {key} must be a finite number (thousands of parameters), got {value!r}"
                )
        if sigma is not None and not sigma > 0:
            raise ConfigError(f"{self.name}: sigma must be a number > 0, got {sigma!r}")
        self.mu = None if mu is None else float(mu)
        self.sigma = None if sigma is None else float(sigma)
        self.reg_params = check_choice(self.name, "reg_params", reg_params, ("all", "conv"))
        self.net_cfg = net_cfg

    # -- the study path ---------------------------------------------------------------------------------------
    def build_network(self, arch: Arch, ctx: Context, repeat: int = 0) -> nn.Module:
        """Repeat ``repeat``'s network for ``arch``: built and initialised from the study seed."""
        init = gaussian_init if self.init == "gaussian" else None
        return seeded_build(self.name, arch, ctx, self.net_cfg, init, *((repeat,) if repeat else ()))

    def study_batch(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        """Train batch 0 of the study's stream (the same images for every architecture), on ``ctx.device``."""
        return fetch_batch(ctx, self.name, self.batch_size, self.augment)

    def score(self, arch: Arch, ctx: Context) -> float:
        reject_disconnected(self.name, arch, ctx)
        x, y = self.study_batch(ctx)
        return statistics.fmean(self.score_network(self.build_network(arch, ctx, r), x, y) for r in range(self.repeats))

    # -- any network ------------------------------------------------------------------------------------------
    def regular_factor(self, net: nn.Module) -> float:
        """SWAP-reg's ``exp(-(Theta - mu)^2 / sigma)`` (``Theta``: parameters / 1e3), 1.0 without ``mu``/``sigma``."""
        if self.mu is None or self.sigma is None:
            return 1.0
        if self.reg_params == "all":
            count = sum(p.numel() for p in net.parameters())
        else:
            count = sum(p.numel() for m in net.modules() if isinstance(m, nn.Conv2d) for p in m.parameters(False))
        theta = count / 1e3
        return math.exp(-((theta - self.mu) ** 2) / self.sigma)

    def score_network(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """SWAP (times SWAP-reg's factor when configured) of ``net`` as given, in training mode, on ``inputs``."""
        if inputs.shape[0] < 2:
            raise ConfigError(f"{self.name}: a batch of {inputs.shape[0]} sample has no sample-wise patterns to count")
        codes, outputs = relu_patterns(net, inputs)
        _check_input_dependence(self.name, outputs)
        return float(count_distinct_patterns(codes)) * self.regular_factor(net)
