"""The S4 multi-path space over NB101 slots: its slots, labels and the mapping of an architecture to its NB101 cell
(the space is :mod:`nas_harness.spaces.nb101_s4`, its supernet :mod:`nas_harness.spaces.nb101_s4_supernet`).
"""

from __future__ import annotations

from nas_harness.api import ArchitectureError
from nas_harness.spaces.nb101_cells import INPUT, OPS, OUTPUT, Cell, canonical, make_cell

SLOTS = 4
NONE = "none"
SLOT_OPTIONS: tuple[str, ...] = (NONE, *OPS)
FUSION_OP = "conv1x1-bn-relu"
SEPARATOR = "+"


def validate(arch: object) -> tuple[int, ...]:
    if (
        not isinstance(arch, tuple)
        or len(arch) != SLOTS
        or any(isinstance(o, bool) or not isinstance(o, int) or not 0 <= o < len(SLOT_OPTIONS) for o in arch)
    ):
        raise ArchitectureError(
            f"S4 architecture {arch!r} must be a tuple of {SLOTS} option indices in 0..{len(SLOT_OPTIONS) - 1} "
            f"({', '.join(SLOT_OPTIONS)})"
        )
    if not any(arch):
        raise ArchitectureError(f"S4 architecture {arch!r} has no active path; at least one slot must hold an op")
    return arch


def to_nb101(arch: tuple[int, ...]) -> Cell:
    """The canonical NAS-Bench-101 cell of ``arch`` (input -> active slots -> fusion -> output)."""
    active = [SLOT_OPTIONS[o] for o in validate(arch) if o]
    n = len(active) + 3  # input, the active slots, fusion, output
    fusion, output = n - 2, n - 1
    matrix = [[0] * n for _ in range(n)]
    for v in range(1, fusion):
        matrix[0][v] = matrix[v][fusion] = 1
    matrix[fusion][output] = 1
    return canonical(make_cell(matrix, [INPUT, *active, FUSION_OP, OUTPUT]))
