"""Checks of option values shared by every plugin and core module, so bad input reads the same everywhere."""

from __future__ import annotations

from nas_harness.api import ConfigError


def check_int(what: str, value: object, minimum: int = 1) -> int:
    """``value`` when it is an int >= ``minimum`` (bools refused); a :class:`ConfigError` naming
    ``what``, the value and what is accepted otherwise (``ConfigError`` is also a ``ValueError``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        accepted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"{what} = {value!r}; accepted: {accepted}")
    return value


def check_ints(owner: str, minimum: int = 1, **values: object) -> None:
    """:func:`check_int` on each keyword, named ``owner: key``."""
    for key, value in values.items():
        check_int(f"{owner}: {key}", value, minimum)
