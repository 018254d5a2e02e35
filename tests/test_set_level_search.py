"""A searcher whose estimator is set-level (scores only relative to a set, ``score()`` raises) searches among the
seed's sample architectures the study scored with it, reusing their stored scores; with none stored it fails
with an error saying what to do."""

from __future__ import annotations

import json
import math

import pytest

from nas_harness.run.runner import run_study
from nas_harness.run.store import Store
from nas_harness.run.world import World
from nas_harness.testing import ToySpace, toy_accuracy
from tests.helpers import toy_plugin
from tests.helpers.studies import TOY_PLUGINS, toy_config

SPACE = ToySpace()
SEARCHERS = [
    {"name": "random", "estimator": "toy.rank", "options": {"budget": 50}},  # more than the 40 scored archs
    {"name": "rea", "estimator": "toy.rank", "options": {"budget": 20, "population": 5, "sample_size": 2}},
]


def run(tmp_path, seeds=(0, 1)):
    cfg = toy_config(tmp_path, [{"name": "toy.rank"}], sample_size=40, seeds=list(seeds), searchers=SEARCHERS)
    run_study(cfg, world=World(cfg, plugin_modules=TOY_PLUGINS), progress=False)
    store = Store(cfg.store_path)
    try:
        samples = {seed: store.sample(seed) for seed in seeds}
        known = {seed: store.known_scores("toy.rank", seed) for seed in seeds}
        searches = store.searches_frame()
        traces = store.search_traces()
    finally:
        store.close()
    return samples, known, searches, traces


def count_score_many(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = toy_plugin.RankProxy.score_many

    def counting(self, archs, ctx):
        calls.append(len(archs))
        return original(self, archs, ctx)

    monkeypatch.setattr(toy_plugin.RankProxy, "score_many", counting)
    return calls


def test_a_set_level_estimator_searches_its_scored_sample_with_stored_scores(tmp_path, monkeypatch):
    calls = count_score_many(monkeypatch)
    samples, known, searches, traces = run(tmp_path)
    assert calls == [40, 40]  # the study's scoring, once per seed; the searches never call the estimator
    assert (searches.status == "ok").all() and len(searches) == 4
    for (_, seed), trace in traces.items():
        assert trace and all(e["reused"] for e in trace)
        assert {e["arch"] for e in trace} <= set(samples[seed])
        for e in trace:
            assert (e["score"], e["seconds"]) == pytest.approx(known[seed][e["arch"]])
    for seed in (0, 1):
        random_row = searches[(searches.searcher == "random") & (searches.seed == seed)].iloc[0]
        assert random_row.evaluations == 40  # the budget is capped by the scored sample
        best = max(samples[seed], key=lambda a: toy_accuracy(SPACE.parse(a)))  # rank 39 = the best in the sample
        assert random_row.arch == best
        assert len(traces[("rea", seed)]) == 20


def test_only_architectures_with_a_stored_score_are_visited(tmp_path, monkeypatch):
    original = toy_plugin.RankProxy.score_many

    def failing_some(self, archs, ctx):  # NaN: recorded as a failed row, so not stored as a score
        return [math.nan if a[0] == 0 else s for a, s in zip(archs, original(self, archs, ctx), strict=True)]

    monkeypatch.setattr(toy_plugin.RankProxy, "score_many", failing_some)
    samples, known, searches, traces = run(tmp_path, seeds=(0,))
    scored = {a for a in samples[0] if not a.startswith("0-")}
    assert set(known[0]) == scored and len(scored) < 40
    assert (searches.status == "ok").all()
    random_trace = traces[("random", 0)]
    assert {e["arch"] for e in random_trace} == scored  # budget 50 covers all of them, and nothing else
    assert {e["arch"] for e in traces[("rea", 0)]} <= scored


def test_with_nothing_stored_the_search_fails_saying_to_add_the_estimator(tmp_path, monkeypatch):
    def failing(self, archs, ctx):
        raise RuntimeError("cannot score")

    monkeypatch.setattr(toy_plugin.RankProxy, "score_many", failing)
    _, known, searches, traces = run(tmp_path, seeds=(0,))
    assert known[0] == {} and traces == {}
    assert (searches.status == "failed").all() and len(searches) == 2
    for error in searches.error:
        assert "set-level estimator 'toy.rank'" in error
        assert "add 'toy.rank' to the study's [[estimators]]" in error
    assert all(json.loads(h) == [] for h in searches.history_json)
