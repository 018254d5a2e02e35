"""The NAS-Bench-201 weight-sharing supernet, with a per-edge mask of active ops.

Every supernet method uses it through :meth:`NB201Space.build_supernet`: SPOS
activates one op per edge (a single path), MixPath several, TE-NAS prunes from
all of them. The masks follow the space's choice points (``mask[edge][op]``,
see :mod:`nas_harness.spaces.masks`).

A re-implementation of the network TE-NAS prunes (``TinyNetworkDarts`` with
``NAS201SearchCell``, VITA-Group/TENAS ``lib/models/cell_searchs/``): the NB201
macro skeleton (stem, N cells, a stride-2 residual block, N cells, a block, N
cells, BN + ReLU, global pooling, linear classifier) in which every cell edge
holds *all* candidate ops. An edge outputs ``sum_{o active} o(x) / k`` with
``k`` active ops: TE-NAS weights each op by ``softmax(alpha)`` with pruned ops
at ``alpha = -1000``, which is exactly ``1/k`` for the active ones and drops
the rest (TE-NAS section 3.3, "pruning-by-importance"); with one op per edge it
is the plain single-path network.

The ops are those of the NB201 evaluation network (:func:`nas_harness.spaces.nb201_net.make_op`),
so a supernet whose mask keeps one op per edge computes the same function as
:class:`~nas_harness.spaces.nb201_net.NB201Network` for that architecture (tested).

Official configurations (``prune_tenas.py``, NB201 branch):

- NTK network: ``C=3, N=1``, with stem, all 3 stages (``depth=-1``);
- linear-region ("thin") network: ``C=1, N=1, depth=1`` (the first cell only)
  and no stem, fed 1-channel 3x3 crops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from nas_harness.api import ChoicePoint
from nas_harness.options import check_ints
from nas_harness.spaces import nb201_encoding as space
from nas_harness.spaces.masks import Mask, mask_choices, single_path_mask
from nas_harness.spaces.masks import check_mask as check_choice_mask
from nas_harness.spaces.nb201_net import ResNetBasicblock, make_op

NONE = space.OPS.index("none")
POINTS = tuple(ChoicePoint(f"edge_{i}->{j}", space.OPS) for i, j in space.EDGES)  # as NB201Space's


def full_mask(include_none: bool = False) -> Mask:
    """Every op active on every edge; the official code removes ``none`` before the first round."""
    return tuple(tuple(include_none or op != NONE for op in range(len(space.OPS))) for _ in space.EDGES)


def arch_mask(arch: Sequence[int]) -> Mask:
    """The one-op-per-edge mask of an NB201 architecture (a tuple of six op indices)."""
    return single_path_mask(POINTS, space.validate(tuple(arch)))


def remove_op(mask: Mask, edge: int, op: int) -> Mask:
    """``mask`` with ``op`` switched off on ``edge``."""
    return tuple(tuple(on and not (e == edge and o == op) for o, on in enumerate(ops)) for e, ops in enumerate(mask))


def mask_to_arch(mask: Mask) -> tuple[int, ...]:
    """The architecture of a single-path mask."""
    return space.validate(mask_choices(mask))


def check_mask(mask: Mask) -> Mask:
    return check_choice_mask(mask, POINTS)


EdgeNorm = Callable[[int], nn.Module]  # C -> a module called as norm(summed_output, active_mask_of_the_edge)
COMBINE_MODES = ("mean", "sum")


class MixedEdge(nn.Module):
    """All NB201 ops of one edge; ``forward`` combines the active ones.

    ``combine="mean"``: the average (TE-NAS's ``w = 1/k``; one active op: that op).
    ``combine="sum"``: the plain sum (MixPath). ``norm`` (optional, MixPath's
    Shadow BN and its ablations) is applied to the combination, except when
    ``none`` is the only active op: the edge then outputs zeros, as the
    single-path network does.
    """

    def __init__(self, C: int, combine: str = "mean", norm: nn.Module | None = None) -> None:
        super().__init__()
        if combine not in COMBINE_MODES:
            raise ValueError(f"edge combine = {combine!r}; accepted: {', '.join(COMBINE_MODES)}")
        self.ops = nn.ModuleList(make_op(name, C) for name in space.OPS)
        self.combine = combine
        self.norm = norm

    def forward(self, x: torch.Tensor, active: Sequence[bool]) -> torch.Tensor:
        outs = [op(x) for op, on in zip(self.ops, active, strict=True) if on]
        if self.combine == "mean" and len(outs) > 1:
            outs = [y * (1.0 / len(outs)) for y in outs]  # TE-NAS weights each active op by 1/k
        out = outs[0]
        for y in outs[1:]:
            out = out + y
        if self.norm is not None and any(on for o, on in enumerate(active) if o != NONE):
            out = self.norm(out, active)
        return out


class SearchCell(nn.Module):
    """NB201 cell with a :class:`MixedEdge` on each of its six edges (official ``NAS201SearchCell``)."""

    def __init__(self, C: int, combine: str = "mean", edge_norm: EdgeNorm | None = None) -> None:
        super().__init__()
        self.edges = nn.ModuleList(
            MixedEdge(C, combine, edge_norm(C) if edge_norm is not None else None) for _ in space.EDGES
        )
        num_nodes = 1 + max(j for _, j in space.EDGES)
        self.inputs = [[(e, i) for e, (i, to) in enumerate(space.EDGES) if to == j] for j in range(1, num_nodes)]
        self.in_dim = self.out_dim = C

    def forward(self, x: torch.Tensor, mask: Mask) -> torch.Tensor:
        nodes = [x]
        for node_inputs in self.inputs:
            total = None
            for e, i in node_inputs:
                y = self.edges[e](nodes[i], mask[e])
                total = y if total is None else total + y
            nodes.append(total)
        return nodes[-1]


class NB201Supernet(nn.Module):
    """The NB201 supernet (TE-NAS's ``TinyNetworkDarts``); :attr:`mask` picks the active ops.

    Args:
        C, N: channels of the first stage and cells per stage (NB201 trains ``C=16, N=5``;
            TE-NAS measures the NTK at ``C=3, N=1`` and linear regions at ``C=1, N=1``).
        num_classes: classifier outputs.
        depth: keep only the first ``depth`` cells/blocks (``-1``: all; the thin network uses 1).
        use_stem: apply the 3x3 conv + BN stem; without it the input must have ``C`` channels.
        mask: active ops per edge (default :func:`full_mask`); change it with :meth:`set_mask`.
        edge_combine: ``"mean"`` (TE-NAS, default) or ``"sum"`` (MixPath) of an edge's active ops.
        edge_norm: a factory ``C -> module`` of the per-edge normalisation after the combination
            (MixPath's Shadow BN), or None.
    """

    def __init__(
        self,
        C: int = 3,
        N: int = 1,
        num_classes: int = 10,
        *,
        depth: int = -1,
        use_stem: bool = True,
        mask: Mask | None = None,
        edge_combine: str = "mean",
        edge_norm: EdgeNorm | None = None,
    ) -> None:
        super().__init__()
        check_ints("NB201Supernet", C=C, N=N, num_classes=num_classes)
        self.C, self.N, self.num_classes, self.depth, self.use_stem = C, N, num_classes, depth, use_stem
        self.stem = (
            nn.Sequential(nn.Conv2d(3, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))
            if use_stem
            else None
        )
        channels = [C] * N + [2 * C] + [2 * C] * N + [4 * C] + [4 * C] * N
        reductions = [False] * N + [True] + [False] * N + [True] + [False] * N
        self.cells = nn.ModuleList()
        C_prev = C
        for index, (C_curr, reduction) in enumerate(zip(channels, reductions, strict=True)):
            if depth > 0 and index >= depth:
                break
            self.cells.append(
                ResNetBasicblock(C_prev, C_curr) if reduction else SearchCell(C_curr, edge_combine, edge_norm)
            )
            C_prev = C_curr
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        self.mask: Mask = check_mask(mask if mask is not None else full_mask())

    def set_mask(self, mask: Mask) -> NB201Supernet:
        self.mask = check_mask(mask)
        return self

    def forward(self, x: torch.Tensor, mask: Mask | None = None) -> torch.Tensor:
        """Logits through the ops active in ``mask`` (default :attr:`mask`; a passed mask is not checked)."""
        mask = self.mask if mask is None else mask
        feature = self.stem(x) if self.stem is not None else x
        for cell in self.cells:
            feature = cell(feature, mask) if isinstance(cell, SearchCell) else cell(feature)
        out = self.global_pooling(self.lastact(feature)).flatten(1)
        return self.classifier(out)

    def extra_repr(self) -> str:
        active = [sum(ops) for ops in self.mask]
        return f"C={self.C}, N={self.N}, depth={self.depth}, use_stem={self.use_stem}, active_ops={active}"
