"""The traced evaluator (nas_harness.evaluation): one trace entry per distinct evaluation, stored scores reused,
cost charged as declared; random search unchanged by it; the runner reuses a study's scores in its searches."""

import random

import pytest

from nas_harness.api import Context, Direction, Proxy
from nas_harness.evaluation import EvaluationLog
from nas_harness.run.store import Store
from nas_harness.run.world import World
from nas_harness.searchers import RandomSearch
from nas_harness.seeding import derived_seed
from nas_harness.testing import ToySpace, toy_accuracy
from nas_harness.track.publish import run_study
from tests.helpers import toy_plugin
from tests.helpers.studies import TOY_PLUGINS, toy_config

SPACE = ToySpace()


class Counting(Proxy):
    """Scores toy architectures by their accuracy and counts its calls per architecture string."""

    name = "test.counting"
    direction = Direction.MAXIMIZE

    def __init__(self) -> None:
        self.calls: list[str] = []

    def score(self, arch, ctx):
        self.calls.append(ctx.space.to_str(arch))
        return toy_accuracy(arch)


class Simulated(Counting):
    """Charges a simulated cost: 10 seconds per unit of the first coordinate, plus one."""

    name = "test.simulated"

    def charged_seconds(self, arch, ctx):
        return 10.0 * arch[0] + 1.0


def ctx(seed=0, known=None):
    return Context(space=SPACE, seed=seed, known_scores=known)


def test_each_distinct_architecture_is_one_entry_in_order():
    est = Counting()
    log = EvaluationLog(est, ctx())
    archs = [(0, 1, 2), (3, 3, 3), (0, 1, 2), (1, 0, 0), (3, 3, 3)]
    scores = [log.score(a) for a in archs]
    assert scores == [toy_accuracy(a) for a in archs]  # a repeat returns the first score
    assert est.calls == ["0-1-2", "3-3-3", "1-0-0"]  # ... without calling the estimator again
    assert log.evaluations == 3 and [e["step"] for e in log.trace] == [0, 1, 2]
    assert [e["arch"] for e in log.trace] == est.calls
    assert [e["score"] for e in log.trace] == [toy_accuracy(SPACE.parse(k)) for k in est.calls]
    assert not any(e["reused"] for e in log.trace)
    assert all(e["seconds"] >= 0 for e in log.trace)
    assert log.seconds == pytest.approx(sum(e["seconds"] for e in log.trace))


def test_an_estimator_that_declares_its_cost_is_charged_that_cost():
    log = EvaluationLog(Simulated(), ctx())
    for arch in [(2, 0, 0), (0, 3, 1), (2, 0, 0)]:
        log.score(arch)
    assert [e["seconds"] for e in log.trace] == [21.0, 1.0]
    assert log.seconds == 22.0


def test_stored_scores_are_reused_without_calling_the_estimator_and_charged_their_stored_cost():
    known = {"1-2-3": (-5.0, 7.5), "0-0-0": (42.0, 0.25)}  # deliberately not the estimator's scores
    est = Counting()
    log = EvaluationLog(est, ctx(known=known))
    assert (
        log.score((1, 2, 3)) == -5.0 and log.score((0, 0, 0)) == 42.0 and log.score((2, 2, 2)) == 76.0
    )  # 50 + 10*2 + 2.5*2 + 0.5*2
    assert est.calls == ["2-2-2"]  # only the architecture the study had not scored
    assert [(e["arch"], e["reused"]) for e in log.trace] == [("1-2-3", True), ("0-0-0", True), ("2-2-2", False)]
    assert [e["seconds"] for e in log.trace[:2]] == [7.5, 0.25]


def test_a_reused_score_of_a_simulated_estimator_is_charged_its_simulated_cost():
    est = Simulated()
    log = EvaluationLog(est, ctx(known={"3-0-0": (1.0, 0.001)}))  # the store holds a wall time; the cost is 31 s
    log.score((3, 0, 0))
    assert est.calls == [] and log.trace[0]["seconds"] == 31.0 and log.trace[0]["reused"]


def test_a_custom_scoring_call_is_logged_under_the_given_space():
    est = Counting()
    log = EvaluationLog(est, ctx(), space=SPACE)
    assert log.score((1, 1, 1), compute=lambda: 3.5) == 3.5
    assert est.calls == [] and log.trace[0]["arch"] == "1-1-1" and log.scored((1, 1, 1))


@pytest.mark.parametrize("seed", [0, 3])
def test_random_search_scores_the_same_archs_in_the_same_order_as_before(seed):
    est = Counting()
    result = RandomSearch(budget=20).search(est, ctx(seed))
    # the algorithm as it was before the trace: space.sample_unique from the searcher's own seed
    expected = [SPACE.to_str(a) for a in SPACE.sample_unique(20, random.Random(derived_seed("random-search", seed)))]
    assert [h["arch"] for h in result.history] == expected == [e["arch"] for e in result.trace] == est.calls
    assert SPACE.to_str(result.best) == max(expected, key=lambda k: toy_accuracy(SPACE.parse(k)))
    assert result.evaluations == 20


def test_a_searcher_after_the_proxy_study_reuses_its_scores(tmp_path, monkeypatch):
    calls: list[str] = []
    original = toy_plugin.GoodProxy.score

    def counting(self, arch, ctx):
        calls.append(ctx.space.to_str(arch))
        return original(self, arch, ctx)

    monkeypatch.setattr(toy_plugin.GoodProxy, "score", counting)
    searcher = {"name": "random", "estimator": "toy.good", "options": {"budget": 30}}
    cfg = toy_config(tmp_path, [{"name": "toy.good"}], sample_size=40, searchers=[searcher])
    run_study(cfg, world=World(cfg, plugin_modules=TOY_PLUGINS), progress=False)

    store = Store(cfg.store_path)
    try:
        sample = set(store.sample(0))
        stored = store.known_scores("toy.good", 0)
        trace = store.search_traces()[("random", 0)]
    finally:
        store.close()
    assert len(calls) == len(sample) + sum(not e["reused"] for e in trace)  # the study, then only new archs
    reused = [e for e in trace if e["reused"]]
    assert reused and {e["arch"] for e in reused} == {e["arch"] for e in trace} & sample
    assert not set(calls[len(sample) :]) & sample  # the search never asked the proxy for a scored arch
    for entry in reused:
        assert (entry["score"], entry["seconds"]) == pytest.approx(stored[entry["arch"]])
    assert len(trace) == 30 and [e["step"] for e in trace] == list(range(30))
