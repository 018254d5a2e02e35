"""Helpers shared by the TE-NAS proxies and the pruning searcher."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nas_harness.api import ConfigError, Context, HasChoicePoints, require
from nas_harness.options import check_int
from nas_harness.seeding import derived_seed
from nas_harness.spaces import nb201 as nb201_space

INIT_SCHEMES = ("pytorch", "kaiming_normal")


def require_nb201(ctx: Context, who: str) -> None:
    """The NB201 pruning supernet only covers the NB201 cell space (6 edges x the 5 NB201 ops)."""
    points = require(ctx.space, HasChoicePoints, f"{who} (it builds the NAS-Bench-201 supernet)").choice_points()
    if len(points) != len(nb201_space.EDGES) or any(p.options != nb201_space.OPS for p in points):
        raise ConfigError(
            f"{who} builds the NAS-Bench-201 supernet and needs the 'nb201' search space, "
            f"got {getattr(ctx.space, 'name', ctx.space)!r}"
        )


def check_choice(name: str, value: Any, accepted: Sequence[Any]) -> Any:
    if value not in accepted:
        raise ConfigError(f"{name} = {value!r}; accepted: {', '.join(map(repr, accepted))}")
    return value


def check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    return check_int(name, value, minimum)


def device_of(option: str | None, ctx: Context) -> torch.device:
    return torch.device(option or ctx.device or "cpu")


@contextmanager
def seeded(*parts: object) -> Iterator[None]:
    """Run the block with the CPU torch RNG seeded from ``parts``, restoring the global state after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derived_seed(*parts) % (2**63))
        yield


def resize(x: torch.Tensor, resolution: int | None) -> torch.Tensor:
    """``x`` ``[B, C, H, W]`` resized to ``resolution`` x ``resolution`` (antialiased bilinear); None keeps it."""
    if resolution is None or (x.shape[-2] == resolution and x.shape[-1] == resolution):
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)


def round_sig(x: float, digits: int, eps: float = 1e-8) -> float:
    """``x`` rounded to ``digits`` significant figures (official ``round_to`` in ``prune_tenas.py``)."""
    if x == 0 or not math.isfinite(x):
        return x
    sign = 1.0 if x > 0 else -1.0
    mag = abs(x) + eps
    power = math.floor(math.log10(mag)) + 1
    return sign * round(mag * 10 ** (-power), digits) * 10**power


def dense_ranks(values: Sequence[float], *, descending: bool = False, digits: int | None = None) -> list[int]:
    """0-based ranks as TE-NAS assigns them (``prune_tenas.py``, ``prune_func_rank``).

    Sorted (stably) ascending or descending, by the value rounded to ``digits``
    significant figures when given; a value equal to the previous one in that
    order shares its rank, the next distinct value gets the previous rank + 1
    ("dense" ranking). NaN sorts last (the worst) in either direction.
    """
    n = len(values)
    vals = [float(v) for v in values]

    def key(k: int) -> tuple[int, float]:
        v = vals[k]
        if math.isnan(v):
            return (1, 0.0)
        v = round_sig(v, digits) if digits is not None else v
        return (0, -v if descending else v)

    order = sorted(range(n), key=key)  # stable: ties keep their input order
    ranks = [0] * n
    for pos in range(1, n):
        k, prev = order[pos], order[pos - 1]
        same = vals[k] == vals[prev] or (math.isnan(vals[k]) and math.isnan(vals[prev]))
        ranks[k] = ranks[prev] if same else ranks[prev] + 1
    return ranks


def init_weights(model: nn.Module, scheme: str = "pytorch", mode: str = "fan_in") -> nn.Module:
    """Re-initialise ``model`` in place from the global torch RNG.

    ``"pytorch"`` keeps PyTorch's default initialisation (what the official runs
    effectively use: ``prune_launch.py`` passes ``--init kaiming_normal``, which
    ``init_model`` in ``prune_tenas.py`` does not recognise, so it leaves the
    networks as constructed). ``"kaiming_normal"`` is what that code intends:
    Kaiming-normal conv/linear weights (``mode`` ``fan_out`` for the NTK network,
    ``fan_in`` for the linear-region network), zero biases, BN weight 1 and bias 0.
    """
    if scheme == "pytorch":
        return model
    if scheme != "kaiming_normal":
        raise ValueError(f"unknown init scheme {scheme!r}; accepted: 'pytorch', 'kaiming_normal'")
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model
