"""Kendall tau of the reference zero-cost scores stored in the NAS-Bench-101 table, judged per graph.

``nb101_cifar10_500.json`` (NAS-Bench-Suite-Zero's NASLib scores, computed at NB101's full width) holds, per row, a
labelled cell, its CIFAR-10 validation accuracy and the scores of up to 11 proxies. Several rows are labellings of
the same graph (official hash). As the harness scores each graph once (at one labelling) and the ``nb101`` benchmark
averages the accuracy over the rows of a graph, a graph gets the scores of its first row and its mean accuracy, so
these taus compare with the harness's own NB101 boards:

    python scripts/nb101_reference_taus.py ../shared/data/nb101/nb101_cifar10_500.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np
from scipy.stats import kendalltau

from nas_harness.spaces import nb101_cells


def per_graph(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each graph's (official hash) scores from its first row and its accuracy averaged over its rows."""
    grouped: dict[str, list[dict[str, float]]] = defaultdict(list)
    for key, values in rows.items():
        grouped[nb101_cells.module_hash(nb101_cells.cell_from_key(key))].append(values)
    return {
        graph: {**members[0], "val_accuracy": float(np.mean([v["val_accuracy"] for v in members]))}
        for graph, members in grouped.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", help="the NB101 reference table (JSON, NASLib's zc_nasbench101 layout)")
    args = parser.parse_args()
    with open(args.table) as handle:
        rows = json.load(handle)["nasbench101"]["cifar10"]
    graphs = per_graph(rows)
    accuracy = np.array([g["val_accuracy"] for g in graphs.values()])
    fields = sorted({f for g in graphs.values() for f in g} - {"val_accuracy"})
    print(f"{len(rows)} rows, {len(graphs)} graphs")
    print("| score | Kendall tau per graph |\n|---|---|")
    for field in fields:
        tau = kendalltau([g[field] for g in graphs.values()], accuracy).statistic
        print(f"| {field} | {tau:.3f} |")


if __name__ == "__main__":
    main()
