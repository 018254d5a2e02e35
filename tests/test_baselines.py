"""The yardstick proxies of plugins/baselines against formulas worked out by hand on tiny networks.

Tiny networks come from a one-off search space whose ``build`` calls a factory;
images come from a real :class:`BatchProvider` over a generated data set. The
hand computations rebuild the proxy's network the documented way
(``torch.manual_seed(derived_seed(proxy name, seed, arch string))`` then
``space.build``) and read the same batch (``train_batch(0, B, augment)``).
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from nas_harness.api import ConfigError, Context, Direction, Proxy
from nas_harness.data import BatchProvider
from nas_harness.seeding import derived_seed
from nas_harness.spaces.nb201 import NB201Space
from nas_harness.testing import FactorySpace
from nas_harness_plugins.baselines.plugin import PROXIES
from nas_harness_plugins.baselines.proxies import FlopsProxy, ParamsProxy, RandomProxy
from nas_harness_plugins.baselines.zero_cost import (
    GradNormProxy,
    JacobCovProxy,
    NaswotProxy,
    SnipProxy,
    SynflowProxy,
)
from tests.helpers.proxy_fixtures import image_data

DATA_PROXIES = (SnipProxy, GradNormProxy, JacobCovProxy, NaswotProxy)
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
MIXED = "|avg_pool_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|skip_connect~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tiny_data() -> BatchProvider:
    """4x4 RGB images (48 inputs), 3 classes."""
    return BatchProvider(image_data(), seed=0)


@pytest.fixture(scope="module")
def nb201_data() -> BatchProvider:
    """8x8 RGB images, 10 classes: enough for NB201's two stride-2 reductions."""
    return BatchProvider(image_data(n_train=300, size=8, n_classes=10), seed=0)


def linear2(bias=False, relu=False, batchnorm=False, hidden=5, num_classes=3, in_features=48):
    """Flatten -> Linear(48, hidden) [-> BN] [-> ReLU] -> Linear(hidden, num_classes)."""
    layers = [nn.Flatten(), nn.Linear(in_features, hidden, bias=bias)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(hidden))
    if relu:
        layers.append(nn.ReLU())
    layers.append(nn.Linear(hidden, num_classes, bias=bias))
    return nn.Sequential(*layers)


def relu_net(num_classes=3):
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(48, 16),
        nn.ReLU(),
        nn.Linear(16, 8),
        nn.ReLU(inplace=True),
        nn.Linear(8, num_classes),
    )


def tiny_ctx(factories, data=None, seed=0) -> Context:
    return Context(space=FactorySpace(factories), seed=seed, data=data)


def same_network(proxy_name: str, ctx: Context, arch, **net_cfg) -> nn.Module:
    """The network a proxy scores, rebuilt the documented way."""
    torch.manual_seed(derived_seed(proxy_name, ctx.seed, ctx.space.to_str(arch)))
    return ctx.space.build(arch, **net_cfg)


def f64(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float64)


# --------------------------------------------------------------------------- registration, directions


def test_every_baseline_is_registered_with_a_direction():
    from nas_harness.registry import get_registry

    names = set(get_registry().names("proxy"))
    expected = {
        "baselines.params",
        "baselines.flops",
        "baselines.random",
        "baselines.synflow",
        "baselines.snip",
        "baselines.grad_norm",
        "baselines.jacob_cov",
        "baselines.naswot",
    }
    assert expected <= names
    assert {cls.name for cls in PROXIES} == expected
    for cls in PROXIES:
        assert issubclass(cls, Proxy) and cls.direction is Direction.MAXIMIZE


def test_paper_defaults():
    assert (SnipProxy().batch_size, SnipProxy().augment) == (64, True)
    assert (GradNormProxy().batch_size, JacobCovProxy().batch_size, JacobCovProxy().k) == (64, 64, 1e-5)
    assert (NaswotProxy().batch_size, NaswotProxy().augment) == (128, False)
    assert SynflowProxy().input_size is None


@pytest.mark.parametrize("cls", DATA_PROXIES)
@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "64"])
def test_bad_batch_size_is_a_config_error(cls, bad):
    with pytest.raises(ConfigError, match="batch_size"):
        cls(batch_size=bad)


# --------------------------------------------------------------------------- params, random


def test_params_equals_the_sum_of_parameter_sizes():
    ctx = tiny_ctx({"b": lambda: linear2(bias=True)})
    # Linear(48, 5) with bias + Linear(5, 3) with bias
    assert ParamsProxy().score("b", ctx) == 48 * 5 + 5 + 5 * 3 + 3
    # NAS-Bench-201's published size of the all-conv3x3 cell at C=16, N=5 (1.531546 M params)
    nb = Context(space=NB201Space(), seed=0)
    assert ParamsProxy().score(nb.space.parse(ALL_CONV3), nb) == 1_531_546


def test_random_is_reproducible_for_a_seed_and_differs_across_seeds():
    space = NB201Space()
    archs = space.sample_unique(20, random.Random(0))
    proxy = RandomProxy()
    a = [proxy.score(x, Context(space=space, seed=0)) for x in archs]
    b = [RandomProxy().score(x, Context(space=space, seed=0)) for x in archs]
    c = [proxy.score(x, Context(space=space, seed=1)) for x in archs]
    assert a == b
    assert all(0.0 <= v < 1.0 for v in a + c)
    assert all(x != y for x, y in zip(a, c, strict=True))
    assert len(set(a)) == len(a)


# --------------------------------------------------------------------------- synflow


@pytest.mark.parametrize("bias", [False, True])
def test_synflow_of_a_two_layer_linear_network_equals_its_closed_form(bias):
    # Network f(x) = W2 g(W1 x + b1) + b2 with g = BN then ReLU; synflow removes BN, takes |.| of every
    # parameter and feeds x = 1, so g is the identity and
    #   R = 1^T |W2| a + sum|b2|,     a = |W1| 1 + |b1|,     s = 1^T |W2|  (row vector).
    # dR/dW2_ij = a_j  ->  sum_ij |W2_ij| a_j = s . a
    # dR/dW1_jk = s_j  ->  sum_jk |W1_jk| s_j = s . (|W1| 1)
    # Biases are not summed (zero-cost-nas scores Conv/Linear weights only), so
    #   synflow = s . (|W1| 1) + s . a, which is 2 R when there are no biases.
    ctx = tiny_ctx({"n": lambda **cfg: linear2(bias=bias, relu=True, batchnorm=True, **cfg)})
    score = SynflowProxy(input_size=4).score("n", ctx)  # no data: an all-ones 3x4x4 input (48 features)

    net = same_network("baselines.synflow", ctx, "n")
    W1, W2 = f64(net[1].weight).abs(), f64(net[4].weight).abs()
    b1 = f64(net[1].bias).abs() if bias else torch.zeros(5, dtype=torch.float64)
    b2 = f64(net[4].bias).abs() if bias else torch.zeros(3, dtype=torch.float64)
    ones = torch.ones(48, dtype=torch.float64)
    s = W2.sum(0)
    a = W1 @ ones + b1
    expected = float(s @ (W1 @ ones) + s @ a)
    R = float(s @ a + b2.sum())
    assert score == pytest.approx(expected, rel=1e-12)
    if not bias:
        assert score == pytest.approx(2 * R, rel=1e-12)
    else:
        assert score != pytest.approx(2 * R, rel=1e-6)  # the biases make a difference the formula tracks


def test_synflow_takes_the_input_shape_from_the_data(tiny_data):
    ctx = tiny_ctx({"n": lambda **cfg: linear2(**cfg)}, data=tiny_data)
    assert SynflowProxy().input_shape(ctx) == (3, 4, 4)
    assert SynflowProxy().input_shape(tiny_ctx({})) == (3, 32, 32)
    assert math.isfinite(SynflowProxy().score("n", ctx))


# --------------------------------------------------------------------------- snip, grad_norm


def linear_gradients(net, x, y):
    """dL/dW1, dL/dW2 of L = mean cross-entropy of logits = x W1^T W2^T, by the chain rule (float64)."""
    W1, W2 = f64(net[1].weight), f64(net[2].weight)
    X = f64(x.flatten(1))
    H = X @ W1.T
    logits = H @ W2.T
    G = (torch.softmax(logits, 1) - torch.nn.functional.one_hot(y, logits.shape[1]).to(torch.float64)) / len(y)
    return W1, W2, (G @ W2).T @ X, G.T @ H


def test_snip_and_grad_norm_against_the_chain_rule(tiny_data):
    ctx = tiny_ctx({"n": lambda **cfg: linear2(**cfg)}, data=tiny_data)
    x, y = tiny_data.train_batch(0, 16, True)

    W1, W2, dW1, dW2 = linear_gradients(same_network("baselines.snip", ctx, "n", num_classes=3), x, y)
    snip = float((W1 * dW1).abs().sum() + (W2 * dW2).abs().sum())
    assert SnipProxy(batch_size=16).score("n", ctx) == pytest.approx(snip, rel=1e-4)

    _, _, dW1, dW2 = linear_gradients(same_network("baselines.grad_norm", ctx, "n", num_classes=3), x, y)
    grad_norm = float(dW1.norm() + dW2.norm())
    assert GradNormProxy(batch_size=16).score("n", ctx) == pytest.approx(grad_norm, rel=1e-4)
    # the sum of per-layer norms, not the norm of all gradients together
    assert grad_norm != pytest.approx(float(torch.sqrt(dW1.norm() ** 2 + dW2.norm() ** 2)), rel=1e-3)


def test_snip_uses_the_unaugmented_batch_when_told(tiny_data):
    ctx = tiny_ctx({"n": lambda **cfg: linear2(**cfg)}, data=tiny_data)
    x, y = tiny_data.train_batch(0, 16, False)
    W1, W2, dW1, dW2 = linear_gradients(same_network("baselines.snip", ctx, "n", num_classes=3), x, y)
    snip = float((W1 * dW1).abs().sum() + (W2 * dW2).abs().sum())
    assert SnipProxy(batch_size=16, augment=False).score("n", ctx) == pytest.approx(snip, rel=1e-4)


# --------------------------------------------------------------------------- jacob_cov


def jacob_cov_formula(J: np.ndarray, k: float = 1e-5) -> float:
    Z = J - J.mean(1, keepdims=True)
    Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    v = np.linalg.eigvalsh(Z @ Z.T)
    return float(-np.sum(np.log(v + k) + 1 / (v + k)))


def test_jacob_cov_of_a_linear_network_is_a_closed_form(tiny_data):
    # f(x) = W x: every image has the same Jacobian W^T 1, so the correlation matrix is all ones, with
    # eigenvalues B (once) and 0 (B - 1 times): score = -[log(B+k) + 1/(B+k) + (B-1) (log k + 1/k)].
    B, k = 8, 1e-5
    ctx = tiny_ctx({"w": lambda num_classes: nn.Sequential(nn.Flatten(), nn.Linear(48, num_classes))}, data=tiny_data)
    expected = -(math.log(B + k) + 1 / (B + k) + (B - 1) * (math.log(k) + 1 / k))
    assert JacobCovProxy(batch_size=B).score("w", ctx) == pytest.approx(expected, rel=1e-6)


def test_jacob_cov_of_a_relu_network_against_its_jacobians_by_hand(tiny_data):
    # f(x) = W3 relu(W2 relu(W1 x + b1) + b2) + b3: d(sum f)/dx = W1^T D1 W2^T D2 W3^T 1, D the ReLU masks.
    B = 8
    ctx = tiny_ctx({"r": relu_net}, data=tiny_data)
    net = same_network("baselines.jacob_cov", ctx, "r", num_classes=3)
    x, _ = tiny_data.train_batch(0, B, True)
    X = f64(x.flatten(1))
    W1, b1, W2, b2, W3 = (f64(t) for t in (net[1].weight, net[1].bias, net[3].weight, net[3].bias, net[5].weight))
    h1 = X @ W1.T + b1
    h2 = torch.relu(h1) @ W2.T + b2
    J = ((W3.sum(0) * (h2 > 0)) @ W2 * (h1 > 0)) @ W1
    assert J.shape == (B, 48)
    expected = jacob_cov_formula(J.numpy())
    assert JacobCovProxy(batch_size=B).jacobians("r", ctx) == pytest.approx(J.numpy(), rel=1e-4, abs=1e-6)
    assert JacobCovProxy(batch_size=B).score("r", ctx) == pytest.approx(expected, rel=1e-4)


# --------------------------------------------------------------------------- NASWOT


def test_naswot_kernel_is_the_hamming_similarity_of_relu_codes(tiny_data):
    B = 8
    ctx = tiny_ctx({"r": relu_net}, data=tiny_data)
    proxy = NaswotProxy(batch_size=B)
    K = proxy.kernel("r", ctx)

    net = same_network("baselines.naswot", ctx, "r", num_classes=3)
    x, _ = tiny_data.train_batch(0, B, False)  # NASWOT: no augmentation
    X = f64(x.flatten(1))
    W1, b1, W2, b2 = (f64(t) for t in (net[1].weight, net[1].bias, net[3].weight, net[3].bias))
    h1 = X @ W1.T + b1
    h2 = torch.relu(h1) @ W2.T + b2
    codes = torch.cat([h1 > 0, h2 > 0], 1).numpy()  # one binary code of N_A = 16 + 8 units per image
    N_A = codes.shape[1]
    by_hand = np.empty((B, B))
    for i in range(B):
        for j in range(B):
            hamming = sum(int(codes[i, u] != codes[j, u]) for u in range(N_A))
            by_hand[i, j] = N_A - hamming

    assert np.array_equal(K, by_hand)
    assert np.all(np.diag(K) == N_A)
    sign, logdet = np.linalg.slogdet(by_hand)
    assert sign > 0
    assert proxy.score("r", ctx) == pytest.approx(logdet, rel=1e-12)


def test_naswot_counts_every_call_of_a_relu_module(tiny_data):
    # One ReLU module applied twice contributes twice (as the forward hooks of the original do).
    class Twice(nn.Module):
        def __init__(self, num_classes=3):
            super().__init__()
            self.fc1, self.fc2, self.out = nn.Linear(48, 16), nn.Linear(16, 16), nn.Linear(16, num_classes)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.out(self.act(self.fc2(self.act(self.fc1(x.flatten(1))))))

    ctx = tiny_ctx({"t": Twice}, data=tiny_data)
    K = NaswotProxy(batch_size=8).kernel("t", ctx)
    assert np.all(np.diag(K) == 32)


def test_naswot_without_relus_is_nan_not_an_error(tiny_data):
    ctx = tiny_ctx({"l": lambda **cfg: linear2(**cfg)}, data=tiny_data)
    assert math.isnan(NaswotProxy(batch_size=8).score("l", ctx))


# --------------------------------------------------------------------------- data requirements


@pytest.mark.parametrize("cls", DATA_PROXIES)
def test_a_data_proxy_without_data_is_a_config_error(cls):
    ctx = tiny_ctx({"r": relu_net})
    with pytest.raises(ConfigError, match=r"\[data\]"):
        cls().score("r", ctx)


def test_data_free_proxies_need_no_data():
    ctx = Context(space=NB201Space(), seed=0)
    arch = ctx.space.parse(MIXED)
    for proxy in (ParamsProxy(C=4, N=1), FlopsProxy(C=4, N=1), RandomProxy()):
        assert math.isfinite(proxy.score(arch, ctx))
    assert math.isfinite(SynflowProxy(C=4, N=1).score(arch, ctx))


# --------------------------------------------------------------------------- small NAS-Bench-201 networks


def small(cls):
    """The proxy with a C=4, N=1 network and (for data proxies) a batch of 16."""
    if cls in DATA_PROXIES:
        return cls(batch_size=16, C=4, N=1)
    if cls is RandomProxy:
        return cls()
    return cls(C=4, N=1)


@pytest.mark.parametrize("cls", PROXIES, ids=lambda c: c.name)
def test_each_proxy_scores_small_nb201_networks_finitely_and_reproducibly(cls, nb201_data):
    space = NB201Space()
    arch, other = space.parse(MIXED), space.parse(ALL_CONV3)
    ctx = Context(space=space, seed=0, data=nb201_data)
    before = torch.random.get_rng_state()

    first = small(cls).score(arch, ctx)
    again = small(cls).score(arch, Context(space=space, seed=0, data=nb201_data))
    assert math.isfinite(first) and isinstance(first, float)
    assert first == again
    assert small(cls).score(other, ctx) != first
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's torch RNG is left alone

    if cls not in (ParamsProxy, FlopsProxy):  # the size counts do not depend on the initialisation
        seed1 = Context(space=space, seed=1, data=BatchProvider(nb201_data.dataset, seed=1))
        assert small(cls).score(arch, seed1) != first


def test_num_classes_defaults_to_the_data_sets(nb201_data):
    ctx = Context(space=NB201Space(), seed=0, data=nb201_data)
    arch = ctx.space.parse(MIXED)
    with_default = GradNormProxy(batch_size=16, C=4, N=1).score(arch, ctx)
    assert GradNormProxy(batch_size=16, C=4, N=1, num_classes=10).score(arch, ctx) == with_default
    assert GradNormProxy(batch_size=16, C=4, N=1, num_classes=12).score(arch, ctx) != with_default


@pytest.mark.parametrize("cls", [JacobCovProxy, NaswotProxy])
def test_a_network_whose_output_ignores_its_input_scores_nan(cls, nb201_data):
    # All-'none' cells: the output does not depend on the image, so the Jacobians are zero (jacob_cov) and
    # every image has the same ReLU code (NASWOT): the runner should record a failure, not crash.
    ctx = Context(space=NB201Space(), seed=0, data=nb201_data)
    assert math.isnan(small(cls).score(ctx.space.parse(ALL_NONE), ctx))
