"""Regularized evolution (Real et al. 2019, Algorithm 1): aging removes the oldest member (not the worst), the
parent comes from the population, the budget counts distinct evaluations, a seed fixes the search."""

import random

import pytest

from nas_harness.api import CapabilityError, ConfigError, Context, Direction, Proxy, SearchSpace
from nas_harness.search.rea import RegularizedEvolution
from nas_harness.spaces.nb201 import NB201Space
from nas_harness.testing import FakeBenchmark, OracleProxy, ToySpace, check_searcher


class Recording(ToySpace):
    """The toy space, remembering every architecture it sampled (the initial population, in order)."""

    def __init__(self) -> None:
        self.sampled: list = []

    def sample(self, rng):
        arch = super().sample(rng)
        self.sampled.append(arch)
        return arch


class Table(Proxy):
    """A fixed random score per toy architecture, counting its calls."""

    name = "test.table"
    direction = Direction.MAXIMIZE

    def __init__(self, seed: int = 11) -> None:
        rng = random.Random(seed)
        self.table = {a: rng.random() for a in ToySpace().enumerate()}
        self.calls: list = []

    def score(self, arch, ctx):
        self.calls.append(arch)
        return self.table[arch]


def one_edit_apart(a, b):
    return sum(x != y for x, y in zip(a, b, strict=True)) == 1


def test_aging_removes_the_oldest_member_even_when_it_is_not_the_worst():
    space, est = Recording(), Table()
    population = 5
    result = RegularizedEvolution(budget=40, population=population, sample_size=2).search(
        est, Context(space=space, seed=0)
    )
    members = list(space.sampled[:population])  # the initial population, oldest first
    oldest_was_not_worst = 0
    for cycle in result.history:
        parent, child = space.parse(cycle["parent"]), space.parse(cycle["child"])
        assert parent in members and one_edit_apart(parent, child)
        members.append(child)
        removed = members.pop(0)  # aging: first in, first out
        assert cycle["removed"] == space.to_str(removed)
        worst = min(members + [removed], key=est.table.__getitem__)
        oldest_was_not_worst += est.table[removed] > est.table[worst]
    assert oldest_was_not_worst > 0  # so removing the worst instead would have failed this test


def test_the_budget_counts_the_initial_population_and_distinct_evaluations():
    est = Table()
    result = RegularizedEvolution(budget=30, population=10, sample_size=3).search(
        est, Context(space=ToySpace(), seed=1)
    )
    assert result.evaluations == len(result.trace) == len(est.calls) == len(set(est.calls)) == 30
    assert len(result.history) >= 30 - 10  # revisited children are cycles too, but free
    assert result.best == max(est.calls, key=est.table.__getitem__)


def test_a_budget_below_the_population_is_random_search():
    est = Table()
    result = RegularizedEvolution(budget=4, population=10, sample_size=3).search(est, Context(space=ToySpace(), seed=2))
    assert result.evaluations == 4 and result.history == []


def test_a_whole_tiny_space_ends_when_the_population_only_revisits():
    est = Table()
    result = RegularizedEvolution(budget=10_000, population=10, sample_size=3).search(
        est, Context(space=ToySpace(), seed=0)
    )
    assert result.evaluations <= 64 and result.best == max(est.calls, key=est.table.__getitem__)


def test_the_same_seed_gives_the_same_search_and_another_seed_another():
    def trace(seed):
        return [
            e["arch"]
            for e in RegularizedEvolution(budget=25).search(Table(), Context(space=ToySpace(), seed=seed)).trace
        ]

    assert trace(3) == trace(3) and trace(3) != trace(4)


def test_evolution_beats_its_initial_population_on_nb201():
    space = NB201Space()
    bench = FakeBenchmark(space)
    result = RegularizedEvolution(budget=150).search(OracleProxy(bench), Context(space=space, seed=0))
    initial = max(e["score"] for e in result.trace[:10])
    assert bench.accuracy(result.best) > initial


def test_on_a_partial_benchmark_only_its_architectures_are_visited():
    space = NB201Space()
    bench = FakeBenchmark(space, n=200, seed=3)
    candidates = list(bench.archs())
    result = RegularizedEvolution(budget=80).search(
        OracleProxy(bench), Context(space=space, seed=0, candidates=candidates)
    )
    allowed = {space.to_str(a) for a in candidates}
    assert result.evaluations == 80 and {e["arch"] for e in result.trace} <= allowed
    assert {c["child_from"] for c in result.history} <= {"mutation", "random"}


def test_rea_conforms():
    check_searcher(RegularizedEvolution, {"budget": 12}, bad_options=[{"budget": 0}, {"sample_size": 0}])


@pytest.mark.parametrize(
    "options, match",
    [
        ({"budget": 0}, r"rea: budget = 0; accepted: a positive integer"),
        ({"population": True}, r"rea: population = True"),
        ({"sample_size": 11}, r"rea: sample_size = 11 exceeds population = 10"),
    ],
)
def test_bad_options_are_refused_by_name(options, match):
    with pytest.raises(ConfigError, match=match):
        RegularizedEvolution(**options)


class Frozen(SearchSpace):
    """A space without mutation."""

    name = "frozen"

    def parse(self, text):
        return text

    def to_str(self, arch):
        return arch

    def sample(self, rng):
        return "a"

    def build(self, arch, **cfg):
        raise NotImplementedError


def test_a_space_without_mutation_is_refused_naming_it():
    with pytest.raises(CapabilityError, match=r"'rea'.*Mutable.*'frozen'"):
        RegularizedEvolution().search(Table(), Context(space=Frozen(), seed=0))
