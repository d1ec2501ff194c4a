"""Split points from a domain's own names: monotone, collation-safe, and even for the names domains hold."""

import bisect
import hashlib
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simpledb_backup.backup.keyspace import KeySpace
from simpledb_backup.formats.dumpformat import collation_safe

text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)


@given(st.lists(text, min_size=2, max_size=30), text, text)
def test_a_later_name_never_gets_a_smaller_position(sample: list[str], first: str, second: str) -> None:
    low, high = min(sample), max(sample)
    keyspace = KeySpace.learn(sample, low, high) if low < high else None
    if keyspace is None:
        return
    earlier, later = sorted((first, second))
    assert keyspace.position(earlier) <= keyspace.position(later)


@given(st.lists(text, min_size=2, max_size=30), st.integers(min_value=1, max_value=64))
def test_split_points_ascend_strictly_between_the_ends_and_sort_alike_in_both_collations(
    sample: list[str], count: int
) -> None:
    low, high = min(sample), max(sample)
    keyspace = KeySpace.learn(sample, low, high) if low < high else None
    if keyspace is None:
        return
    points = keyspace.split_points(low, high, count)
    assert points == sorted(set(points))
    assert all(low < point < high and collation_safe(point) for point in points)
    assert all(
        keyspace.position(keyspace.name_at(keyspace.position(point))) == keyspace.position(point)
        for point in points
    )


def spread(names: list[str], parts: int = 8) -> list[int]:
    """How many of ``names`` fall between the split points learned from their first and last 500."""
    names = sorted(names)
    low, high = names[499], names[-500]
    keyspace = KeySpace.learn(names[:500] + names[-500:], low, high)
    assert keyspace is not None
    bounds = [low, *keyspace.split_points(low, high, parts - 1), high]
    return [
        bisect.bisect_left(names, upper) - bisect.bisect_left(names, lower)
        for lower, upper in pairwise(bounds)
    ]


@pytest.mark.parametrize(
    "names",
    [
        [hashlib.sha256(str(index).encode()).hexdigest() for index in range(20_000)] + ["meta"],
        [f"user-{index:06d}" for index in range(20_000)],
        [f"{index:08d}" for index in range(20_000)],
    ],
    ids=["hex digests and Repoman's meta", "user-000123", "numbers"],
)
def test_names_that_spread_evenly_are_cut_into_even_parts(names: list[str]) -> None:
    parts = spread(names)
    assert len(parts) == 8
    assert max(parts) < 1.2 * min(parts)


def test_dates_crowd_into_part_of_the_key_space_which_the_probe_pages_show() -> None:
    """Months and hours fill a fraction of their digits' range, so an even cut leaves parts empty; the scan
    sees it in the span of its probe pages and splits such a domain by what its streams read instead."""
    start = datetime(2019, 1, 1, tzinfo=UTC)
    names = [(start + timedelta(minutes=53 * index)).isoformat() for index in range(20_000)]
    parts = spread(names)
    assert sum(parts) == 19_001  # every name from the last of the first 500 up to the first of the last 500
    assert 0 in parts


def test_no_split_point_can_be_made_from_a_single_character_or_an_unsafe_prefix() -> None:
    assert KeySpace.learn(["aaa", "aaaa"], "aaa", "aaaa") is None
    assert KeySpace.learn(["\ue000a", "\ue000b"], "\ue000a", "\ue000b") is None
