"""The NAS-Bench-101 network, built with the ``nasbench-pytorch`` package.

Paper section 2.1: a 3x3 conv-BN-ReLU stem with ``C`` channels (128), then 3 stacks of ``N``
cells (3), a 2x2 max-pool between stacks that doubles the channels, global average pooling and
a dense layer. ``nasbench-pytorch`` (Hong & Kadlecova) follows the official TensorFlow
``model_builder`` closely; three adjustments make it the official network:

- Parameter count. ``nasbench_pytorch.model.model.Placeholder`` (the module standing in for
  vertex 0's op and for every vertex without an input projection) holds one scalar
  ``nn.Parameter`` that no forward pass uses. The official model has no such variables, so its
  ``trainable_parameters`` (the records' count) lacks them. They are replaced here by
  parameter-free ``nn.Identity`` (the forward never calls them), which makes the count the
  official one. Each cell holds two (vertex 0's op and input-projection slots) plus one per
  vertex that the input does not feed: the first reference cell (every vertex fed by the input)
  gets 2 x 9 cells = 18 parameters more from ``nasbench-pytorch`` than the official count
  (4,095,796 vs 4,095,778). The official README cell counts 2,694,282 here, as its record's
  ``trainable_parameters``; ``tests/test_nb101_space.py`` pins both.
- Batch norm: the official model uses ``momentum=0.997`` in TensorFlow's convention (the share
  of the old running average); PyTorch's ``momentum`` is the share of the new batch, so the
  equivalent is ``1 - 0.997 = 0.003``. The package passes 0.997 in PyTorch's convention to
  some layers and PyTorch's default 0.1 to the cell ops; every BN layer gets ``bn_momentum``
  here (default 0.003, official; short trainings may want a larger value).
- Initialisation: ``tf_like=True`` (the package's TensorFlow-like option: conv weights
  ``N(0, 1/fan_in)`` as ``tf.variance_scaling_initializer()``, dense Glorot-uniform).
"""

from __future__ import annotations

import numpy as np
from nasbench_pytorch.model import Network
from nasbench_pytorch.model.model import Placeholder
from torch import nn

from nas_harness.spaces.nb101_cells import Cell

#: TensorFlow's BN momentum 0.997 in PyTorch's convention (paper section 2.1, ``model_builder.py``)
OFFICIAL_BN_MOMENTUM = 1 - 0.997
BN_EPS = 1e-5


def _drop_placeholders(module: nn.Module) -> int:
    """Replace every unused ``Placeholder`` in ``module`` by a parameter-free ``nn.Identity``; returns how many."""
    replaced = 0
    for name, child in list(module.named_children()):
        if isinstance(child, Placeholder):
            setattr(module, name, nn.Identity())
            replaced += 1
        else:
            replaced += _drop_placeholders(child)
    return replaced


def build_network(
    cell: Cell,
    C: int = 128,
    N: int = 3,
    num_stacks: int = 3,
    num_classes: int = 10,
    in_channels: int = 3,
    bn_momentum: float = OFFICIAL_BN_MOMENTUM,
) -> nn.Module:
    """The NAS-Bench-101 network of ``cell`` with ``C`` stem channels and ``N`` cells per stack."""
    interior = cell.num_vertices - 2
    if interior > C:
        # the output's channels are split between the vertices feeding it: each needs at least one
        raise ValueError(f"NAS-Bench-101 network: C = {C} is too narrow for a cell of {cell.num_vertices} vertices")
    net = Network(
        (np.array(cell.matrix), list(cell.ops)),
        num_labels=num_classes,
        in_channels=in_channels,
        stem_out_channels=C,
        num_stacks=num_stacks,
        num_modules_per_stack=N,
        momentum=bn_momentum,
        eps=BN_EPS,
        tf_like=True,
    )
    _drop_placeholders(net)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = bn_momentum
    return net


def trainable_parameters(net: nn.Module) -> int:
    """The number of trainable parameters (the official ``trainable_parameters`` for a built network)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
