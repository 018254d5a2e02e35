"""The plugin-author kit (nas_harness.testing): every shipped estimator and searcher passes the conformance checks
at small options, the example plugin's estimator passes, and each kind of breakage fails the check it breaks with
a message naming the check, the class and what was expected."""

from __future__ import annotations

import functools
import importlib
import math
import random
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nas_harness.api import BenchmarkError, Context, Direction, Proxy, Searcher, SearchResult
from nas_harness.options import check_int
from nas_harness.registry import get_registry
from nas_harness.searchers import RandomSearch
from nas_harness.testing import (
    TINY_SUPERNET,
    UNKNOWN_OPTION,
    ConformanceError,
    FakeBenchmark,
    OracleProxy,
    ToyBenchmark,
    check_estimator,
    check_searcher,
    tiny_archs,
    tiny_context,
    tiny_space,
)
from nas_harness_plugins.mixpath.estimator import MixPathSupernet

pytest_plugins = ["nas_harness.testing.fixtures"]
pytestmark = pytest.mark.usefixtures("nas_one_torch_thread")

REGISTRY = get_registry()
EXAMPLE_SRC = Path(__file__).resolve().parents[1] / "examples" / "third-party-plugin" / "src"

#: options small enough for a check of a few seconds on one thread (see tests/test_baselines.py, test_tenas.py)
NET = {"C": 2, "N": 1}
ESTIMATOR_OPTIONS: dict[str, dict] = {
    "baselines.params": NET,
    "baselines.flops": {**NET, "input_size": 8},
    "baselines.random": {},
    "baselines.synflow": NET,
    "baselines.snip": {**NET, "batch_size": 8},
    "baselines.grad_norm": {**NET, "batch_size": 8},
    "baselines.jacob_cov": {**NET, "batch_size": 8},
    "baselines.naswot": {**NET, "batch_size": 8},
    "baselines.grasp": {**NET, "batch_size": 8},
    "baselines.fisher": {**NET, "batch_size": 8},
    "baselines.plain": {**NET, "batch_size": 8},
    "baselines.l2_norm": NET,
    "baselines.epe_nas": {**NET, "batch_size": 8},
    "tenas.ntk": {"batch_size": 8, "C": 2},
    "tenas.linear_regions": {"samples": 50, "batches": 1},
    "tenas.combined": {"ntk": {"batch_size": 8, "C": 2}, "linear_regions": {"samples": 50, "batches": 1}},
    "zeroshot.zen": {**NET, "batch_size": 4},
    "zeroshot.zico": {**NET, "batch_size": 4},
    "zeroshot.meco": NET,
    "zeroshot.swap": {**NET, "batch_size": 8, "repeats": 2},
    "zeroshot.az_expressivity": {**NET, "batch_size": 8},
    "zeroshot.az_progressivity": {**NET, "batch_size": 8},
    "zeroshot.az_trainability": {**NET, "batch_size": 8},
    "zeroshot.az_complexity": {**NET, "batch_size": 8},
    "zeroshot.az_nas": {**NET, "batch_size": 8},
    "oracle": {"split": "valid"},
}
#: supernets (SPOS, MixPath and its ablations): one epoch of a 2-channel supernet (tests/test_spos.py, test_mixpath.py)
SUPERNET_OPTIONS = {"preset": "cpu-small", **TINY_SUPERNET}
MIXPATH_OPTIONS = {**SUPERNET_OPTIONS, "m": 2}
#: bad values for estimators whose options hold no positive integer at the top level
BAD_OPTIONS: dict[str, list[dict]] = {"tenas.combined": [{"precision": -1}], "oracle": [{"epochs": 0}, {"split": ""}]}

SEARCHER_OPTIONS: dict[str, dict] = {
    "random": {"budget": 8},
    "rea": {"budget": 12},
    "local_search": {"budget": 12},
    "spos.evolution": {"population": 6, "parents": 2, "mutations": 2, "crossovers": 2, "generations": 2},
    "tenas.prune": {"preset": "cpu-small", "batch_size": 4, "repeats": 1, "C": 2, "lr_samples": 24, "lr_batches": 1},
    "mixpath.nsga2": {"population": 4, "generations": 2, "cost_net": NET, "input_size": 8},
}
#: searchers that need an estimator of their own kind (NSGA-II searches a multi-path supernet)
SEARCHER_ESTIMATORS = {"mixpath.nsga2": lambda: MixPathSupernet(**MIXPATH_OPTIONS)}
SLOW_SEARCHERS = {"tenas.prune", "mixpath.nsga2"}


def shipped(*kinds: str) -> list[str]:
    """Names of the given kinds registered by the plugins that ship with nas-harness."""
    return sorted(
        entry.name for kind in kinds for entry in REGISTRY.entries(kind) if REGISTRY.plugins[entry.plugin].builtin
    )


def estimator_options(name: str) -> dict:
    if name in ESTIMATOR_OPTIONS:
        return ESTIMATOR_OPTIONS[name]
    assert REGISTRY.get_estimator(name).kind == "supernet", f"add small options for {name} to ESTIMATOR_OPTIONS"
    return MIXPATH_OPTIONS if name.startswith("mixpath.") else SUPERNET_OPTIONS


# --------------------------------------------------------------------------- what ships


def test_the_registry_ships_estimators_and_searchers_to_check():
    assert {"baselines.params", "tenas.combined", "spos.supernet", "mixpath.supernet"} <= set(
        shipped("proxy", "supernet")
    )
    assert set(shipped("searcher")) == set(SEARCHER_OPTIONS), "give every shipped searcher small options"


@pytest.mark.filterwarnings("ignore::UserWarning")  # tenas.ntk warns of the singular NTKs of untrained nets
@pytest.mark.parametrize("name", shipped("proxy", "supernet"))
def test_every_shipped_estimator_conforms(name):
    factory = REGISTRY.get_estimator(name).factory
    if getattr(factory, "needs_benchmark", False):  # the oracle: a study hands it its benchmark (World.estimator)
        factory = functools.partial(factory, benchmark=FakeBenchmark(tiny_space()))
    report = check_estimator(factory, estimator_options(name), bad_options=BAD_OPTIONS.get(name))
    assert report.ok and not report.skipped, str(report)
    assert {r.name for r in report.results} >= {"direction", "scores", "deterministic", "picklable", "options"}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_SEARCHERS else n for n in shipped("searcher")],
)
def test_every_shipped_searcher_conforms(name):
    factory = REGISTRY.get("searcher", name).factory
    report = check_searcher(factory, SEARCHER_OPTIONS[name], estimator=SEARCHER_ESTIMATORS.get(name))
    assert report.ok and not report.skipped, str(report)


def test_the_example_plugins_estimator_conforms(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    example = importlib.import_module("nas_harness_example.plugin")
    report = check_estimator(example.OpCount, {"ops": ["nor_conv_3x3"]})
    assert report.ok and "no bad values tried" in report["options"].message  # its one option is not an int


def test_the_kit_does_not_import_pytest():
    code = "import sys, nas_harness.testing; assert 'pytest' not in sys.modules, 'the kit imported pytest'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- broken estimators


class CountConvs(Proxy):
    """A well-behaved proxy: ``weight`` times the number of convolutions of a cell."""

    name = "conformance.count_convs"
    direction = Direction.MAXIMIZE

    def __init__(self, weight: int = 1) -> None:
        self.weight = check_int(f"{self.name}: weight", weight)

    def score(self, arch, ctx):
        points, choices = ctx.space.choice_points(), ctx.space.to_choices(arch)
        return float(self.weight * sum("conv" in p.options[c] for p, c in zip(points, choices, strict=True)))


class RandomInit(CountConvs):
    """Draws its 'initialisation' from the global generator, not from the study seed."""

    def __init__(self, weight: int = 1) -> None:
        super().__init__(weight)
        self.offset = random.random()

    def score(self, arch, ctx):
        return super().score(arch, ctx) + self.offset


class HoldsALambda(CountConvs):
    def __init__(self, weight: int = 1) -> None:
        super().__init__(weight)
        self.transform = lambda value: value * 2

    def score(self, arch, ctx):
        return self.transform(super().score(arch, ctx))


class HoldsALock(CountConvs):
    def __init__(self, weight: int = 1) -> None:
        super().__init__(weight)
        self.lock = threading.Lock()


class NanOnFailure(CountConvs):
    """Swallows its errors into NaN: the runner then records a failure with no reason."""

    def score(self, arch, ctx):
        try:
            return super().score(arch, ctx)
        except Exception:
            return math.nan


class StringDirection(CountConvs):
    direction = "max"


class SwallowsOptions(CountConvs):
    def __init__(self, weight: int = 1, **ignored) -> None:
        super().__init__(weight)


class UncheckedValues(CountConvs):
    def __init__(self, weight: int = 1) -> None:
        self.weight = weight


def test_a_well_behaved_estimator_passes_every_check():
    report = check_estimator(CountConvs, {"weight": 2})
    assert report.ok and [r.status for r in report.results] == ["passed"] * len(report.results)
    assert "10 passed, 0 failed, 0 skipped" in str(report) and "count_convs" in report.subject


@pytest.mark.parametrize(
    ("cls", "check", "says"),
    [
        (RandomInit, "deterministic", r"two fresh instances .* gave different scores .*: \|.*\|: [\d.]+ vs [\d.]+"),
        (HoldsALambda, "picklable", r"pickling a fresh instance failed with .*lambda.*; an estimator must be a class"),
        (HoldsALock, "picklable", r"pickling a fresh instance failed with TypeError: .*lock"),
        (NanOnFailure, "failure_reporting", r"score\(<not an architecture>\) returned nan; expected an exception"),
        (StringDirection, "direction", r"direction = 'max' \(str\); expected a nas_harness\.api\.Direction member"),
        (SwallowsOptions, "options", rf"accepted {UNKNOWN_OPTION}=1 silently .*expected a ConfigError naming"),
        (UncheckedValues, "options", r"accepted weight=-1 silently .*expected a ConfigError naming 'weight'"),
    ],
)
def test_a_broken_estimator_fails_the_check_it_breaks_and_only_that(cls, check, says):
    with pytest.raises(ConformanceError) as caught:
        check_estimator(cls, {"weight": 2})
    message = str(caught.value)
    assert [r.name for r in caught.value.report.failed] == [check], message
    assert message.startswith(f"estimator {__name__}.{cls.__qualname__} ('conformance.count_convs') failed 1")
    assert re.search(rf"\[{check}\] {says}", message), message
    assert isinstance(caught.value, AssertionError)


class ReturnsNaN(CountConvs):
    def score(self, arch, ctx):
        return math.nan


class LateChecks(CountConvs):
    """Checks its options only when it scores (as proxies passing options on to ``space.build`` do)."""

    def __init__(self, weight: int = 1, **net_cfg) -> None:
        self.weight, self.net_cfg = weight, net_cfg

    def score(self, arch, ctx):
        check_int(f"{self.name}: weight", self.weight)
        ctx.space.build(arch, C=1, N=1, num_classes=4, **self.net_cfg)  # an unknown option fails here
        return super().score(arch, ctx)


def test_nan_scores_fail_the_scores_check_and_skip_what_needs_scores():
    report = check_estimator(ReturnsNaN, raise_on_failure=False)
    assert [r.name for r in report.failed] == ["scores"]
    assert "nan; expected a finite float, or an exception saying why" in report["scores"].message
    assert {r.name for r in report.skipped} == {"score_many", "picklable", "failure_reporting", "deterministic"}


def test_an_estimator_refusing_options_only_when_scoring_passes_with_a_note():
    report = check_estimator(LateChecks, {"weight": 2})
    assert report.ok
    assert report["options"].message.startswith(f"refused only when preparing and scoring: {UNKNOWN_OPTION}=1 (")


def test_a_class_defined_in_a_function_is_not_picklable():
    class Local(CountConvs):
        pass

    report = check_estimator(Local, raise_on_failure=False)
    assert [r.name for r in report.failed] == ["picklable"]
    assert "Local" in report["picklable"].message and "defined at module level" in report["picklable"].message


def test_check_estimator_wants_the_class_not_an_instance():
    with pytest.raises(TypeError, match="class or factory"):
        check_estimator(CountConvs())


# --------------------------------------------------------------------------- searchers


class UnderReports(RandomSearch):
    def search(self, estimator, ctx):
        result = super().search(estimator, ctx)
        result.evaluations = 1
        return result


class OutsideTheSpace(RandomSearch):
    def search(self, estimator, ctx):
        result = super().search(estimator, ctx)
        result.best = (9,) * 6
        return result


class UnseededSearch(Searcher):
    name = "conformance.unseeded"

    def __init__(self, budget: int = 8) -> None:
        self.budget = check_int("budget", budget)

    def search(self, estimator, ctx):
        archs = [ctx.space.sample(random.Random()) for _ in range(self.budget)]
        best = max(archs, key=lambda a: estimator.direction.sign * estimator.score(a, ctx))
        return SearchResult(best=best, evaluations=len(archs))


@pytest.mark.parametrize(
    ("cls", "check", "says"),
    [
        (UnderReports, "budget", r"the search had the estimator score 8 distinct .* but reported evaluations = 1"),
        (OutsideTheSpace, "architectures", r"best = \(9, 9, 9, 9, 9, 9\) is not an architecture of space 'nb201'"),
        (UnseededSearch, "deterministic", r"two fresh instances .* returned different results: best .* vs .*; draw"),
    ],
)
def test_a_broken_searcher_fails_the_check_it_breaks(cls, check, says):
    with pytest.raises(ConformanceError) as caught:
        check_searcher(cls, {"budget": 8})
    message = str(caught.value)
    assert [r.name for r in caught.value.report.failed] == [check], message
    assert message.startswith(f"searcher {__name__}.{cls.__qualname__} (")
    assert re.search(rf"\[{check}\] {says}", message), message


def test_a_searcher_over_its_budget_fails():
    report = check_searcher(RandomSearch, {"budget": 8}, max_evaluations=5, raise_on_failure=False)
    assert [r.name for r in report.failed] == ["budget"]
    assert "evaluations = 8 exceeds the budget of 5" in report["budget"].message


def test_check_searcher_on_the_toy_space_with_its_oracle():
    ctx = tiny_context(space="toy", data=False)
    report = check_searcher(RandomSearch, {"budget": 10}, estimator=OracleProxy(ToyBenchmark()), context=ctx)
    assert report.ok, str(report)


# --------------------------------------------------------------------------- fixtures


def test_the_pytest_fixtures(nas_tiny_context, nas_tiny_archs, nas_fake_benchmark, nas_tiny_provider):
    assert isinstance(nas_tiny_context, Context) and Path(nas_tiny_context.workdir).is_dir()
    assert nas_tiny_context.data.num_classes == 4 and nas_tiny_provider.num_classes == 4
    space = nas_tiny_context.space
    assert len({space.to_str(a) for a in nas_tiny_archs}) == 4
    listed = list(nas_fake_benchmark.archs())
    assert len(listed) == 32 and nas_fake_benchmark.best()[1] == max(map(nas_fake_benchmark.accuracy, listed))
    assert OracleProxy(nas_fake_benchmark).score(listed[0], nas_tiny_context) == nas_fake_benchmark.accuracy(listed[0])
    outside = next(a for a in tiny_archs(space, 40) if space.to_str(a) not in {space.to_str(b) for b in listed})
    with pytest.raises(BenchmarkError, match="no ground truth"):
        nas_fake_benchmark.accuracy(outside)


def test_tiny_archs_are_ordinary_and_fixed_by_the_seed():
    space = tiny_space("nb201")
    archs = tiny_archs(space, 12, seed=3)
    assert archs == tiny_archs(space, 12, seed=3) != tiny_archs(space, 12, seed=4)
    assert not any(space.is_disconnected(a) for a in archs)  # NaN-prone degenerate cells are passed over


def test_a_fake_benchmark_over_the_whole_space_is_additive_over_choices():
    space = tiny_space("nb201")
    bench = FakeBenchmark(space, seed=1)
    assert bench.archs() is None
    a = (1, 1, 1, 1, 1, 1)
    b, c, d = (2, 1, 1, 1, 1, 1), (1, 1, 1, 1, 1, 2), (2, 1, 1, 1, 1, 2)
    assert bench.accuracy(d) - bench.accuracy(c) == pytest.approx(bench.accuracy(b) - bench.accuracy(a), abs=1e-4)
    assert bench.accuracy(a, "valid") == bench.accuracy(a) - 1
