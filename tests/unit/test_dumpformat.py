"""The dump format: any domain content within SimpleDB's limits survives dump and read unchanged, and any
damage to a dump is refused with a clear message."""

import gzip
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simpledb_backup.dumpformat import (
    DIGEST_ALGORITHM,
    FORMAT_NAME,
    DumpEncoder,
    DumpHeader,
    encode_item_line,
    line_digest,
    read_dump,
)
from simpledb_backup.errors import DumpCorruptError
from simpledb_backup.items import MAX_PAIRS_PER_ITEM, Item, make_item, validate_item

HEADER = DumpHeader(
    domain="packages",
    started_at="2026-11-26T03:00:00.000Z",
    select_expression="select * from `packages`",
    trigger="manual",
    run_id="run-1",
)

# Text SimpleDB can hold: any Unicode scalar value (no lone surrogates, which UTF-8 cannot carry), including
# quotes, backticks, newlines and the characters XML 1.0 forbids, which SimpleDB returns base64-encoded.
simpledb_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
awkward_text = st.sampled_from(
    ["", "'", '"', "`", "``", "a\nb", "\x00\x01\x1f", "\ufffe", "é€😀", "x" * 1024]
)
values = st.one_of(simpledb_text, awkward_text).filter(lambda text: len(text.encode()) <= 1024)
names = st.one_of(simpledb_text, awkward_text).filter(lambda text: 0 < len(text.encode()) <= 1024)
items = st.builds(make_item, names, st.lists(st.tuples(names, values), min_size=1, max_size=12))


def write_dump(dump_items: list[Item], members: int = 1) -> bytes:
    """Encode a dump, closing and reopening the gzip member ``members - 1`` times as a checkpoint does."""
    encoder = DumpEncoder()
    output = encoder.write_header(HEADER)
    chunk = max(1, len(dump_items) // members)
    for start in range(0, len(dump_items), chunk):
        output += encoder.write_items(dump_items[start : start + chunk]) + encoder.close_member()
    tail, _ = encoder.write_trailer("2026-11-26T03:01:00.000Z")
    return output + tail


def read_items(data: bytes) -> list[Item]:
    return list(read_dump(io.BytesIO(data)))


def unique_by_name(dump_items: list[Item]) -> list[Item]:
    return list({item.name: item for item in dump_items}.values())


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items, max_size=20).map(unique_by_name), st.integers(min_value=1, max_value=4))
def test_any_domain_content_survives_dump_and_read(dump_items: list[Item], members: int) -> None:
    assert read_items(write_dump(dump_items, members)) == dump_items


def test_an_item_with_256_pairs_of_1024_byte_values_round_trips() -> None:
    big = make_item(
        "big", ((f"a{index:03d}", chr(0x4E00 + index) * 341 + "x") for index in range(MAX_PAIRS_PER_ITEM))
    )
    validate_item(big)
    assert max(len(value.encode()) for values in big.attributes.values() for value in values) == 1024
    assert read_items(write_dump([big])) == [big]


def test_header_and_trailer_describe_the_dump() -> None:
    dump_items = [make_item("a", [("x", "1"), ("x", "2")]), make_item("b", [("y", "")])]
    lines = gzip.decompress(write_dump(dump_items)).decode().splitlines()
    header, trailer = json.loads(lines[0]), json.loads(lines[-1])
    assert header["format"] == FORMAT_NAME
    assert header["version"] == 1
    assert header["domain"] == "packages"
    assert header["select_expression"] == "select * from `packages`"
    assert trailer["items"] == 2
    assert trailer["attributes"] == 2
    assert trailer["values"] == 3
    digest = sum(line_digest(line.encode()) for line in lines[1:-1]) % (1 << 256)
    assert trailer["digest"] == {"algorithm": DIGEST_ALGORITHM, "value": f"{digest:064x}"}
    assert lines[1] == encode_item_line(dump_items[0]).decode()


def test_the_digest_does_not_depend_on_item_order() -> None:
    dump_items = [make_item(f"item{index}", [("n", str(index))]) for index in range(10)]
    forwards = read_dump(io.BytesIO(write_dump(dump_items)))
    backwards = read_dump(io.BytesIO(write_dump(dump_items[::-1])))
    list(forwards), list(backwards)
    assert forwards.trailer is not None
    assert backwards.trailer is not None
    assert forwards.trailer.digest == backwards.trailer.digest


def damaged(transform: str) -> bytes:
    dump_items = [make_item(f"item{index}", [("n", str(index))]) for index in range(50)]
    data = write_dump(dump_items)
    lines = gzip.decompress(data).split(b"\n")
    if transform == "truncated":
        return data[: len(data) // 2]
    if transform == "no-trailer":
        return gzip.compress(b"\n".join(lines[:-2]) + b"\n")
    if transform == "altered-value":
        lines[5] = lines[5].replace(b'"4"', b'"X"')
        return gzip.compress(b"\n".join(lines))
    if transform == "dropped-item":
        del lines[5]
        return gzip.compress(b"\n".join(lines))
    if transform == "foreign":
        return gzip.compress(b'{"hello": "world"}\n')
    if transform == "not-gzip":
        return b"PK\x03\x04 not a dump"
    if transform == "wrong-version":
        lines[0] = lines[0].replace(b'"version":1', b'"version":99')
        return gzip.compress(b"\n".join(lines))
    if transform == "over-limit":
        lines[5] = json.dumps({"type": "item", "name": "item4", "attributes": {"n": ["v" * 1025]}}).encode()
        return gzip.compress(b"\n".join(lines))
    raise AssertionError(transform)


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        ("truncated", "truncated"),
        ("no-trailer", "no trailer"),
        ("altered-value", "checksum mismatch"),
        ("dropped-item", "counts do not match"),
        ("foreign", "not a simpledb-backup-dump file"),
        ("not-gzip", "not valid gzip"),
        ("wrong-version", "unsupported dump format version 99"),
        ("over-limit", "exceeds 1024 bytes"),
    ],
)
def test_a_damaged_dump_is_refused_with_a_clear_message(transform: str, message: str) -> None:
    with pytest.raises(DumpCorruptError, match=message):
        read_items(damaged(transform))
