"""A supernet with its mask fixed: an ordinary ``forward(x)`` module, e.g. to count a path's FLOPs."""

from __future__ import annotations

import torch
from torch import nn

from nas_harness.spaces.masks import Mask


class MaskedNetwork(nn.Module):
    """``supernet`` restricted to ``mask``. Its :meth:`active_parameters` are those the path uses."""

    def __init__(self, supernet: nn.Module, mask: Mask) -> None:
        super().__init__()
        self.supernet = supernet
        self.mask = mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.supernet(x, self.mask)

    def active_parameters(self, input_shape: tuple[int, ...] = (1, 3, 32, 32)) -> int:
        """Parameters of the modules that one forward pass through the path runs (each counted once)."""
        used: set[int] = set()
        hooks = [
            m.register_forward_hook(lambda mod, i, o: used.add(id(mod)))
            for m in self.supernet.modules()
            if not list(m.children())
        ]
        try:
            with torch.no_grad():
                self.eval()(torch.zeros(input_shape))
        finally:
            for h in hooks:
                h.remove()
        params = {
            id(p): p.numel() for m in self.supernet.modules() if id(m) in used for p in m.parameters(recurse=False)
        }
        return sum(params.values())
