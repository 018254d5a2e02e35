"""Local search (White et al. 2020/2021): moves only to better neighbours, stops at local optima found by brute
force on a tiny space, restarts, respects the budget, is deterministic for a seed."""

import itertools
import random

import pytest

from nas_harness.api import CapabilityError, ConfigError, Context, Direction, Proxy
from nas_harness.search.local_search import LocalSearch
from nas_harness.spaces.nb201 import NB201Space
from nas_harness.testing import FakeBenchmark, OracleProxy, ToySpace, check_searcher


class Grid(ToySpace):
    """The toy space (4**3 tuples) with neighbours: every tuple that differs in one coordinate (9 of them)."""

    name = "grid"

    def neighbours(self, arch):
        return [arch[:i] + (v,) + arch[i + 1 :] for i in range(3) for v in range(4) if v != arch[i]]


SPACE = Grid()
ALL = list(SPACE.enumerate())


class Table(Proxy):
    """A fixed random score per architecture (many local optima), counting its calls."""

    name = "test.table"

    def __init__(self, seed: int = 7, direction: Direction = Direction.MAXIMIZE) -> None:
        rng = random.Random(seed)
        self.table = {a: rng.random() for a in ALL}
        self.direction = direction
        self.calls: list = []

    def score(self, arch, ctx):
        self.calls.append(arch)
        return self.table[arch]


def fitness(est, arch):
    return est.direction.sign * est.table[arch]


def brute_force_local_optima(est):
    return {a for a in ALL if all(fitness(est, n) < fitness(est, a) for n in SPACE.neighbours(a))}


@pytest.mark.parametrize("strategy", ["first", "best"])
@pytest.mark.parametrize("direction", [Direction.MAXIMIZE, Direction.MINIMIZE])
def test_every_run_climbs_to_a_brute_force_local_optimum(strategy, direction):
    est = Table(direction=direction)
    optima = brute_force_local_optima(est)
    assert 1 < len(optima) < len(ALL)  # the table has several optima, so restarts matter
    result = LocalSearch(budget=60, strategy=strategy, num_init=2).search(est, Context(space=SPACE, seed=1))
    finished = [run for run in result.history if run["local_optimum"]]
    assert finished, "with 60 of 64 evaluations at least one run ends at an optimum"
    for run in result.history:
        path = [SPACE.parse(k) for k in run["path"]]
        for here, there in itertools.pairwise(path):
            assert there in SPACE.neighbours(here) and fitness(est, there) > fitness(est, here)
            if strategy == "best":  # best improvement: the best neighbour of all
                assert there == max(SPACE.neighbours(here), key=lambda n: fitness(est, n))
        if run["local_optimum"]:
            assert path[-1] in optima
    for run in result.history[:-1]:
        assert run["local_optimum"]  # only the last run may be cut short by the budget
    scored = {SPACE.parse(e["arch"]) for e in result.trace}
    assert result.best == max(scored, key=lambda a: fitness(est, a))


def test_a_run_starts_from_the_best_of_its_random_architectures():
    est = Table()
    result = LocalSearch(budget=64, num_init=5).search(est, Context(space=SPACE, seed=2))
    first = [SPACE.parse(e["arch"]) for e in result.trace[:5]]
    assert SPACE.parse(result.history[0]["path"][0]) == max(first, key=lambda a: fitness(est, a))


def test_the_budget_counts_distinct_evaluations_and_nothing_is_scored_twice():
    est = Table()
    result = LocalSearch(budget=25).search(est, Context(space=SPACE, seed=0))
    assert result.evaluations == len(result.trace) == len(est.calls) == 25
    assert len(set(est.calls)) == 25 and [e["step"] for e in result.trace] == list(range(25))


def test_a_whole_tiny_space_as_budget_ends_when_everything_is_scored():
    est = Table()
    result = LocalSearch(budget=1000).search(est, Context(space=SPACE, seed=0))
    assert result.evaluations == len(ALL) and result.best == max(ALL, key=lambda a: fitness(est, a))


def test_the_same_seed_gives_the_same_search_and_another_seed_another():
    def trace(seed):
        return [e["arch"] for e in LocalSearch(budget=30).search(Table(), Context(space=SPACE, seed=seed)).trace]

    assert trace(4) == trace(4) and trace(4) != trace(5)


def test_on_a_partial_benchmark_only_its_architectures_are_visited():
    space = NB201Space()
    bench = FakeBenchmark(space, n=200, seed=3)
    candidates = list(bench.archs())
    result = LocalSearch(budget=80).search(OracleProxy(bench), Context(space=space, seed=0, candidates=candidates))
    allowed = {space.to_str(a) for a in candidates}
    assert result.evaluations == 80 and {e["arch"] for e in result.trace} <= allowed


def test_local_search_conforms():
    check_searcher(LocalSearch, {"budget": 12}, bad_options=[{"budget": 0}, {"strategy": "steepest"}])


@pytest.mark.parametrize(
    "options, match",
    [
        ({"budget": 0}, r"local_search: budget = 0; accepted: a positive integer"),
        ({"num_init": 1.5}, r"local_search: num_init = 1\.5"),
        ({"strategy": "steepest"}, r"strategy = 'steepest'; accepted: first, best"),
    ],
)
def test_bad_options_are_refused_by_name(options, match):
    with pytest.raises(ConfigError, match=match):
        LocalSearch(**options)


def test_a_space_without_neighbours_is_refused_naming_it():
    with pytest.raises(CapabilityError, match=r"local_search.*HasNeighbours.*'toy'"):
        LocalSearch().search(Table(), Context(space=ToySpace(), seed=0))
