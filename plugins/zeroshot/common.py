"""What the zeroshot proxies share beyond :mod:`nas_harness.proxy_kit`: option checks, the input shape of the
data-free proxies, a finite-score check.

The seeded network, the study batch and the refusal of disconnected cells come from :mod:`nas_harness.proxy_kit`,
as for the ``baselines`` plugin, so both plugins score the same network on the same images.

A score that a formula leaves undefined (a cell whose output does not depend on its input, a network whose
gradients never vary) raises :class:`DegenerateNetworkError` naming the reason: never NaN, never a made-up number.
"""

from __future__ import annotations

import math

import torch

from nas_harness.api import ConfigError, Context
from nas_harness.proxy_kit import DegenerateNetworkError

#: input shape of the data-free proxies when the study has no image data (CIFAR's)
DEFAULT_INPUT_SHAPE: tuple[int, int, int] = (3, 32, 32)


# -- options -----------------------------------------------------------------------------------------------------
def check_int(proxy: str, key: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (bools refused); a :class:`ConfigError` naming the proxy and key otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{proxy}: {key} must be an int >= {minimum}, got {value!r}")
    return value


def check_bool(proxy: str, key: str, value: object) -> bool:
    """``value`` when it is a bool; a :class:`ConfigError` naming the proxy and key otherwise."""
    if not isinstance(value, bool):
        raise ConfigError(f"{proxy}: {key} must be true or false, got {value!r}")
    return value


def check_positive(proxy: str, key: str, value: object) -> float:
    """``value`` as a finite float > 0; a :class:`ConfigError` naming the proxy and key otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{proxy}: {key} must be a positive number, got {value!r}")
    return float(value)


def check_choice(proxy: str, key: str, value: object, choices: tuple[str, ...]) -> str:
    """``value`` when it is one of ``choices``; a :class:`ConfigError` naming the proxy, key and choices otherwise."""
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{proxy}: {key} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


# -- the study's data and network --------------------------------------------------------------------------------
def input_shape(ctx: Context) -> tuple[int, ...]:
    """The shape of one image of the study's data, or :data:`DEFAULT_INPUT_SHAPE` when it has none."""
    return tuple(ctx.data.input_shape) if ctx.data is not None else DEFAULT_INPUT_SHAPE


def finite_score(proxy: str, value: float | torch.Tensor, why: str) -> float:
    """``value`` as a float; a :class:`DegenerateNetworkError` saying ``why`` when it is not finite."""
    value = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    if not math.isfinite(value):
        raise DegenerateNetworkError(f"{proxy}: the score is {value} ({why})")
    return value
