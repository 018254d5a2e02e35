"""CI: two runs of a study ranked alike: the same estimators with the same Kendall taus (estimators.csv).

    python .ci/same_taus.py CHECKOUT/estimators.csv WHEEL/estimators.csv

Compares the ``estimator`` and ``kendall_tau`` columns as written (the same code on the same machine gives the same
digits); exits 1 printing every row that differs, or is in only one file.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def taus(path: Path) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as f:
        return {row["estimator"]: row["kendall_tau"] for row in csv.DictReader(f)}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    a_path, b_path = map(Path, argv)
    a, b = taus(a_path), taus(b_path)
    differing = [(name, a.get(name, "(missing)"), b.get(name, "(missing)")) for name in sorted(a.keys() | b.keys())]
    differing = [row for row in differing if row[1] != row[2]]
    if not a or differing:
        print(f"{a_path} and {b_path} rank differently (estimator: kendall_tau A -> B):", file=sys.stderr)
        for name, tau_a, tau_b in differing:
            print(f"  {name}: {tau_a} -> {tau_b}", file=sys.stderr)
        if not a:
            print(f"  {a_path} has no rows", file=sys.stderr)
        return 1
    print(f"same estimators and Kendall taus ({len(a)} rows): {a_path} and {b_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
