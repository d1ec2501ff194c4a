"""The dump format: any domain content within SimpleDB's limits survives dump and read unchanged, and any
damage to a dump (or a dump made to hurt the reader) is refused with a clear message."""

import gzip
import io
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB, plan_put_batches
from simpledb_backup.backup.scan import make_segments, scan_segments, segment_bounds
from simpledb_backup.backup.service import BackupService
from simpledb_backup.errors import DumpCorruptError, DumpRuleError, LimitExceededError
from simpledb_backup.formats.dumpformat import (
    DIGEST_ALGORITHM,
    FORMAT_NAME,
    MAX_LINE_BYTES,
    MAX_SEGMENTS,
    DumpEncoder,
    DumpHeader,
    DumpTotals,
    NameOrder,
    PageEncoder,
    check_items,
    encode_item_line,
    format_digest,
    line_digest,
    read_dump,
)
from simpledb_backup.items import MAX_PAIRS_PER_ITEM, Item, make_item, validate_item
from simpledb_backup.runtime import Deadline

DOMAIN = "packages"


def fill(sdb_client: Any, domain: str, dump_items: list[Item]) -> None:
    sdb_client.create_domain(DomainName=domain)
    database = SimpleDB(sdb_client)
    for batch in plan_put_batches(dump_items):
        database.put_items(domain, batch)


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


def write_dump(dump_items: list[Item], members: int = 1, header: DumpHeader = HEADER) -> bytes:
    """Encode a dump, closing and reopening the gzip member ``members - 1`` times as a checkpoint does.

    ``HEADER`` lists no segments (one Select stream over every name), so its items are written in itemName()
    order, as that stream returns them.
    """
    encoder = DumpEncoder()
    output = encoder.write_header(header)
    if not header.segments:
        dump_items = sorted(dump_items)
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
    assert read_items(write_dump(dump_items, members)) == sorted(dump_items)


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
    assert header["version"] == 2
    assert header["domain"] == "packages"
    assert header["select_expression"] == "select * from `packages`"
    assert trailer["items"] == 2
    assert trailer["attributes"] == 2
    assert trailer["values"] == 3
    digest = sum(line_digest(line.encode()) for line in lines[1:-1]) % (1 << 256)
    assert trailer["digest"] == {"algorithm": DIGEST_ALGORITHM, "value": f"{digest:064x}"}
    assert trailer["collation"] == "either"  # ASCII names ascend alike in code point and UTF-16 order
    assert lines[1] == encode_item_line(dump_items[0]).decode()


SEGMENTED = DumpHeader(
    domain="packages",
    started_at="2026-11-26T03:00:00.000Z",
    select_expression="select * from `packages`",
    trigger="manual",
    run_id="run-2",
    segments=tuple(segment_bounds(4)),  # [null, "4000"), ["4000", "8000"), ["8000", "c000"), ["c000", null)
)


def hex_items(count: int) -> list[Item]:
    return [
        make_item(f"{index * 0x10000 // count:04x}-{index}", [("n", str(index))]) for index in range(count)
    ]


def interleaved(dump_items: list[Item], seed: int) -> list[Item]:
    """The items as parallel segment streams could interleave them: each segment's own order kept."""
    streams: dict[int, list[Item]] = {}
    for item in sorted(dump_items):
        streams.setdefault(int(item.name[0], 16) // 4, []).append(item)
    order, pending = [], [list(reversed(stream)) for stream in streams.values()]
    state = seed
    while any(pending):
        state = (state * 1103515245 + 12345) % (1 << 31)
        candidates = [stream for stream in pending if stream]
        order.append(candidates[state % len(candidates)].pop())
    return order


def test_the_digest_does_not_depend_on_how_the_segments_interleave() -> None:
    dump_items = hex_items(40)
    readers = [
        read_dump(io.BytesIO(write_dump(interleaved(dump_items, seed), header=SEGMENTED))) for seed in (1, 2)
    ]
    read = [list(reader) for reader in readers]
    assert read[0] != read[1]  # two different interleavings...
    assert sorted(read[0]) == sorted(read[1]) == sorted(dump_items)
    assert readers[0].trailer is not None
    assert readers[1].trailer is not None
    assert readers[0].trailer.digest == readers[1].trailer.digest  # ...one digest


def item_line(name: str, attributes: dict[str, list[str]]) -> bytes:
    return json.dumps(
        {"type": "item", "name": name, "attributes": attributes}, separators=(",", ":")
    ).encode()


def with_trailer(header: bytes, item_lines: list[bytes], collation: str = "either") -> bytes:
    """Decompressed dump text with a trailer whose counts and digest match ``item_lines`` exactly, so only
    the rule a test breaks can refuse it."""
    totals = DumpTotals()
    for line in item_lines:
        try:
            record = json.loads(line)
            record["attributes"].values()
        except (ValueError, RecursionError, TypeError, KeyError, AttributeError):
            continue  # a line the reader refuses before it reaches the trailer
        totals.items += 1
        totals.attributes += len(record["attributes"])
        totals.values += sum(len(values) for values in record["attributes"].values())
        totals.digest = (totals.digest + line_digest(line)) % (1 << 256)
    trailer = {
        "type": "trailer",
        "items": totals.items,
        "attributes": totals.attributes,
        "values": totals.values,
        "digest": {"algorithm": DIGEST_ALGORITHM, "value": format_digest(totals.digest)},
        "collation": collation,
        "completed_at": "2026-11-26T03:01:00.000Z",
    }
    return b"\n".join([header, *item_lines, json.dumps(trailer).encode()]) + b"\n"


def header_line(**changes: object) -> bytes:
    return json.dumps({**HEADER.to_record(), **changes}).encode()


def consistent(*item_lines: bytes, header: bytes | None = None, collation: str = "either") -> bytes:
    return gzip.compress(with_trailer(header or header_line(), list(item_lines), collation))


def damaged(transform: str) -> bytes:
    dump_items = [make_item(f"item{index}", [("n", str(index))]) for index in range(50)]
    data = write_dump(dump_items)
    lines = gzip.decompress(data).split(b"\n")
    if transform == "truncated":
        return data[: len(data) // 2]
    if transform == "no-trailer":
        return gzip.compress(b"\n".join(lines[:-2]) + b"\n")
    if transform == "altered-value":
        lines[5] = lines[5].replace(b'"]', b'X"]')
        return gzip.compress(b"\n".join(lines))
    if transform == "dropped-item":
        del lines[5]
        return gzip.compress(b"\n".join(lines))
    if transform == "foreign":
        return gzip.compress(b'{"hello": "world"}\n')
    if transform == "not-gzip":
        return b"PK\x03\x04 not a dump"
    if transform == "wrong-version":
        lines[0] = lines[0].replace(b'"version":2', b'"version":99')
        return gzip.compress(b"\n".join(lines))
    if transform == "over-limit":
        name = json.loads(lines[5])["name"]
        lines[5] = json.dumps({"type": "item", "name": name, "attributes": {"n": ["v" * 1025]}}).encode()
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


# --- dumps made to hurt the reader ------------------------------------------------------------------------

A = item_line("a", {"n": ["1"]})
B = item_line("b", {"n": ["2"]})
C = item_line("c", {"n": ["3"]})
SEGMENTS_AB = [[None, "b"], ["b", None]]

HOSTILE: list[tuple[str, bytes, str]] = [
    (
        "duplicate, adjacent",
        consistent(A, B, B, C),
        r"line 4: item 'b' appears a second time in segment \[null, null\)",
    ),
    ("duplicate, apart", consistent(A, B, C, B), r"line 5: item 'b' comes after 'c'"),
    ("descending", consistent(B, A), r"line 3: item 'a' comes after 'b'"),
    (
        "duplicate across interleaved segments",
        consistent(B, A, C, item_line("a", {"n": ["x"]}), header=header_line(segments=SEGMENTS_AB)),
        r"line 5: item 'a' appears a second time in segment \[null, 'b'\)",
    ),
    (
        "outside every segment",
        consistent(A, header=header_line(segments=[["b", None]])),
        "line 2: item 'a' lies in none of the header's itemName\\(\\) segments",
    ),
    (
        "in a gap between segments",
        consistent(B, header=header_line(segments=[[None, "b"], ["c", None]])),
        "lies in none of the header's",
    ),
    (
        "overlapping segments",
        consistent(A, header=header_line(segments=[[None, "c"], ["b", None]])),
        "segment 2 .* does not follow the one before it",
    ),
    (
        "segment not a pair",
        consistent(A, header=header_line(segments=[["a"]])),
        "segment 1 must be \\[lower, upper\\]",
    ),
    (
        "too many segments",
        consistent(
            A, header=header_line(segments=[[f"{i:05d}", f"{i:05d}z"] for i in range(MAX_SEGMENTS + 1)])
        ),
        f"{MAX_SEGMENTS + 1:,} segments; a dump has at most {MAX_SEGMENTS:,}",
    ),
    ("segments not a list", consistent(A, header=header_line(segments="all")), "'segments' must be a list"),
    ("header domain not a string", consistent(A, header=header_line(domain=7)), "'domain' must be a string"),
    ("version true", consistent(A, header=header_line(version=True)), "unsupported dump format version True"),
    ("empty attribute name", consistent(item_line("a", {"": ["1"]})), "attribute name '' is empty"),
    ("empty item name", consistent(item_line("", {"n": ["1"]})), "item name '' is empty"),
    (
        "surrogate in a name",
        consistent(b'{"type":"item","name":"a\\ud800","attributes":{"n":["1"]}}'),
        "lone surrogate U\\+D800",
    ),
    (
        "surrogate in an attribute name",
        consistent(b'{"type":"item","name":"a","attributes":{"\\udfff":["1"]}}'),
        "attribute name '\\\\udfff' holds a lone surrogate",
    ),
    (
        "surrogate in a value",
        consistent(b'{"type":"item","name":"a","attributes":{"n":["\\ud83d"]}}'),
        "lone surrogate",
    ),
    (
        "surrogate as UTF-8 bytes",
        consistent(b'{"type":"item","name":"a\xed\xa0\x80","attributes":{"n":["1"]}}'),
        "line 2 of the dump is not UTF-8",
    ),
    (
        "item name over 1024 bytes",
        consistent(item_line("é" * 513, {"n": ["1"]})),
        "exceeds 1024 bytes \\(1,026 bytes\\)",
    ),
    ("attribute name over 1024 bytes", consistent(item_line("a", {"n" * 1025: ["1"]})), "exceeds 1024 bytes"),
    (
        "257 pairs",
        consistent(item_line("a", {f"n{i}": ["1"] for i in range(257)})),
        "257 name/value pairs; SimpleDB allows 256",
    ),
    (
        "values not a list",
        consistent(item_line("a", {"n": "1"})),
        "attribute 'n' must be a non-empty list of strings",
    ),
    ("no values", consistent(item_line("a", {"n": []})), "must be a non-empty list of strings"),
    ("no attributes", consistent(item_line("a", {})), "item 'a' has no attributes"),
    ("byte-order mark", gzip.compress(b"\xef\xbb\xbf" + with_trailer(header_line(), [A])), "byte-order mark"),
    (
        "UTF-16",
        gzip.compress(with_trailer(header_line(), []).decode().encode("utf-16-le")),
        "not UTF-8|longer than|not valid JSON",
    ),
    (
        "deep nesting",
        consistent(b'{"type":"item","name":"a","attributes":' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        "nests JSON deeper than the parser allows",
    ),
    ("not an object", consistent(b'["item"]'), "line 2 of the dump is not a JSON object"),
    ("unknown record", consistent(b'{"type":"' + b"x" * 5000 + b'"}'), "unknown record type 'xxxx"),
    (
        "data after the trailer",
        gzip.compress(with_trailer(header_line(), [A]) + A + b"\n"),
        "data after the trailer",
    ),
    (
        "garbage after the gzip stream",
        gzip.compress(with_trailer(header_line(), [A])) + b"garbage!",
        "not valid gzip",
    ),
    (
        "blank line",
        gzip.compress(with_trailer(header_line(), [A]).replace(b"\n", b"\n\n", 1)),
        "line 2 of the dump is not valid JSON",
    ),
    ("empty", b"", "the dump is empty"),
    ("empty gzip", gzip.compress(b""), "the dump is empty"),
    (
        "trailer digest a string",
        gzip.compress(with_trailer(header_line(), []).replace(b'"digest": {', b'"digest": "x", "d": {')),
        "checksum mismatch",
    ),
    (
        "trailer counts as booleans",
        gzip.compress(with_trailer(header_line(), [A]).replace(b'"items": 1', b'"items": true')),
        "must count items, attributes and values",
    ),
    (
        "a line longer than the cap",
        gzip.compress(b"x" * (MAX_LINE_BYTES + 10)),
        f"line 1 of the dump is longer than {MAX_LINE_BYTES:,} bytes",
    ),
]


@pytest.mark.parametrize(
    ("data", "message"), [(case[1], case[2]) for case in HOSTILE], ids=[case[0] for case in HOSTILE]
)
def test_a_hostile_dump_is_refused_naming_the_rule(data: bytes, message: str) -> None:
    with pytest.raises(DumpCorruptError, match=message):
        read_items(data)


def test_the_same_lines_in_order_are_accepted() -> None:
    assert [item.name for item in read_items(consistent(A, B, C))] == ["a", "b", "c"]
    segmented = consistent(B, A, C, header=header_line(segments=SEGMENTS_AB))
    assert [item.name for item in read_items(segmented)] == ["b", "a", "c"]


def test_the_longest_legal_item_line_fits_the_cap() -> None:
    # 256 attributes, names and values of 1,024 control characters: each byte escaped as \u00XX, 6 bytes.
    control = "\x01" * 1024
    item = make_item(
        control, [(f"{index:04d}" + control[4:], control) for index in range(MAX_PAIRS_PER_ITEM)]
    )
    validate_item(item)
    line = json.dumps(
        {"type": "item", "name": item.name, "attributes": item.attributes}, separators=(",", ":")
    )
    assert len(line) == MAX_LINE_BYTES - 4 * 256 * 5  # only the 4 digit-named characters per name escape less
    assert read_items(consistent(line.encode())) == [item]


def test_a_line_is_refused_as_soon_as_it_passes_the_cap() -> None:
    class Endless(io.RawIOBase):
        """A gzip stream of one line that never ends; counts what the reader asked for."""

        def __init__(self) -> None:
            self.compressor = zlib_compressobj()
            self.sent = 0
            self.pending = self.compressor.compress(header_line() + b"\n")

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            while len(self.pending) < len(buffer):
                self.pending += self.compressor.compress(b"x" * 65536) + self.compressor.flush(
                    2
                )  # Z_SYNC_FLUSH
            size = len(buffer)
            buffer[:size] = self.pending[:size]
            self.pending = self.pending[size:]
            self.sent += size
            return size

    stream = Endless()
    reader = read_dump(stream)
    with pytest.raises(DumpCorruptError, match=f"line 2 of the dump is longer than {MAX_LINE_BYTES:,} bytes"):
        list(reader)
    assert stream.sent < 1024 * 1024  # it read only a little past the cap, compressed


def zlib_compressobj() -> Any:
    import zlib

    return zlib.compressobj(6, zlib.DEFLATED, 31)


# --- the rules refuse only hostile input -----------------------------------------------------------------------------------

AWKWARD_NAMES = [
    "\x01",
    " ",
    "0000",
    "3fff",
    "4000",
    "7fff~",
    "8000",
    "a" * 1024,
    "c000",
    "meta",
    "Zeta",
    "~",
    "\x7f",
    "é",
    "日本",
    "\ufffd",
    "\uffff",
    "😀",
    "\U0010fffd",
]


def test_a_real_backup_of_awkward_names_passes_every_rule(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    """Every name SimpleDB can hold falls in exactly one segment and comes in ascending order within it, as
    the backup writes it: one stream for a small domain, and four parallel streams interleaving their pages."""
    items = [
        make_item(name, [("n", name[:10]), ("empty", ""), ("ctl", "\x00\x1f")]) for name in AWKWARD_NAMES
    ]
    fill(sdb_client, DOMAIN, items)
    result = BackupService(SimpleDB(sdb_client), BucketStore(s3_client, bucket), segments=4).backup(
        DOMAIN, "manual", Deadline(lambda: 900.0, 30.0)
    )
    body = s3_client.get_object(Bucket=bucket, Key=dump_key(DOMAIN), VersionId=result.version_id)["Body"]
    assert sorted(read_dump(body)) == sorted(items)

    segments = make_segments(4)
    header = DumpHeader(DOMAIN, "2026-11-26T03:00:00Z", f"select * from `{DOMAIN}`", "manual", "four-streams")
    header = replace(header, segments=tuple((segment.lower, segment.upper) for segment in segments))
    encoder = DumpEncoder()
    data = encoder.write_header(header)
    for _, page in scan_segments(SimpleDB(sdb_client), DOMAIN, segments):
        data += encoder.write_items(page)  # in arrival order, as BackupRun._stream_segments writes them
    data += encoder.write_trailer("2026-11-26T03:00:01Z")[0]
    reader = read_dump(io.BytesIO(data))
    assert sorted(reader) == sorted(items)
    assert len(reader.header.segments) == 4


# --- one collation, code point or UTF-16 (format version 2), and version 1 dumps ---------------------------

# The two orders differ only between a character above U+FFFF and one from U+E000 to U+FFFF: UTF-16 writes the
# first as a surrogate pair (D800-DBFF), which sorts before E000.
ASTRAL = item_line("z\U0010fffd", {"n": ["1"]})
PRIVATE = item_line("z\ue000", {"n": ["2"]})
ASTRAL_2 = item_line("y\U00010000", {"n": ["3"]})
PRIVATE_2 = item_line("y\uffff", {"n": ["4"]})


def test_names_in_utf16_order_are_read_and_the_trailer_says_so() -> None:
    reader = read_dump(io.BytesIO(consistent(ASTRAL_2, PRIVATE_2, ASTRAL, PRIVATE, collation="utf-16")))
    assert [item.name for item in reader] == ["y\U00010000", "y\uffff", "z\U0010fffd", "z\ue000"]
    assert reader.trailer is not None
    assert reader.trailer.collation == "utf-16"


def test_names_in_code_point_order_are_read_and_the_trailer_says_so() -> None:
    reader = read_dump(io.BytesIO(consistent(PRIVATE_2, ASTRAL_2, PRIVATE, ASTRAL, collation="code-point")))
    assert len(list(reader)) == 4
    assert reader.trailer is not None
    assert reader.trailer.collation == "code-point"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            consistent(PRIVATE_2, ASTRAL_2, ASTRAL, PRIVATE, collation="code-point"),
            r"line 5: item 'z\\ue000' follows 'z\\U0010fffd' .* only in utf-16 order, but the names before it "
            "ascend only in code-point order",
        ),
        (
            consistent(ASTRAL, PRIVATE, collation="code-point"),
            "the dump's trailer says its names ascend in 'code-point' order, but they ascend in 'utf-16' order",
        ),
        (
            consistent(A, B, collation="utf-16"),
            "trailer says its names ascend in 'utf-16' order, but they ascend in 'either' order",
        ),
        (consistent(A, B, collation="none"), "trailer says its names ascend in 'none' order"),
        (
            consistent(ASTRAL, item_line("z\U0010fffd", {"n": ["x"]}), collation="utf-16"),
            r"line 3: item 'z\\U0010fffd' appears a second time",
        ),
        (
            consistent(A, header=header_line(segments=[[None, "m\ue000"], ["m\ue000", None]])),
            "segment 1 has a bound with a character from U\\+E000 up",
        ),
    ],
    ids=[
        "mixed collations",
        "trailer says code point",
        "trailer says utf-16",
        "unknown",
        "twice",
        "unsafe bound",
    ],
)
def test_a_dump_whose_names_ascend_in_no_one_collation_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(DumpCorruptError, match=message):
        read_items(data)


def version_1(*item_lines: bytes) -> bytes:
    """A dump as version 1 wrote it: no collation in the trailer."""
    text = with_trailer(
        header_line(version=1, segments=[list(bounds) for bounds in segment_bounds(4)]), list(item_lines)
    )
    lines = text.split(b"\n")
    trailer = json.loads(lines[-2])
    del trailer["collation"]
    lines[-2] = json.dumps(trailer).encode()
    return gzip.compress(b"\n".join(lines))


def test_dumps_written_as_version_1_stay_readable() -> None:
    reader = read_dump(io.BytesIO(version_1(item_line("4000", {"n": ["1"]}), A, B)))
    assert reader.header.version == 1
    assert [item.name for item in reader] == ["4000", "a", "b"]
    # A version 1 backup of a service that orders by UTF-16 published such a dump; it restores now.
    assert len(read_items(version_1(ASTRAL, PRIVATE))) == 2
    with pytest.raises(DumpCorruptError, match="appears a second time"):
        read_items(version_1(A, A))


# --- the writer applies the reader's rules -------------------------------------------------------------------


def test_the_writer_refuses_what_the_reader_would_naming_the_item_the_line_and_the_rule() -> None:
    encoder = DumpEncoder()
    encoder.write_header(HEADER)
    encoder.write_items([make_item("a", [("n", "1")]), make_item("b", [("n", "2")])])
    with pytest.raises(DumpRuleError) as repeated:
        encoder.write_items([make_item("c", [("n", "3")]), make_item("c", [("n", "4")])])
    assert (repeated.value.rule, repeated.value.line, repeated.value.item) == ("ascending-names", 5, "c")
    assert "line 5 of the dump breaks the rule 'ascending-names': item 'c' appears a second time" in str(
        repeated.value
    )
    with pytest.raises(DumpRuleError) as bare:
        encoder.write_items([make_item("d", [("n", "1")]), Item("e", {})])
    assert (bare.value.rule, bare.value.line, bare.value.item) == ("simpledb-limits", 5, "e")
    assert "item 'e' has no attributes" in str(bare.value)


def test_a_stream_page_that_breaks_a_rule_names_the_item_by_its_place_in_the_page() -> None:
    encoder = PageEncoder(NameOrder((), ["b"]))
    with pytest.raises(DumpRuleError) as error:
        encoder.encode([make_item("c", [("n", "1")]), make_item("b", [("n", "2")])])
    assert (error.value.rule, error.value.offset, error.value.item) == ("ascending-names", 1, "b")
    page = PageEncoder(NameOrder(())).encode(
        [make_item("z\U0010fffd", [("n", "1")]), make_item("z\ue000", [("n", "2")])]
    )
    assert page.collation == "utf-16"
    assert page.totals.items == 2
    assert gzip.decompress(page.data).count(b"\n") == 2


# Text of any kind, lone surrogates included, and of any length around the 1,024-byte limit.
any_text = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=12),
    st.sampled_from(["", "x" * 1024, "x" * 1025, "é" * 512, "é" * 513, "😀" * 256, "😀" * 257, "\ud800"]),
)
any_item = st.one_of(
    st.builds(
        Item,
        any_text,
        st.dictionaries(any_text, st.lists(any_text, min_size=1, max_size=3).map(tuple), max_size=4),
    ),
    st.sampled_from(
        [
            make_item("many", [(f"a{index}", "v") for index in range(257)]),
            make_item("multi", [("a", str(index)) for index in range(257)]),
            make_item("full", [(f"a{index}", "v") for index in range(256)]),
        ]
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(any_item, max_size=6))
def test_checking_a_page_at_once_refuses_exactly_what_checking_each_item_refuses(page: list[Item]) -> None:
    def refused_alone(item: Item) -> bool:
        try:
            validate_item(item)
        except LimitExceededError:
            return True
        return False

    expected = next((offset for offset, item in enumerate(page) if refused_alone(item)), None)
    if expected is None:
        check_items(page)
        return
    with pytest.raises(DumpRuleError) as error:
        check_items(page)
    assert error.value.offset == expected
