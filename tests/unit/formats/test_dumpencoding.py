"""The dump encoder's faster libraries change no byte that matters: item lines are byte for byte what
``json.dumps`` wrote before them (the digest, and the restore's planning and verification, compare lines), and
the compressed output is standard gzip, multi-member included, that the standard library reads."""

import gzip
import hashlib
import io
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simpledb_backup.formats.dumpformat import (
    FORMAT_VERSION,
    DumpEncoder,
    DumpHeader,
    encode_item_line,
    format_digest,
    read_dump,
)
from simpledb_backup.items import Item, make_item


def json_line(item: Item) -> bytes:
    """The item line as the encoder wrote it before orjson (9891a0b)."""
    record = {"type": "item", "name": item.name, "attributes": item.attributes}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# Every Unicode scalar value, with the characters JSON escapes or might: controls, quotes, backslashes, the
# JavaScript line separators U+2028/U+2029, DEL and C1 controls, non-characters and non-BMP characters.
special = st.sampled_from(
    [
        *"\x00\x01\x08\t\n\x0b\x0c\r\x1b\x1f\"\\/'\x7f\x80\x85\x9f\u2028\u2029\ufeff\ufffe\uffff",
        *["\U0001f600", "\U0010ffff", "\U00010000", "é", "€", "</script>", "\\u0000", '\\\\"'],
    ]
)
text = st.lists(st.one_of(st.characters(exclude_categories=["Cs"]), special), max_size=30).map("".join)
pairs = st.lists(st.tuples(text, text), max_size=10)
items = st.builds(make_item, text, pairs)
# Items a dump can hold (SimpleDB's limits), for the round trips through the reader.
storable_items = st.builds(
    make_item, text.filter(bool), st.lists(st.tuples(text.filter(bool), text), min_size=1, max_size=20)
)


@settings(max_examples=1000, deadline=None)
@given(items)
def test_item_lines_are_the_json_module_bytes(item: Item) -> None:
    assert encode_item_line(item) == json_line(item)


@settings(max_examples=300, deadline=None)
@given(st.lists(text, min_size=1, max_size=300))
def test_item_lines_are_the_json_module_bytes_for_long_and_many_values(values: list[str]) -> None:
    item = make_item("".join(values), [("a", value) for value in values] + [("".join(values), "x" * 2000)])
    assert encode_item_line(item) == json_line(item)


def test_a_lone_surrogate_fails_as_it_always_did() -> None:
    # SimpleDB text is UTF-8 and cannot hold one; a dump line with a "\ud800" escape can, and such an item
    # could never be encoded: the error stays the one the UTF-8 encoding raises.
    item = Item("i", {"a": ("\ud800",)})
    with pytest.raises(UnicodeEncodeError):
        json_line(item)
    with pytest.raises(UnicodeEncodeError):
        encode_item_line(item)


HEADER = DumpHeader("packages", "2026-11-26T03:00:00.000Z", "select * from `packages`", "manual", "run-1")


def encode(batches: list[list[Item]], checkpoint_every: int) -> bytes:
    """A dump whose gzip member is closed every ``checkpoint_every`` batches, as a continuing backup does."""
    encoder = DumpEncoder()
    output = encoder.write_header(HEADER)
    for number, batch in enumerate(batches, 1):
        output += encoder.write_items(batch)
        if number % checkpoint_every == 0:
            output += encoder.close_member()
    tail, _ = encoder.write_trailer("2026-11-26T03:01:00.000Z")
    return output + tail


def zlib_members(data: bytes) -> tuple[bytes, int]:
    """Decompress member after member with the standard library's zlib; the content and the member count."""
    content, members = b"", 0
    while data:
        decompressor = zlib.decompressobj(31)
        content += decompressor.decompress(data)
        assert decompressor.eof
        data, members = decompressor.unused_data, members + 1
    return content, members


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(storable_items, max_size=5), max_size=6), st.integers(1, 3))
def test_the_output_is_standard_gzip_with_the_same_lines_and_digest(
    generated: list[list[Item]], checkpoint_every: int
) -> None:
    # As a backup writes them: every name once, ascending (the header names one segment over all names).
    numbers = iter(range(10**6))
    batches = [
        [Item(f"{next(numbers):06d}{item.name}", item.attributes) for item in batch] for batch in generated
    ]
    data = encode(batches, checkpoint_every)
    content, members = zlib_members(data)
    assert gzip.decompress(data) == content
    assert members == len(batches) // checkpoint_every + 1  # the trailer always ends a member of its own
    lines = content.split(b"\n")
    assert lines[-1] == b""
    header, *item_lines, trailer = (json.loads(line) for line in lines[:-1])
    dumped = [item for batch in batches for item in batch]
    assert header["version"] == FORMAT_VERSION == 2
    assert lines[1:-2] == [json_line(item) for item in dumped]
    digest = sum(int.from_bytes(hashlib.sha256(json_line(item)).digest(), "big") for item in dumped)
    assert trailer["digest"]["value"] == format_digest(digest)
    assert len(item_lines) == trailer["items"] == len(dumped)
    reader = read_dump(io.BytesIO(data))
    assert list(reader) == dumped
    assert reader.trailer is not None
    assert reader.trailer.digest == format_digest(digest)


def test_a_dump_compresses_to_a_size_near_zlib_level_6() -> None:
    # The chosen level trades bytes for CPU (scripts/cpu_ab.py measures both); it must stay a modest trade.
    values = [
        f"Package: pkg{number}\nVersion: 1.{number}-1\nDepends: libc6 (>= 2.36)\n" for number in range(3000)
    ]
    batch = [make_item(f"item{number:05d}", [("control", value)]) for number, value in enumerate(values)]
    data = encode([batch], 1)
    content = gzip.decompress(data)
    assert len(data) <= 1.25 * len(zlib.compress(content, 6))
