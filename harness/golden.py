"""Golden values: the Kendall tau a plugin expects of one of its estimators on a benchmark.

A plugin pins them through the ``nas_harness_golden_values(register)`` hook::

    from nas_harness.hookspecs import hookimpl

    @hookimpl
    def nas_harness_golden_values(register):
        # measured 0.239 (95% bootstrap interval 0.166..0.311) in leaderboards/quickstart
        register("baselines.synflow", "nb201.digits", tau=0.239, tolerance=0.08, options={"C": 8, "N": 1})

``nas-harness nightly`` checks every estimator of its study against the golden
values registered for the estimator's name and the study's benchmark name: a
measured tau outside ``tau +- tolerance`` is an alarm. A value pinned with
``options`` applies only to a study entry with exactly those options (the tau
of a network depends on its width); ``options=None`` applies to any.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nas_harness.api import HarnessError
from nas_harness.config import PluginRef

OK = "ok"
ALARM = "alarm"
NOT_CHECKED = "not checked"


class GoldenValueError(HarnessError):
    """A golden value that cannot be right (tau outside [-1, 1], a non-positive tolerance, ...)."""


@dataclass(frozen=True)
class GoldenValue:
    """Expected Kendall tau of ``estimator`` (a registered name) on ``benchmark`` (a registered name)."""

    estimator: str
    benchmark: str
    tau: float
    tolerance: float
    options: dict[str, Any] | None = field(default=None, hash=False)
    plugin: str = ""

    @property
    def low(self) -> float:
        return self.tau - self.tolerance

    @property
    def high(self) -> float:
        return self.tau + self.tolerance

    def matches(self, ref: PluginRef, benchmark: str) -> bool:
        """Whether this value is about ``ref`` (a study's estimator entry) on ``benchmark``."""
        return ref.name == self.estimator and benchmark == self.benchmark

    def describe(self) -> str:
        return f"{self.estimator} on {self.benchmark}: tau {self.tau:.3f} +- {self.tolerance:.3f}"


def make_golden_value(
    plugin: str,
    estimator: str,
    benchmark: str,
    tau: float,
    tolerance: float,
    options: dict[str, Any] | None = None,
) -> GoldenValue:
    """Validate what a plugin registered; errors name the plugin, the value and what is accepted."""
    where = f"plugin {plugin!r} golden value for {estimator!r} on {benchmark!r}"
    for name, value in (("estimator", estimator), ("benchmark", benchmark)):
        if not isinstance(value, str) or not value:
            raise GoldenValueError(f"{where}: {name} = {value!r}; expected a registered {name} name")
    if isinstance(tau, bool) or not isinstance(tau, int | float) or not -1.0 <= tau <= 1.0:
        raise GoldenValueError(f"{where}: tau = {tau!r}; expected a Kendall tau in [-1, 1]")
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 < tolerance <= 2:
        raise GoldenValueError(f"{where}: tolerance = {tolerance!r}; expected a number in (0, 2]")
    if options is not None and not isinstance(options, dict):
        raise GoldenValueError(f"{where}: options = {options!r}; expected a dict of estimator options or None")
    return GoldenValue(estimator, benchmark, float(tau), float(tolerance), options, plugin)


@dataclass(frozen=True)
class GoldenCheck:
    """The outcome of one golden value against one estimator entry of a study."""

    golden: GoldenValue
    label: str  # the estimator's label in the study
    measured: float | None
    status: str  # OK, ALARM or NOT_CHECKED
    reason: str = ""

    def describe(self) -> str:
        g = self.golden
        measured = "none" if self.measured is None else f"{self.measured:.3f}"
        band = f"expected {g.tau:.3f} +- {g.tolerance:.3f} ({g.low:.3f}..{g.high:.3f})"
        who = self.label if self.label == g.estimator else f"{self.label} ({g.estimator})"
        text = f"golden value: {who} on {g.benchmark}: {band}, measured {measured}"
        return f"{text} ({self.reason})" if self.reason else text


def check_golden(
    estimators: list[PluginRef],
    benchmark: str,
    measured: dict[str, float | None],
    golden_values: list[GoldenValue],
) -> list[GoldenCheck]:
    """Check each study entry (``estimators``, measured tau by label) against the values that match it."""
    checks = []
    for ref in estimators:
        for golden in golden_values:
            if not golden.matches(ref, benchmark):
                continue
            tau = measured.get(ref.label)
            tau = None if tau is None or not math.isfinite(tau) else float(tau)
            if golden.options is not None and golden.options != ref.options:
                reason = f"pinned for options {golden.options}, the study uses {ref.options}"
                checks.append(GoldenCheck(golden, ref.label, tau, NOT_CHECKED, reason))
            elif tau is None:
                checks.append(GoldenCheck(golden, ref.label, None, ALARM, "no tau measured"))
            elif golden.low <= tau <= golden.high:
                checks.append(GoldenCheck(golden, ref.label, tau, OK))
            else:
                off = tau - golden.tau
                checks.append(GoldenCheck(golden, ref.label, tau, ALARM, f"off by {off:+.3f}"))
    return checks
