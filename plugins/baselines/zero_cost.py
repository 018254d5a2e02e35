"""Zero-cost proxies: synflow, snip, grad_norm, jacob_cov (Abdelfattah et al., ICLR 2021) and NASWOT (Mellor et al.).

Each scores one freshly initialised network, built by the study's search space
from ``derived_seed(proxy name, study seed, arch string)``. The data-dependent
ones read train batch 0 of the study's shared stream (``ctx.data``), so every
architecture is scored on the same images. Defaults follow the authors' code:

========== ========== ======= ================================================
proxy      batch_size augment source of the defaults
========== ========== ======= ================================================
synflow    (none)     --      all-ones input of the data's shape, float64
snip       64         yes     zero-cost-nas ``nasbench2_pred.py --batch_size 64``
grad_norm  64         yes     same
jacob_cov  64         yes     same (``k = 1e-5`` in ``jacob_cov.py``)
naswot     128        no      nas-without-training ``scorehook.sh``:
                              ``--batch_size 128 --augtype none``
========== ========== ======= ================================================

``augment`` is the NAS-Bench-201 random crop + flip of the shared train
stream; zero-cost-nas draws its batch from an augmenting CIFAR train loader,
NASWOT removes the crop and flip (``augtype none``).

Networks are the search space's own (for NB201 the official TinyNetwork:
BN with affine weights, convs without bias), in training mode as in both
code bases (zero-cost-nas' ``get_prunable_copy`` calls ``train()``; NASWOT never
calls ``eval()``), so BN normalises with the batch's own statistics.
zero-cost-nas scored its own NB201 re-implementation instead, whose cell convs
have a bias and whose cell BNs have no affine weights or running statistics,
and whose ``bn=False`` copy (used for synflow) still keeps the BNs of the two
reduction blocks; here synflow removes every BN layer.
Non-finite results come back as NaN, which the runner records as a failure.

Every proxy here also scores a bare network (``score_network(net, inputs, targets)``, the
:class:`~nas_harness.api.NetworkProxy` protocol behind :func:`nas_harness.proxy_library.score_module`);
``score(arch, ctx)`` is exactly: build the seeded network, fetch the batch, ``score_network``.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from nas_harness.api import Arch, ConfigError, Context, Direction, Proxy
from nas_harness.proxy_kit import check_batch_size, fetch_batch, seeded_network
from nas_harness_plugins.baselines.common import (
    finite_or_nan,
    input_jacobians,
    on_relu,
    placeholder_batch,
    remove_batchnorm,
    weight_gradients,
)

__all__ = ["GradNormProxy", "JacobCovProxy", "NaswotProxy", "SnipProxy", "SynflowProxy"]


class SynflowProxy(Proxy):
    """Synaptic flow: sum over Conv/Linear weights of |theta * dR/dtheta| on the linearised network.

    Options: ``input_size`` (square side of the all-ones input when the study
    has no data; default: the data's shape, else 3x32x32), plus network options
    for ``space.build`` (``C``, ``N``, ``num_classes``...). ``score_network`` reads
    the image shape from its ``inputs`` (``input_size`` is the study path's).
    """

    # Tanaka et al., NeurIPS 2020, sec. 4 eq. (1): synaptic saliency S(theta) = dR/dtheta ⊙ theta; sec. 6:
    # R_SF = 1^T (prod_l |theta^[l]|) 1, i.e. the summed output of the network with absolute-valued
    # weights on an all-ones input. As a NAS score (Abdelfattah et al., ICLR 2021, sec. 3): the sum of
    # S over all parameters, computed in float64 with BN disabled (zero-cost-nas registers
    # ``synflow`` with ``bn=False``). Only Conv2d/Linear weights are summed, as in zero-cost-nas.
    name = "baselines.synflow"
    direction = Direction.MAXIMIZE

    def __init__(self, input_size: int | None = None, **net_cfg: Any) -> None:
        if input_size is not None and (
            isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1
        ):
            raise ConfigError(f"{self.name}: input_size must be a positive int, got {input_size!r}")
        self.input_size = input_size
        self.net_cfg = net_cfg

    def input_shape(self, ctx: Context) -> tuple[int, ...]:
        if self.input_size is not None:
            channels = ctx.data.input_shape[0] if ctx.data is not None else 3
            return (channels, self.input_size, self.input_size)
        if ctx.data is not None:
            return tuple(ctx.data.input_shape)
        return (3, 32, 32)

    def score(self, arch: Arch, ctx: Context) -> float:
        net = seeded_network(self.name, arch, ctx, self.net_cfg)
        return self.score_network(net, *placeholder_batch(self.input_shape(ctx), ctx.device))

    def score_network(self, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Synflow of ``net`` (modified: BN removed, float64, absolute weights) on all-ones of ``inputs``' shape."""
        remove_batchnorm(net)  # "BN disabled": the network without its BN layers
        net = net.double().eval()  # eval: nothing random (no BN is left to care about the mode)
        with torch.no_grad():
            for p in net.parameters():
                p.abs_()  # linearise: |theta| (the network is a copy, so no signs are restored)
        x = torch.ones((1, *inputs.shape[1:]), dtype=torch.float64, device=inputs.device)
        R = net(x).sum()
        total = sum(((w * g).abs().sum() for w, g in weight_gradients(R, net)), torch.zeros((), dtype=torch.float64))
        return finite_or_nan(total)


class _BatchProxy(Proxy):
    """A proxy that scores the network on train batch 0 of the study's data (``batch_size``, ``augment``)."""

    direction = Direction.MAXIMIZE
    min_batch_size = 1

    def __init__(self, batch_size: int = 64, augment: bool = True, **net_cfg: Any) -> None:
        self.batch_size = check_batch_size(self.name, batch_size, self.min_batch_size)
        if not isinstance(augment, bool):
            raise ConfigError(f"{self.name}: augment must be true or false, got {augment!r}")
        self.augment = augment
        self.net_cfg = net_cfg

    def network_and_batch(self, arch: Arch, ctx: Context) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
        x, y = fetch_batch(ctx, self.name, self.batch_size, self.augment)  # first: fails fast without data
        net = seeded_network(self.name, arch, ctx, self.net_cfg).train()
        return net, x, y

    def score(self, arch: Arch, ctx: Context) -> float:
        net, x, y = self.network_and_batch(arch, ctx)
        return self.score_network(net, x, y)

    @abc.abstractmethod
    def score_network(self, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """The score of ``net`` (put in training mode, as both code bases score it) on the batch."""

    @staticmethod
    def loss_gradients(
        net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(weight, dL/dweight)`` per Conv/Linear layer, L the mean cross-entropy of the batch (training mode)."""
        net.train()
        return weight_gradients(F.cross_entropy(net(inputs), targets), net)


class SnipProxy(_BatchProxy):
    """SNIP connection sensitivity summed over Conv/Linear weights: sum |theta * dL/dtheta| (L: cross-entropy)."""

    # Lee et al., ICLR 2019, eq. (6): the saliency |dL/dc_j| of a connection mask c at c = 1, which equals
    # |dL/dtheta_j * theta_j|; as a NAS score (Abdelfattah et al., ICLR 2021, sec. 3) summed over all
    # parameters (zero-cost-nas ``snip.py``: Conv2d/Linear weights, one batch, BN in training mode).
    name = "baselines.snip"

    def score_network(self, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        total = sum((w * g).abs().sum().item() for w, g in self.loss_gradients(net, inputs, targets))
        return finite_or_nan(total)


class GradNormProxy(_BatchProxy):
    """Sum over Conv/Linear layers of the L2 (Frobenius) norm of dL/dW (L: cross-entropy of one batch)."""

    # Abdelfattah et al., ICLR 2021, sec. 3 ("grad_norm": the Euclidean norm of the gradients after one
    # minibatch); zero-cost-nas ``grad_norm.py`` sums the per-layer norms ``weight.grad.norm()``.
    name = "baselines.grad_norm"

    def score_network(self, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        total = sum(torch.linalg.vector_norm(g).item() for _, g in self.loss_gradients(net, inputs, targets))
        return finite_or_nan(total)


class JacobCovProxy(_BatchProxy):
    """Correlation of the input Jacobians of a batch: -sum_i [log(v_i + k) + 1 / (v_i + k)], v the eigenvalues.

    Options besides ``batch_size`` / ``augment``: ``k`` (default 1e-5, as in zero-cost-nas ``jacob_cov.py``).
    """

    # Mellor et al., "Neural Architecture Search without Training", arXiv:2006.04647 v1, sec. 3: J_i =
    # d(sum of outputs)/dx_i per image, Sigma_J their correlation matrix with eigenvalues v, score
    # S = -sum_i [log(v_i + k) + (v_i + k)^-1], k = 1e-5; used as ``jacob_cov`` by Abdelfattah et al.
    # (ICLR 2021, sec. 3). zero-cost-nas: one batch of 64, BN in training mode, np.corrcoef + np.linalg.eig.
    name = "baselines.jacob_cov"
    min_batch_size = 2

    def __init__(self, batch_size: int = 64, augment: bool = True, k: float = 1e-5, **net_cfg: Any) -> None:
        super().__init__(batch_size, augment, **net_cfg)
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not k > 0:
            raise ConfigError(f"{self.name}: k must be a positive number, got {k!r}")
        self.k = float(k)

    def jacobians(self, arch: Arch, ctx: Context) -> np.ndarray:
        """``[B, C*H*W]`` float64: row i is d(sum of the network's outputs)/d(image i)."""
        net, x, _ = self.network_and_batch(arch, ctx)
        return self.network_jacobians(net, x)

    @staticmethod
    def network_jacobians(net: torch.nn.Module, inputs: torch.Tensor) -> np.ndarray:
        """:meth:`jacobians` of a given network (put in training mode) on ``inputs``."""
        # An output that does not depend on the input gives zero Jacobians (and a NaN score).
        return input_jacobians(net.train(), inputs)[0].cpu().numpy()

    def score_network(self, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        J = self.network_jacobians(net, inputs)
        if not np.isfinite(J).all():
            return float("nan")
        with np.errstate(all="ignore"):  # constant rows give NaN correlations, negative v + k a NaN log
            corr = np.corrcoef(J)
            if not np.isfinite(corr).all():
                return float("nan")
            v = np.linalg.eigvalsh(corr)  # symmetric: real eigenvalues (zero-cost-nas uses np.linalg.eig)
            return finite_or_nan(-np.sum(np.log(v + self.k) + 1.0 / (v + self.k)))


class NaswotProxy(_BatchProxy):
    """NASWOT: log|det K_H|, K_H[i, j] = N_A - Hamming distance of the binary ReLU codes of images i and j.

    The codes are ``output > 0`` of every call of an ``nn.ReLU`` module during one forward pass
    (N_A: the number of such units), accumulated over all of them. Options: ``batch_size``
    (default 128), ``augment`` (default false), network options.
    """

    # Mellor et al., ICML 2021 ("Neural Architecture Search without Training", v2), sec. 3: binary codes c_i
    # of the rectified linear units for each image, K_H = [N_A - d_H(c_i, c_j)], score s = log|K_H|.
    # nas-without-training ``score_networks.py``: forward hooks on every ReLU add x x^T + (1-x)(1-x)^T
    # (x = the code) to K, then ``np.linalg.slogdet(K)[1]``; batch 128, no augmentation, training mode.
    # The original only counts ReLUs that a backward pass reached; here every ReLU called in the forward
    # pass counts, the same set when each ReLU feeds the output (as in NAS-Bench-201).
    name = "baselines.naswot"
    min_batch_size = 2

    def __init__(self, batch_size: int = 128, augment: bool = False, **net_cfg: Any) -> None:
        super().__init__(batch_size, augment, **net_cfg)

    def kernel(self, arch: Arch, ctx: Context) -> np.ndarray:
        """K_H as float64 ``[B, B]``."""
        net, x, _ = self.network_and_batch(arch, ctx)
        return self.network_kernel(net, x)

    @staticmethod
    def network_kernel(net: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
        """:meth:`kernel` of a given network (put in training mode) on the images ``x``."""
        net.train()
        B = x.shape[0]
        K = torch.zeros((B, B), dtype=torch.float64, device=x.device)

        def add_codes(out: torch.Tensor) -> None:
            nonlocal K
            codes = out.detach().flatten(1) > 0
            n = codes.shape[1]
            # Counts up to n are exact in float32 below 2**24.
            c = codes.to(torch.float32 if n < 2**24 else torch.float64)
            on = c.sum(1)
            both_on = c @ c.T
            both_off = n - on[:, None] - on[None, :] + both_on  # (1 - c)(1 - c)^T without a second product
            K += (both_on + both_off).to(torch.float64)

        with torch.no_grad(), on_relu(net, add_codes):
            net(x)
        return K.cpu().numpy()

    def score_network(self, net: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        _, logdet = np.linalg.slogdet(self.network_kernel(net, inputs))
        return finite_or_nan(logdet)  # a singular K (e.g. no ReLU, identical codes) gives -inf: NaN
