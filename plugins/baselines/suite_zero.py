"""The rest of NAS-Bench-Suite-Zero's proxies: grasp, fisher, plain, l2_norm and EPE-NAS.

NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022 Datasets and Benchmarks) scores 13 zero-cost proxies
with NASLib's ``find_measures``, whose measures are zero-cost-nas' (``foresight/pruners/measures/*.py``,
Abdelfattah et al., ICLR 2021) plus ``l2_norm``, ``epe_nas``, ``nwot`` and ``zen``. Each proxy here computes
what its measure computes and sums it as ``find_measures`` does (``sum_arr``: the sum over every Conv2d /
Linear weight of the per-weight array), on the seeded network and shared batch of :mod:`.zero_cost`:

========== ========== ======= =========== ===================================================================
proxy      batch_size augment BN          source of the defaults
========== ========== ======= =========== ===================================================================
grasp      64         yes     train mode  zero-cost-nas ``grasp.py`` (T = 1, num_iters = 1) and
                                          ``nasbench2_pred.py --batch_size 64``
fisher     64         yes     train mode  zero-cost-nas ``fisher.py``, same batch
plain      64         yes     train mode  zero-cost-nas ``plain.py``, same batch
l2_norm    (none)     --      --          NASLib ``l2_norm.py`` (weights only, no data)
epe_nas    256        yes     train mode  EPE-NAS ``search.py`` (``--batch_size 256 --evaluate_size 256``,
                                          NB201 train transforms: crop + flip)
========== ========== ======= =========== ===================================================================

Directions: ``find_measures`` treats every measure as "higher is better" and the authors report their
correlations that way; each proxy here is MAXIMIZE on the value as those code bases compute it (grasp's
minus sign is part of its formula there; see :class:`GraspProxy`).

A disconnected architecture (``space.is_disconnected``) raises :class:`~.common.DegenerateNetworkError` before
any network is built, and ``score_network`` raises it for a network whose logits are the same for every image
of the batch: the original code returns a number there (0 or a constant), which would rank a network that
ignores its input. Non-finite results come back as NaN (a failure the runner records), as in :mod:`.zero_cost`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nas_harness.api import Arch, ConfigError, Context, Direction, Proxy
from nas_harness.proxy_kit import fetch_batch, reject_disconnected, seeded_network
from nas_harness_plugins.baselines.common import (
    check_input_dependence,
    finite_or_nan,
    input_jacobians,
    weight_gradients,
    weight_layers,
)
from nas_harness_plugins.baselines.zero_cost import _BatchProxy

__all__ = ["EpeNasProxy", "FisherProxy", "GraspProxy", "L2NormProxy", "PlainProxy", "epe_nas_score"]


class _ConnectedBatchProxy(_BatchProxy):
    """A :class:`_BatchProxy` that refuses disconnected architectures before building their network."""

    def score(self, arch: Arch, ctx: Context) -> float:
        x, y = fetch_batch(ctx, self.name, self.batch_size, self.augment)  # first: fails fast without data
        reject_disconnected(self.name, arch, ctx)
        net = seeded_network(self.name, arch, ctx, self.net_cfg)
        return self.score_network(net, x, y)


class GraspProxy(_ConnectedBatchProxy):
    """GraSP: sum over Conv/Linear weights of -theta * (H g), g = dL/dtheta, H the Hessian of L (cross-entropy).

    Options besides ``batch_size`` / ``augment``: ``T`` (softmax temperature, default 1 as in zero-cost-nas;
    the GraSP pruning code uses T = 200). Direction MAXIMIZE: zero-cost-nas / NASLib return -theta * Hg (the
    sign of the paper's S(-theta), which GraSP prunes by) and rank architectures by its sum, higher first;
    their comment: "accuracy seems to be negatively correlated with this metric, so we add -ve sign here".
    Declaring MAXIMIZE on that value keeps their reported correlation signs.

    Deviation: g and Hg come from one forward pass (zero-cost-nas runs it twice, with ``num_iters = 1``;
    the two passes give the same numbers for a network without random layers such as dropout).
    """

    # Wang, Zhang & Grosse, "Picking Winning Tickets Before Training by Preserving Gradient Flow", ICLR 2020,
    # sec. 4 eq. (8): S(-theta) = -theta ⊙ H g. zero-cost-nas grasp.py: g = dL/dw without a graph, then
    # z = sum_l g_l · dL/dw_l (with a graph), Hg = dz/dw; weights of Conv2d/Linear only, BN in training mode.
    name = "baselines.grasp"

    def __init__(self, batch_size: int = 64, augment: bool = True, T: float = 1, **net_cfg: Any) -> None:
        super().__init__(batch_size, augment, **net_cfg)
        if isinstance(T, bool) or not isinstance(T, (int, float)) or not (math.isfinite(T) and T > 0):
            raise ConfigError(f"{self.name}: T must be a positive number, got {T!r}")
        self.T = float(T)

    def hessian_gradient(
        self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(weight, H g)`` per Conv/Linear layer (zeros for a weight the loss does not reach)."""
        net.train()
        weights = [m.weight for m in weight_layers(net)]
        outputs = net(inputs)
        check_input_dependence(self.name, outputs)
        loss = F.cross_entropy(outputs / self.T, targets)
        if not weights or not loss.requires_grad:
            return [(w, torch.zeros_like(w)) for w in weights]
        grad_f = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
        z = sum(((g.detach() * g).sum() for g in grad_f if g is not None), torch.zeros((), device=loss.device))
        hg = torch.autograd.grad(z, weights, allow_unused=True) if z.requires_grad else (None,) * len(weights)
        return [(w, torch.zeros_like(w) if h is None else h) for w, h in zip(weights, hg, strict=True)]

    def score_network(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        total = sum((-w.detach() * h).sum().item() for w, h in self.hessian_gradient(net, inputs, targets))
        return finite_or_nan(total)


class FisherProxy(_ConnectedBatchProxy):
    """Fisher pruning saliency of every Conv/Linear output channel, summed as ``find_measures`` sums it.

    Per channel k of a layer with output activations a and loss gradients g = dL/da (L: mean cross-entropy),
    Delta_k = 1/2 * mean_n (sum_{h,w} a_nkhw g_nkhw)^2. zero-cost-nas ``fisher.py`` broadcasts each
    channel's Delta_k to every weight of that channel (``reshape_elements``) and ``find_measures`` sums the
    weights, so the score is sum over layers and channels of Delta_k * (weights per output channel:
    in_channels / groups * kernel area, in_features for Linear). That weighting is the original's, kept for
    parity with NAS-Bench-Suite-Zero. A module called more than once adds a Delta for each call.
    """

    # Theis et al., "Faster gaze prediction with dense networks and Fisher pruning", 2018, sec. 2.2 eq. (8);
    # as a NAS score, Turner et al., "BlockSwap", ICLR 2020, sec. 4, and Abdelfattah et al., ICLR 2021, sec. 3.
    # zero-cost-nas fisher.py: activations at the output of each Conv2d/Linear (bias included), one batch,
    # BN in training mode, g_nk = sum over spatial dims of act * grad, del_k = g_nk.pow(2).mean(0).mul(0.5).
    name = "baselines.fisher"

    def channel_saliencies(
        self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
    ) -> list[tuple[nn.Module, torch.Tensor]]:
        """``(layer, Delta)`` per Conv/Linear layer, Delta ``[out_channels]`` (zeros for an unreached layer)."""
        net.train()
        layers = weight_layers(net)
        calls: list[tuple[nn.Module, torch.Tensor]] = []

        def keep(module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
            calls.append((module, output))
            return output.clone()  # what follows sees a copy: an in-place op there leaves `output` as it was

        handles = [m.register_forward_hook(keep) for m in layers]
        try:
            outputs = net(inputs)
        finally:
            for h in handles:
                h.remove()
        check_input_dependence(self.name, outputs)
        loss = F.cross_entropy(outputs, targets)
        used = [(m, a) for m, a in calls if a.requires_grad] if loss.requires_grad else []
        grads = torch.autograd.grad(loss, [a for _, a in used], allow_unused=True) if used else ()
        saliency: dict[int, torch.Tensor] = {}
        for (module, act), grad in zip(used, grads, strict=True):
            if grad is None:
                continue
            act, grad = act.detach(), grad.detach()
            if isinstance(module, nn.Linear):  # features last: [N, ..., K] -> [N, K, rest]
                act = act.reshape(act.shape[0], -1, act.shape[-1]).transpose(1, 2)
                grad = grad.reshape(grad.shape[0], -1, grad.shape[-1]).transpose(1, 2)
            g_nk = (act * grad).flatten(2).sum(2) if act.dim() > 2 else act * grad
            delta = g_nk.pow(2).mean(0).mul(0.5)
            saliency[id(module)] = saliency[id(module)] + delta if id(module) in saliency else delta
        return [(m, saliency.get(id(m), torch.zeros(m.weight.shape[0], device=m.weight.device))) for m in layers]

    def score_network(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        total = sum(
            (delta.abs() * m.weight[0].numel()).sum().item()  # broadcast to each channel's weights, summed
            for m, delta in self.channel_saliencies(net, inputs, targets)
        )
        return finite_or_nan(total)


class PlainProxy(_ConnectedBatchProxy):
    """Sum over Conv/Linear weights of theta * dL/dtheta (signed; L: mean cross-entropy of one batch)."""

    # Abdelfattah et al., ICLR 2021, sec. 3 ("plain": the gradient times the weight, the first-order
    # Taylor term of the loss, without SNIP's absolute value); zero-cost-nas plain.py:
    # ``layer.weight.grad * layer.weight`` per Conv2d/Linear layer, summed by find_measures.
    name = "baselines.plain"

    def score_network(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        net.train()
        outputs = net(inputs)
        check_input_dependence(self.name, outputs)
        grads = weight_gradients(F.cross_entropy(outputs, targets), net)
        total = sum((w.detach() * g).sum().item() for w, g in grads)
        return finite_or_nan(total)


class L2NormProxy(Proxy):
    """Sum over Conv/Linear layers of the L2 (Frobenius) norm of the weight at initialisation. No data.

    Options: network options for ``space.build`` (``C``, ``N``, ``num_classes``...). ``score_network``
    ignores its batch.
    """

    # NASLib l2_norm.py (NAS-Bench-Suite-Zero, sec. 3): ``get_layer_metric_array(net, lambda l:
    # l.weight.norm(), mode)`` over Conv2d/Linear layers, summed by find_measures; no biases, no BN.
    name = "baselines.l2_norm"
    direction = Direction.MAXIMIZE

    def __init__(self, **net_cfg: Any) -> None:
        self.net_cfg = net_cfg

    def score(self, arch: Arch, ctx: Context) -> float:
        reject_disconnected(self.name, arch, ctx)
        net = seeded_network(self.name, arch, ctx, self.net_cfg)
        return self.score_network(net, torch.empty(0), torch.empty(0, dtype=torch.long))

    def score_network(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        with torch.no_grad():
            total = sum(torch.linalg.vector_norm(m.weight).item() for m in weight_layers(net))
        return finite_or_nan(total)


def epe_nas_score(jacobians: np.ndarray, labels: np.ndarray, n_classes: int, k: float = 1e-5) -> float:
    """EPE-NAS's score of Jacobians ``[B, D]`` with integer ``labels`` ``[B]``, ``n_classes`` the output size.

    Per class c present in the batch: C_c the correlation matrix of its images' Jacobians,
    s_c = sum_ij log(|C_c,ij| + k) (divided by the class's image count when n_classes > 100). Score: sum_c |s_c|
    when n_classes <= 100, else sum_{c,c'} |s_c - s_c'| / (classes seen). As the official ``eval_score_perclass``,
    a class with one image has C_c = [[1]] when n_classes <= 100 and is left out otherwise (there the original's
    ``len()`` of the 0-d ``np.corrcoef`` raises and the class is skipped).
    """
    jacobians = np.asarray(jacobians, dtype=np.float64)
    labels = np.asarray(labels)
    scores = []
    with np.errstate(all="ignore"):  # a constant Jacobian gives NaN correlations: a NaN score
        for c in dict.fromkeys(labels.tolist()):  # classes in order of first appearance, as the original's dict
            rows = jacobians[labels == c]
            corrs = np.corrcoef(rows if len(rows) > 1 else rows[0])
            s = float(np.sum(np.log(np.abs(corrs) + k)))
            if n_classes > 100:
                if corrs.ndim == 0:
                    continue
                s /= len(corrs)
            scores.append(s)
    if n_classes <= 100:
        return float(sum(abs(s) for s in scores))  # eq. "B)"
    if not scores:
        return math.nan
    return float(sum(abs(s - t) for s in scores for t in scores) / len(scores))  # eq. "A)"


class EpeNasProxy(_ConnectedBatchProxy):
    """EPE-NAS: how uncorrelated the input Jacobians of the images of each class are (:func:`epe_nas_score`).

    The Jacobian of an image is d(sum of the network's outputs)/d(image), as in jacob_cov; n_classes is the
    network's output size. Options: ``batch_size`` (default 256), ``augment`` (default true), network
    options. Direction MAXIMIZE: the official search picks ``np.nanargmax`` of the scores.

    Deviation: when no class has two images in the batch, the original returns a constant (B log(1 + k), or
    0 beyond 100 classes) whatever the network; this raises a :class:`ConfigError` asking for a larger batch.
    """

    # Lopes, Alirezazadeh & Alexandre, "EPE-NAS: Efficient Performance Estimation Without Training for Neural
    # Architecture Search", ICANN 2021 (arXiv:2102.08099), sec. 3; official code VascoLopes/EPE-NAS search.py
    # (eval_score_perclass, k = 1e-5, batch 256, network in training mode), copied into NASLib's epe_nas.py.
    name = "baselines.epe_nas"
    min_batch_size = 2

    def __init__(self, batch_size: int = 256, augment: bool = True, **net_cfg: Any) -> None:
        super().__init__(batch_size, augment, **net_cfg)

    def score_network(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        J, outputs = input_jacobians(net.train(), inputs)
        check_input_dependence(self.name, outputs)
        labels = targets.detach().cpu().numpy()
        if len(set(labels.tolist())) == len(labels):
            raise ConfigError(
                f"{self.name}: no class has two images in the batch of {len(labels)}, so there is no per-class "
                f"correlation to score; use a larger batch_size"
            )
        if not torch.isfinite(J).all():
            return math.nan
        return finite_or_nan(epe_nas_score(J.cpu().numpy(), labels, int(outputs.shape[-1])))
