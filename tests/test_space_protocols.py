"""Search-space capabilities: a core of four methods, the rest small protocols checked with isinstance.

A space with only ``parse``, ``to_str``, ``sample`` and ``build`` runs a proxy study end to end; each
shipped space has exactly the capabilities it implements; and whatever needs a capability the study's
space lacks fails with a :class:`CapabilityError` naming the space and the capability.
"""

from __future__ import annotations

import random
import sqlite3

import pandas as pd
import pytest

from nas_harness.api import (
    CAPABILITIES,
    CapabilityError,
    ConfigError,
    Context,
    Direction,
    Enumerable,
    Estimator,
    HasChoicePoints,
    Mutable,
    Recombinable,
    SearchSpace,
    WeightSharing,
    capabilities,
    capability_methods,
    require,
)
from nas_harness.config import parse_config
from nas_harness.registry import get_registry
from nas_harness.run.world import World
from nas_harness.spaces.multipath import MultiPathSpace
from nas_harness.spaces.nb101_s4 import S4Space
from nas_harness.track.publish import run_study
from nas_harness_plugins.mixpath.estimator import MixPathSupernet
from nas_harness_plugins.mixpath.nsga2 import MixPathNSGA2
from nas_harness_plugins.spos.estimator import SPOSSupernet
from nas_harness_plugins.spos.evolution import SPOSEvolution
from nas_harness_plugins.tenas.prune import TenasPrune
from tests.helpers.core_space_plugin import WIDTHS, CoreSpace, core_accuracy
from tests.helpers.images import tiny_provider
from tests.helpers.toy_plugin import ToySpace

CORE_PLUGINS = {"core": "tests.helpers.core_space_plugin"}
ALL = {cap.__name__ for cap in CAPABILITIES}

# -- which space has which capability -----------------------------------------------------------------

EXPECTED = {
    "nb201": ALL,
    "nb101": {"Mutable", "HasNeighbours"},
    "nb101.s4": {"Enumerable", "Mutable", "Recombinable", "HasChoicePoints", "WeightSharing"},
    "nb201-multipath2": {"Enumerable", "Mutable", "Recombinable"},
    "nb101.s4-multipath2": {"Enumerable", "Mutable", "Recombinable"},
    "core": set(),  # the four core methods only
    "toy": {"Enumerable", "Mutable"},  # tests/helpers/toy_plugin.py: size, enumerate and mutate, no declaration
}


def make_space(name: str) -> SearchSpace:
    if name.endswith("-multipath2"):
        return MultiPathSpace(get_registry().create("search_space", name.removesuffix("-multipath2")), 2)
    if name == "core":
        return CoreSpace()
    if name == "toy":
        return ToySpace()
    return get_registry().create("search_space", name)  # what a study gets


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_space_has_exactly_the_capabilities_it_implements(name):
    space = make_space(name)
    assert space.name == name
    assert set(capabilities(space)) == EXPECTED[name]
    for cap in CAPABILITIES:  # every method of a capability it has is there and callable; of one it lacks, not all
        present = [callable(getattr(space, m, None)) for m in capability_methods(cap)]
        assert all(present) if cap.__name__ in EXPECTED[name] else not all(present), cap.__name__


def test_the_capabilities_a_space_has_work():
    """A smoke check that what each capability claims runs (on small spaces)."""
    rng = random.Random(0)
    for space in (make_space("nb201"), make_space("nb101.s4"), make_space("nb201-multipath2")):
        a, b = space.sample(rng), space.sample(rng)
        if isinstance(space, Enumerable):
            assert space.size() == sum(1 for _ in space.enumerate())
        if isinstance(space, Mutable):
            assert space.mutate(a, rng) != a
        if isinstance(space, HasChoicePoints):
            choices = space.to_choices(a)
            assert len(choices) == len(space.choice_points()) and space.from_choices(choices) == a
        if isinstance(space, WeightSharing):
            assert space.build_supernet(C=2, N=1, num_classes=3) is not None
        if isinstance(space, Recombinable):
            assert space.crossover(a, a, rng) == a and space.to_str(space.crossover(a, b, rng))


def test_the_core_is_parse_to_str_sample_build():
    assert SearchSpace.__abstractmethods__ == {"parse", "to_str", "sample", "build"}
    optional = {m for cap in CAPABILITIES for m in capability_methods(cap)} - {"size"}
    assert optional and not any(hasattr(SearchSpace, m) for m in optional)  # no stubs that raise
    assert CoreSpace().size() is None


def test_a_space_that_declares_a_capability_must_implement_it():
    class Forgetful(CoreSpace, Mutable):  # declares Mutable but has no mutate
        pass

    with pytest.raises(TypeError, match="mutate"):
        Forgetful()


def test_a_space_that_only_defines_the_methods_has_the_capability():
    class Undeclared(CoreSpace):  # third-party code written against the old optional methods
        def mutate(self, arch, rng):
            return WIDTHS[(WIDTHS.index(arch) + 1) % len(WIDTHS)]

    assert capabilities(Undeclared()) == ["Mutable"]
    assert require(Undeclared(), Mutable, "test") is not None


def test_require_names_the_space_the_capability_its_methods_and_who_needs_it():
    space = CoreSpace()
    assert require(make_space("nb201"), WeightSharing, "x").name == "nb201"
    with pytest.raises(CapabilityError) as info:
        require(space, WeightSharing, "estimator 'x'")
    text = str(info.value)
    assert text.startswith("estimator 'x' needs a search space with the WeightSharing capability")
    assert "choice_points, to_choices, from_choices, build_supernet" in text and "'core' does not have it" in text
    # a ConfigError for the runner, and still the NotImplementedError that the optional methods raised
    assert isinstance(info.value, ConfigError) and isinstance(info.value, NotImplementedError)


# -- a core-only space in a study -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def core_study(tmp_path_factory):
    """A study on the core space: a proxy and random search, plus a supernet and SPOS evolution (which fail)."""
    tmp_path = tmp_path_factory.mktemp("core")
    raw = {
        "study": {"name": "core", "seeds": [0, 1], "sample_size": 6, "output": str(tmp_path / "run"),
                  "leaderboard_dir": str(tmp_path / "boards"), "bootstrap": 50, "torch_threads": 1},
        "benchmark": {"name": "core.bench"},
        "estimators": [{"name": "baselines.params", "options": {"num_classes": 3}},
                       {"name": "spos.supernet", "options": {"preset": "cpu-small"}}],
        "searchers": [{"name": "random", "estimator": "baselines.params", "options": {"budget": 8}},
                      {"name": "spos.evolution", "estimator": "baselines.params",
                       "options": {"population": 4, "parents": 2, "mutations": 1, "crossovers": 1, "generations": 2}}],
    }  # fmt: skip
    cfg = parse_config(raw, str(tmp_path / "core.toml"))
    outcome = run_study(cfg, world=World(cfg, plugin_modules=CORE_PLUGINS), progress=False, plots=False)
    with sqlite3.connect(cfg.store_path) as conn:
        results = pd.read_sql_query("SELECT * FROM results", conn)
        searches = pd.read_sql_query("SELECT * FROM searches", conn)
    return cfg, outcome, results, searches


def test_a_core_only_space_runs_a_proxy_study_end_to_end(core_study):
    cfg, outcome, results, searches = core_study
    params = results[results.estimator == "baselines.params"]
    assert len(params) == 2 * 6 and (params.status == "ok").all()
    assert outcome.scored == 2 * 6
    board = pd.read_csv(f"{cfg.leaderboard_dir}/core/estimators.csv").set_index("estimator")
    assert board.loc["baselines.params", "kendall_tau"] == pytest.approx(1.0)  # parameters grow with the width
    random_search = searches[searches.searcher == "random"]
    assert list(random_search.status) == ["ok", "ok"] and set(random_search.arch) == {"w8"}
    assert core_accuracy(8) == max(core_accuracy(w) for w in WIDTHS)


def test_methods_that_need_a_capability_are_recorded_as_failing_with_its_name(core_study):
    _, outcome, results, searches = core_study
    supernet = results[results.estimator == "spos.supernet"]
    assert len(supernet) == 2 * 6 and (supernet.status == "failed").all() and outcome.failed == 2 * 6
    assert supernet.error.str.contains(
        "estimator 'spos.supernet' needs a search space with the WeightSharing capability", regex=False
    ).all()
    assert supernet.error.str.contains("search space 'core' does not have it", regex=False).all()
    evolution = searches[searches.searcher == "spos.evolution"]
    assert list(evolution.status) == ["failed", "failed"]
    assert evolution.error.str.contains("searcher 'spos.evolution' needs a search space with the HasChoicePoints").all()


class FakeMultiPathEstimator(Estimator):
    """What mixpath.nsga2 asks of an estimator; it must refuse the space before using it."""

    name = "fake.multipath"
    direction = Direction.MAXIMIZE

    def multipath_space(self, ctx):
        raise AssertionError("the searcher should have refused the space first")

    def score_path(self, mask):
        raise AssertionError("the searcher should have refused the space first")

    def score(self, arch, ctx):
        raise AssertionError("the searcher should have refused the space first")


NEEDS = {
    "spos.supernet": (lambda ctx: SPOSSupernet(preset="cpu-small").prepare(ctx), "WeightSharing"),
    "mixpath.supernet": (lambda ctx: MixPathSupernet(preset="cpu-small").prepare(ctx), "WeightSharing"),
    "mixpath multi-path variant": (lambda ctx: MixPathSupernet(preset="cpu-small").multipath_space(ctx),
                                   "WeightSharing"),
    "spos.evolution": (lambda ctx: SPOSEvolution(population=4, parents=2, mutations=1, crossovers=1).search(
        FakeMultiPathEstimator(), ctx), "HasChoicePoints"),
    "mixpath.nsga2": (lambda ctx: MixPathNSGA2().search(FakeMultiPathEstimator(), ctx), "WeightSharing"),
    "tenas.prune": (lambda ctx: TenasPrune(preset="paper").search(FakeMultiPathEstimator(), ctx), "HasChoicePoints"),
    "MultiPathSpace": (lambda ctx: MultiPathSpace(ctx.space, 2), "HasChoicePoints"),
}  # fmt: skip


@pytest.mark.parametrize("who", sorted(NEEDS))
def test_using_a_capability_the_space_lacks_fails_naming_it(who):
    call, capability = NEEDS[who]
    with pytest.raises(CapabilityError) as info:
        call(Context(space=CoreSpace(), seed=0, data=tiny_provider()))
    text = str(info.value)
    assert f"needs a search space with the {capability} capability" in text
    assert "search space 'core' does not have it" in text


@pytest.mark.parametrize("who", ["spos.supernet", "mixpath.supernet", "spos.evolution", "tenas.prune"])
def test_on_nb101_the_error_points_at_its_subspace_s4(who):
    call, capability = NEEDS[who]
    with pytest.raises(CapabilityError) as info:
        call(Context(space=make_space("nb101"), seed=0, data=tiny_provider()))
    text = str(info.value)
    assert f"the {capability} capability" in text and "search space 'nb101' does not have it" in text
    assert "no fixed choice points" in text and "(space and benchmark 'nb101.s4')" in text


def test_nsga2_needs_label_level_strings_which_s4_lacks():
    with pytest.raises(CapabilityError, match=r"MultiPathLabels capability .*'nb101\.s4' does not have it"):
        MixPathNSGA2().search(FakeMultiPathEstimator(), Context(space=S4Space(), seed=0))
    with pytest.raises(CapabilityError, match=r"for its strings\) needs .* MultiPathLabels"):
        MultiPathSpace(S4Space(), 2).to_str(((1,), (0,), (0,), (0,)))


def test_sampling_all_of_a_space_needs_it_to_be_enumerable(tmp_path):
    raw = {"study": {"name": "core", "sample_size": "all", "output": str(tmp_path / "run")},
           "benchmark": {"name": "core.bench"}, "estimators": [{"name": "baselines.params"}]}  # fmt: skip
    cfg = parse_config(raw, str(tmp_path / "core.toml"))
    with pytest.raises(CapabilityError, match=r'study.sample_size = "all" .* Enumerable capability'):
        World(cfg, plugin_modules=CORE_PLUGINS).sample(0)
