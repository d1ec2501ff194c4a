"""How a domain is cut into cells and runs, and read by parallel streams: every item once, within the page
budget, for any names."""

import hashlib
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selectfake import FakeSelect
from simpledb_backup.backup.scan import (
    ENCODED_STREAM_BYTES,
    ScanSettings,
    Segment,
    estimated_select_pages,
    plan_scan,
    scan_domain,
    scan_segments,
    segment_bounds,
    split_budget,
)
from simpledb_backup.backup.streams import StreamCount, StreamPool
from simpledb_backup.capacity import DomainSize, extra_pages_allowed
from simpledb_backup.errors import NextTokenRefusedError


def metadata(items: int, values_per_item: int = 14, value_bytes: int = 90) -> DomainSize:
    return DomainSize(
        item_count=items,
        attribute_name_count=values_per_item,
        attribute_value_count=items * values_per_item,
        item_names_size_bytes=items * 64,
        attribute_names_size_bytes=values_per_item * 10,
        attribute_values_size_bytes=items * values_per_item * value_bytes,
    )


def contains(bounds: tuple[str | None, str | None], name: str) -> bool:
    lower, upper = bounds
    return (lower is None or name >= lower) and (upper is None or name < upper)


@given(st.integers(min_value=1, max_value=64), st.text(min_size=1, max_size=70))
def test_every_item_name_falls_in_exactly_one_hex_segment(count: int, name: str) -> None:
    assert sum(contains(bounds, name) for bounds in segment_bounds(count)) == 1


def test_a_segment_query_names_its_range_and_resumes_after_its_cursor() -> None:
    segment = Segment("2000", "4000")
    assert segment.expression("packages", None) == (
        "select * from `packages` where itemName() >= '2000' and itemName() < '4000' "
        "order by itemName() asc limit 2500"
    )
    segment.cursor = "2fff'x"
    assert "itemName() > '2fff''x' and itemName() < '4000'" in segment.expression("packages", "`a` = 'b'")
    assert segment.expression("packages", "`a` = 'b'").startswith(
        "select * from `packages` where (`a` = 'b') and"
    )


def test_the_page_estimate_follows_the_item_and_byte_caps() -> None:
    assert estimated_select_pages(metadata(0)) == 0
    assert (
        estimated_select_pages(metadata(10_000, values_per_item=1, value_bytes=1)) == 4
    )  # 2,500 items a page
    # 20,000 items of 2,264 bytes of XML each (data + tags) = 43.2 MB: the 1 MB cap decides
    assert estimated_select_pages(metadata(20_000)) == 44


def test_the_split_budget_keeps_the_extra_pages_within_5_percent_or_3() -> None:
    assert [extra_pages_allowed(pages) for pages in (1, 40, 99, 100, 400)] == [3, 3, 3, 5, 20]
    # Every split ends a run on a part-filled page: half a page each on average.
    assert [split_budget(pages) for pages in (40, 100, 400)] == [5, 9, 39]


def names_of(kind: str, count: int) -> list[str]:
    if kind == "hex":
        return [hashlib.sha256(str(index).encode()).hexdigest() for index in range(count)] + ["meta"]
    if kind == "user":
        return [f"user-{index:06d}" for index in range(count)]
    return [
        f"2024-{1 + index // 2800:02d}-{1 + index // 100 % 28:02d}T{index % 100:04d}"
        for index in range(count)
    ]


def read_all(fake: FakeSelect, ceiling: int = 12) -> tuple[list[str], StreamPool[list[str]]]:
    settings = ScanSettings(ceiling, ENCODED_STREAM_BYTES)
    plan = plan_scan(fake, "d", None, estimated_select_pages(fake.domain_metadata("d")), settings)
    names = [item.name for page in plan.pages for item in page.items]
    pool = StreamPool[list[str]](
        fake, "d", None, plan.segments, plan.layout, lambda _: lambda items: [i.name for i in items], settings
    )
    for _, page in pool.pages():
        names += page
    assert all(segment.done for segment in plan.segments)
    return names, pool


@pytest.mark.parametrize("kind", ["hex", "user", "date"])
def test_any_names_are_read_once_each_by_several_streams_within_the_page_budget(kind: str) -> None:
    fake = FakeSelect(names_of(kind, 2000), page_items=20)  # 100 pages at least
    names, _ = read_all(fake)
    assert Counter(names) == Counter(fake.names)
    minimum = -(-len(fake.names) // 20)
    assert fake.calls <= minimum + extra_pages_allowed(minimum)
    assert fake.fresh_calls >= 8  # the runs: each begins with a Select of its own


def test_ordinary_names_get_as_many_runs_as_hex_digests() -> None:
    runs = {}
    for kind in ("hex", "user"):
        fake = FakeSelect(names_of(kind, 4000), page_items=20)
        _, pool = read_all(fake)
        runs[kind] = pool.runs_started
    assert min(runs.values()) >= 12  # cut up front into as many runs as the memory budget allows streams


def test_a_small_domain_is_read_by_one_stream_in_the_fewest_pages() -> None:
    fake = FakeSelect(names_of("user", 25), page_items=10)
    names, _ = read_all(fake)
    assert sorted(names) == fake.names
    assert fake.calls == 3


def test_a_refused_next_token_restarts_the_query_after_its_last_name() -> None:
    fake = FakeSelect(names_of("user", 60), page_items=10, refuse_tokens=1)
    names = [item.name for page in scan_segments(fake, "d", [Segment(None, None)]) for item in page[1]]
    assert names == fake.names
    assert fake.fresh_calls == 2  # the query, and once more after the refusal


def test_a_next_token_refused_again_and_again_fails_the_scan() -> None:
    fake = FakeSelect(names_of("user", 400), page_items=10, refuse_tokens=1000)
    with pytest.raises(NextTokenRefusedError, match="refused the NextToken of the Select over itemName"):
        list(scan_domain(fake, "d", 1))  # type: ignore[arg-type]


def test_streams_double_while_the_pages_per_second_rise_and_stop_when_they_do_not() -> None:
    now = [0.0]
    count = StreamCount(64, initial=4, clock=lambda: now[0])

    def round_of(pages: int, seconds: float) -> None:
        for _ in range(pages):
            now[0] += seconds / pages
            count.page()

    count.page()  # the first page starts the clock
    round_of(4, 1.0)  # 4 pages/s with 4 streams
    assert count.target == 8
    round_of(8, 1.0)  # 8 pages/s: it rose, double again
    assert count.target == 16
    round_of(16, 1.9)  # 8.4 pages/s: 16 streams do no better than 8
    assert count.target == 8
    round_of(8, 0.5)
    assert count.target == 8  # and it stays


def test_the_ceiling_bounds_the_streams_and_the_memory_budget_bounds_the_ceiling() -> None:
    # 72 MB, less three pages worked on at once (24 MB), at 4 MB a backup stream, 12 MB a stream of items
    assert ScanSettings(64, ENCODED_STREAM_BYTES).max_streams == 12
    assert ScanSettings(64).max_streams == 4
    assert ScanSettings(3, ENCODED_STREAM_BYTES).max_streams == 3
