"""The zeroshot plugin's Zen-score, ZiCo and MeCo against their formulas worked out independently on tiny networks.

The hand computations write each network's forward pass out with functional calls (convolutions, train-mode BN
from its formula), read gradients with ``.backward()`` per mini-batch as the official ``getzico`` does, and take
correlations and eigenvalues with numpy; the study path is checked against a network rebuilt the documented way
(``torch.manual_seed(derived_seed(proxy name, seed, arch string))`` then ``space.build``) and the same batch
(``train_batch(0, B, augment)``).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas_harness.api import ArchitectureError, ConfigError, Context, Direction
from nas_harness.proxy_kit import DegenerateNetworkError
from nas_harness.proxy_library import network_proxies, score_module
from nas_harness.registry import get_registry
from nas_harness.seeding import derived_seed
from nas_harness.testing import FactorySpace, check_estimator, tiny_context, tiny_provider
from nas_harness_plugins.zeroshot.meco import MecoProxy, min_correlation_eigenvalue
from nas_harness_plugins.zeroshot.zen import ZenProxy, pre_gap_features
from nas_harness_plugins.zeroshot.zico import ZicoProxy

pytest_plugins = ["nas_harness.testing.fixtures"]
pytestmark = pytest.mark.usefixtures("nas_one_torch_thread")

PROXIES = (ZenProxy, ZicoProxy, MecoProxy)
NET = {"C": 2, "N": 1}
SMALL = {ZenProxy: {**NET, "batch_size": 4}, ZicoProxy: {**NET, "batch_size": 4}, MecoProxy: NET}
DISCONNECTED = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|none~1|none~2|"
# node 1 only ever sees zeros (edge 0->1 is none) and feeds a conv, yet 0->2->3 and 0->3 connect the cell
DEAD_BRANCH = "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
BN_EPS = 1e-5


# --------------------------------------------------------------------------- a tiny network, written out by hand


class TwoLayer(nn.Module):
    """conv-BN-ReLU, conv(+bias)-BN-ReLU, global average pooling, linear (8x8 RGB images)."""

    def __init__(self, num_classes: int = 3, C: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, C, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(C)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(C, C, 3, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(C)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(C, num_classes)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        return self.fc(self.pool(x).flatten(1))


def bn_train(x, weight, bias):
    """Train-mode BatchNorm2d from its formula: the batch's biased variance per channel."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + BN_EPS) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)


def hand_forward(net: TwoLayer, x):
    """Every intermediate of ``net``'s forward pass, by name, plus the BN layers' inputs."""
    out = {}
    out["conv1"] = F.conv2d(x, net.conv1.weight, padding=1)
    out["bn1"] = bn_train(out["conv1"], net.bn1.weight, net.bn1.bias)
    out["relu1"] = out["bn1"].clamp(min=0)
    out["conv2"] = F.conv2d(out["relu1"], net.conv2.weight, net.conv2.bias, padding=1)
    out["bn2"] = bn_train(out["conv2"], net.bn2.weight, net.bn2.bias)
    out["relu2"] = out["bn2"].clamp(min=0)
    out["logits"] = F.linear(out["relu2"].mean(dim=(2, 3)), net.fc.weight, net.fc.bias)
    return out


def images(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, 3, 8, 8), generator=g), torch.randint(0, 3, (n,), generator=g)


def tiny_net(seed=0) -> TwoLayer:
    torch.manual_seed(seed)
    return TwoLayer()


# --------------------------------------------------------------------------- Zen-score


def hand_zen(net: TwoLayer, shape, seed, alpha=0.01, repeats=1, bn_statistic="running", momentum=0.1):
    """Zen-score with the documented draws: per repeat, N(0, 1) weights of conv1, conv2, fc (modules order), then
    x, then eps, all from one CPU generator."""
    g = torch.Generator().manual_seed(seed)
    net = copy.deepcopy(net)
    values = []
    for _ in range(repeats):
        with torch.no_grad():
            for m in (net.conv1, net.conv2, net.fc):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                if m.bias is not None:
                    m.bias.zero_()
            for bn in (net.bn1, net.bn2):
                bn.weight.fill_(1.0)
                bn.bias.zero_()
        x = torch.randn(shape, generator=g)
        eps = torch.randn(shape, generator=g)
        with torch.no_grad():
            clean, perturbed = hand_forward(net, x), hand_forward(net, x + alpha * eps)
        delta = (clean["relu2"] - perturbed["relu2"]).abs().double().sum(dim=(1, 2, 3)).mean().item()
        bn_term = 0.0
        for bn_input in ("conv1", "conv2"):
            a, b = clean[bn_input].double(), perturbed[bn_input].double()
            if bn_statistic == "running":  # from 1, two updates with momentum 0.1 and the unbiased batch variance
                v1, v2 = a.var(dim=(0, 2, 3), unbiased=True), b.var(dim=(0, 2, 3), unbiased=True)
                running = (1 - momentum) * ((1 - momentum) * 1.0 + momentum * v1) + momentum * v2
                bn_term += 0.5 * math.log(running.mean().item())
            else:
                bn_term += 0.5 * math.log(a.var(dim=(0, 2, 3), unbiased=False).mean().item())
        values.append(math.log(delta) + bn_term)
    return sum(values) / repeats


@pytest.mark.parametrize("bn_statistic", ["running", "batch"])
@pytest.mark.parametrize("repeats", [1, 2])
def test_zen_matches_the_formula_worked_out_by_hand(bn_statistic, repeats):
    net = tiny_net()
    x, y = images(6)
    proxy = ZenProxy(repeats=repeats, bn_statistic=bn_statistic)
    got = proxy.score_network(copy.deepcopy(net), x, y, generator=torch.Generator().manual_seed(7))
    expected = hand_zen(net, tuple(x.shape), 7, repeats=repeats, bn_statistic=bn_statistic)
    assert got == pytest.approx(expected, abs=1e-5)


def test_zen_alpha_scales_delta():
    net = tiny_net()
    x, y = images(6)
    got = ZenProxy(alpha=0.05).score_network(net, x, y, generator=torch.Generator().manual_seed(3))
    assert got == pytest.approx(hand_zen(tiny_net(), tuple(x.shape), 3, alpha=0.05), abs=1e-5)


def test_zen_reads_the_feature_map_before_global_pooling():
    ctx = tiny_context()
    net = ctx.space.build(ctx.space.parse(DEAD_BRANCH), C=2, N=1, num_classes=4).train()
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        got = pre_gap_features(net)(x)
        feature = net.stem(x)
        for cell in net.cells:
            feature = cell(feature)
        expected = net.lastact(feature)  # NB201: BN + ReLU, then global_pooling
    assert torch.equal(got, expected)


def test_zen_pre_gap_falls_back_to_the_last_feature_map_and_prefers_forward_pre_gap():
    class MeanPooled(TwoLayer):  # pools with torch.mean, as the NAS-Bench-101 network
        def forward(self, x):
            x = self.relu1(self.bn1(self.conv1(x)))
            x = self.relu2(self.bn2(self.conv2(x)))
            return self.fc(torch.mean(x, (2, 3)))

    class ZenStyle(TwoLayer):
        def forward_pre_GAP(self, x):  # noqa: N802 - the ZenNAS networks' name
            return self.relu1(self.bn1(self.conv1(x)))

    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        net = MeanPooled()
        assert torch.allclose(pre_gap_features(net)(x), hand_forward(net, x)["relu2"], atol=1e-6)
        net = ZenStyle()
        assert torch.allclose(pre_gap_features(net)(x), hand_forward(net, x)["relu1"], atol=1e-6)
        with pytest.raises(DegenerateNetworkError, match="4-D feature map"):
            pre_gap_features(nn.Linear(3, 2))(torch.randn(4, 3))


def test_zen_refuses_a_network_whose_features_ignore_the_input():
    class Ignores(TwoLayer):
        def forward(self, x):
            return super().forward(x * 0.0)

    with pytest.raises(DegenerateNetworkError, match="does not depend on its input"):
        ZenProxy().score_network(Ignores(), *images(4))


def test_zen_batch_statistic_leaves_out_bn_layers_on_dead_branches():
    ctx = tiny_context()
    arch = ctx.space.parse(DEAD_BRANCH)
    assert not ctx.space.is_disconnected(arch)
    assert math.isfinite(ZenProxy(**SMALL[ZenProxy], bn_statistic="batch").score(arch, ctx))


def test_zen_is_data_free():
    ctx = tiny_context(data=False)
    arch = ctx.space.parse(DEAD_BRANCH)
    with torch.random.fork_rng():  # 10 classes and 3x32x32 Gaussian inputs when the study has no data
        torch.manual_seed(derived_seed("zeroshot.zen", ctx.seed, DEAD_BRANCH))
        net = ctx.space.build(arch, **NET)
    generator = torch.Generator().manual_seed(derived_seed("zeroshot.zen", ctx.seed, DEAD_BRANCH, "gaussian"))
    expected = ZenProxy(batch_size=4).score_network(net, torch.zeros(4, 3, 32, 32), None, generator=generator)
    assert ZenProxy(**SMALL[ZenProxy]).score(arch, ctx) == expected


# --------------------------------------------------------------------------- ZiCo


def hand_zico(net: nn.Module, x, y, batches: int) -> float:
    """The official getzico + caculate_zico: backward per mini-batch after zero_grad, numpy over the weights."""
    net = copy.deepcopy(net).train()
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    grads = {id(m): [] for m in layers}
    n = x.shape[0]
    for part in range(batches):
        start, end = part * n // batches, (part + 1) * n // batches
        net.zero_grad()
        nn.CrossEntropyLoss()(net(x[start:end]), y[start:end]).backward()
        for m in layers:
            grads[id(m)].append(m.weight.grad.detach().numpy().reshape(-1).astype(np.float64))
    total = 0.0
    for m in layers:
        g = np.array(grads[id(m)])
        std = np.std(g, axis=0)
        nonzero = np.nonzero(std)[0]
        mean_abs = np.mean(np.abs(g), axis=0)
        ratio_sum = np.sum(mean_abs[nonzero] / std[nonzero])
        if ratio_sum != 0:
            total += np.log(ratio_sum)
    return float(total)


@pytest.mark.parametrize(("n", "batches"), [(8, 2), (10, 3)])
def test_zico_matches_the_official_computation(n, batches):
    net = tiny_net()
    x, y = images(n)
    got = ZicoProxy(batches=batches).score_network(copy.deepcopy(net), x, y)
    assert got == pytest.approx(hand_zico(net, x, y, batches), rel=1e-9)


def test_zico_refuses_gradients_that_never_vary():
    class Ignores(TwoLayer):
        def __init__(self):
            super().__init__()
            self.conv2.bias = None  # else BN's float32 mean of a constant leaves rounding noise that varies

        def forward(self, x):
            return super().forward(x * 0.0)

    with pytest.raises(DegenerateNetworkError, match="varies between the 2 mini-batches"):
        ZicoProxy().score_network(Ignores(), *images(8))
    with pytest.raises(ConfigError, match="at least batches = 3"):
        ZicoProxy(batches=3).score_network(tiny_net(), *images(2))


# --------------------------------------------------------------------------- MeCo


def numpy_min_eig(fmap: torch.Tensor) -> float:
    corr = np.corrcoef(fmap.detach().double().numpy())
    corr[~np.isfinite(corr)] = 0
    return float(np.linalg.eigvalsh(corr).min())


def test_meco_matches_the_formula_worked_out_by_hand():
    net = tiny_net()
    x, y = images(4)
    got = MecoProxy().score_network(copy.deepcopy(net), x, y)
    with torch.no_grad():
        out = hand_forward(net, x)
    # every module whose output has more than one position per channel: conv1, bn1, relu1, conv2, bn2, relu2 (the
    # pooled map, the logits and the network's own output contribute 0); the first image only
    names = ["conv1", "bn1", "relu1", "conv2", "bn2", "relu2"]
    expected = sum(numpy_min_eig(out[k][0].reshape(out[k].shape[1], -1)) for k in names)
    assert got == pytest.approx(expected, abs=1e-5)  # float32 feature maps, by the modules and by hand


def test_meco_counts_containers_as_the_official_hook_on_every_module_does():
    class Blocked(TwoLayer):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(self.conv1, self.bn1, self.relu1)

        def forward(self, x):
            x = self.block(x)
            x = self.relu2(self.bn2(self.conv2(x)))
            return self.fc(self.pool(x).flatten(1))

    torch.manual_seed(0)
    blocked = Blocked()
    plain = TwoLayer()
    plain.load_state_dict({k: v for k, v in blocked.state_dict().items() if not k.startswith("block.")})
    x, y = images(4)
    with torch.no_grad():
        relu1 = hand_forward(plain, x)["relu1"]
    extra = numpy_min_eig(relu1[0].reshape(relu1.shape[1], -1))  # the block's output is relu1's, counted again
    assert MecoProxy().score_network(blocked, x, y) == pytest.approx(
        MecoProxy().score_network(plain, x, y) + extra, abs=1e-5
    )


def test_meco_eigenvalue_of_constant_channels_is_zero_and_otherwise_numpys():
    fmap = torch.randn(5, 16, dtype=torch.float64)
    assert min_correlation_eigenvalue(fmap) == pytest.approx(numpy_min_eig(fmap), abs=1e-12)
    fmap[2] = 3.0  # a constant channel: its correlations are NaN, zeroed as in the official hook
    assert min_correlation_eigenvalue(fmap) == pytest.approx(0.0, abs=1e-12)


def test_meco_needs_a_feature_map():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 3))
    with pytest.raises(DegenerateNetworkError, match="more than one position"):
        MecoProxy().score_network(mlp, *images(2))


# --------------------------------------------------------------------------- the study path and library use


@pytest.fixture(scope="module")
def tiny_study() -> Context:
    space = FactorySpace({"two": TwoLayer, "wide": lambda num_classes: TwoLayer(num_classes, C=6)})
    return Context(space=space, seed=3, data=tiny_provider(3, per_class=12, size=8, classes=3))


def rebuilt(name, arch, ctx):
    with torch.random.fork_rng():
        torch.manual_seed(derived_seed(name, ctx.seed, arch))
        return ctx.space.build(arch, num_classes=3)


@pytest.mark.parametrize("arch", ["two", "wide"])
def test_study_path_is_the_network_path_on_the_seeded_network_and_study_batch(tiny_study, arch):
    ctx = tiny_study
    zico = ZicoProxy(batch_size=6, batches=2)
    batch = ctx.data.train_batch(0, 12, True)
    assert zico.score(arch, ctx) == pytest.approx(hand_zico(rebuilt(zico.name, arch, ctx), *batch, 2), rel=1e-9)
    net = rebuilt(zico.name, arch, ctx)
    assert score_module("zeroshot.zico", net, batch, batch_size=6) == zico.score(arch, ctx)

    meco = MecoProxy(batch_size=2, augment=False)
    batch = ctx.data.train_batch(0, 2, False)
    assert meco.score(arch, ctx) == score_module("zeroshot.meco", rebuilt(meco.name, arch, ctx), batch, batch_size=2)

    zen = ZenProxy(batch_size=4)
    generator = torch.Generator().manual_seed(derived_seed(zen.name, ctx.seed, arch, "gaussian"))
    expected = zen.score_network(rebuilt(zen.name, arch, ctx), torch.zeros(4, 3, 8, 8), None, generator=generator)
    assert zen.score(arch, ctx) == expected


def test_score_module_leaves_the_callers_network_alone():
    net = tiny_net()
    before = copy.deepcopy(net.state_dict())
    score_module("zeroshot.zen", net, images(4))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("proxy", [ZicoProxy, MecoProxy])
def test_data_proxies_need_data(proxy):
    ctx = tiny_context(data=False)
    with pytest.raises(ConfigError, match=r"\[data\]"):
        proxy(**SMALL[proxy]).score(ctx.space.parse(DEAD_BRANCH), ctx)


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("proxy", PROXIES)
def test_disconnected_cells_raise_naming_the_reason(proxy):
    ctx = tiny_context()
    arch = ctx.space.parse(DISCONNECTED)
    assert ctx.space.is_disconnected(arch)
    with pytest.raises(ArchitectureError, match="is disconnected"):
        proxy(**SMALL[proxy]).score(arch, ctx)


@pytest.mark.parametrize("proxy", PROXIES)
def test_registered_maximising_and_scoring_bare_networks(proxy):
    assert proxy.direction is Direction.MAXIMIZE
    assert get_registry().get("proxy", proxy.name).factory is proxy
    assert proxy.name in network_proxies()


@pytest.mark.parametrize("proxy", PROXIES)
def test_deterministic_whatever_the_global_random_state(proxy):
    ctx = tiny_context()
    arch = ctx.space.parse(DEAD_BRANCH)
    torch.manual_seed(1)
    first = proxy(**SMALL[proxy]).score(arch, ctx)
    torch.manual_seed(2)
    assert proxy(**SMALL[proxy]).score(arch, tiny_context()) == first


@pytest.mark.parametrize("proxy", PROXIES)
def test_conforms(proxy):
    report = check_estimator(proxy, SMALL[proxy])
    assert report.ok and not report.skipped, str(report)


@pytest.mark.parametrize(
    ("proxy", "options", "key"),
    [
        (ZenProxy, {"batch_size": 1}, "batch_size"),
        (ZenProxy, {"repeats": 0}, "repeats"),
        (ZenProxy, {"alpha": 0}, "alpha"),
        (ZenProxy, {"alpha": True}, "alpha"),
        (ZenProxy, {"bn_statistic": "mean"}, "bn_statistic"),
        (ZicoProxy, {"batch_size": 0}, "batch_size"),
        (ZicoProxy, {"batches": 1}, "batches"),
        (ZicoProxy, {"augment": "yes"}, "augment"),
        (MecoProxy, {"batch_size": 2.5}, "batch_size"),
        (MecoProxy, {"augment": 1}, "augment"),
    ],
)
def test_bad_options_are_refused_by_name(proxy, options, key):
    with pytest.raises(ConfigError, match=key):
        proxy(**options)
