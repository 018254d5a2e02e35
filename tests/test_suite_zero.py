"""The NAS-Bench-Suite-Zero proxies of plugins/baselines (grasp, fisher, plain, l2_norm, epe_nas) against values
computed by hand or by brute force on tiny networks, and the library path (``score_module`` /
``score_network``) of every baselines proxy against the study path (``score(arch, ctx)``).

Tiny networks come from a one-off search space whose ``build`` calls a factory (as in test_baselines.py);
the hand computations rebuild the proxy's network the documented way and read the same batch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas_harness.api import ConfigError, Context, Direction, NetworkProxy
from nas_harness.data import BatchProvider
from nas_harness.proxy_kit import DegenerateNetworkError, fetch_batch, seeded_network
from nas_harness.proxy_library import network_proxies, score_module
from nas_harness.registry import Registry, get_registry
from nas_harness.seeding import derived_seed
from nas_harness.spaces.nb201 import NB201Space
from nas_harness.testing import FactorySpace
from nas_harness_plugins.baselines import plugin
from nas_harness_plugins.baselines.suite_zero import (
    EpeNasProxy,
    FisherProxy,
    GraspProxy,
    L2NormProxy,
    PlainProxy,
    epe_nas_score,
)
from tests.helpers.proxy_fixtures import image_data

SUITE_ZERO = (GraspProxy, FisherProxy, PlainProxy, L2NormProxy, EpeNasProxy)
DATA_FREE = {"baselines.params", "baselines.flops", "baselines.synflow", "baselines.l2_norm"}
MIXED = "|avg_pool_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|skip_connect~2|"
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
DISCONNECTED = (
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|skip_connect~0|none~1|+|none~0|none~1|none~2|",
)
K = 1e-5

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tiny_data() -> BatchProvider:
    """4x4 RGB images (48 inputs), 3 classes."""
    return BatchProvider(image_data(), seed=0)


@pytest.fixture(scope="module")
def nb201_data() -> BatchProvider:
    """8x8 RGB images, 10 classes."""
    return BatchProvider(image_data(n_train=300, size=8, n_classes=10), seed=0)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def linear2(bias=False, batchnorm=False, hidden=5, num_classes=3):
    """Flatten -> Linear(48, hidden) [-> BN] -> Linear(hidden, num_classes): no ReLU, so the algebra is short."""
    layers = [nn.Flatten(), nn.Linear(48, hidden, bias=bias)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(hidden))
    layers.append(nn.Linear(hidden, num_classes, bias=bias))
    return nn.Sequential(*layers)


def relu_net(num_classes=3):
    return nn.Sequential(
        nn.Flatten(), nn.Linear(48, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(inplace=True), nn.Linear(8, num_classes)
    )


class AddInPlace(nn.Module):
    def forward(self, x):
        return x.add_(1.0)


def conv_net(num_classes=3):
    """Conv2d(3, 4, 3), an in-place +1 on its output (fisher must read the conv's own output), ReLU, Linear."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), AddInPlace(), nn.ReLU(), nn.Flatten(), nn.Linear(64, num_classes)
    )


def tiny_ctx(factories, data=None, seed=0) -> Context:
    return Context(space=FactorySpace(factories), seed=seed, data=data)


def same_network(proxy_name: str, ctx: Context, arch, **net_cfg) -> nn.Module:
    """The network a proxy scores, rebuilt the documented way."""
    torch.manual_seed(derived_seed(proxy_name, ctx.seed, ctx.space.to_str(arch)))
    return ctx.space.build(arch, **net_cfg)


def f64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float64)


def linear_parts(net, x, y, T=1.0):
    """W1, W2, X, H = X W1^T, logits, G = dL/dlogits, dL/dW1, dL/dW2 of the bias-free linear2 (float64)."""
    W1, W2 = f64(net[1].weight), f64(net[2].weight)
    X = f64(x.flatten(1))
    H = X @ W1.T
    logits = H @ W2.T
    G = (torch.softmax(logits / T, 1) - F.one_hot(y, logits.shape[1]).to(torch.float64)) / (T * len(y))
    return W1, W2, X, H, logits, G, (G @ W2).T @ X, G.T @ H


# --------------------------------------------------------------------------- registration, defaults, options


def test_registered_with_directions_and_paper_defaults():
    names = set(get_registry().names("proxy"))
    assert {cls.name for cls in SUITE_ZERO} <= names
    assert set(plugin.SUITE_ZERO_PROXIES) == set(SUITE_ZERO)
    for cls in SUITE_ZERO:
        assert cls.direction is Direction.MAXIMIZE
    assert (GraspProxy().batch_size, GraspProxy().augment, GraspProxy().T) == (64, True, 1.0)
    assert (FisherProxy().batch_size, FisherProxy().augment) == (64, True)
    assert (PlainProxy().batch_size, PlainProxy().augment) == (64, True)
    assert (EpeNasProxy().batch_size, EpeNasProxy().augment) == (256, True)


@pytest.mark.parametrize("bad", [0, -1, math.inf, math.nan, True, "1"])
def test_grasp_refuses_a_bad_temperature(bad):
    with pytest.raises(ConfigError, match="T must be"):
        GraspProxy(T=bad)


@pytest.mark.parametrize("cls", [GraspProxy, FisherProxy, PlainProxy, EpeNasProxy])
def test_data_proxies_need_data_and_a_batch_size(cls):
    with pytest.raises(ConfigError, match=r"\[data\]"):
        cls().score("r", tiny_ctx({"r": relu_net}))
    with pytest.raises(ConfigError, match="batch_size"):
        cls(batch_size=0)


# --------------------------------------------------------------------------- plain


def test_plain_is_the_signed_sum_of_weight_times_gradient(tiny_data):
    ctx = tiny_ctx({"n": linear2}, data=tiny_data)
    x, y = tiny_data.train_batch(0, 16, True)
    W1, W2, *_, dW1, dW2 = linear_parts(same_network("baselines.plain", ctx, "n", num_classes=3), x, y)
    expected = float((W1 * dW1).sum() + (W2 * dW2).sum())
    score = PlainProxy(batch_size=16).score("n", ctx)
    assert score == pytest.approx(expected, rel=1e-4)
    assert abs(score) < float((W1 * dW1).abs().sum() + (W2 * dW2).abs().sum())  # signed: not SNIP


# --------------------------------------------------------------------------- grasp


@pytest.mark.parametrize("T", [1.0, 3.0])
def test_grasp_equals_minus_theta_times_the_full_hessian_times_the_gradient(tiny_data, T):
    # Brute force: the 255 x 255 Hessian of L(theta) (theta = [W1, W2] flattened) by autograd in float64.
    ctx = tiny_ctx({"n": linear2}, data=tiny_data)
    x, y = tiny_data.train_batch(0, 16, True)
    net = same_network("baselines.grasp", ctx, "n", num_classes=3)
    X, shapes = f64(x.flatten(1)), [net[1].weight.shape, net[2].weight.shape]
    theta = torch.cat([f64(net[1].weight).flatten(), f64(net[2].weight).flatten()])

    def loss(t):
        W1 = t[: shapes[0].numel()].reshape(shapes[0])
        W2 = t[shapes[0].numel() :].reshape(shapes[1])
        return F.cross_entropy(X @ W1.T @ W2.T / T, y)

    g = torch.autograd.functional.jacobian(loss, theta)
    H = torch.autograd.functional.hessian(loss, theta)
    expected = float(-(theta * (H @ g)).sum())
    assert GraspProxy(batch_size=16, T=T).score("n", ctx) == pytest.approx(expected, rel=1e-4)


# --------------------------------------------------------------------------- fisher


def test_fisher_of_a_linear_network_is_the_channel_saliency_times_the_fan_in(tiny_data):
    # Layer outputs a1 = X W1^T [N, 5] and a2 = logits [N, 3], their gradients G W2 and G. Per channel k:
    # Delta_k = 1/2 mean_n (a_nk g_nk)^2; find_measures sums Delta_k over the k-th row of weights: x fan-in.
    ctx = tiny_ctx({"n": linear2}, data=tiny_data)
    x, y = tiny_data.train_batch(0, 16, True)
    net = same_network("baselines.fisher", ctx, "n", num_classes=3)
    _, _, _, H, logits, G, _, _ = linear_parts(net, x, y)
    delta1 = 0.5 * ((H * (G @ f64(net[2].weight))) ** 2).mean(0)
    delta2 = 0.5 * ((logits * G) ** 2).mean(0)
    expected = float(48 * delta1.sum() + 5 * delta2.sum())
    proxy = FisherProxy(batch_size=16)
    assert proxy.score("n", ctx) == pytest.approx(expected, rel=1e-4)
    net = same_network("baselines.fisher", ctx, "n", num_classes=3)
    saliencies = proxy.channel_saliencies(net, x, y)
    assert [s.shape[0] for _, s in saliencies] == [5, 3]
    assert f64(saliencies[0][1]).numpy() == pytest.approx(delta1.numpy(), rel=1e-4)


def test_fisher_of_a_conv_layer_sums_over_positions_and_reads_the_conv_output(tiny_data):
    # The conv output is changed in place right after the conv: the saliency uses the conv's own output.
    ctx = tiny_ctx({"c": conv_net}, data=tiny_data)
    x, y = tiny_data.train_batch(0, 16, True)
    net = same_network("baselines.fisher", ctx, "c", num_classes=3)
    conv, fc = net[0].double().requires_grad_(False), net[4].double().requires_grad_(False)
    a1 = F.conv2d(f64(x), conv.weight, conv.bias, padding=1).requires_grad_(True)
    a2 = F.linear(torch.relu(a1 + 1.0).flatten(1), fc.weight, fc.bias)
    g1, g2 = torch.autograd.grad(F.cross_entropy(a2, y), [a1, a2])
    a1, a2 = a1.detach(), a2.detach()
    delta1 = 0.5 * ((a1 * g1).sum((2, 3)) ** 2).mean(0)
    delta2 = 0.5 * ((a2 * g2) ** 2).mean(0)
    expected = float(3 * 3 * 3 * delta1.sum() + 64 * delta2.sum())
    assert FisherProxy(batch_size=16).score("c", ctx) == pytest.approx(expected, rel=1e-4)


# --------------------------------------------------------------------------- l2_norm


@pytest.mark.parametrize(("bias", "batchnorm"), [(False, False), (True, True)])
def test_l2_norm_sums_the_weight_norms_without_biases_or_bn(bias, batchnorm):
    ctx = tiny_ctx({"n": lambda **cfg: linear2(bias=bias, batchnorm=batchnorm, **cfg)})  # no data needed
    net = same_network("baselines.l2_norm", ctx, "n")
    expected = float(f64(net[1].weight).norm() + f64(net[-1].weight).norm())
    assert L2NormProxy().score("n", ctx) == pytest.approx(expected, rel=1e-6)


# --------------------------------------------------------------------------- epe_nas


def test_epe_nas_of_a_linear_network_is_a_closed_form(tiny_data):
    # f(x) = W x + b: every image has the Jacobian W^T 1, so each class's correlation matrix is all ones:
    # s_c = n_c^2 log(1 + k) and the score (<= 100 classes) is sum_c n_c^2 log(1 + k).
    B = 12
    ctx = tiny_ctx({"w": lambda num_classes: nn.Sequential(nn.Flatten(), nn.Linear(48, num_classes))}, data=tiny_data)
    _, y = tiny_data.train_batch(0, B, True)
    counts = np.bincount(y.numpy())
    expected = float(sum(n * n for n in counts) * math.log(1 + K))
    assert EpeNasProxy(batch_size=B).score("w", ctx) == pytest.approx(expected, rel=1e-9)


def correlation(rows: np.ndarray) -> np.ndarray:
    Z = rows - rows.mean(1, keepdims=True)
    Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    return Z @ Z.T


def test_epe_nas_of_a_relu_network_against_its_jacobians_by_hand(tiny_data):
    B = 12
    ctx = tiny_ctx({"r": relu_net}, data=tiny_data)
    net = same_network("baselines.epe_nas", ctx, "r", num_classes=3)
    x, y = tiny_data.train_batch(0, B, True)
    X = f64(x.flatten(1))
    W1, b1, W2, b2, W3 = (f64(t) for t in (net[1].weight, net[1].bias, net[3].weight, net[3].bias, net[5].weight))
    h1 = X @ W1.T + b1
    h2 = torch.relu(h1) @ W2.T + b2
    J = (((W3.sum(0) * (h2 > 0)) @ W2 * (h1 > 0)) @ W1).numpy()
    labels = y.numpy()
    expected = sum(abs(np.log(np.abs(correlation(J[labels == c])) + K).sum()) for c in np.unique(labels))
    assert EpeNasProxy(batch_size=B).score("r", ctx) == pytest.approx(expected, rel=1e-4)


def test_epe_nas_score_beyond_100_classes_compares_the_classes():
    # n_classes > 100: s_c is divided by the class's image count, one-image classes are left out, and the
    # score is sum_{c,c'} |s_c - s_c'| / (classes kept).
    rng = np.random.default_rng(0)
    J = rng.normal(size=(7, 5))
    labels = np.array([4, 4, 9, 9, 9, 2, 4])  # class 2 has one image
    s = {c: np.log(np.abs(correlation(J[labels == c])) + K).sum() / (labels == c).sum() for c in (4, 9)}
    expected = 2 * abs(s[4] - s[9]) / 2
    assert epe_nas_score(J, labels, n_classes=120) == pytest.approx(expected, rel=1e-12)
    # <= 100 classes: the one-image class counts, with C = [[1]]: |log(1 + k)|
    small = sum(abs(np.log(np.abs(correlation(J[labels == c])) + K).sum()) for c in (4, 9)) + math.log(1 + K)
    assert epe_nas_score(J, labels, n_classes=10) == pytest.approx(small, rel=1e-12)


def test_epe_nas_without_two_images_of_a_class_is_a_config_error(tiny_data):
    ctx = tiny_ctx({"r": relu_net}, data=tiny_data)
    with pytest.raises(ConfigError, match="no class has two images"):
        EpeNasProxy(batch_size=3).score("r", ctx)  # labels 0, 1, 2


# --------------------------------------------------------------------------- NB201: degenerate cells, determinism


def small(cls, **extra):
    return cls(C=4, N=1, **extra) if cls is L2NormProxy else cls(batch_size=16, C=4, N=1, **extra)


@pytest.mark.parametrize("cls", SUITE_ZERO, ids=lambda c: c.name)
@pytest.mark.parametrize("text", DISCONNECTED)
def test_a_disconnected_cell_raises_naming_the_reason(cls, text, nb201_data):
    ctx = Context(space=NB201Space(), seed=0, data=nb201_data)
    arch = ctx.space.parse(text)
    with pytest.raises(DegenerateNetworkError, match=r"disconnected .*no path"):
        small(cls).score(arch, ctx)
    if cls is not L2NormProxy:  # the bare network: its logits are the same for every image
        net = seeded_network(cls.name, arch, ctx, {"C": 4, "N": 1})
        with pytest.raises(DegenerateNetworkError, match="same output for all 16 images"):
            score_module(cls.name, net, fetch_batch(ctx, cls.name, 16, True))


@pytest.mark.parametrize("cls", SUITE_ZERO, ids=lambda c: c.name)
def test_small_nb201_networks_score_finitely_and_reproducibly(cls, nb201_data):
    space = NB201Space()
    arch, other = space.parse(MIXED), space.parse(ALL_CONV3)
    ctx = Context(space=space, seed=0, data=nb201_data)
    before = torch.random.get_rng_state()
    first = small(cls).score(arch, ctx)
    assert math.isfinite(first) and isinstance(first, float)
    assert small(cls).score(arch, Context(space=space, seed=0, data=nb201_data)) == first
    assert small(cls).score(other, ctx) != first
    assert torch.equal(torch.random.get_rng_state(), before)
    seed1 = Context(space=space, seed=1, data=BatchProvider(nb201_data.dataset, seed=1))
    assert small(cls).score(arch, seed1) != first


# --------------------------------------------------------------------------- the library path


def baselines_registry() -> Registry:
    return Registry(load_entry_points=False, extra_plugins={"baselines": plugin})


#: small options per proxy (C=4, N=1 networks, batches of 16 on 8x8 images)
LIBRARY_OPTIONS = {
    "baselines.params": {"C": 4, "N": 1},
    "baselines.flops": {"C": 4, "N": 1, "input_size": 8},
    "baselines.synflow": {"C": 4, "N": 1},
    "baselines.l2_norm": {"C": 4, "N": 1},
    **{
        f"baselines.{name}": {"C": 4, "N": 1, "batch_size": 16}
        for name in ("snip", "grad_norm", "jacob_cov", "naswot", "grasp", "fisher", "plain", "epe_nas")
    },
}


def test_every_network_scoring_baseline_is_a_network_proxy():
    registry = baselines_registry()
    assert set(network_proxies(registry)) == set(registry.names("proxy")) - {"baselines.random"}
    assert set(network_proxies(registry)) == set(LIBRARY_OPTIONS)
    for name in LIBRARY_OPTIONS:
        assert isinstance(registry.create("proxy", name), NetworkProxy)


@pytest.mark.parametrize("name", sorted(LIBRARY_OPTIONS))
def test_score_module_equals_the_study_path_and_leaves_the_network_alone(name, nb201_data):
    registry = baselines_registry()
    options = LIBRARY_OPTIONS[name]
    net_cfg = {k: options[k] for k in ("C", "N")}
    ctx = Context(space=NB201Space(), seed=0, data=nb201_data)
    arch = ctx.space.parse(MIXED)
    proxy = registry.create("proxy", name, **options)
    batch_size = options.get("batch_size", 1)
    batch = fetch_batch(ctx, name, batch_size, getattr(proxy, "augment", False))

    net = seeded_network(name, arch, ctx, net_cfg).eval()  # the caller's network, in eval mode
    state = {k: v.clone() for k, v in net.state_dict().items()}
    by_library = score_module(name, net, batch, registry=registry, **options)
    assert by_library == pytest.approx(proxy.score(arch, ctx), rel=1e-9, abs=0.0)
    assert not net.training and all(m.training is False for m in net.modules())
    after = net.state_dict()
    assert state.keys() == after.keys() and all(torch.equal(state[k], after[k]) for k in state)


def test_score_module_on_random_is_a_config_error_naming_the_network_proxies(nb201_data):
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
    batch = nb201_data.train_batch(0, 4, False)
    with pytest.raises(ConfigError, match=r"'baselines.random' cannot score a bare network.*baselines\.grasp"):
        score_module("baselines.random", net, batch, registry=baselines_registry())


def test_score_module_on_a_plain_torch_network(tiny_data):
    # Library use outside any search space: a network the caller made, a batch of its own.
    torch.manual_seed(0)
    net = relu_net()
    batch = tiny_data.train_batch(0, 16, True)
    for name in ("baselines.grasp", "baselines.fisher", "baselines.plain", "baselines.l2_norm", "baselines.epe_nas"):
        assert math.isfinite(score_module(name, net, batch, registry=baselines_registry()))
