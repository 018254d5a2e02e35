"""The NAS-Bench-201 search space: strings, official indices, sampling and edits."""

from __future__ import annotations

import collections
import random

import pytest

from nas_harness.api import ArchitectureError
from nas_harness.registry import get_registry
from nas_harness.spaces import nb201 as S
from nas_harness.spaces.nb201 import NB201Space

# Official index 0 and 1: the first two rows of NAS-Bench-201-v1_0-e61699.pth (also the first two
# rows of ../shared/data/nb201/nb201_test_accuracy.csv, which tests/test_nb201_realdata.py checks in full).
INDEX_0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
INDEX_1 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"

space = NB201Space()


def test_registered_as_nb201():
    created = get_registry().create("search_space", "nb201")
    assert isinstance(created, NB201Space)
    assert created.size() == 15_625


def test_every_architecture_round_trips_through_string_and_index():
    seen = set()
    for index, arch in enumerate(space.enumerate()):
        text = space.to_str(arch)
        assert space.parse(text) == arch
        assert space.index(arch) == index
        assert space.from_index(index) == arch
        seen.add(text)
    assert len(seen) == 15_625


def test_official_index_pins():
    assert space.to_str(space.from_index(0)) == INDEX_0
    assert space.to_str(space.from_index(1)) == INDEX_1
    assert space.parse(INDEX_1) == (3, 3, 4, 1, 3, 1)


def test_string_edge_order_is_the_official_one():
    # edge k of the tuple is written as op~i in node j's group, in EDGES order
    arch = (0, 1, 2, 3, 4, 0)
    assert space.to_str(arch) == "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|"
    assert S.EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "node groups"),
        ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", "2 '+'-separated node groups"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~3|", "references input '3'"),
        ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "inputs must be listed in order"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 has 1 input edges"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "must start and end with '|'"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "lacks '~'"),
    ],
)
def test_malformed_strings_name_the_value_and_what_is_accepted(text, names):
    with pytest.raises(ArchitectureError) as info:
        space.parse(text)
    assert names in str(info.value)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    "bad", [(0, 1, 2), (0, 1, 2, 3, 4, 5), (0, 1, 2, 3, 4, -1), (0, 1, 2, 3, 4, True), "abc", None]
)
def test_bad_architecture_values_are_rejected(bad):
    with pytest.raises(ArchitectureError, match="NAS-Bench-201 architecture"):
        space.to_str(bad)


@pytest.mark.parametrize("bad", [-1, 15_625, 3.0, True])
def test_bad_indices_are_rejected(bad):
    with pytest.raises(ArchitectureError, match=r"0\.\.15624"):
        space.from_index(bad)


def test_sampling_is_seeded_and_roughly_uniform():
    a = [space.sample(random.Random(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = random.Random(0)
    counts = collections.Counter(op for _ in range(5000) for op in space.sample(rng))
    assert set(counts) == set(range(5))
    assert all(abs(c / 30_000 - 0.2) < 0.02 for c in counts.values())


def test_sample_unique_draws_distinct_architectures():
    archs = space.sample_unique(500, random.Random(1))
    assert len(set(archs)) == 500


def test_mutation_changes_exactly_one_edge():
    rng = random.Random(3)
    arch = space.from_index(42)
    for _ in range(200):
        child = space.mutate(arch, rng)
        assert sum(a != b for a, b in zip(arch, child, strict=True)) == 1


def test_neighbours_are_the_24_single_edge_changes():
    arch = space.from_index(7)
    neighbours = space.neighbours(arch)
    assert len(neighbours) == len(set(neighbours)) == 24
    assert all(sum(a != b for a, b in zip(arch, n, strict=True)) == 1 for n in neighbours)
    rng = random.Random(0)
    assert all(space.mutate(arch, rng) in neighbours for _ in range(50))


def test_crossover_takes_each_edge_from_a_parent_and_mixes():
    a, b = (0,) * 6, (3,) * 6
    rng = random.Random(0)
    children = [space.crossover(a, b, rng) for _ in range(50)]
    assert all(set(c) <= {0, 3} for c in children)
    assert any(0 in c and 3 in c for c in children)


def test_choice_points_are_the_six_edges_with_five_ops():
    points = space.choice_points()
    assert [p.name for p in points] == ["edge_0->1", "edge_0->2", "edge_1->2", "edge_0->3", "edge_1->3", "edge_2->3"]
    assert all(p.options == S.OPS for p in points)
    arch = space.from_index(100)
    assert space.from_choices(space.to_choices(arch)) == arch
    with pytest.raises(ArchitectureError):
        space.from_choices([0, 1, 2, 3, 4, 5])


def test_disconnected_cells():
    none, skip, conv = 0, 1, 3
    assert space.is_disconnected((none,) * 6)
    # 0->1 and 1->3 carry ops but 0->3 and 2->3 do not: still connected through node 1
    assert not space.is_disconnected((conv, none, none, none, conv, none))
    # node 1 and 2 reached but nothing enters node 3
    assert space.is_disconnected((skip, skip, skip, none, none, none))
    # node 2 feeds node 3 but node 2 is reached only from unreachable node 1
    assert space.is_disconnected((none, none, conv, none, none, skip))
    # the table's count: 5**6 cells minus those with a path
    n = sum(space.is_disconnected(a) for a in space.enumerate())
    assert n == _count_disconnected_by_paths()


def _count_disconnected_by_paths() -> int:
    """Independent count: a cell is connected iff one of the 4 input->output paths has no 'none' edge."""
    k = {edge: n for n, edge in enumerate(S.EDGES)}
    paths = [[(0, 3)], [(0, 1), (1, 3)], [(0, 2), (2, 3)], [(0, 1), (1, 2), (2, 3)]]
    return sum(not any(all(arch[k[e]] != 0 for e in path) for path in paths) for arch in S.official_order())
