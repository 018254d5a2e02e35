"""TE-NAS plugin: NTK condition number, linear regions, rank combination and pruning search.

Brute-force checks on tiny networks: the vectorised NTK against one backward
pass per sample, the region count against a direct count of activation
patterns, the rank combination against a hand-computed example.
"""

from __future__ import annotations

import math
import random
import warnings

import pytest
import torch
from torch import nn

from nas_harness.api import ConfigError, Context, Direction, HarnessError
from nas_harness.data import BatchProvider
from nas_harness.registry import get_registry
from nas_harness.spaces.nb201 import NB201Space
from nas_harness.spaces.nb201_net import NB201Network
from nas_harness.spaces.nb201_supernet import NB201Supernet, arch_mask, full_mask, mask_to_arch, remove_op
from nas_harness_plugins.tenas.common import dense_ranks, round_sig
from nas_harness_plugins.tenas.linear_regions import (
    activation_patterns,
    count_linear_regions,
    count_unique_rows,
    random_crops,
)
from nas_harness_plugins.tenas.ntk import (
    NTKWarning,
    condition_number,
    couples_samples,
    ntk_condition,
    ntk_gram,
    ntk_loop,
    weight_names,
)
from nas_harness_plugins.tenas.proxies import (
    CombinedProxy,
    LinearRegionsProxy,
    NTKProxy,
    NTKSingularError,
    combine_ranks,
)
from nas_harness_plugins.tenas.prune import TenasPrune, choose_pruned
from tests.helpers.images import one_torch_thread, tiny_provider

SPACE = NB201Space()
ARCH = SPACE.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|")
EMPTY = SPACE.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")  # no path from input to output


@pytest.fixture(autouse=True)
def _one_thread():
    with one_torch_thread():
        yield


def tiny_data(seed: int = 0) -> BatchProvider:
    """A real BatchProvider over a generated in-memory ImageDataset (random pixels)."""
    return tiny_provider(seed)


def tiny_ctx(seed: int = 0) -> Context:
    return Context(space=SPACE, seed=seed, data=tiny_data(seed))


class ConvBN(nn.Module):
    def __init__(self, bn: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4) if bn else nn.Identity()
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        h = self.relu(self.bn(self.conv(x)))
        h = self.relu(self.conv2(h))
        return self.fc(h.mean(dim=(2, 3)))


def explicit_ntk(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Brute force: per-sample ``backward`` on the batch forward, grads of 'weight' tensors concatenated."""
    logits = model(x)
    rows = []
    for i in range(len(x)):
        model.zero_grad()
        logits[i : i + 1].backward(torch.ones_like(logits[i : i + 1]), retain_graph=True)
        rows.append(
            torch.cat([p.grad.reshape(-1) for n, p in model.named_parameters() if "weight" in n and p.grad is not None])
        )
    model.zero_grad()
    j = torch.stack(rows).double()
    return j @ j.T


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


# --------------------------------------------------------------------------- NTK


@pytest.mark.parametrize("bn", [True, False])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_vectorised_ntk_equals_per_sample_backward(bn, mode):
    torch.manual_seed(0)
    model = ConvBN(bn).train(mode == "train")
    x = torch.randn(7, 3, 6, 6)
    reference = explicit_ntk(model, x)
    gram, method = ntk_gram(model, x, "auto", chunk_size=3)
    assert method == ("jacrev" if bn and mode == "train" else "vmap")
    assert rel_err(gram, reference) < 1e-5
    assert rel_err(ntk_loop(model, x), reference) < 1e-6
    assert rel_err(ntk_gram(model, x, "jacrev")[0], reference) < 1e-5  # jacrev is exact in every mode


def test_vectorised_ntk_equals_per_sample_backward_on_the_nb201_supernet():
    torch.manual_seed(1)
    net = NB201Supernet(2, 1, num_classes=3).train()  # every op on every edge, BN with batch statistics
    x = torch.randn(5, 3, 8, 8)
    reference = explicit_ntk(net, x)
    assert rel_err(ntk_gram(net, x, "auto", chunk_size=2)[0], reference) < 1e-5
    net.eval()
    assert rel_err(ntk_gram(net, x, "vmap")[0], explicit_ntk(net, x)) < 1e-5


def test_per_sample_vmap_refuses_coupled_batches_and_auto_falls_back_to_the_loop(monkeypatch):
    model = ConvBN(True).train()
    assert couples_samples(model)
    with pytest.raises(ValueError, match="do not interact"):
        ntk_gram(model, torch.randn(4, 3, 6, 6), "vmap")

    from nas_harness_plugins.tenas import ntk as ntk_mod

    def broken(*args, **kwargs):
        raise RuntimeError("unsupported by torch.func")

    monkeypatch.setattr(ntk_mod, "ntk_jacrev", broken)
    x = torch.randn(4, 3, 6, 6)
    with pytest.warns(NTKWarning, match="falling back"):
        gram, method = ntk_gram(model, x, "auto")
    assert method == "loop"
    assert rel_err(gram, explicit_ntk(model, x)) < 1e-6


def test_only_weight_tensors_are_differentiated():
    names = weight_names(ConvBN(True))
    assert names == ["conv.weight", "bn.weight", "conv2.weight", "fc.weight"]


def test_kappa_is_invariant_to_the_order_of_the_batch():
    torch.manual_seed(0)
    net = NB201Network(ARCH, C=2, N=1, num_classes=4).train()
    x = torch.randn(9, 3, 8, 8)
    perm = torch.randperm(9)
    a = ntk_condition(net, x).kappa
    b = ntk_condition(net, x[perm]).kappa
    assert math.isfinite(a) and a > 1
    assert abs(a - b) / a < 1e-6


def test_singular_and_non_finite_ntks_give_nan_with_a_reason():
    torch.manual_seed(0)
    net = ConvBN(False).eval()
    x = torch.randn(4, 3, 6, 6)
    dup = torch.cat([x, x[:1]])  # two identical samples: rank 4 < 5
    with pytest.warns(NTKWarning, match="singular"):
        res = ntk_condition(net, dup)
    assert math.isnan(res.kappa) and "singular" in res.reason

    kappa, _, reason = condition_number(torch.zeros(3, 3))
    assert math.isnan(kappa) and "zero" in reason
    kappa, _, reason = condition_number(torch.tensor([[1.0, math.nan], [math.nan, 1.0]]))
    assert math.isnan(kappa) and "non-finite" in reason
    kappa, eig, reason = condition_number(torch.diag(torch.tensor([4.0, 1.0, 2.0])))
    assert kappa == pytest.approx(4.0) and reason is None and eig.tolist() == [1.0, 2.0, 4.0]


def test_ntk_proxy_on_a_disconnected_cell_is_nan_or_raises():
    ctx = tiny_ctx()
    proxy = NTKProxy(batch_size=4)
    with pytest.warns(NTKWarning, match="undefined"):
        assert math.isnan(proxy.score(EMPTY, ctx))
    assert proxy.last.reason is not None
    with pytest.raises(NTKSingularError, match="zero"), warnings.catch_warnings():
        warnings.simplefilter("ignore", NTKWarning)
        NTKProxy(batch_size=4, on_singular="raise").score(EMPTY, ctx)


# --------------------------------------------------------------------------- linear regions


def test_region_count_equals_a_direct_count_of_activation_patterns():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Conv2d(2, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(2, 2), nn.ReLU()
    ).eval()
    x = torch.randn(300, 1, 3, 3)
    x = torch.cat([x, x[:50]])  # repeated inputs share their pattern
    with torch.no_grad():
        h1 = net[1](net[0](x))
        h2 = net[3](net[2](h1))
    patterns = {tuple((torch.cat([h1.flatten(1), h2.flatten(1)], 1)[i] > 0).tolist()) for i in range(len(x))}
    # the final ReLU sees a 2-D input and is not counted (official hook: 4-D feature maps only)
    assert count_linear_regions(net, [x[:120], x[120:]]) == len(patterns)
    assert 1 < len(patterns) <= 300


def test_region_count_of_the_thin_supernet_matches_manual_patterns():
    torch.manual_seed(0)
    net = NB201Supernet(1, 1, 4, depth=1, use_stem=False, mask=arch_mask(ARCH)).train()
    x = torch.randn(200, 1, 3, 3)
    seen = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: seen.append((o > 0).flatten(1)))
        for m in net.modules()
        if isinstance(m, nn.ReLU)
    ]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    rows = torch.cat(seen, 1)
    assert count_linear_regions(net, [x]) == len({tuple(r.tolist()) for r in rows})
    assert activation_patterns(net, [x]).dtype == torch.uint8
    assert count_unique_rows(torch.tensor([[1, 0], [1, 0], [0, 1]])) == 2


def test_random_crops_take_one_channel_of_a_window():
    images = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).view(2, 3, 5, 5)
    crops = random_crops(images, 3, 1, torch.Generator().manual_seed(0))
    assert crops.shape == (2, 1, 3, 3)
    for b in range(2):
        c = crops[b, 0]
        ch, top, left = int(c[0, 0]) // 25 % 3, int(c[0, 0]) % 25 // 5, int(c[0, 0]) % 5
        assert torch.equal(c, images[b, ch, top : top + 3, left : left + 3])


def test_linear_region_proxy_defaults_are_the_official_thin_setup():
    ctx = tiny_ctx()
    proxy = LinearRegionsProxy(samples=40, batches=2)
    assert (proxy.C, proxy.N, proxy.depth, proxy.use_stem, proxy.crop_size) == (1, 1, 1, False, 3)
    assert proxy.direction is Direction.MAXIMIZE
    score = proxy.score(ARCH, ctx)
    assert 1 <= score <= 80 and score == proxy.score(ARCH, ctx)
    for inputs in ("images", "gaussian"):
        opts = {"use_stem": True} if inputs == "images" else {}
        assert LinearRegionsProxy(inputs=inputs, samples=20, batches=1, **opts).score(ARCH, ctx) >= 1
    with pytest.raises(ConfigError, match="channels"):
        LinearRegionsProxy(inputs="images", samples=4, batches=1).score(ARCH, ctx)


# --------------------------------------------------------------------------- ranks


def test_combined_ranks_match_a_hand_computed_example():
    kappas = [10.0, 5.0, 20.0, 5.0]  # ascending dense ranks: 1, 0, 2, 0
    regions = [100.0, 300.0, 300.0, 50.0]  # descending dense ranks: 1, 0, 0, 2
    assert combine_ranks(kappas, regions) == [2, 0, 2, 2]
    assert combine_ranks([3.0, math.nan, 1.0], [5.0, 9.0, math.nan]) == [1 + 1, 2 + 0, 0 + 2]  # NaN ranks last
    assert dense_ranks([0.1234, 0.1235, 0.2], descending=True, digits=3) == [2, 1, 0]
    assert round_sig(0.012345, 3) == pytest.approx(0.0123)


def test_prune_ranking_matches_a_hand_computed_example():
    cands = [
        {"op": "a", "edge_index": 0, "delta_kappa": 0.5, "delta_regions": 0.0},
        {"op": "b", "edge_index": 0, "delta_kappa": 0.1, "delta_regions": -0.1},
        {"op": "c", "edge_index": 1, "delta_kappa": 0.1, "delta_regions": 0.2},
        {"op": "d", "edge_index": 1, "delta_kappa": -0.3, "delta_regions": 0.0},
    ]
    chosen = choose_pruned(cands, digits=3)
    # delta_kappa descending: a 0, b 1, c 1, d 2; delta_R ascending: b 0, a 1, d 1, c 2
    assert [(c["rank_kappa"], c["rank_regions"], c["rank_sum"]) for c in cands] == [
        (0, 1, 1),
        (1, 0, 1),
        (1, 2, 3),
        (2, 1, 3),
    ]
    # rank-sum ties go to the candidate first in the delta_kappa order
    assert {e: c["op"] for e, c in chosen.items()} == {0: "a", 1: "c"}


def test_combined_proxy_scores_a_set_through_a_batch_provider():
    ctx = tiny_ctx()
    combined = CombinedProxy(ntk={"batch_size": 6}, linear_regions={"samples": 30, "batches": 1})
    assert combined.set_level and combined.direction is Direction.MINIMIZE
    archs = [SPACE.sample(random.Random(i)) for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NTKWarning)
        scores = combined.score_many(archs, ctx)
        kappas = [NTKProxy(batch_size=6).score(a, ctx) for a in archs]
    regions = [LinearRegionsProxy(samples=30, batches=1).score(a, ctx) for a in archs]
    assert scores == [float(s) for s in combine_ranks(kappas, regions)]
    assert [row["kappa"] for row in combined.last] == pytest.approx(kappas, nan_ok=True)
    with pytest.raises(HarnessError, match="score_many"):
        combined.score(archs[0], ctx)


def test_options_are_checked_when_the_proxy_is_made():
    with pytest.raises(TypeError):
        NTKProxy(batchsize=8)  # a typo fails at creation, not on every architecture
    with pytest.raises(ConfigError, match="method"):
        NTKProxy(method="fast")
    with pytest.raises(ConfigError, match="inputs"):
        LinearRegionsProxy(inputs="noise")


def test_linear_regions_on_the_space_network():
    ctx = tiny_ctx()
    proxy = LinearRegionsProxy(network="space", C=2, inputs="images", samples=16, batches=1)
    assert 1 <= proxy.score(ARCH, ctx) <= 16


def test_proxies_need_data():
    ctx = Context(space=SPACE, seed=0)
    for proxy in (NTKProxy(), LinearRegionsProxy()):
        with pytest.raises(ConfigError, match=r"\[data\]"):
            proxy.score(ARCH, ctx)


def test_ntk_proxy_is_deterministic_and_repeats_use_new_batches():
    ctx = tiny_ctx()
    one = NTKProxy(batch_size=6)
    assert one.direction is Direction.MINIMIZE
    k = one.score(ARCH, ctx)
    assert math.isfinite(k) and k == NTKProxy(batch_size=6).score(ARCH, ctx)
    two = NTKProxy(batch_size=6, repeats=2)
    two.score(ARCH, ctx)
    assert two.last.kappas[0] == pytest.approx(k) and two.last.kappas[1] != pytest.approx(k)


# --------------------------------------------------------------------------- supernet and pruning


def test_single_path_supernet_computes_the_nb201_network():
    torch.manual_seed(0)
    ref = NB201Network(ARCH, C=2, N=1, num_classes=3).train()
    net = NB201Supernet(2, 1, 3, mask=arch_mask(ARCH)).train()
    src = dict(ref.named_parameters())
    # supernet edge e op o  <->  network layer e (the op chosen there); other modules match by name
    with torch.no_grad():
        for name, p in net.named_parameters():
            parts = name.split(".")
            if len(parts) > 3 and parts[0] == "cells" and parts[2] == "edges":
                e, o = int(parts[3]), int(parts[5])
                if ARCH[e] != o:
                    continue
                name = ".".join([parts[0], parts[1], "layers", parts[3], *parts[6:]])
            p.copy_(src[name])
    x = torch.randn(4, 3, 8, 8)
    assert torch.allclose(net(x), ref(x), atol=1e-6)


def test_masks():
    mask = full_mask()
    assert all(sum(ops) == 4 and not ops[0] for ops in mask)
    assert mask_to_arch(arch_mask(ARCH)) == ARCH
    assert sum(remove_op(mask, 2, 3)[2]) == 3
    with pytest.raises(ValueError):
        mask_to_arch(mask)


def tiny_prune(**kw) -> TenasPrune:
    opts = {"batch_size": 4, "repeats": 2, "C": 2, "lr_samples": 24, "lr_batches": 1}
    return TenasPrune(preset="cpu-small", **{**opts, **kw})


def test_prune_ends_with_one_op_per_edge_and_is_deterministic():
    ctx = tiny_ctx(seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NTKWarning)
        a = tiny_prune().search(None, ctx)
        b = tiny_prune().search(None, ctx)

    def untimed(history):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert a.best == b.best and untimed(a.history) == untimed(b.history)
    assert SPACE.parse(SPACE.to_str(a.best)) == a.best
    assert 0 not in a.best  # 'none' is removed before the first round, as in the official search
    rounds = a.history[:-1]
    assert len(rounds) == 3 and a.history[-1]["final"] == SPACE.to_str(a.best)
    assert [len(r["candidates"]) for r in rounds] == [24, 18, 12]
    assert a.evaluations == 24 + 18 + 12 + 3
    for r in rounds:
        assert len(r["pruned"]) == 6 and math.isfinite(r["kappa"]) and r["regions"] >= 1
        for edge in {c["edge"] for c in r["candidates"]}:
            cands = [c for c in r["candidates"] if c["edge"] == edge]
            chosen = [c for c in cands if c.get("pruned")]
            assert len(chosen) == 1 and chosen[0]["rank_sum"] == min(c["rank_sum"] for c in cands)
    assert all(len(ops) == 1 for ops in rounds[-1]["remaining"].values())


def test_prune_options_and_errors():
    assert TenasPrune().cfg["batch_size"] == 72 and TenasPrune().cfg["repeats"] == 3
    assert TenasPrune(preset="cpu-small", repeats=2).cfg["repeats"] == 2
    with pytest.raises(ConfigError, match="preset"):
        TenasPrune(preset="fast")
    with pytest.raises(ConfigError, match="data"):
        TenasPrune().search(None, Context(space=SPACE, seed=0))


def test_plugin_is_registered_through_its_entry_point():
    registry = get_registry(refresh=True)
    assert {"tenas.ntk", "tenas.linear_regions", "tenas.combined"} <= set(registry.names("proxy"))
    assert "tenas.prune" in registry.names("searcher")
    assert registry.create("proxy", "tenas.ntk", batch_size=8).batch_size == 8
