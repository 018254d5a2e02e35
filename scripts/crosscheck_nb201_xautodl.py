"""Cross-check harness's NB201 network and FLOP counter against the official code (xautodl).

Not part of the test suite: xautodl 1.0.0 pins an old numpy, so it is installed without its
dependencies into a scratch environment:

    pip install --no-deps xautodl==1.0.0
    python scripts/crosscheck_nb201_xautodl.py --archs 40

For each architecture (index 0, 1676, 13197 and random ones) it checks that the state_dict
keys, order and shapes equal the official TinyNetwork's, that logits and features agree with
the official weights loaded, and that FLOPs and parameter counts equal get_model_infos'.
"""

from __future__ import annotations

import argparse
import random

import torch

from nas_harness.costs import count_params, flops_millions
from nas_harness.spaces import nb201 as S
from nas_harness.spaces.nb201_net import NB201Network


def check(index: int, input_size: int) -> None:
    from xautodl.models.cell_infers.tiny_network import TinyNetwork
    from xautodl.models.cell_searchs.genotypes import Structure
    from xautodl.utils.flop_benchmark import get_model_infos

    arch = S.index_to_arch(index)
    official = TinyNetwork(16, 5, Structure.str2structure(S.to_str(arch)), 10).eval()
    ours = NB201Network(arch).eval()
    theirs = official.state_dict()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, v.shape) for k, v in theirs.items()], index
    ours.load_state_dict(theirs)
    x = torch.randn(2, 3, input_size, input_size)
    with torch.no_grad():
        features, logits = official(x)
        assert torch.allclose(ours(x), logits, atol=1e-6), index
        assert torch.allclose(ours.forward_features(x), features, atol=1e-6), index
    shape = (1, 3, input_size, input_size)
    official_flops, _ = get_model_infos(official, shape)
    assert abs(flops_millions(ours, shape) - official_flops) < 1e-9, index
    assert count_params(ours) == sum(p.numel() for p in official.parameters()), index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=40, help="random architectures besides the pinned ones")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    indexes = [0, 1676, 13197, *random.Random(args.seed).sample(range(S.NUM_ARCHS), args.archs)]
    for index in indexes:
        for size in (32, 16):  # CIFAR and ImageNet16-120 input sizes
            check(index, size)
    print(f"{len(indexes)} architectures x 2 input sizes: identical to xautodl TinyNetwork / get_model_infos")


if __name__ == "__main__":
    main()
