"""zeroshot.swap and the AZ-NAS estimators (zeroshot.az_*): SWAP against a brute-force count, the AZ components
against independent computations on tiny networks, the rank aggregation against hand-computed ranks, directions,
failures on disconnected cells, determinism, conformance and the library path (score_module)."""

from __future__ import annotations

import copy
import itertools
import math
import random
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from nas_harness.api import ConfigError, Direction, HarnessError
from nas_harness.proxy_kit import DegenerateNetworkError
from nas_harness.proxy_library import network_proxies, score_module
from nas_harness.spaces.nb101 import NB101Space
from nas_harness.testing import check_estimator, tiny_archs, tiny_context
from nas_harness_plugins.zeroshot.az_nas import (
    SIGMA_EPS,
    AZComplexityProxy,
    AZExpressivityProxy,
    AZNASProxy,
    AZNASWarning,
    AZProgressivityProxy,
    AZTrainabilityProxy,
    block_features,
    measure_network,
    rank_aggregate,
)
from nas_harness_plugins.zeroshot.swap import SwapProxy, count_distinct_patterns

pytest_plugins = ["nas_harness.testing.fixtures"]
pytestmark = pytest.mark.usefixtures("nas_one_torch_thread")

NET = {"C": 2, "N": 1}
SMALL = {
    SwapProxy: {**NET, "batch_size": 8, "repeats": 2},
    AZExpressivityProxy: {**NET, "batch_size": 8},
    AZProgressivityProxy: {**NET, "batch_size": 8},
    AZTrainabilityProxy: {**NET, "batch_size": 8},
    AZComplexityProxy: {**NET, "batch_size": 8},
    AZNASProxy: {**NET, "batch_size": 8},
}
COMPONENT_PROXIES = (AZExpressivityProxy, AZProgressivityProxy, AZTrainabilityProxy, AZComplexityProxy)
#: no path of non-'none' edges from the cell's input (node 0) to its output (node 3)
DISCONNECTED = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
#: the cell's output is its input: only the skip edge 0 -> 3 is not 'none'
IDENTITY = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- SWAP


def brute_force_swap(layers: list[nn.Module], x: torch.Tensor) -> int:
    """Run ``layers`` one by one; every unit after an nn.ReLU on a 4-D input contributes its tuple of
    on/off states over the samples; count the distinct tuples."""
    patterns = set()
    h = x
    for layer in layers:
        inp = h
        h = layer(h)
        if isinstance(layer, nn.ReLU) and inp.dim() == 4:
            units = h.reshape(h.shape[0], -1).t()
            patterns.update(tuple(bool(v > 0) for v in unit) for unit in units)
    return len(patterns)


def test_swap_counts_distinct_sample_wise_patterns_as_brute_force_does():
    torch.manual_seed(0)
    layers = [
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1, stride=2), nn.BatchNorm2d(4),
        nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(16, 5), nn.ReLU(),  # the last ReLU's input is 2-D: not counted
    ]  # fmt: skip
    net = nn.Sequential(*layers).train()
    x = torch.randn(6, 3, 4, 4, generator=gen(1))
    with torch.no_grad():
        expected = brute_force_swap(copy.deepcopy(layers), x)
    units = 4 * 16 + 4 * 4
    assert 1 < expected < units  # 80 units, at most 2**6 codes: some patterns repeat and count once
    assert SwapProxy().score_network(net, x, torch.zeros(6, dtype=torch.long)) == expected


@pytest.mark.parametrize("samples", [5, 63, 64, 130])
def test_pattern_count_packs_any_number_of_samples(samples):
    g = gen(samples)
    base = torch.rand(12, samples, generator=g) > 0.5
    codes = base[torch.randint(0, 12, (400,), generator=g)]
    assert count_distinct_patterns(codes) == len({tuple(row.tolist()) for row in codes})


def small_convnet() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))


def test_swap_reg_multiplies_by_the_gaussian_of_the_parameter_count_in_thousands():
    net, x, y = small_convnet(), torch.randn(8, 3, 4, 4, generator=gen(2)), torch.zeros(8, dtype=torch.long)
    plain = SwapProxy().score_network(copy.deepcopy(net), x, y)
    total = sum(p.numel() for p in net.parameters())  # 3*4*9 + 4 + 4 + 4 + 64*3 + 3
    conv = 3 * 4 * 9 + 4
    assert total == 315
    mu, sigma = 0.2, 0.05
    reg = SwapProxy(mu=mu, sigma=sigma).score_network(copy.deepcopy(net), x, y)
    assert reg == pytest.approx(plain * math.exp(-((total / 1e3 - mu) ** 2) / sigma), rel=1e-12)
    reg_conv = SwapProxy(mu=mu, sigma=sigma, reg_params="conv").score_network(copy.deepcopy(net), x, y)
    assert reg_conv == pytest.approx(plain * math.exp(-((conv / 1e3 - mu) ** 2) / sigma), rel=1e-12)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"mu": 1.0}, "sigma"),
        ({"mu": 1.0, "sigma": 0}, "sigma"),
        ({"mu": "a", "sigma": 1.0}, "mu"),
        ({"batch_size": 1}, "batch_size"),
        ({"repeats": 0}, "repeats"),
        ({"init": "xavier"}, "init"),
        ({"reg_params": "bn"}, "reg_params"),
        ({"augment": "yes"}, "augment"),
    ],
)
def test_swap_refuses_bad_options(options, key):
    with pytest.raises(ConfigError, match=key):
        SwapProxy(**options)


def test_swap_study_path_averages_the_repeats_of_score_network():
    ctx = tiny_context(0)
    arch = tiny_archs(ctx.space, 1)[0]
    proxy = SwapProxy(**SMALL[SwapProxy])
    x, y = proxy.study_batch(ctx)
    each = [proxy.score_network(proxy.build_network(arch, ctx, r), x, y) for r in range(2)]
    assert each[0] != each[1]  # each repeat is a new initialisation
    assert proxy.score(arch, ctx) == pytest.approx(sum(each) / 2, rel=1e-12)


# --------------------------------------------------------------------------- AZ-NAS components


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * x


class Staged(nn.Module):
    """The NB201 layout (``stem``, ``cells``, then a head whose in-place ReLU must not touch the last feature)."""

    def __init__(self, stem: nn.Module, cells: list[nn.Module]) -> None:
        super().__init__()
        self.stem, self.cells = stem, nn.ModuleList(cells)
        self.lastact = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.lastact(x).mean(dim=(2, 3))


def block(c_in: int, c_out: int, stride: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


def staged_convnet() -> Staged:
    torch.manual_seed(5)
    return Staged(nn.Conv2d(3, 4, 3, padding=1, bias=False), [block(4, 4, 1), block(4, 8, 2), block(8, 8, 1)])


def numpy_entropy(feature: torch.Tensor) -> float:
    f = feature.detach().double().permute(0, 2, 3, 1).reshape(-1, feature.shape[1]).numpy()
    eig = np.clip(np.linalg.eigvalsh(np.cov(f.T, bias=True)), 0, None)
    p = eig / eig.sum()
    return float(-(p * np.log(p + 1e-8)).sum())


def test_expressivity_and_progressivity_match_an_independent_computation():
    net, x = staged_convnet(), torch.randn(8, 3, 8, 8, generator=gen(4))
    with torch.no_grad():  # the blocks called by hand, in training mode as AZ-NAS runs them
        net.train()
        feats = [net.stem(x)]
        for cell in net.cells:
            feats.append(cell(feats[-1]))
    entropies = [numpy_entropy(f) for f in feats]
    m = measure_network(copy.deepcopy(net), x)
    assert m.blocks == ["stem", "cells.0", "cells.1", "cells.2"]
    assert m.entropies == pytest.approx(entropies, rel=1e-9)
    assert m.expressivity == pytest.approx(sum(entropies), rel=1e-9)
    assert m.progressivity == pytest.approx(min(b - a for a, b in itertools.pairwise(entropies)), rel=1e-9)
    y = torch.zeros(8, dtype=torch.long)
    assert AZExpressivityProxy().score_network(copy.deepcopy(net), x, y) == pytest.approx(sum(entropies), rel=1e-9)
    assert AZProgressivityProxy().score_network(copy.deepcopy(net), x, y) == m.progressivity


def pair_score(sigma: float) -> float:
    return -sigma - 1 / (sigma + SIGMA_EPS) + 2


def test_trainability_is_exact_for_scalings_and_a_stride_two_pooling():
    # One channel: g_in = a * g_out, so g_in^T g_out / N = a exactly, whatever the Rademacher draws; a 2x2
    # average pool spreads g_out / 4 over 4 pixels: pixel-unshuffled, the 4 x 1 matrix is 1/4 each, sigma = 1/2.
    torch.manual_seed(0)
    net = Staged(nn.Conv2d(1, 1, 3, padding=1), [Scale(2.0), Scale(-1.5), nn.AvgPool2d(2), Scale(0.5)])
    x = torch.randn(4, 1, 8, 8, generator=gen(6))
    m = measure_network(net, x, ("trainability",))
    expected = [pair_score(2.0), pair_score(1.5), pair_score(0.5), pair_score(0.5)]
    assert m.block_trainability == pytest.approx(expected, rel=1e-9)
    assert m.trainability == pytest.approx(sum(expected) / 4, rel=1e-9)
    assert AZTrainabilityProxy().score_network(net, x, torch.zeros(4, dtype=torch.long)) == m.trainability


def test_trainability_estimates_the_spectral_norm_of_a_linear_block():
    torch.manual_seed(7)
    conv = nn.Conv2d(4, 4, 1, bias=False)
    net = Staged(nn.Conv2d(3, 4, 3, padding=1), [conv])
    sigma = float(torch.linalg.matrix_norm(conv.weight.detach()[:, :, 0, 0], ord=2))
    m = measure_network(net, torch.randn(16, 3, 16, 16, generator=gen(8)), ("trainability",))
    assert m.trainability == pytest.approx(pair_score(sigma), abs=0.1 * sigma)


def test_an_identity_block_gets_the_official_minus_infinity_and_the_proxy_says_why():
    net = Staged(nn.Conv2d(3, 2, 3, padding=1), [Scale(2.0), nn.Identity()])
    x = torch.randn(4, 3, 6, 6, generator=gen(9))
    m = measure_network(copy.deepcopy(net), x, ("trainability",))
    assert m.identity_blocks == ["cells.1"] and m.trainability == -math.inf
    with pytest.raises(DegenerateNetworkError, match="identity"):
        AZTrainabilityProxy().score_network(net, x, torch.zeros(4, dtype=torch.long))


def test_complexity_counts_the_multiply_accumulates_by_hand():
    net = staged_convnet()
    # 8x8 input: stem 3->4 3x3 at 8x8, block 4->4 at 8x8, 4->8 stride 2 at 4x4, 8->8 at 4x4 (no biases)
    expected = 64 * 4 * 3 * 9 + 64 * 4 * 4 * 9 + 16 * 8 * 4 * 9 + 16 * 8 * 8 * 9
    x = torch.randn(2, 3, 8, 8, generator=gen(10))
    assert AZComplexityProxy().score_network(net, x, torch.zeros(2, dtype=torch.long)) == expected


def test_block_features_need_two_blocks_and_keep_them_from_later_in_place_ops():
    with pytest.raises(ConfigError, match="at least two blocks"):
        block_features(nn.Sequential(nn.Conv2d(3, 2, 1), nn.Flatten()), torch.randn(2, 3, 4, 4))
    torch.manual_seed(0)
    net = Staged(nn.Conv2d(3, 4, 3, padding=1), [block(4, 4, 1), nn.Conv2d(4, 4, 1)])
    _, feats = block_features(net, torch.randn(4, 3, 8, 8, generator=gen(11)))
    assert (feats[-1] < 0).any()  # lastact's in-place ReLU ran on a copy of the last block's output
    names, feats = block_features(nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(), nn.Flatten()), torch.randn(2, 3, 4, 4))
    assert names == ["0", "1"]  # a network without stem/cells: its direct children with 4-D outputs


# --------------------------------------------------------------------------- rank aggregation


def test_rank_aggregation_by_hand():
    columns = [
        [3.0, 1.0, 2.0, 2.0],  # ranks 4, 1, 2.5, 2.5 (a tie shares the average rank)
        [0.1, 0.4, 0.3, 0.2],  # 1, 4, 3, 2
        [-math.inf, -0.5, -0.2, -0.3],  # 1, 2, 4, 3 (an identity block's -inf ranks lowest)
        [10.0, 40.0, 30.0, 20.0],  # 1, 4, 3, 2
    ]
    log = math.log
    expected = [
        log(4 / 4) + log(1 / 4) + log(1 / 4) + log(1 / 4),
        log(1 / 4) + log(4 / 4) + log(2 / 4) + log(4 / 4),
        log(2.5 / 4) + log(3 / 4) + log(4 / 4) + log(3 / 4),
        log(2.5 / 4) + log(2 / 4) + log(3 / 4) + log(2 / 4),
    ]
    assert rank_aggregate(columns) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        rank_aggregate([[1.0, math.nan]])


def hand_ranks(values: list[float]) -> list[float]:
    return [1 + sum(w < v for w in values) + (sum(w == v for w in values) - 1) / 2 for v in values]


def test_az_nas_aggregates_the_four_component_proxies_of_four_architectures():
    ctx = tiny_context(0)
    archs = tiny_archs(ctx.space, 4)
    options = SMALL[AZNASProxy]
    components = [[cls(**options).score(a, ctx) for a in archs] for cls in COMPONENT_PROXIES]
    expected = [0.0] * 4
    for values in components:
        for i, r in enumerate(hand_ranks(values)):
            expected[i] += math.log(r / 4)
    proxy = AZNASProxy(**options)
    assert proxy.score_many(archs, ctx) == pytest.approx(expected, rel=1e-12)
    for row, *values in zip(proxy.last, *components, strict=True):
        assert [row[c] for c in ("expressivity", "progressivity", "trainability", "complexity")] == values
    with pytest.raises(HarnessError, match="score_many"):
        proxy.score(archs[0], ctx)


# --------------------------------------------------------------------------- directions, failures, determinism


def test_directions():
    for cls in SMALL:
        assert cls.direction is Direction.MAXIMIZE
        assert cls.set_level is (cls is AZNASProxy)


@pytest.mark.parametrize("cls", [SwapProxy, AZExpressivityProxy, AZProgressivityProxy, AZTrainabilityProxy])
def test_a_disconnected_cell_fails_with_the_reason_on_both_paths(cls):
    ctx = tiny_context(0)
    arch = ctx.space.parse(DISCONNECTED)
    assert ctx.space.is_disconnected(arch)
    proxy = cls(**SMALL[cls])
    with pytest.raises(DegenerateNetworkError, match="disconnected"):
        proxy.score(arch, ctx)
    net = proxy.build_network(arch, ctx)  # the bare network: its output does not depend on the image
    with pytest.raises(DegenerateNetworkError, match="does not depend on its input"):
        proxy.score_network(net, *proxy.study_batch(ctx))


def test_az_nas_leaves_a_disconnected_cell_out_of_the_ranking_or_raises():
    ctx = tiny_context(0)
    archs = tiny_archs(ctx.space, 3) + [ctx.space.parse(DISCONNECTED)]
    proxy = AZNASProxy(**SMALL[AZNASProxy])
    with pytest.warns(AZNASWarning, match="disconnected"):
        scores = proxy.score_many(archs, ctx)
    assert math.isnan(scores[3]) and all(math.isfinite(s) for s in scores[:3])
    assert scores[:3] == pytest.approx(AZNASProxy(**SMALL[AZNASProxy]).score_many(archs[:3], ctx), rel=1e-12)
    assert "disconnected" in proxy.last[3]["reason"]
    with pytest.raises(DegenerateNetworkError, match="disconnected"):
        AZNASProxy(**SMALL[AZNASProxy], on_degenerate="raise").score_many(archs, ctx)


def test_az_nas_ranks_an_identity_cell_last_on_trainability():
    ctx = tiny_context(0)
    archs = tiny_archs(ctx.space, 3) + [ctx.space.parse(IDENTITY)]
    proxy = AZNASProxy(**SMALL[AZNASProxy])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is left out
        scores = proxy.score_many(archs, ctx)
    assert proxy.last[3]["trainability"] == -math.inf and all(math.isfinite(s) for s in scores)


def test_scores_are_deterministic_and_leave_the_global_generator_alone():
    ctx = tiny_context(0)
    arch = tiny_archs(ctx.space, 1)[0]
    state = torch.get_rng_state()
    for cls in (SwapProxy, AZTrainabilityProxy):
        first = cls(**SMALL[cls]).score(arch, ctx)
        torch.rand(3)
        assert cls(**SMALL[cls]).score(arch, tiny_context(0)) == first
        assert cls(**SMALL[cls]).score(arch, tiny_context(1)) != first  # another study seed: another network
    torch.set_rng_state(state)


@pytest.mark.parametrize("cls", list(SMALL), ids=lambda c: c.name)
def test_conformance(cls):
    report = check_estimator(cls, SMALL[cls])
    assert report.ok and not report.skipped, str(report)


# --------------------------------------------------------------------------- the library path


@pytest.mark.parametrize("cls", [SwapProxy, *COMPONENT_PROXIES], ids=lambda c: c.name)
def test_score_module_equals_the_study_path(cls):
    ctx = tiny_context(0)
    arch = tiny_archs(ctx.space, 2)[1]
    options = {**SMALL[cls], "repeats": 1} if cls is SwapProxy else SMALL[cls]
    proxy = cls(**options)
    net = proxy.build_network(arch, ctx)
    batch = proxy.study_batch(ctx)
    assert cls.name in network_proxies()
    assert score_module(cls.name, net, batch, **options) == proxy.score(arch, ctx)
    assert "zeroshot.az_nas" not in network_proxies()  # set-level: it scores no single network


def test_block_features_of_the_nb101_network_are_its_stem_and_cells_in_order():
    space = NB101Space()
    torch.manual_seed(0)
    net = space.build(space.sample(random.Random(3)), C=8, N=2)
    names, feats = block_features(net, torch.randn(2, 3, 32, 32, generator=gen(5)))
    cells = sorted(net.cell_indices)
    assert names == ["layers.0"] + [f"layers.{i}" for i in cells]  # no max-pool among them
    assert [tuple(f.shape[1:]) for f in feats] == [(8, 32, 32)] + [(8, 32, 32)] * 2 + [(16, 16, 16)] * 2 + [
        (32, 8, 8)
    ] * 2
    m = measure_network(net, torch.randn(4, 3, 32, 32, generator=gen(6)))
    assert len(m.block_trainability) == 6 and math.isfinite(m.trainability)  # across the pools too
