"""How a domain is split into parallel Select streams."""

from hypothesis import given
from hypothesis import strategies as st

from simpledb_backup.aws.simpledb import DomainMetadata
from simpledb_backup.backup.scan import Segment, estimated_select_pages, segment_bounds, segment_count_for


def metadata(items: int, values_per_item: int = 14, value_bytes: int = 90) -> DomainMetadata:
    return DomainMetadata(
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
def test_every_item_name_falls_in_exactly_one_segment(count: int, name: str) -> None:
    assert sum(contains(bounds, name) for bounds in segment_bounds(count)) == 1


def test_hex_names_spread_evenly_over_segments() -> None:
    names = [f"{index * 2654435761 % 2**32:08x}" for index in range(8000)]
    per_segment = [sum(contains(bounds, name) for name in names) for bounds in segment_bounds(8)]
    assert min(per_segment) > 900
    assert max(per_segment) < 1100


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


def test_small_domains_get_few_streams_and_large_ones_the_maximum() -> None:
    assert segment_count_for(metadata(500), 8) == 1
    assert segment_count_for(metadata(20_000), 8) == 3  # 44 pages: at most one part-filled page per 20
    assert segment_count_for(metadata(200_000), 8) == 8
    assert segment_count_for(metadata(200_000), 4) == 4
