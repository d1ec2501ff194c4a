"""The dump format: gzip-compressed JSON Lines that describe themselves (specified in docs/FORMAT.md).

Line 1 is a header, then one line per item, then a trailer with the counts and a digest of the item lines.
The digest is the sum modulo 2**256 of the SHA-256 of every item line. Unlike one running SHA-256 it does not
depend on line order and its state is one integer, so parallel Select streams can interleave their items and a
backup that continues in a new invocation can carry the digest across in its checkpoint.

The file may be several gzip members one after another (RFC 1952 §2.2): a backup that checkpoints closes its
member and the next invocation opens a new one.
"""

import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import orjson
from isal import isal_zlib

from simpledb_backup import TOOL_NAME, __version__
from simpledb_backup.errors import DumpCorruptError, LimitExceededError
from simpledb_backup.items import Item, normalize_attributes, validate_item

FORMAT_NAME = "simpledb-backup-dump"
FORMAT_VERSION = 1
DIGEST_ALGORITHM = "sha256-sum-mod-2^256"
_DIGEST_MODULUS = 1 << 256
# Deflate by ISA-L (isal), standard gzip that zlib, gzip and zcat read. On Repoman pages (scripts/cpu_ab.py) its
# level 3, its best, costs a seventh of zlib 6's CPU for output 8 % larger; zlib-ng 6 keeps zlib's size at half
# its CPU, still nearly 4 times isal 3's: over a quarter of the backup's whole CPU per MB of Select XML.
COMPRESSION_LEVEL = isal_zlib.ISAL_BEST_COMPRESSION
_GZIP_WBITS = 31  # zlib wbits for a gzip wrapper


def _encode_line(record: dict[str, Any]) -> bytes:
    # ensure_ascii=False keeps non-ASCII text readable; characters that are invalid in XML (and any control
    # character) are still escaped by json as \uXXXX, so every line is valid UTF-8 with no raw newline.
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_item_line(item: Item) -> bytes:
    """The canonical item line, without its newline: attribute names and values in sorted order.

    The bytes are exactly ``_encode_line``'s, which the digest and the restore's planning and verification
    compare: for dicts, tuples and strings orjson writes what ``json.dumps(..., ensure_ascii=False)`` does
    (tests/unit/test_dumpencoding.py proves it over arbitrary text), about eight times faster. What orjson
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
        if record.get("version") != FORMAT_VERSION:
            raise DumpCorruptError(
                f"unsupported dump format version {record.get('version')!r}; this tool reads {FORMAT_VERSION}"
            )
        try:
            return cls(
                domain=str(record["domain"]),
                started_at=str(record["started_at"]),
                select_expression=str(record["select_expression"]),
                trigger=str(record["trigger"]),
                run_id=str(record["run_id"]),
                where=record.get("where"),
                label=record.get("label"),
                segments=tuple((lower, upper) for lower, upper in record.get("segments", [])),
                tool=str(record["tool"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise DumpCorruptError(f"dump header is missing or has a malformed field: {error}") from error


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


def _iter_lines(stream: IO[bytes], chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Decompress a (possibly multi-member) gzip stream and yield its lines, newline stripped."""
    decompressor = zlib.decompressobj(_GZIP_WBITS)
    pending = b""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        try:
            data = decompressor.decompress(chunk)
            while decompressor.eof and decompressor.unused_data:
                rest = decompressor.unused_data
                decompressor = zlib.decompressobj(_GZIP_WBITS)
                data += decompressor.decompress(rest)
        except zlib.error as error:
            raise DumpCorruptError(f"the dump is not valid gzip data: {error}") from error
        pending += data
        *lines, pending = pending.split(b"\n")
        yield from lines
    if not decompressor.eof:
        raise DumpCorruptError("the dump is truncated: its gzip stream ends before its end marker")
    if pending:
        raise DumpCorruptError("the dump is truncated: its last line has no newline")


def _parse(line: bytes, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DumpCorruptError(f"line {number} of the dump is not valid JSON: {error}") from error
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
                f"line {number}: attribute {attribute!r} must be a non-empty list of strings"
            )
    item = Item(name, normalize_attributes(attributes))
    try:
        validate_item(item)
    except LimitExceededError as error:
        raise DumpCorruptError(f"line {number}: {error}") from error
    return item


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
                self.totals.add(item, line)
                yield item
            elif kind == "trailer":
                self._verify_trailer(record)
                seen_trailer = True
            else:
                raise DumpCorruptError(f"line {number}: unknown record type {kind!r}")
        if not seen_trailer:
            raise DumpCorruptError(
                f"the dump is truncated: no trailer after {self.totals.items} items (line {number})"
            )

    def _verify_trailer(self, record: dict[str, Any]) -> None:
        digest = record.get("digest") or {}
        expected = (record.get("items"), record.get("attributes"), record.get("values"))
        actual = (self.totals.items, self.totals.attributes, self.totals.values)
        if expected != actual:
            raise DumpCorruptError(
                f"the dump's counts do not match its trailer: trailer says items/attributes/values {expected}, "
                f"the file holds {actual}"
            )
        if digest.get("algorithm") != DIGEST_ALGORITHM or digest.get("value") != format_digest(
            self.totals.digest
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
