"""The dump format: gzip-compressed JSON Lines that describe themselves (specified in docs/FORMAT.md).

Line 1 is a header, then one line per item, then a trailer with the counts and a digest of the item lines.
The digest is the sum modulo 2**256 of the SHA-256 of every item line. Unlike one running SHA-256 it does not
depend on line order and its state is one integer, so parallel Select streams can interleave their items and a
backup that continues in a new invocation can carry the digest across in its checkpoint.

The file may be several gzip members one after another (RFC 1952 §2.2): a backup that checkpoints closes its
member and the next invocation opens a new one.
"""

import gzip
import hashlib
import json
import zlib
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from isal import isal_zlib

from simpledb_backup import TOOL_NAME, __version__
from simpledb_backup.errors import DumpCorruptError, LimitExceededError
from simpledb_backup.items import (
    MAX_ITEM_NAME_BYTES,
    MAX_NAME_BYTES,
    MAX_PAIRS_PER_ITEM,
    MAX_VALUE_BYTES,
    Item,
    normalize_attributes,
    utf8_length,
    validate_item,
)

FORMAT_NAME = "simpledb-backup-dump"
FORMAT_VERSION = 1
DIGEST_ALGORITHM = "sha256-sum-mod-2^256"
_DIGEST_MODULUS = 1 << 256
# Deflate by ISA-L (isal), standard gzip that zlib, gzip and zcat read. On Repoman pages (scripts/cpu_ab.py) its
# level 3, its best, costs a seventh of zlib 6's CPU for output 8 % larger; zlib-ng 6 keeps zlib's size at half
# its CPU, still nearly 4 times isal 3's: over a quarter of the backup's whole CPU per MB of Select XML.
COMPRESSION_LEVEL = isal_zlib.ISAL_BEST_COMPRESSION
_GZIP_WBITS = 31  # zlib wbits for a gzip wrapper


def _escaped_string_bytes(utf8_bytes: int) -> int:
    # A JSON writer may escape any character as \uXXXX: 6 bytes. Per UTF-8 byte that is worst for a 1-byte
    # character (a control character; any ASCII one for a writer that escapes everything): 6 bytes. A 2-byte
    # character costs 6 (3 per byte), a 3-byte one 6 (2 per byte), a 4-byte one a surrogate pair, 12 (3 per
    # byte). So a string of n UTF-8 bytes takes at most 6n bytes, plus its two quotes.
    return 2 + 6 * utf8_bytes


#: The longest line a legal item can have, so the longest line a reader accepts: one endless line is refused as
#: soon as it passes this, instead of being buffered. The longest item is a 1,024-byte name with 256
#: single-valued attributes, each a 1,024-byte name and a 1,024-byte value (several values under one name are
#: shorter, the name being written once), every string escaped at worst (above):
#: ``{"type":"item","name":N,"attributes":{A1:[V1],...,A256:[V256]}}``
#: = 22 + 6,146 + 15 + 256 * (6,146 + 2 + 6,146 + 1) + 255 commas + 2 = 3,153,960 bytes.
#: Header and trailer lines are far shorter and obey the same cap.
MAX_LINE_BYTES = (
    len(b'{"type":"item","name":')
    + _escaped_string_bytes(MAX_ITEM_NAME_BYTES)
    + len(b',"attributes":{')
    + MAX_PAIRS_PER_ITEM
    * (
        _escaped_string_bytes(MAX_NAME_BYTES)
        + len(b":[")
        + _escaped_string_bytes(MAX_VALUE_BYTES)
        + len(b"]")
    )
    + (MAX_PAIRS_PER_ITEM - 1)
    + len(b"}}")
)
#: The most itemName() segments a header may list. The backup writes at most BackupSegments (64) of them; the
#: reader keeps one item name per segment, so the cap bounds that memory whatever a header says.
MAX_SEGMENTS = 1024
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"


def _encode_line(record: dict[str, Any]) -> bytes:
    # ensure_ascii=False keeps non-ASCII text readable; characters that are invalid in XML (and any control
    # character) are still escaped by json as \uXXXX, so every line is valid UTF-8 with no raw newline.
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_item_line(item: Item) -> bytes:
    """The canonical item line, without its newline: attribute names and values in sorted order.

    The bytes are exactly ``_encode_line``'s, which the digest and the restore's planning and verification
    compare: for dicts, tuples and strings orjson writes what ``json.dumps(..., ensure_ascii=False)`` does
    (tests/unit/formats/test_dumpencoding.py proves it over arbitrary text), about eight times faster. What orjson
    refuses (a lone surrogate, which the UTF-8 encoding refuses too) goes through ``_encode_line``, which
    raises the error it always raised.
    """
    record = {"type": "item", "name": item.name, "attributes": item.attributes}
    try:
        return orjson.dumps(record)
    except orjson.JSONEncodeError:
        return _encode_line(record)


def line_digest(line: bytes) -> int:
    return int.from_bytes(hashlib.sha256(line).digest(), "big")


def format_digest(value: int) -> str:
    return f"{value % _DIGEST_MODULUS:064x}"


@dataclass(frozen=True)
class DumpHeader:
    domain: str
    started_at: str
    select_expression: str
    trigger: str
    run_id: str
    where: str | None = None
    label: str | None = None
    segments: tuple[tuple[str | None, str | None], ...] = ()
    tool: str = f"{TOOL_NAME} {__version__}"

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "header",
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "domain": self.domain,
            "started_at": self.started_at,
            "tool": self.tool,
            "select_expression": self.select_expression,
            "where": self.where,
            "label": self.label,
            "trigger": self.trigger,
            "run_id": self.run_id,
            "segments": [list(bounds) for bounds in self.segments],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "DumpHeader":
        if record.get("type") != "header" or record.get("format") != FORMAT_NAME:
            raise DumpCorruptError(f"not a {FORMAT_NAME} file: the first line is not its header")
        if record.get("version") != FORMAT_VERSION or isinstance(record.get("version"), bool):
            raise DumpCorruptError(
                f"unsupported dump format version {record.get('version')!r}; this tool reads {FORMAT_VERSION}"
            )
        for name in ("domain", "started_at", "select_expression", "trigger", "run_id", "tool"):
            if not isinstance(record.get(name), str):
                raise DumpCorruptError(
                    f"dump header: {name!r} must be a string, not {record.get(name)!r:.80}"
                )
        for name in ("where", "label"):
            if not isinstance(record.get(name), str | None):
                raise DumpCorruptError(f"dump header: {name!r} must be a string or null")
        return cls(
            domain=record["domain"],
            started_at=record["started_at"],
            select_expression=record["select_expression"],
            trigger=record["trigger"],
            run_id=record["run_id"],
            where=record.get("where"),
            label=record.get("label"),
            segments=_segments_of(record.get("segments", [])),
            tool=record["tool"],
        )


def _segments_of(listed: object) -> tuple[tuple[str | None, str | None], ...]:
    """The header's itemName() ranges, refused unless they are at most MAX_SEGMENTS ascending, disjoint
    ``[lower, upper)`` pairs of item names (or null for no bound), as the backup writes them."""
    if not isinstance(listed, list):
        raise DumpCorruptError("dump header: 'segments' must be a list of [lower, upper] itemName() ranges")
    if len(listed) > MAX_SEGMENTS:
        raise DumpCorruptError(
            f"dump header: {len(listed):,} segments; a dump has at most {MAX_SEGMENTS:,} itemName() ranges"
        )
    segments: list[tuple[str | None, str | None]] = []
    for index, bounds in enumerate(listed):
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(bound is None or _is_item_name(bound) for bound in bounds)
        ):
            raise DumpCorruptError(
                f"dump header: segment {index + 1} must be [lower, upper], each an item name or null"
            )
        lower, upper = bounds
        previous_upper = segments[-1][1] if segments else None
        if (lower is not None and upper is not None and lower >= upper) or (
            segments and (previous_upper is None or lower is None or lower < previous_upper)
        ):
            raise DumpCorruptError(
                f"dump header: segment {index + 1} {bounds!r:.200} does not follow the one before it; segments "
                "are ascending, non-overlapping itemName() ranges"
            )
        segments.append((lower, upper))
    return tuple(segments)


def _is_item_name(bound: object) -> bool:
    if not isinstance(bound, str) or not bound:
        return False
    try:
        return utf8_length(bound) <= MAX_ITEM_NAME_BYTES
    except UnicodeEncodeError:
        return False


@dataclass
class DumpTotals:
    """Running counts and digest of the item lines written or read so far (checkpointable state)."""

    items: int = 0
    attributes: int = 0
    values: int = 0
    digest: int = 0

    def add(self, item: Item, line: bytes) -> None:
        self.items += 1
        self.attributes += len(item.attributes)
        self.values += item.pair_count
        self.digest = (self.digest + line_digest(line)) % _DIGEST_MODULUS

    def merge(self, other: "DumpTotals") -> None:
        self.items += other.items
        self.attributes += other.attributes
        self.values += other.values
        self.digest = (self.digest + other.digest) % _DIGEST_MODULUS

    def to_state(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "attributes": self.attributes,
            "values": self.values,
            "digest": hex(self.digest),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "DumpTotals":
        return cls(state["items"], state["attributes"], state["values"], int(state["digest"], 16))


@dataclass(frozen=True)
class DumpTrailer:
    items: int
    attributes: int
    values: int
    digest: str
    completed_at: str

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "trailer",
            "items": self.items,
            "attributes": self.attributes,
            "values": self.values,
            "digest": {"algorithm": DIGEST_ALGORITHM, "value": self.digest},
            "completed_at": self.completed_at,
        }


@dataclass
class DumpEncoder:
    """Turns header, items and trailer into compressed bytes, one gzip member at a time.

    The encoder does no I/O: ``write_*`` return compressed bytes for the caller to store. ``close_member``
    ends the current gzip member so the encoder's state can be checkpointed as ``totals`` alone.
    """

    totals: DumpTotals = field(default_factory=DumpTotals)
    _compressor: Any = None

    def _compress(self, data: bytes) -> bytes:
        if self._compressor is None:
            self._compressor = isal_zlib.compressobj(COMPRESSION_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)
        return bytes(self._compressor.compress(data))

    def write_header(self, header: DumpHeader) -> bytes:
        return self._compress(_encode_line(header.to_record()) + b"\n")

    def write_items(self, items: list[Item]) -> bytes:
        lines = []
        for item in items:
            line = encode_item_line(item)
            self.totals.add(item, line)
            lines.append(line)
        lines.append(b"")
        return self._compress(b"\n".join(lines))

    def write_trailer(self, completed_at: str) -> tuple[bytes, DumpTrailer]:
        trailer = DumpTrailer(
            self.totals.items,
            self.totals.attributes,
            self.totals.values,
            format_digest(self.totals.digest),
            completed_at,
        )
        return self._compress(_encode_line(trailer.to_record()) + b"\n") + self.close_member(), trailer

    def close_member(self) -> bytes:
        if self._compressor is None:
            return b""
        tail = bytes(self._compressor.flush(isal_zlib.Z_FINISH))
        self._compressor = None
        return tail


def _iter_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Decompress a (possibly multi-member) gzip stream and yield its lines, newline stripped.

    Memory stays bounded whatever the stream holds: gzip decompresses at most one buffer's worth of output per
    read (zlib's ``max_length``), and ``readline`` stops at MAX_LINE_BYTES, so neither a bomb nor one endless
    line is ever held whole.
    """
    gunzip = gzip.GzipFile(fileobj=stream, mode="rb")
    number = 0
    while True:
        try:
            line = gunzip.readline(MAX_LINE_BYTES + 1)
        except EOFError as error:
            raise DumpCorruptError(
                "the dump is truncated: its gzip stream ends before its end marker"
            ) from error
        except (OSError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise DumpCorruptError(f"the dump is not valid gzip data: {error}") from error
        if not line:
            return
        number += 1
        if number == 1 and line.startswith(_BYTE_ORDER_MARK):
            raise DumpCorruptError(
                "the dump starts with a UTF-8 byte-order mark (EF BB BF); the format forbids one (docs/FORMAT.md)"
            )
        if line[-1:] != b"\n":
            if len(line) > MAX_LINE_BYTES:
                raise DumpCorruptError(
                    f"line {number} of the dump is longer than {MAX_LINE_BYTES:,} bytes, the longest line a legal "
                    "item can have"
                )
            raise DumpCorruptError("the dump is truncated: its last line has no newline")
        yield line[:-1]


def _parse(line: bytes, number: int) -> dict[str, Any]:
    try:
        text = line.decode("utf-8")  # strict: never json's own guess of UTF-16, nor surrogates passed through
    except UnicodeDecodeError as error:
        raise DumpCorruptError(f"line {number} of the dump is not UTF-8 text: {error}") from error
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise DumpCorruptError(f"line {number} of the dump is not valid JSON: {error}") from error
    except RecursionError as error:
        raise DumpCorruptError(
            f"line {number} of the dump nests JSON deeper than the parser allows; an item line nests 3 levels"
        ) from error
    if not isinstance(record, dict):
        raise DumpCorruptError(f"line {number} of the dump is not a JSON object")
    return record


def _item_from_record(record: dict[str, Any], number: int) -> Item:
    name, attributes = record.get("name"), record.get("attributes")
    if not isinstance(name, str) or not isinstance(attributes, dict):
        raise DumpCorruptError(f"line {number}: an item needs a string 'name' and an object 'attributes'")
    for attribute, values in attributes.items():
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise DumpCorruptError(
                f"line {number}: attribute {attribute[:80]!r} must be a non-empty list of strings"
            )
    item = Item(name, normalize_attributes(attributes))
    try:
        validate_item(item)
    except LimitExceededError as error:
        raise DumpCorruptError(f"line {number}: {error}") from error
    return item


def _bound(bound: str | None) -> str:
    return "null" if bound is None else repr(bound[:40])


class _ItemOrder:
    """Checks that every item lies in one of the header's segments and that names ascend strictly within each.

    The backup reads each segment with one Select ``order by itemName()`` (resumed after its last name), so its
    lines for one segment are in ascending order, interleaved with the other segments'. A name seen twice
    breaks that order, so this finds every duplicate while keeping one name per segment, not one per item.
    Python compares strings by code point, which is the order of their UTF-8 bytes: SimpleDB's lexicographic
    order. A header with no segments describes one stream over every name.
    """

    def __init__(self, segments: tuple[tuple[str | None, str | None], ...]) -> None:
        self._segments = segments or ((None, None),)
        self._lowers = [lower or "" for lower, _ in self._segments]
        self._last: list[str | None] = [None] * len(self._segments)

    def check(self, name: str, number: int) -> None:
        index = bisect_right(self._lowers, name) - 1
        lower, upper = self._segments[max(index, 0)]
        if index < 0 or (upper is not None and name >= upper):
            raise DumpCorruptError(
                f"line {number}: item {name[:80]!r} lies in none of the header's itemName() segments; the dump "
                "holds an item its backup could not have read"
            )
        last = self._last[index]
        if last is not None and name <= last:
            what = "appears a second time" if name == last else f"comes after {last[:80]!r}"
            raise DumpCorruptError(
                f"line {number}: item {name[:80]!r} {what} in segment [{_bound(lower)}, {_bound(upper)}); each "
                "segment is written in ascending itemName() order, so every name appears once: the dump holds "
                "a duplicate or was altered"
            )
        self._last[index] = name


class DumpReader:
    """Streams the items of a dump, verifying as it goes.

    Iterating yields every item; the trailer's counts and digest are checked when the last line is reached,
    so a caller that needs certainty before acting (restore) reads the dump through once first.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._lines = _iter_lines(stream)
        first = next(self._lines, None)
        if first is None:
            raise DumpCorruptError("the dump is empty")
        self.header = DumpHeader.from_record(_parse(first, 1))
        self.trailer: DumpTrailer | None = None
        self.totals = DumpTotals()
        self._order = _ItemOrder(self.header.segments)

    def __iter__(self) -> Iterator[Item]:
        seen_trailer = False
        number = 1
        for line in self._lines:
            number += 1
            if seen_trailer:
                raise DumpCorruptError(f"line {number}: data after the trailer")
            record = _parse(line, number)
            kind = record.get("type")
            if kind == "item":
                item = _item_from_record(record, number)
                self._order.check(item.name, number)
                self.totals.add(item, line)
                yield item
            elif kind == "trailer":
                self._verify_trailer(record)
                seen_trailer = True
            else:
                raise DumpCorruptError(f"line {number}: unknown record type {kind!r:.80}")
        if not seen_trailer:
            raise DumpCorruptError(
                f"the dump is truncated: no trailer after {self.totals.items} items (line {number})"
            )

    def _verify_trailer(self, record: dict[str, Any]) -> None:
        digest = record.get("digest")
        expected = (record.get("items"), record.get("attributes"), record.get("values"))
        if not all(isinstance(count, int) and not isinstance(count, bool) for count in expected):
            raise DumpCorruptError(
                f"the dump's trailer must count items, attributes and values: {expected!r:.200}"
            )
        actual = (self.totals.items, self.totals.attributes, self.totals.values)
        if expected != actual:
            raise DumpCorruptError(
                f"the dump's counts do not match its trailer: trailer says items/attributes/values {expected}, "
                f"the file holds {actual}"
            )
        if (
            not isinstance(digest, dict)
            or digest.get("algorithm") != DIGEST_ALGORITHM
            or digest.get("value") != format_digest(self.totals.digest)
        ):
            raise DumpCorruptError(
                "checksum mismatch: the item lines do not match the trailer's digest, the dump was altered"
            )
        self.trailer = DumpTrailer(
            self.totals.items,
            self.totals.attributes,
            self.totals.values,
            format_digest(self.totals.digest),
            str(record.get("completed_at")),
        )


def read_dump(stream: IO[bytes]) -> DumpReader:
    """Open a dump for streaming; raises DumpCorruptError for anything that is not a valid dump."""
    return DumpReader(stream)
