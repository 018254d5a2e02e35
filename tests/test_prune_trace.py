"""``tenas.prune``'s trace: one entry for the final cell (no single-path cell is defined between pruning rounds),
at the last of its supernet measurements, unscored (NaN), charged the whole search's seconds."""

from __future__ import annotations

import math
import time
import warnings

import pytest

from nas_harness_plugins.tenas.ntk import NTKWarning
from tests.helpers.images import one_torch_thread
from tests.test_tenas import SPACE, tiny_ctx, tiny_prune


@pytest.mark.parametrize("seed", [0, 3])
def test_the_trace_is_one_final_entry_charged_the_whole_search(seed):
    with one_torch_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", NTKWarning)
        start = time.perf_counter()
        result = tiny_prune(repeats=1).search(None, tiny_ctx(seed=seed))
        wall = time.perf_counter() - start
    assert result.evaluations == 24 + 18 + 12 + 3  # three rounds: the supernet, then each candidate removal
    [entry] = result.trace
    assert set(entry) == {"step", "arch", "score", "seconds", "reused"}
    assert entry["step"] == result.evaluations - 1 == 56
    assert entry["arch"] == SPACE.to_str(result.best) == result.history[-1]["final"]
    assert math.isnan(entry["score"]) and entry["reused"] is False
    rounds = sum(h["seconds"] for h in result.history[:-1])
    assert rounds <= entry["seconds"] <= wall  # every round, and the set-up, inside the call
