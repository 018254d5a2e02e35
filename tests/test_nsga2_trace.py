"""MixPath's NSGA-II: its trace (one entry per path scored) and the ``single_path`` option, which keeps the search
in single-path cells so that its front is judged on the benchmark."""

import pytest

from nas_harness.api import ConfigError, Context
from nas_harness.spaces.multipath import MultiPathSpace
from nas_harness.spaces.nb201 import NB201Space
from nas_harness.testing import FakeBenchmark
from nas_harness_plugins.mixpath.nsga2 import MixPathNSGA2
from tests.helpers.multipath_fakes import CONV1, CONV3, PathCounter

SPACE = NB201Space()
SMALL = {"population": 10, "generations": 4, "cost_net": {"C": 2, "N": 1}, "input_size": 8}


def mask_to_str(space, mask):
    return space.to_str(tuple(tuple(j for j, on in enumerate(ops) if on) for ops in mask))


@pytest.mark.parametrize("single_path", [False, True])
def test_the_trace_is_every_path_scored_in_order(single_path):
    est = PathCounter()
    result = MixPathNSGA2(**SMALL, single_path=single_path).search(est, Context(space=SPACE, seed=0))
    space = MultiPathSpace(SPACE, 2)
    assert [e["arch"] for e in result.trace] == [mask_to_str(space, m) for m in est.calls]
    assert [e["score"] for e in result.trace] == [sum(o[CONV1] + o[CONV3] for o in m) for m in est.calls]
    assert result.evaluations == len(result.trace) == len(set(e["arch"] for e in result.trace))


def test_single_path_keeps_every_evaluation_and_the_front_judgeable():
    est = PathCounter()
    result = MixPathNSGA2(**SMALL, single_path=True).search(est, Context(space=SPACE, seed=1))
    space = result.space
    assert all(sum(ops) == 1 for mask in est.calls for ops in mask)  # one option per choice point, always
    bench = FakeBenchmark(SPACE)
    for arch in result.front:
        assert bench.accuracy(space.to_base(arch)) > 0  # a base-space cell with ground truth
    assert space.to_str(result.best) == SPACE.to_str(space.to_base(result.best))  # judged under its NB201 string


def test_single_path_on_a_partial_benchmark_stays_in_its_architectures():
    bench = FakeBenchmark(SPACE, n=300, seed=2)
    candidates = list(bench.archs())
    ctx = Context(space=SPACE, seed=0, candidates=candidates)
    result = MixPathNSGA2(**SMALL, single_path=True).search(PathCounter(), ctx)
    allowed = {SPACE.to_str(a) for a in candidates}
    assert {e["arch"] for e in result.trace} <= allowed and result.evaluations > SMALL["population"]


def test_single_path_must_be_a_bool():
    with pytest.raises(ConfigError, match=r"mixpath.nsga2: single_path = 'yes'; accepted: true or false"):
        MixPathNSGA2(single_path="yes")
