"""Shadow Batch Normalization and the ablations of MixPath (its method section and ablation study).

Summing k paths changes the statistics of a block's output with k: for roughly
independent paths of similar statistics the mean grows about k-fold and the
variance about k^2-fold. One BN shared by every k (``vanilla``) mixes these
regimes, which is why one-shot ranking collapses with multi-path sampling.

- ``sbn`` (the paper's linear SBN, default): m BNs per edge, the k-th normalising
  the sum of k active paths;
- ``vanilla``: one BN per edge, whatever k;
- ``exponential``: one BN per combination of active ops (sum over k <= m of
  C(n, k) BNs per edge);
- ``scaling``: no BN after the sum, which is divided by k (the mean of the paths).

Each norm module is called as ``norm(summed, active)`` with the edge's active-op
mask; :func:`variant_network` turns a variant into the supernet's
``edge_combine`` / ``edge_norm`` arguments.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch
from torch import nn

VARIANTS = ("sbn", "vanilla", "exponential", "scaling")


def _active(active: Sequence[bool], solo: Sequence[int]) -> tuple[int, ...]:
    return tuple(j for j, on in enumerate(active) if on and j not in solo)


class ShadowBN(nn.Module):
    """MixPath's linear Shadow BN: ``bns[k - 1]`` normalises the sum of k active paths."""

    def __init__(self, C: int, m: int, solo: Sequence[int] = ()) -> None:
        super().__init__()
        self.bns = nn.ModuleList(nn.BatchNorm2d(C) for _ in range(m))
        self.solo = tuple(solo)

    def index(self, active: Sequence[bool]) -> int:
        k = len(_active(active, self.solo))
        if not 1 <= k <= len(self.bns):
            raise ValueError(f"ShadowBN: {k} active paths; this supernet has BNs for 1..{len(self.bns)}")
        return k - 1

    def forward(self, x: torch.Tensor, active: Sequence[bool]) -> torch.Tensor:
        return self.bns[self.index(active)](x)


class SharedBN(nn.Module):
    """The ``vanilla`` ablation: one BN for every number of paths."""

    def __init__(self, C: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(C)

    def forward(self, x: torch.Tensor, active: Sequence[bool]) -> torch.Tensor:
        return self.bn(x)


class ExponentialBN(nn.Module):
    """The ``exponential`` ablation: one BN per combination of up to m combinable ops."""

    def __init__(self, C: int, m: int, combinable: Sequence[int], solo: Sequence[int] = ()) -> None:
        super().__init__()
        self.solo = tuple(solo)
        keys = [self.key(c) for k in range(1, m + 1) for c in itertools.combinations(sorted(combinable), k)]
        self.bns = nn.ModuleDict({key: nn.BatchNorm2d(C) for key in keys})

    @staticmethod
    def key(ops: Sequence[int]) -> str:
        return "ops_" + "_".join(str(j) for j in ops)

    def forward(self, x: torch.Tensor, active: Sequence[bool]) -> torch.Tensor:
        key = self.key(_active(active, self.solo))
        if key not in self.bns:
            raise ValueError(f"ExponentialBN: no BN for the op combination {key}")
        return self.bns[key](x)


def variant_network(
    variant: str, m: int, options: Sequence[str], solo_names: Sequence[str] = ("none",)
) -> tuple[str, Callable[[int], nn.Module] | None]:
    """(edge_combine, edge_norm factory) of ``variant`` for a choice point with ``options``."""
    solo = [j for j, name in enumerate(options) if name in solo_names]
    combinable = [j for j in range(len(options)) if j not in solo]
    if variant == "sbn":
        return "sum", lambda C: ShadowBN(C, m, solo)
    if variant == "vanilla":
        return "sum", lambda C: SharedBN(C)
    if variant == "exponential":
        return "sum", lambda C: ExponentialBN(C, m, combinable, solo)
    if variant == "scaling":
        return "mean", None
    raise ValueError(f"MixPath variant {variant!r}; accepted: {', '.join(VARIANTS)}")


def shadow_statistics(net: nn.Module) -> dict[str, float]:
    """How the trained Shadow BNs' running statistics scale with k (the paper's Fig. 3 argument).

    For k = 2..m: the median over every SBN in ``net`` of mean|mu_k| / mean|mu_1| and of
    mean(var_k) / mean(var_1); the paper expects about k and k^2.
    """
    ratios: dict[int, tuple[list[float], list[float]]] = {}
    for module in net.modules():
        if not isinstance(module, ShadowBN):
            continue
        base_mu = module.bns[0].running_mean.abs().mean()
        base_var = module.bns[0].running_var.mean()
        for k, bn in enumerate(module.bns[1:], start=2):
            mus, vs = ratios.setdefault(k, ([], []))
            mus.append(float(bn.running_mean.abs().mean() / base_mu))
            vs.append(float(bn.running_var.mean() / base_var))
    out = {}
    for k, (mus, vs) in sorted(ratios.items()):
        out[f"sbn_mean_ratio_{k}"] = float(torch.tensor(mus).median())
        out[f"sbn_var_ratio_{k}"] = float(torch.tensor(vs).median())
    return out
