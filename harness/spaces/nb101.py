"""NAS-Bench-101 cell search space (Ying et al., ICML 2019, section 2.1).

A cell is a DAG of at most 7 vertices and at most 9 edges, given by an upper-triangular
adjacency matrix and one label per vertex: vertex 0 is ``input``, the last vertex is
``output`` and every other vertex holds one of :data:`OPS`. Vertices that do not lie on a
path from input to output do nothing and are pruned; the limits apply to the pruned graph
(as the official ``api.NASBench._check_spec`` applies them to ``ModelSpec``'s pruned matrix).

An architecture is a :class:`Cell` in canonical form: pruned, and relabelled to the
smallest of its upper-triangular labellings, so that two labellings of one graph are one
architecture. :func:`module_hash` is the official isomorphism-invariant hash, the key of
every NAS-Bench-101 record.

Canonical string: the adjacency rows as bit strings joined by ``-``, then ``;`` and the
labels joined by ``,``, e.g. ``0110-0001-0001-0000;input,conv3x3-bn-relu,maxpool3x3,output``.
:meth:`NB101Space.parse` also reads the 56-int tuple keys of the reference JSON tables.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from nas_harness.api import ArchitectureError, HasNeighbours, Mutable, SearchSpace
from nas_harness.spaces.nb101_cells import INPUT as INPUT
from nas_harness.spaces.nb101_cells import KEY_OP_CODES as KEY_OP_CODES
from nas_harness.spaces.nb101_cells import MAX_EDGES as MAX_EDGES
from nas_harness.spaces.nb101_cells import MAX_VERTICES as MAX_VERTICES
from nas_harness.spaces.nb101_cells import OPS as OPS
from nas_harness.spaces.nb101_cells import OUTPUT as OUTPUT
from nas_harness.spaces.nb101_cells import Cell as Cell
from nas_harness.spaces.nb101_cells import canonical as canonical
from nas_harness.spaces.nb101_cells import cell_from_flat as cell_from_flat
from nas_harness.spaces.nb101_cells import cell_from_key as cell_from_key
from nas_harness.spaces.nb101_cells import make_cell as make_cell
from nas_harness.spaces.nb101_cells import module_hash as module_hash
from nas_harness.spaces.nb101_cells import one_edit_variants, padded
from nas_harness.spaces.nb101_cells import parse as parse
from nas_harness.spaces.nb101_cells import to_str as to_str
from nas_harness.spaces.nb101_cells import validate as validate
from nas_harness.spaces.nb101_net import build_network

_NO_SUPERNET = (
    "its cells are graphs of any shape, with no fixed choice points, so weight-sharing supernets (SPOS, MixPath) "
    "and choice-point searchers run on MixPath's NAS-Bench-101 subspace instead (space and benchmark 'nb101.s4')"
)


class NB101Space(SearchSpace, Mutable, HasNeighbours):
    """The NAS-Bench-101 cell space; architectures are canonical :class:`Cell` values.

    Capabilities: :class:`~nas_harness.api.Mutable` and :class:`~nas_harness.api.HasNeighbours`. It has no
    choice points, so no weight-sharing
    supernet (:data:`_NO_SUPERNET`, quoted by :func:`~nas_harness.api.require`), and is not enumerated
    (423k graphs: the benchmark lists them).

    ``build`` makes the NAS-Bench-101 network with the ``nasbench-pytorch`` package
    (:mod:`nas_harness.spaces.nb101_net`).
    """

    name = "nb101"
    capability_notes: ClassVar[Mapping[str, str]] = {"HasChoicePoints": _NO_SUPERNET}

    def parse(self, text: str) -> Cell:
        return parse(text)

    def to_str(self, arch: Cell) -> str:
        return to_str(validate(arch))

    def hash(self, arch: Cell) -> str:
        """The official NAS-Bench-101 module hash of ``arch``."""
        return module_hash(validate(arch))

    def sample(self, rng: random.Random) -> Cell:
        """The official random sampler (``nasbench`` example ``random_spec``): every upper-triangular
        edge on with probability 1/2, interior ops uniform, redrawn until the cell is valid.
        Uniform over labelled 7-vertex matrices, so not uniform over distinct graphs."""
        size = MAX_VERTICES
        while True:
            rows = [[int(j > i and rng.random() < 0.5) for j in range(size)] for i in range(size)]
            ops = [INPUT] + [rng.choice(OPS) for _ in range(size - 2)] + [OUTPUT]
            try:
                return canonical(make_cell(rows, ops))
            except ArchitectureError:
                continue

    def mutate(self, arch: Cell, rng: random.Random, mutation_rate: float = 1.0) -> Cell:
        """NAS-Bench-101's regularized-evolution mutation (paper section 5; ``nasbench`` example
        ``mutate_spec``): on the 7-vertex labelling, flip each edge with probability
        ``mutation_rate / 7`` and resample each interior op (to a different one) with probability
        ``mutation_rate / 5``; repeat until the result is valid and differs from ``arch``."""
        arch = validate(arch)
        size = MAX_VERTICES
        while True:
            rows, ops = padded(arch, rng)
            for i in range(size - 1):
                for j in range(i + 1, size):
                    if rng.random() < mutation_rate / size:
                        rows[i][j] = 1 - rows[i][j]
            for v in range(1, size - 1):
                if rng.random() < mutation_rate / (size - 2):
                    ops[v] = rng.choice([op for op in OPS if op != ops[v]])
            try:
                child = canonical(make_cell(rows, ops))
            except ArchitectureError:
                continue
            if child != arch:
                return child

    def neighbours(self, arch: Cell) -> list[Cell]:
        """The valid cells one edit away from ``arch``: naszilla's NAS-Bench-101 neighbourhood (White et
        al., "Local Search is State of the Art for NAS Benchmarks"; ``nas_bench_101/cell_101.py``
        ``adj_neighborhood``): every change of one interior vertex's op to another op, and every flip of
        one edge of the upper-triangular matrix, keeping the valid results (connected, <= 9 edges after
        pruning, as ``nasbench``'s ``is_valid``), one per official :func:`module_hash`, ``arch`` excluded.

        naszilla flips the edges of whichever 7x7 labelling a cell happens to carry; here the flips range
        over every upper-triangular labelling of the pruned cell (an edge ``u -> v`` may be added whenever
        ``v`` does not reach ``u``), so the neighbourhood depends on the architecture only, and it is
        symmetric except where removing an edge prunes a vertex (no single edit adds one back). Padding the
        cell to 7 vertices adds nothing: the padded vertices are isolated, so editing them leaves the pruned
        cell unchanged (naszilla skips such edits too). A dangling vertex that a labelling half-connects is
        not kept by a pruned cell, so unlike naszilla one flip never adds a vertex.

        Order (deterministic): op changes by vertex of the canonical labelling, then by :data:`OPS`
        order; then edge flips by ordered vertex pair ``(u, v)`` in row-major order; a cell reached twice
        keeps its first place."""
        arch = validate(arch)
        seen = {module_hash(arch)}
        result: list[Cell] = []
        for variant in one_edit_variants(arch):
            key = module_hash(variant)
            if key not in seen:
                seen.add(key)
                result.append(variant)
        return result

    def build(self, arch: Cell, **net_cfg: Any) -> torch.nn.Module:
        """The NAS-Bench-101 network (``C=128`` stem channels, ``N=3`` cells per stack, 3 stacks)."""

        return build_network(validate(arch), **net_cfg)
