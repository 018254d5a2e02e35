"""Choose the NB201 architectures of the embedded ground truth (configs/groundtruth-nb201-digits.archs).

Half are drawn uniformly from the space (representative of what a search meets); the other half
cover the accuracy range evenly: the real NB201 CIFAR-10 test accuracies (the official-layout
table) are cut into equal-width bins and the same number is drawn from each bin (all of a bin's
architectures when it holds fewer, the shortfall then drawn uniformly). Seeded, so the file is reproducible:

    python scripts/select_groundtruth_archs.py ../shared/data/nb201/nb201_test_accuracy.csv \
        --random 150 --stratified 150 --bins 15 --seed 0 > configs/groundtruth-nb201-digits.archs
"""

from __future__ import annotations

import argparse
import random

import numpy as np

from nas_harness.benchmarks.table import NB201TableBenchmark
from nas_harness.spaces import nb201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", help="official-layout NB201 table (CIFAR-10 test accuracy)")
    parser.add_argument("--random", type=int, default=150)
    parser.add_argument("--stratified", type=int, default=150)
    parser.add_argument("--bins", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    accuracy = NB201TableBenchmark(args.table, "cifar10").accuracy_array()
    chosen = dict.fromkeys(rng.sample(range(nb201.NUM_ARCHS), args.random))
    edges = np.linspace(np.nanmin(accuracy), np.nanmax(accuracy), args.bins + 1)
    bins = np.clip(np.digitize(accuracy, edges[1:-1]), 0, args.bins - 1)
    per_bin = args.stratified // args.bins
    for b in range(args.bins):
        members = [int(i) for i in np.flatnonzero(bins == b) if int(i) not in chosen]
        chosen.update(dict.fromkeys(rng.sample(members, min(per_bin, len(members)))))
    while len(chosen) < args.random + args.stratified:  # bins with too few members: top up at random
        chosen.setdefault(rng.randrange(nb201.NUM_ARCHS))
    for index in chosen:
        print(nb201.to_str(nb201.index_to_arch(index)))


if __name__ == "__main__":
    main()
