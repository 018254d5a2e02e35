"""The NAS-Bench-201 network (nas_harness.spaces.nb201_net) and its cost counts (nas_harness.costs).

The reference data folder (../shared/data/nb201) holds accuracies only, no flops/params
columns, so the official cost figures below are pinned by hand from public copies of
NAS-Bench-201's ``params``/``flops`` fields (sources cited next to each table).
Only the pinned-figure tests build the full C=16, N=5 network; the rest use small C/N.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from nas_harness.api import ArchitectureError
from nas_harness.costs import count_flops, count_params, flops_millions, params_millions
from nas_harness.spaces import nb201 as S
from nas_harness.spaces.nb201_net import NB201Network

NONE, SKIP, CONV1, CONV3, POOL = range(5)
ALL_NONE = (NONE,) * 6
ALL_CONV3 = (CONV3,) * 6

# (official index, official string, params (M), flops (M)) on CIFAR-10, 10 classes, 32x32 input.
# Index 0: automl/NASLib, tests/test_nb201_search_space.py (the dummy API's cost_info, a copy of the
#   benchmark's cifar10-valid entry for this arch; cifar10 and cifar10-valid share the network).
# The other ten: DSW-DWA/kd_vs_hpo, hpo/sampled_architecture_costs.csv (columns params, raw_flops_m,
#   NATS-Bench tss cifar10-valid), with strings from hpo/sampled_architectures_10.jsonl of that repo.
PINNED_CIFAR10 = [
    (
        0,
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        0.129306,
        15.64737,
    ),
    (
        13197,
        "|nor_conv_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|",
        0.344346,
        47.10465,
    ),
    (
        3358,
        "|nor_conv_1x1~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|",
        0.157306,
        19.57953,
    ),
    (
        11898,
        "|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_3x3~2|",
        0.372346,
        51.03681,
    ),
    (
        11570,
        "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|nor_conv_3x3~0|none~1|skip_connect~2|",
        0.344346,
        47.10465,
    ),
    (
        8712,
        "|skip_connect~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|",
        0.101306,
        11.71521,
    ),
    (
        559,
        "|avg_pool_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|",
        0.344346,
        47.10465,
    ),
    (
        1676,
        "|none~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|nor_conv_3x3~1|avg_pool_3x3~2|",
        0.316346,
        43.17249,
    ),
    (
        5750,
        "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_3x3~1|avg_pool_3x3~2|",
        0.615386,
        86.42625,
    ),
    (
        2514,
        "|nor_conv_1x1~0|+|skip_connect~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        0.587386,
        82.49409,
    ),
    (
        7153,
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
        0.344346,
        47.10465,
    ),
]

# The benchmark-wide minimum and maximum (params M, flops M) per data set over all 15,625 cells;
# costs only grow with convolutions, so these belong to the all-none cell (or any cell without
# convolutions) and the all-conv3x3 cell. Source: the README "MO-HPOBenchExperimentUtils" (automl;
# its install steps clone github.com/automl/MO-HPOBenchExperimentUtils), section "Get Bounds for
# Nasbench benchmarks", computed from NAS-Bench-201-v1_1-096897 (CIFAR 10 VALID / CIFAR 100 /
# IMAGE NET = ImageNet16-120, 16x16 input). The CIFAR-10 pair also appears as min/max constants in
# other public NAS code (EvoXBench-based NAS-Bench-201 wrappers).
BOUNDS = [
    # data set, classes, input side, (min params, min flops), (max params, max flops)
    ("cifar10", 10, 32, (0.073306, 7.78305), (1.531546, 220.11969)),
    ("cifar100", 100, 32, (0.079156, 7.7889), (1.537396, 220.12554)),
    ("ImageNet16-120", 120, 16, (0.080456, 1.9534), (1.538696, 55.03756)),
]


def _costs(arch, num_classes: int = 10, side: int = 32) -> tuple[float, float]:
    model = NB201Network(arch, C=16, N=5, num_classes=num_classes)
    return params_millions(model), flops_millions(model, (1, 3, side, side))


# -- (a) official figures ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "arch_str", "params", "flops"), PINNED_CIFAR10, ids=[f"#{r[0]}" for r in PINNED_CIFAR10]
)
def test_costs_match_nas_bench_201(index: int, arch_str: str, params: float, flops: float) -> None:
    assert S.index_to_arch(index) == S.parse(arch_str)  # the source's index and string agree
    # Exact: the official fields are count / 1e6, which these are too.
    assert _costs(arch_str) == (params, flops)


@pytest.mark.parametrize(("dataset", "classes", "side", "low", "high"), BOUNDS, ids=[b[0] for b in BOUNDS])
def test_extremes_are_all_none_and_all_conv3x3(dataset: str, classes: int, side: int, low, high) -> None:
    assert _costs(ALL_NONE, classes, side) == low
    assert _costs(ALL_CONV3, classes, side) == high


def test_ops_without_weights_cost_nothing() -> None:
    # NAS-Bench-201 counts no FLOPs for pooling (its hooks time them but compute_average_flops_cost
    # leaves them out): #1676 above (one conv3x3, four avg_pool_3x3) and #0 confirm it; so every
    # cell of only none/skip/pool costs the benchmark minimum.
    low = BOUNDS[0][3]
    for arch in [(SKIP,) * 6, (POOL,) * 6, (POOL, SKIP, NONE, POOL, SKIP, NONE)]:
        assert _costs(arch) == low


@pytest.mark.realdata
def test_pinned_indices_match_the_real_table(shared_data: Path) -> None:
    """The sources above name architectures by index; the official table agrees on the strings."""
    frame = pd.read_csv(shared_data / "nb201" / "nb201_test_accuracy.csv", usecols=["ArchitectureString"])
    for index, arch_str, _, _ in PINNED_CIFAR10:
        assert frame["ArchitectureString"].iloc[index] == arch_str


# -- (b) forward -----------------------------------------------------------------------


def test_forward_shape_for_a_batch_of_two() -> None:
    torch.manual_seed(0)
    model = NB201Network((CONV3, SKIP, CONV1, POOL, NONE, CONV3), C=4, N=1)
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    assert model.forward_features(torch.randn(2, 3, 32, 32)).shape == (2, 16)  # 4C channels


def test_all_none_network_runs_and_ignores_its_input() -> None:
    torch.manual_seed(0)
    model = NB201Network(ALL_NONE, C=4, N=1)
    out = model(torch.randn(2, 3, 32, 32))  # training mode, batch statistics
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    model.eval()
    with torch.no_grad():
        a, b = model(torch.randn(2, 3, 32, 32)), model(10 * torch.randn(2, 3, 32, 32))
    # every cell outputs zeros, so nothing of the image reaches the classifier
    assert torch.equal(a[0], a[1]) and torch.equal(a, b)


def test_string_and_tuple_build_the_same_network() -> None:
    arch = (CONV3, SKIP, CONV1, POOL, NONE, CONV3)
    torch.manual_seed(0)
    m1 = NB201Network(arch, C=4, N=1)
    torch.manual_seed(0)
    m2 = NB201Network(S.to_str(arch), C=4, N=1)
    assert m1.arch == m2.arch == arch
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(m1(x), m2(x))


def test_module_names_follow_the_official_tiny_network() -> None:
    # Names as in xautodl TinyNetwork / InferCell / ResNetBasicblock, so official state_dicts line up.
    keys = set(NB201Network(ALL_CONV3, C=4, N=2).state_dict())
    for key in [
        "stem.0.weight",
        "stem.1.running_mean",
        "cells.0.layers.0.op.1.weight",  # cell 0, edge 0->1: ReLU, Conv, BN
        "cells.0.layers.5.op.2.bias",
        "cells.2.conv_a.op.1.weight",  # first reduction block sits after N=2 cells
        "cells.2.conv_b.op.2.weight",
        "cells.2.downsample.1.weight",  # AvgPool2d, then the 1x1 conv
        "cells.5.downsample.1.weight",
        "cells.7.layers.3.op.1.weight",  # 3N + 2 = 8 blocks in all
        "lastact.0.weight",
        "classifier.weight",
        "classifier.bias",
    ]:
        assert key in keys, key
    assert not any(k.startswith("cells.8.") for k in keys)


# -- (c) backward ------------------------------------------------------------------------


def test_backward_pass_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    model = NB201Network((CONV3, CONV1, SKIP, POOL, CONV3, CONV1), C=4, N=1)
    loss = nn.functional.cross_entropy(model(torch.randn(2, 3, 32, 32)), torch.tensor([1, 7]))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


# -- (d) bad architectures --------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "named"),
    [
        ((0, 1, 2, 3, 4, 5), "5"),
        ((0, 1, 2, 3, 4, -1), "-1"),
        ((0, 1, 2), "(0, 1, 2)"),
        ((0, 1, 2, 3, 4, "x"), "'x'"),
        ("|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "nor_conv_5x5"),
        ("|none~0|+|none~0|", "|none~0|+|none~0|"),
    ],
)
def test_bad_architecture_raises_naming_the_value(arch, named: str) -> None:
    with pytest.raises(ArchitectureError) as info:
        NB201Network(arch, C=4, N=1)
    assert named in str(info.value)


def test_bad_sizes_raise() -> None:
    with pytest.raises(ValueError, match=r"NB201Network: C = 0; accepted: a positive integer"):
        NB201Network(ALL_NONE, C=0)


# -- (e) costs per op --------------------------------------------------------------------


def test_parameter_count_per_op() -> None:
    C, N = 4, 2
    base = count_params(NB201Network(ALL_NONE, C=C, N=N))

    def per_edge(weights_per_channel_pair: int) -> int:
        # one edge in each of the N cells of each stage (C, 2C, 4C): conv weights + BN weight and bias
        return N * sum(weights_per_channel_pair * c * c + 2 * c for c in (C, 2 * C, 4 * C))

    added = {NONE: 0, SKIP: 0, POOL: 0, CONV1: per_edge(1), CONV3: per_edge(9)}
    for op, extra in added.items():
        for edge in (0, 5):
            arch = tuple(op if e == edge else NONE for e in range(6))
            assert count_params(NB201Network(arch, C=C, N=N)) == base + extra, (S.OPS[op], edge)
    assert added[CONV3] > added[CONV1] > 0


def test_flop_count_per_op() -> None:
    C, N = 4, 1
    base = count_flops(NB201Network(ALL_NONE, C=C, N=N))
    # stages at 32x32, 16x16, 8x8 with C, 2C, 4C channels; a k x k conv costs h*w*c*c*k*k MACs
    stages = [(32 * 32, C), (16 * 16, 2 * C), (8 * 8, 4 * C)]
    for op, k2 in [(CONV1, 1), (CONV3, 9)]:
        arch = (op,) + (NONE,) * 5
        assert count_flops(NB201Network(arch, C=C, N=N)) == base + N * sum(hw * c * c * k2 for hw, c in stages)
    for op in (SKIP, POOL):
        assert count_flops(NB201Network((op,) * 6, C=C, N=N)) == base


# -- nas_harness.costs on plain modules ------------------------------------------------------


def test_count_rules_on_plain_layers() -> None:
    model = nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1, groups=2, bias=True),  # 8x8 out: 64*8*(4/2)*9 + 8*64
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),  # pooling is not counted
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 3),  # 128*3 + 3
    )
    assert count_flops(model, (2, 4, 8, 8)) == 64 * 8 * 2 * 9 + 8 * 64 + 128 * 3 + 3
    assert count_params(model) == (8 * 2 * 9 + 8) + 16 + (128 * 3 + 3)
    conv1d = nn.Conv1d(3, 5, 3, bias=False)  # 10 outputs: 10*5*3*3
    assert count_flops(conv1d, (1, 3, 12)) == 450


def test_count_flops_leaves_the_model_as_it_was() -> None:
    model = NB201Network((CONV3,) * 6, C=4, N=1)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    one, three = count_flops(model, (1, 3, 32, 32)), count_flops(model, (3, 3, 32, 32))
    assert one == three  # per sample
    assert model.training
    assert all(not m._forward_hooks for m in model.modules())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # eval mode: BN stats untouched
    with pytest.raises(ValueError, match="input_shape"):
        count_flops(model, (0, 3, 32, 32))
