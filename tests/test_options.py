"""The shared option checks: one message shape for every plugin and core module."""

from __future__ import annotations

import pytest

from nas_harness.api import ConfigError
from nas_harness.options import check_int, check_ints


def test_check_int_accepts_ints_at_or_above_the_minimum():
    assert check_int("x", 1) == 1
    assert check_int("x", 0, minimum=0) == 0


@pytest.mark.parametrize("value", [0, -3, 1.5, "2", True, None])
def test_check_int_names_the_value_and_what_is_accepted(value):
    with pytest.raises(ConfigError, match=rf"^spos.evolution: population = {value!r}; accepted: a positive integer$"):
        check_int("spos.evolution: population", value)


def test_check_ints_names_the_owner_and_key_and_other_minimums():
    with pytest.raises(ConfigError, match=r"^recipe: N = 0; accepted: a positive integer$"):
        check_ints("recipe", C=4, N=0)
    with pytest.raises(ConfigError, match=r"mutations = -1; accepted: an integer >= 0"):
        check_ints("spos.evolution", minimum=0, mutations=-1)
    assert issubclass(ConfigError, ValueError)  # network constructors' callers may catch ValueError
