"""The weight-sharing supernet of MixPath's S4 (:mod:`nas_harness.spaces.nb101_s4`).

NAS-Bench-101's skeleton (paper section 2.1): a 3x3 conv-BN-ReLU stem of ``C`` channels, 3 stacks
of ``N`` cells with a 2x2 max-pool between stacks that doubles the channels, global average
pooling, a dense classifier. Each cell mirrors the NB101 cell of an S4 architecture: every slot
holds its three candidate ops, each behind its own 1x1 conv-BN-ReLU input projection (NB101
projects every edge out of the cell input to the vertex's channels); the active slots' outputs
are summed, normalised by ``fusion_norm`` (MixPath's Shadow BN and its ablations; none for SPOS),
and go through the fusion vertex's 1x1 conv-BN-ReLU. One active slot computes exactly the NB101
network of that single-path cell, with the same layers.

``forward(x, mask)``: ``mask[s]`` is slot ``s``'s options (``none`` and the three ops); a slot is
active when one of its ops is on. ``fusion_combine = "mean"`` divides the sum by the number of
active slots (MixPath's scaling ablation).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from nasbench_pytorch.model.base_ops import OP_MAP, ConvBnRelu
from torch import nn

from nas_harness.options import check_ints
from nas_harness.spaces.masks import Mask
from nas_harness.spaces.nb101_s4_encoding import SLOT_OPTIONS, SLOTS

FusionNorm = Callable[[int], nn.Module]


class S4Cell(nn.Module):
    def __init__(self, C_in: int, C_out: int, combine: str, fusion_norm: FusionNorm | None) -> None:
        super().__init__()
        # slot s, op o (1-based in SLOT_OPTIONS): projection then op, as NB101's input edge + vertex
        self.paths = nn.ModuleList(
            nn.ModuleList(
                nn.Sequential(ConvBnRelu(C_in, C_out, 1), OP_MAP[op](C_out, C_out)) for op in SLOT_OPTIONS[1:]
            )
            for _ in range(SLOTS)
        )
        self.combine = combine
        self.norm = fusion_norm(C_out) if fusion_norm is not None else None
        self.fusion = ConvBnRelu(C_out, C_out, 1)

    def forward(self, x: torch.Tensor, mask: Mask) -> torch.Tensor:
        outs, active = [], []
        for slot, options in zip(self.paths, mask, strict=True):
            on = [o for o, flag in enumerate(options) if flag and o > 0]
            if len(on) > 1:
                raise ValueError(f"S4 supernet: a slot holds one op, the mask activates {len(on)}")
            active.append(bool(on))
            if on:
                outs.append(slot[on[0] - 1](x))
        if not outs:
            raise ValueError("S4 supernet: the mask activates no slot; an S4 cell needs at least one path")
        total = outs[0]
        for y in outs[1:]:
            total = total + y
        if self.combine == "mean":
            total = total / len(outs)
        if self.norm is not None:
            total = self.norm(total, active)
        return self.fusion(total)


class S4Supernet(nn.Module):
    """MixPath's S4 supernet on NAS-Bench-101's skeleton.

    Args:
        C, N: stem channels (NB101: 128) and cells per stack (NB101: 3).
        num_classes: classifier outputs.
        edge_combine: ``"sum"`` (default) or ``"mean"`` of the active slots (the name the
            weight-sharing estimators pass for every space).
        edge_norm: a factory ``C -> module`` called as ``norm(summed, active_slots)`` after the
            combination (MixPath's Shadow BN), or None.
    """

    def __init__(
        self,
        C: int = 128,
        N: int = 3,
        num_classes: int = 10,
        *,
        edge_combine: str = "sum",
        edge_norm: FusionNorm | None = None,
    ) -> None:
        super().__init__()
        check_ints("S4Supernet", C=C, N=N, num_classes=num_classes)
        if edge_combine not in ("sum", "mean"):
            raise ValueError(f"S4Supernet: edge_combine = {edge_combine!r}; accepted: 'sum', 'mean'")
        self.C, self.N = C, N
        self.stem = ConvBnRelu(3, C, 3, 1, 1)
        layers: list[nn.Module] = []
        channels = C
        for stack in range(3):
            if stack > 0:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            for cell in range(N):
                out = 2 * channels if stack > 0 and cell == 0 else channels
                layers.append(S4Cell(channels, out, edge_combine, edge_norm))
                channels = out
        self.layers = nn.ModuleList(layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor, mask: Mask) -> torch.Tensor:
        feature = self.stem(x)
        for layer in self.layers:
            feature = layer(feature, mask) if isinstance(layer, S4Cell) else layer(feature)
        return self.classifier(feature.mean(dim=(2, 3)))
