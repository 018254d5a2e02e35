"""The NAS-Bench-201 evaluation network (Dong & Yang, ICLR 2020, section 2.1 and figure 1).

A re-implementation of the official ``TinyNetwork`` (AutoDL-Projects,
``xautodl/models/cell_infers/tiny_network.py``, ``cells.py`` and
``xautodl/models/cell_operations.py``)::

    stem (3x3 conv + BN)
    -> N cells (C channels)  -> residual block, stride 2 -> N cells (2C)
    -> residual block, stride 2 -> N cells (4C)
    -> BN + ReLU -> global average pool -> linear classifier

Every cell is the same searched cell. Module names and nesting follow the
official code (``stem``, ``cells.<k>.layers.<e>.op.<i>``, ``lastact``,
``classifier``), so parameter counts and ``state_dict`` keys agree with it.

torch is imported here, so :mod:`nas_harness.spaces.nb201` stays light; import
this module only where a network is built.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_harness.options import check_ints
from nas_harness.spaces import nb201_encoding as space

__all__ = ["InferCell", "NB201Network", "ReLUConvBN", "ResNetBasicblock", "Zero", "make_op"]


class Zero(nn.Module):
    """The ``none`` op: a zero tensor of the input's shape (official ``Zero``, stride 1, C_in == C_out)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x * 0 rather than zeros_like: the official keeps the graph (NaN/inf stay NaN, as there).
        return x.mul(0.0)


class ReLUConvBN(nn.Module):
    """ReLU -> Conv (no bias) -> BN(affine, tracked stats); official ``ReLUConvBN`` with affine=True."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__()
        # Attribute name ``op`` and the Sequential's order match the official parameter names.
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=True, track_running_stats=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def make_op(name: str, C: int) -> nn.Module:
    """One cell edge's op on C channels at stride 1 (official ``OPS`` table, ``cell_operations.py``)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(C, C, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(C, C, 3, 1, 1)
    if name == "avg_pool_3x3":
        # Official POOLING with C_in == C_out: no preprocess conv, just the pool.
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}; accepted: {', '.join(space.OPS)}")


class InferCell(nn.Module):
    """The searched cell (paper section 2.1): node j = sum over i < j of op_{i->j}(node i); node 3 is the output.

    ``layers[e]`` is the op on edge ``space.EDGES[e]`` (official ``InferCell`` builds its layers in
    the same order: node by node, inputs in increasing order).
    """

    def __init__(self, arch: tuple[int, ...], C: int) -> None:
        super().__init__()
        self.arch = space.validate(arch)
        self.layers = nn.ModuleList(make_op(space.OPS[op], C) for op in self.arch)
        # inputs[j - 1]: the (edge index, source node) pairs that node j sums
        num_nodes = 1 + max(j for _, j in space.EDGES)
        self.inputs = [[(e, i) for e, (i, to) in enumerate(space.EDGES) if to == j] for j in range(1, num_nodes)]
        self.in_dim = self.out_dim = C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node_inputs in self.inputs:
            nodes.append(sum(self.layers[e](nodes[i]) for e, i in node_inputs))
        return nodes[-1]

    def extra_repr(self) -> str:
        return f"C={self.out_dim}, arch={space.to_str(self.arch)}"


class ResNetBasicblock(nn.Module):
    """The stride-2 reduction between stages (official ``ResNetBasicblock`` with stride=2).

    conv_a: ReLUConvBN 3x3 stride 2; conv_b: ReLUConvBN 3x3 stride 1;
    shortcut: AvgPool2d(2, 2) then a 1x1 conv without bias (and no BN); output = shortcut + conv_b.
    """

    def __init__(self, C_in: int, C_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(C_in, C_out, kernel_size=1, stride=1, padding=0, bias=False),
        )
        self.in_dim, self.out_dim = C_in, C_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 network for one cell (official ``TinyNetwork(C, N, genotype, num_classes)``).

    ``arch``: a 6-tuple of op indices (``nas_harness.spaces.nb201``) or the official string
    ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``. NAS-Bench-201 trains C=16, N=5 (17 blocks,
    paper section 2.3). :meth:`forward` returns the logits only (the official returns
    ``(features, logits)``); :meth:`forward_features` returns the pooled features.
    """

    def __init__(self, arch: tuple[int, ...] | str, C: int = 16, N: int = 5, num_classes: int = 10) -> None:
        super().__init__()
        self.arch = space.parse(arch) if isinstance(arch, str) else space.validate(arch)
        check_ints("NB201Network", C=C, N=N, num_classes=num_classes)
        self.C, self.N, self.num_classes = C, N, num_classes

        self.stem = nn.Sequential(nn.Conv2d(3, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))
        # One flat ModuleList as in the official (cells.0 .. cells.{3N+1}): N cells, block, N cells, block, N cells.
        self.cells = nn.ModuleList()
        C_prev = C
        for stage, C_curr in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                self.cells.append(ResNetBasicblock(C_prev, C_curr))
            self.cells.extend(InferCell(self.arch, C_curr) for _ in range(N))
            C_prev = C_curr
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of shape (batch, 4C): the official forward's first output."""
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature)
        return self.global_pooling(self.lastact(feature)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, num_classes)."""
        return self.classifier(self.forward_features(x))

    def extra_repr(self) -> str:
        return f"C={self.C}, N={self.N}, num_classes={self.num_classes}, arch={space.to_str(self.arch)}"
