"""The dump format: gzip-compressed JSON Lines that describe themselves (specified in docs/FORMAT.md).

Line 1 is a header, then one line per item, then a trailer with the counts and a digest of the item lines.
The digest is the sum modulo 2**256 of the SHA-256 of every item line. Unlike one running SHA-256 it does not
depend on line order and its state is one integer, so parallel Select streams can interleave their items and a
backup that continues in a new invocation can carry the digest across in its checkpoint.

The file may be several gzip members one after another (RFC 1952 §2.2): the backup compresses every Select
page into a member of its own, in the thread that read it.

The rules a reader enforces are defined here once and applied by the writer too, as it writes (``check_items``,
``NameOrder``): SimpleDB's limits on every item, and item names strictly ascending within their header segment in
one collation. A dump its reader would refuse is therefore never published (DumpRuleError).
"""

import gzip
import hashlib
import json
import zlib
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import IO, Any

import orjson
from isal import isal_zlib

from simpledb_backup import TOOL_NAME, __version__
from simpledb_backup.errors import DumpCorruptError, DumpRuleError, LimitExceededError
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
#: Version 2 (docs/FORMAT.md): a segment's names ascend in code point or in UTF-16 order, the trailer says which,
#: and header bounds sort alike in both. Version 1 dumps stay readable (``READABLE_VERSIONS``).
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
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
#: The most itemName() segments a header may list. The backup writes at most this many (its split points); the
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


# --- the rules every reader enforces and the backup applies as it writes ------------------------------------

#: The order SimpleDB returned a segment's names in. SimpleDB calls its comparisons "lexicographical" without
#: saying over what; code point order (UTF-8 bytes, Python's str order) and UTF-16 code unit order differ only
#: between a character above U+FFFF and one from U+E000 to U+FFFF. ``EITHER``: no two names of the dump tell
#: them apart.
CODE_POINT = "code-point"
UTF16 = "utf-16"
EITHER = "either"
COLLATIONS = (EITHER, CODE_POINT, UTF16)
#: Below this character a string sorts against every other string alike in both collations (a surrogate is no
#: character of valid text): the first difference of the two either ends one of them or is a character below
#: U+E000, which both orders place before U+E000-U+FFFF and before every character above U+FFFF.
_FIRST_UNSAFE = "\ue000"

#: The names of the rules, as a refusal names them.
RULE_LIMITS = "simpledb-limits"
RULE_ASCENDING = "ascending-names"
RULE_ONE_COLLATION = "one-collation"
RULE_INSIDE_SEGMENTS = "inside-segments"


def collation_safe(bound: str) -> bool:
    """True when ``bound`` compares with every name alike in code point and in UTF-16 order (all its characters
    are below U+E000), so a segment bounded by it holds the same names whichever order SimpleDB uses."""
    return bound.isascii() or max(bound) < _FIRST_UNSAFE


def _ascends(last: str, name: str) -> tuple[bool, bool]:
    """Whether ``last`` < ``name`` by code point and by UTF-16 code unit."""
    by_code_point = last < name
    if collation_safe(last) or collation_safe(name):
        return by_code_point, by_code_point
    return by_code_point, last.encode("utf-16-be") < name.encode("utf-16-be")


def _shown(name: str) -> str:
    return repr(name[:80])


def _bound(bound: str | None) -> str:
    return "null" if bound is None else repr(bound[:40])


class NameOrder:
    """The order rule: every item lies in one of the header's segments, and within each segment the names
    strictly ascend in one collation, code point or UTF-16, the same for the whole dump.

    The backup reads each segment with Select ``order by itemName()`` (resumed after its last name), so a
    segment's lines come in SimpleDB's order, interleaved with the other segments'. A name seen twice breaks the
    ascent, so this finds every duplicate while keeping one name per segment, not one per item. The collation is
    whichever one the first pair of names that tells them apart follows; a later pair that follows only the
    other breaks the rule. Segment bounds are collation-safe in a version 2 header, so which segment a name is
    in does not depend on the collation. A header with no segments describes one stream over every name.
    """

    def __init__(
        self,
        segments: Sequence[tuple[str | None, str | None]],
        lasts: Sequence[str | None] | None = None,
        collation: str = EITHER,
    ) -> None:
        self._segments = tuple(segments) or ((None, None),)
        self._lowers = [lower or "" for lower, _ in self._segments]
        self._last: list[str | None] = list(lasts) if lasts is not None else [None] * len(self._segments)
        self.collation = collation

    def segment_of(self, name: str) -> int:
        """The index of the segment ``name`` lies in; DumpRuleError when it lies in none."""
        index = bisect_right(self._lowers, name) - 1
        upper = self._segments[max(index, 0)][1]
        if index < 0 or (upper is not None and name >= upper):
            raise DumpRuleError(
                RULE_INSIDE_SEGMENTS,
                name,
                f"item {_shown(name)} lies in none of the header's itemName() segments; the dump holds an item "
                "its backup could not have read",
            )
        return index

    def check(self, name: str) -> int:
        """Apply the rule to the next name; returns its segment's index, or raises DumpRuleError."""
        index = self.segment_of(name)
        last = self._last[index]
        if last is not None:
            by_code_point, by_utf16 = _ascends(last, name)
            if not (by_code_point and by_utf16):
                self._ascended(index, last, name, by_code_point, by_utf16)
        self._last[index] = name
        return index

    def _ascended(self, index: int, last: str, name: str, by_code_point: bool, by_utf16: bool) -> None:
        lower, upper = self._segments[index]
        segment = f"segment [{_bound(lower)}, {_bound(upper)})"
        if not by_code_point and not by_utf16:
            what = "appears a second time" if name == last else f"comes after {_shown(last)}"
            raise DumpRuleError(
                RULE_ASCENDING,
                name,
                f"item {_shown(name)} {what} in {segment}; each segment is written in ascending itemName() "
                "order, so every name appears once: the dump holds a duplicate or was altered",
            )
        seen = CODE_POINT if by_code_point else UTF16
        if self.collation == EITHER:
            self.collation = seen
        elif self.collation != seen:
            raise DumpRuleError(
                RULE_ONE_COLLATION,
                name,
                f"item {_shown(name)} follows {_shown(last)} in {segment} only in {seen} order, but the names "
                f"before it ascend only in {self.collation} order; a dump's names ascend in one collation",
            )

    @staticmethod
    def merged(first: str, second: str, item: str) -> str:
        """The collation two parts of one dump saw together; DumpRuleError when they saw different ones."""
        if first in (EITHER, second):
            return second
        if second == EITHER:
            return first
        raise DumpRuleError(
            RULE_ONE_COLLATION,
            item,
            f"names near item {_shown(item)} ascend only in {second} order, others of the dump only in {first} "
            "order; a dump's names ascend in one collation",
        )


_NAME = itemgetter(0)
_ATTRIBUTES = itemgetter(1)
#: At most 256 characters are at most 1,024 UTF-8 bytes (4 bytes a character at most).
_SURELY_SHORT = MAX_VALUE_BYTES // 4


def _within_limits(items: Sequence[Item]) -> tuple[bool, int, int]:
    """A sufficient test that every item passes ``validate_item``, over a whole page at C speed, and the page's
    attribute and value counts, which it finds on the way. The rule stays ``validate_item``'s, which decides for
    a page this cannot clear (and names the item).

    Text that is all ASCII has one byte per character; other text is valid UTF-8 when it encodes, and then at
    most 4 bytes per character. An item with one value per attribute has as many pairs as attributes.
    """
    maps = list(map(_ATTRIBUTES, items))
    names = list(map(_NAME, items))
    attribute_names = list(chain.from_iterable(maps))
    values = list(chain.from_iterable(chain.from_iterable(map(dict.values, maps))))
    counts = len(attribute_names), len(values)
    text = "".join(names) + "".join(attribute_names) + "".join(values)
    limit = MAX_VALUE_BYTES
    if not text.isascii():
        limit = _SURELY_SHORT
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return False, *counts
    if len(values) == len(attribute_names):
        pairs = max(map(len, maps), default=0)
    else:
        pairs = max(sum(map(len, attributes.values())) for attributes in maps)
    within = (
        min(map(len, maps), default=1) > 0
        and pairs <= MAX_PAIRS_PER_ITEM
        and min(map(len, names), default=1) > 0
        and max(map(len, names), default=0) <= min(limit, MAX_ITEM_NAME_BYTES)
        and min(map(len, attribute_names), default=1) > 0
        and max(map(len, attribute_names), default=0) <= min(limit, MAX_NAME_BYTES)
        and max(map(len, values), default=0) <= limit
    )
    return within, *counts


def check_item(item: Item) -> None:
    """SimpleDB's limits (``items.validate_item``) as a rule of the dump; DumpRuleError naming the item."""
    try:
        validate_item(item)
    except LimitExceededError as error:
        raise DumpRuleError(RULE_LIMITS, item.name, str(error)) from error


def check_items(items: Sequence[Item]) -> tuple[int, int]:
    """``check_item`` for every item of a page; the error's ``offset`` is the first failing item's position.
    Returns the page's attribute and value counts (the trailer's sums)."""
    within, attributes, values = _within_limits(items)
    if within:
        return attributes, values
    for offset, item in enumerate(items):
        try:
            check_item(item)
        except DumpRuleError as error:
            raise DumpRuleError(error.rule, error.item, error.detail, offset=offset) from error
    return attributes, values


# --- header, totals, trailer --------------------------------------------------------------------------------


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
    version: int = FORMAT_VERSION

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "header",
            "format": FORMAT_NAME,
            "version": self.version,
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
        version = record.get("version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            readable = " and ".join(str(known) for known in READABLE_VERSIONS)
            raise DumpCorruptError(f"unsupported dump format version {version!r}; this tool reads {readable}")
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
            segments=_segments_of(record.get("segments", []), version),
            tool=record["tool"],
            version=version,
        )


def _segments_of(listed: object, version: int) -> tuple[tuple[str | None, str | None], ...]:
    """The header's itemName() ranges, refused unless they are at most MAX_SEGMENTS ascending, disjoint
    ``[lower, upper)`` pairs of item names (or null for no bound), as the backup writes them; from version 2 on,
    every bound collation-safe."""
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
        if version >= 2 and not all(bound is None or collation_safe(bound) for bound in bounds):
            raise DumpCorruptError(
                f"dump header: segment {index + 1} has a bound with a character from U+E000 up; bounds sort "
                "alike in code point and UTF-16 order (docs/FORMAT.md)"
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
    #: The collation the names ascended in (``COLLATIONS``); recorded from version 2 on.
    collation: str = EITHER

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "trailer",
            "items": self.items,
            "attributes": self.attributes,
            "values": self.values,
            "digest": {"algorithm": DIGEST_ALGORITHM, "value": self.digest},
            "collation": self.collation,
            "completed_at": self.completed_at,
        }


# --- writing ---------------------------------------------------------------------------------------------------


def _gzip_member(data: bytes) -> bytes:
    compressor = isal_zlib.compressobj(COMPRESSION_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)
    return bytes(compressor.compress(data)) + bytes(compressor.flush(isal_zlib.Z_FINISH))


@dataclass(frozen=True)
class EncodedPage:
    """One Select page as dump lines: a whole gzip member, with what it adds to the totals."""

    data: bytes
    totals: DumpTotals
    #: The collation its stream's names ascended in up to the end of this page.
    collation: str
    last_item: str


class PageEncoder:
    """Encodes the pages of one Select stream, applying the rules as it goes; safe to use in the stream's own
    thread (it shares nothing with other streams: its NameOrder holds the last names of the stream's segments).
    """

    def __init__(self, order: NameOrder) -> None:
        self.order = order

    def encode(self, items: Sequence[Item]) -> EncodedPage:
        """The page's lines compressed as one member; DumpRuleError (with the item's ``offset``) for an item the
        reader would refuse, before anything of the page is kept."""
        attributes, values = check_items(items)
        check = self.order.check
        lines = []
        for offset, item in enumerate(items):
            try:
                check(item.name)
            except DumpRuleError as error:
                raise DumpRuleError(error.rule, error.item, error.detail, offset=offset) from error
            lines.append(encode_item_line(item))
        digest = sum(map(line_digest, lines)) % _DIGEST_MODULUS
        totals = DumpTotals(len(lines), attributes, values, digest)
        lines.append(b"")
        last = items[-1].name if items else ""
        return EncodedPage(_gzip_member(b"\n".join(lines)), totals, self.order.collation, last)


@dataclass
class DumpEncoder:
    """Turns header, items and trailer into compressed bytes, applying the rules to every item.

    The encoder does no I/O: ``write_*`` return compressed bytes for the caller to store. Items come either in
    ``write_items`` calls (checked against the header's segments here) or as pages a PageEncoder encoded in a
    stream's thread (``add_page``, which keeps the totals and joins the pages' collations). ``close_member``
    ends the current gzip member so the encoder's state can be checkpointed as ``totals`` and ``collation``.
    """

    totals: DumpTotals = field(default_factory=DumpTotals)
    collation: str = EITHER
    _compressor: Any = None
    _order: NameOrder | None = None

    def _compress(self, data: bytes) -> bytes:
        if self._compressor is None:
            self._compressor = isal_zlib.compressobj(COMPRESSION_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)
        return bytes(self._compressor.compress(data))

    def write_header(self, header: DumpHeader) -> bytes:
        self._order = NameOrder(header.segments, collation=self.collation)
        return self._compress(_encode_line(header.to_record()) + b"\n")

    def write_items(self, items: list[Item]) -> bytes:
        """Items in the order a reader will meet them; DumpRuleError, naming the line, for one it would refuse
        (then nothing of ``items`` counts as written). Without a header, one segment holds every name."""
        if self._order is None:
            self._order = NameOrder((), collation=self.collation)
        try:
            check_items(items)
        except DumpRuleError as error:
            raise error.at_line(self.totals.items + 2 + (error.offset or 0)) from error
        lines = []
        for offset, item in enumerate(items):
            try:
                self._order.check(item.name)
            except DumpRuleError as error:
                raise error.at_line(self.totals.items + 2 + offset) from error
            lines.append(encode_item_line(item))
        for item, line in zip(items, lines, strict=True):
            self.totals.add(item, line)
        self.collation = self._order.collation
        lines.append(b"")
        return self._compress(b"\n".join(lines))

    def add_page(self, page: EncodedPage) -> bytes:
        """A page a PageEncoder encoded: its bytes (after the end of any open member) for the caller to store."""
        self.collation = NameOrder.merged(self.collation, page.collation, page.last_item)
        self.totals.merge(page.totals)
        return self.close_member() + page.data

    def write_trailer(self, completed_at: str) -> tuple[bytes, DumpTrailer]:
        trailer = DumpTrailer(
            self.totals.items,
            self.totals.attributes,
            self.totals.values,
            format_digest(self.totals.digest),
            completed_at,
            self.collation,
        )
        return self._compress(_encode_line(trailer.to_record()) + b"\n") + self.close_member(), trailer

    def close_member(self) -> bytes:
        if self._compressor is None:
            return b""
        tail = bytes(self._compressor.flush(isal_zlib.Z_FINISH))
        self._compressor = None
        return tail


# --- reading ---------------------------------------------------------------------------------------------------


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
    return Item(name, normalize_attributes(attributes))


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
        self._order = NameOrder(self.header.segments)

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
                try:
                    check_item(item)
                    self._order.check(item.name)
                except DumpRuleError as error:
                    raise DumpCorruptError(f"line {number}: {error.detail}") from error
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
        collation = self._order.collation
        if self.header.version >= 2 and record.get("collation") != collation:
            raise DumpCorruptError(
                f"the dump's trailer says its names ascend in {record.get('collation')!r:.40} order, but they "
                f"ascend in {collation!r} order ({', '.join(COLLATIONS)}): the dump was altered"
            )
        self.trailer = DumpTrailer(
            self.totals.items,
            self.totals.attributes,
            self.totals.values,
            format_digest(self.totals.digest),
            str(record.get("completed_at")),
            collation,
        )


def read_dump(stream: IO[bytes]) -> DumpReader:
    """Open a dump for streaming; raises DumpCorruptError for anything that is not a valid dump."""
    return DumpReader(stream)
