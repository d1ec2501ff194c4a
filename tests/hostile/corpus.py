"""A corpus of malformed and hostile restore inputs: events, dumps, Repoman backup files and native exports.

Each case says what it puts in the bucket and what the event asks for, and a regular expression that the
refusal's message must match: the field or the limit it names. tests/integration/test_hostile_corpus.py runs
every case through the restore function's handler, as ``plan`` and as a confirmed ``restore``.

Everything is built on demand (``Case.build``), small in memory: the largest payload is a few megabytes.
"""

import base64
import gzip
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nativeexportwriter import write_native_export
from repomanauthoring import repoman_backup_from_items
from repomandata import repoman_domain_items
from simpledb_backup.backup.scan import segment_bounds
from simpledb_backup.formats.dumpformat import (
    DIGEST_ALGORITHM,
    MAX_LINE_BYTES,
    MAX_SEGMENTS,
    format_digest,
    line_digest,
)
from simpledb_backup.items import Item

DOMAIN = "packages"
REPOMAN_KEY = "imports/hostile/repoman-backup.json"
EXPORT_ID = "3eb4eaed-872b-4e08-b4b6-ff6999a83e01"
EXPORT_PREFIX = "imports/exports"
EXPORT_BASE = f"{EXPORT_PREFIX}/AWSSimpleDB/{EXPORT_ID}/{DOMAIN}/"
DATA_KEY = f"{EXPORT_BASE}data/dataFile00000.json"
SECOND_DATA_KEY = f"{EXPORT_BASE}data/dataFile00001.json"
FILES_KEY = f"{EXPORT_BASE}manifest-file.json"
SUMMARY_KEY = f"{EXPORT_BASE}manifest-summary.json"
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """Objects to put before the event: key → (body, user metadata)."""

    objects: dict[str, bytes]
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)


_MERGED = object()


@dataclass(frozen=True)
class Case:
    """One hostile input. ``event(action, version_id)`` is the request; ``version_id`` is the version the
    upload gave the dump key, for dump cases."""

    id: str
    kind: str  # event, dump, repoman, native-export
    expect: str  # a regular expression the refusal's message matches
    upload: Callable[[], Upload] = lambda: Upload({})
    event_fields: Callable[[], dict[str, Any]] = dict
    whole_event: object = _MERGED  # an event given whole, instead of fields merged into the usual one

    def event(self, action: str, version_id: str | None) -> Any:
        if self.whole_event is not _MERGED:
            return self.whole_event
        base: dict[str, Any] = {"action": action, "domain": DOMAIN}
        if action == "restore":
            base.update(confirm=DOMAIN, mode="exact")
        if self.kind == "dump":
            base["version_id"] = version_id
        elif self.kind == "repoman":
            base.update(source="repoman", source_key=REPOMAN_KEY)
        elif self.kind == "native-export":
            base.update(source="native-export", source_key=EXPORT_BASE)
        return {**base, **self.event_fields()}


# --- the items the sources hold -----------------------------------------------------------------------------


def source_items() -> list[Item]:
    return list(repoman_domain_items(12, seed=5))


# --- events -------------------------------------------------------------------------------------------------


def merged(**fields: Any) -> Callable[[], dict[str, Any]]:
    return lambda: fields


HUGE = "v" * MEGABYTE

EVENT_CASES = [
    Case("event-not-an-object-list", "event", "expected a JSON object", whole_event=[]),
    Case("event-not-an-object-string", "event", "expected a JSON object", whole_event="restore"),
    Case("event-not-an-object-null", "event", "expected a JSON object", whole_event=None),
    Case("event-empty", "event", "action: missing; one of list, plan, restore, status", whole_event={}),
    Case("event-no-domain", "event", "domain: Field required", whole_event={"action": "plan"}),
    Case(
        "event-domain-number",
        "event",
        "domain: Input should be a valid string",
        event_fields=merged(domain=7),
    ),
    Case("event-domain-short", "event", "domain: invalid domain name 'ab'", event_fields=merged(domain="ab")),
    Case("event-domain-empty", "event", "domain: invalid domain name ''", event_fields=merged(domain="")),
    Case(
        "event-domain-space", "event", "domain: invalid domain name", event_fields=merged(domain="pack ages")
    ),
    Case(
        "event-domain-slash",
        "event",
        "domain: invalid domain name",
        event_fields=merged(domain="../packages"),
    ),
    Case(
        "event-domain-too-long", "event", "domain: invalid domain name", event_fields=merged(domain="p" * 256)
    ),
    Case("event-domain-huge", "event", "domain: invalid domain name", event_fields=merged(domain=HUGE)),
    Case(
        "event-domain-surrogate",
        "event",
        "domain: invalid domain name",
        event_fields=merged(domain="pack\ud800"),
    ),
    Case(
        "event-domain-list",
        "event",
        "domain: Input should be a valid string",
        event_fields=merged(domain=[DOMAIN]),
    ),
    Case("event-unknown-field", "event", "colour: unknown field", event_fields=merged(colour="red")),
    Case("event-typo-field", "event", "mdoe: unknown field", event_fields=merged(mdoe="exact")),
    Case("event-huge-unknown-field", "event", "unknown field", event_fields=merged(**{"x" * 1000: HUGE})),
    Case("event-action-unknown", "event", "action: must be one of", event_fields=merged(action="destroy")),
    Case("event-action-number", "event", "action: (must be one of|missing)", event_fields=merged(action=1)),
    Case("event-action-null", "event", "action: (must be one of|missing)", event_fields=merged(action=None)),
    Case(
        "event-version-id-huge",
        "event",
        "version_id: is 1,048,576 bytes",
        event_fields=merged(version_id=HUGE),
    ),
    Case("event-version-id-surrogate", "event", "version_id: ", event_fields=merged(version_id="v\udc00")),
    Case(
        "event-version-id-empty",
        "event",
        "version_id: String should have at least 1 character",
        event_fields=merged(version_id=""),
    ),
    Case(
        "event-version-id-number",
        "event",
        "version_id: Input should be a valid string",
        event_fields=merged(version_id=3),
    ),
    Case(
        "event-version-id-unknown",
        "event",
        "version_id 'nope' is not a dump of domain 'packages'",
        event_fields=merged(version_id="nope"),
    ),
    Case(
        "event-version-id-and-as-of",
        "event",
        "give either 'version_id' or 'as_of', not both",
        event_fields=merged(version_id="v", as_of="2026-01-01T00:00:00Z"),
    ),
    Case(
        "event-as-of-garbage",
        "event",
        "as_of: Input should be a valid datetime",
        event_fields=merged(as_of="yesterday"),
    ),
    Case(
        "event-as-of-list",
        "event",
        "as_of: Input should be a valid datetime",
        event_fields=merged(as_of=[2026]),
    ),
    Case(
        "event-as-of-before-every-dump",
        "event",
        "as_of 2001-01-01.*no dump of domain 'packages'",
        event_fields=merged(as_of="2001-01-01T00:00:00Z"),
    ),
    Case("event-source-unknown", "event", "source: Input should be", event_fields=merged(source="ftp")),
    Case(
        "event-repoman-without-key",
        "event",
        "source 'repoman' needs 'source_key'",
        event_fields=merged(source="repoman"),
    ),
    Case(
        "event-export-without-key",
        "event",
        "source 'native-export' needs 'source_key'",
        event_fields=merged(source="native-export"),
    ),
    Case(
        "event-dump-with-key",
        "event",
        "'source_key' is only for",
        event_fields=merged(source_key="imports/x.json"),
    ),
    Case(
        "event-source-key-huge",
        "event",
        "source_key: is 1,048,584 bytes",
        event_fields=merged(source="repoman", source_key="imports/" + HUGE),
    ),
    Case(
        "event-source-key-surrogate",
        "event",
        "source_key: ",
        event_fields=merged(source="repoman", source_key="imports/\ud800.json"),
    ),
    Case(
        "event-source-key-outside-imports",
        "event",
        "source_key: 'dumps/packages/full.jsonl.gz' must be under imports/",
        event_fields=merged(source="repoman", source_key="dumps/packages/full.jsonl.gz"),
    ),
    Case(
        "event-source-key-missing-object",
        "event",
        "source_key: no object s3://.*/imports/nothing.json",
        event_fields=merged(source="repoman", source_key="imports/nothing.json"),
    ),
    Case(
        "event-export-missing",
        "event",
        "AWS writes the manifests last",
        event_fields=merged(source="native-export", source_key="imports/exports/nothing/"),
    ),
    Case(
        "event-target-invalid",
        "event",
        "target_domain: invalid domain name",
        event_fields=merged(target_domain="a b"),
    ),
    Case(
        "event-target-huge",
        "event",
        "target_domain: invalid domain name",
        event_fields=merged(target_domain=HUGE),
    ),
    Case(
        "event-target-surrogate",
        "event",
        "target_domain: invalid domain name",
        event_fields=merged(target_domain="restored-\udfff"),
    ),
    Case(
        "event-target-not-allowed",
        "event",
        "target_domain: 'elsewhere' is neither a configured domain",
        event_fields=merged(target_domain="elsewhere"),
    ),
    Case(
        "event-mode-unknown",
        "event",
        "mode: Input should be 'merge' or 'exact'",
        event_fields=merged(mode="replace"),
    ),
    Case(
        "event-mode-number", "event", "mode: Input should be 'merge' or 'exact'", event_fields=merged(mode=2)
    ),
    Case(
        "event-items-empty", "event", "items: List should have at least 1 item", event_fields=merged(items=[])
    ),
    Case(
        "event-items-empty-name",
        "event",
        "items.0: String should have at least 1 character",
        event_fields=merged(items=[""]),
    ),
    Case(
        "event-items-string", "event", "items: Input should be a valid list", event_fields=merged(items="a1")
    ),
    Case(
        "event-items-numbers",
        "event",
        "items.0: Input should be a valid string",
        event_fields=merged(items=[1]),
    ),
    Case(
        "event-match-list",
        "event",
        "match: Input should be a valid dictionary",
        event_fields=merged(match=["a"]),
    ),
    Case(
        "event-match-number-value",
        "event",
        "match.a: Input should be a valid string",
        event_fields=merged(match={"a": 1}),
    ),
    Case(
        "event-match-nested",
        "event",
        "match.a: Input should be a valid string",
        event_fields=merged(match={"a": {"b": "c"}}),
    ),
    Case(
        "event-confirm-number",
        "event",
        "confirm: (Input should be a valid string|unknown field)",  # plans take no confirm
        event_fields=merged(confirm=7),
    ),
    Case(
        "event-limit-zero",
        "event",
        "limit: unknown field",  # only list takes a limit
        event_fields=merged(limit=0),
    ),
    Case(
        "event-limit-huge",
        "event",
        "limit: unknown field",
        event_fields=merged(limit=10**9),
    ),
    Case(
        "event-limit-word",
        "event",
        "limit: unknown field",
        event_fields=merged(limit="many"),
    ),
    Case(
        "event-sample-negative",
        "event",
        "sample_size: Input should be greater than or equal to 0",
        event_fields=merged(sample_size=-1),
    ),
    Case(
        "event-sample-huge",
        "event",
        "sample_size: Input should be less than or equal to 100",
        event_fields=merged(sample_size=10**6),
    ),
    Case(
        "event-run-id-number",
        "event",
        "run_id: (Input should be a valid string|unknown field)",  # plans take no run_id
        event_fields=merged(run_id=5),
    ),
]


# --- dumps --------------------------------------------------------------------------------------------------


def header(**changes: Any) -> bytes:
    record = {
        "type": "header",
        "format": "simpledb-backup-dump",
        "version": 1,
        "domain": DOMAIN,
        "started_at": "2026-11-26T03:00:00.000Z",
        "tool": "hostile-corpus",
        "select_expression": f"select * from `{DOMAIN}`",
        "where": None,
        "label": None,
        "trigger": "manual",
        "run_id": "hostile",
        "segments": [list(bounds) for bounds in segment_bounds(4)],
    }
    record.update(changes)
    return json.dumps(record, separators=(",", ":")).encode()


def item_line(name: object, attributes: Any) -> bytes:
    return json.dumps(
        {"type": "item", "name": name, "attributes": attributes}, separators=(",", ":")
    ).encode()


def trailer_of(lines: list[bytes], **changes: Any) -> bytes:
    """A trailer whose counts and digest match ``lines``, so only the rule a case breaks refuses it."""
    items = attributes = values = digest = 0
    for line in lines:
        try:
            record = json.loads(line)
            pairs = record["attributes"]
            attributes += len(pairs)
            values += sum(len(listed) for listed in pairs.values())
        except (ValueError, RecursionError, TypeError, KeyError, AttributeError):
            pass
        items += 1
        digest += line_digest(line)
    trailer = {
        "type": "trailer",
        "items": items,
        "attributes": attributes,
        "values": values,
        "digest": {"algorithm": DIGEST_ALGORITHM, "value": format_digest(digest)},
        "completed_at": "2026-11-26T03:01:00.000Z",
    }
    trailer.update(changes)
    return json.dumps(trailer, separators=(",", ":")).encode()


def text(lines: list[bytes], head: bytes | None = None, **trailer_changes: Any) -> bytes:
    return b"\n".join([head or header(), *lines, trailer_of(lines, **trailer_changes)]) + b"\n"


def good_lines() -> list[bytes]:
    """Valid item lines, in the order one segment per hex range writes them."""
    return [item_line(item.name, dict(item.attributes)) for item in sorted(source_items())]


def dump_upload(data: bytes, metadata: dict[str, str] | None = None) -> Callable[[], Upload]:
    return lambda: Upload(
        {"dumps/packages/full.jsonl.gz": data}, {"dumps/packages/full.jsonl.gz": metadata or {}}
    )


def dump_case(
    case_id: str, expect: str, make: Callable[[], bytes], metadata: dict[str, str] | None = None
) -> Case:
    return Case(case_id, "dump", expect, upload=lambda: dump_upload(make(), metadata)())


def gz(data: bytes) -> bytes:
    return gzip.compress(data)


def with_line(line: bytes) -> Callable[[], bytes]:
    return lambda: gz(text([line]))


def flipped(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x55]) + data[offset + 1 :]


A = item_line("a", {"n": ["1"]})
B = item_line("b", {"n": ["2"]})
C = item_line("c", {"n": ["3"]})

DUMP_CASES = [
    dump_case("dump-empty-object", "the dump is empty", lambda: b""),
    dump_case("dump-empty-gzip", "the dump is empty", lambda: gz(b"")),
    dump_case("dump-not-gzip", "not valid gzip", lambda: b"PK\x03\x04 a zip file"),
    dump_case("dump-plain-text", "not valid gzip", lambda: text(good_lines())),
    dump_case("dump-truncated-half", "truncated", lambda: gz(text(good_lines()))[:-200]),
    dump_case("dump-truncated-end-marker", "truncated", lambda: gz(text(good_lines()))[:-4]),
    dump_case("dump-crc-damaged", "not valid gzip", lambda: flipped(gz(text(good_lines())), -6)),
    dump_case(
        "dump-deflate-damaged",
        r"not valid gzip|line \d+|truncated|checksum|counts",
        lambda: flipped(gz(text(good_lines())), 40),
    ),
    dump_case(
        "dump-garbage-after-gzip", "not valid gzip", lambda: gz(text(good_lines())) + b"trailing garbage"
    ),
    dump_case(
        "dump-damaged-second-member",
        "not valid gzip|truncated",
        lambda: gz(text(good_lines())[:100]) + b"\x1f\x8b\x08\x00garbage",
    ),
    dump_case("dump-no-newline-at-end", "its last line has no newline", lambda: gz(text(good_lines())[:-1])),
    dump_case("dump-byte-order-mark", "byte-order mark", lambda: gz(b"\xef\xbb\xbf" + text(good_lines()))),
    dump_case(
        "dump-utf16", "not UTF-8|not valid JSON|longer than", lambda: gz(text([]).decode().encode("utf-16"))
    ),
    dump_case(
        "dump-header-not-json",
        "line 1 of the dump is not valid JSON",
        lambda: gz(b"{header\n" + text([])[text([]).index(b"\n") + 1 :]),
    ),
    dump_case(
        "dump-header-array", "line 1 of the dump is not a JSON object", lambda: gz(text([], head=b"[1]"))
    ),
    dump_case("dump-foreign-file", "not a simpledb-backup-dump file", lambda: gz(b'{"hello":"world"}\n')),
    dump_case(
        "dump-wrong-format",
        "not a simpledb-backup-dump file",
        lambda: gz(text([], head=header(format="other"))),
    ),
    dump_case(
        "dump-wrong-version",
        "unsupported dump format version 3",
        lambda: gz(text([], head=header(version=3))),
    ),
    dump_case(
        "dump-version-string",
        "unsupported dump format version '1'",
        lambda: gz(text([], head=header(version="1"))),
    ),
    dump_case(
        "dump-header-domain-number", "'domain' must be a string", lambda: gz(text([], head=header(domain=5)))
    ),
    dump_case(
        "dump-header-no-run-id",
        "'run_id' must be a string",
        lambda: gz(
            text(
                [], head=json.dumps({k: v for k, v in json.loads(header()).items() if k != "run_id"}).encode()
            )
        ),
    ),
    dump_case(
        "dump-of-another-domain",
        "is a dump of domain 'other'",
        lambda: gz(text(good_lines(), head=header(domain="other"))),
    ),
    dump_case(
        "dump-segments-not-a-list",
        "'segments' must be a list",
        lambda: gz(text([], head=header(segments={"a": 1}))),
    ),
    dump_case(
        "dump-segment-not-a-pair",
        "segment 1 must be \\[lower, upper\\]",
        lambda: gz(text([], head=header(segments=[[None]]))),
    ),
    dump_case(
        "dump-segment-bound-number",
        "segment 1 must be \\[lower, upper\\]",
        lambda: gz(text([], head=header(segments=[[None, 5]]))),
    ),
    dump_case(
        "dump-segment-bound-huge",
        "segment 1 must be \\[lower, upper\\]",
        lambda: gz(text([], head=header(segments=[[None, "x" * 2000]]))),
    ),
    dump_case(
        "dump-segments-overlap",
        "does not follow the one before it",
        lambda: gz(text([A], head=header(segments=[[None, "c"], ["b", None]]))),
    ),
    dump_case(
        "dump-segments-reversed",
        "does not follow the one before it",
        lambda: gz(text([A], head=header(segments=[["b", None], [None, "b"]]))),
    ),
    dump_case(
        "dump-too-many-segments",
        f"a dump has at most {MAX_SEGMENTS:,} itemName\\(\\) ranges",
        lambda: gz(
            text([A], head=header(segments=[[f"{i:06d}", f"{i:06d}z"] for i in range(MAX_SEGMENTS + 1)]))
        ),
    ),
    dump_case(
        "dump-item-outside-segments",
        "item 'a' lies in none of the header's itemName\\(\\) segments",
        lambda: gz(text([A], head=header(segments=[["b", None]]))),
    ),
    dump_case(
        "dump-item-in-a-gap",
        "lies in none of the header's",
        lambda: gz(text([B], head=header(segments=[[None, "b"], ["c", None]]))),
    ),
    dump_case("dump-duplicate-adjacent", "line 3: item 'a' appears a second time", lambda: gz(text([A, A]))),
    dump_case("dump-duplicate-apart", "line 4: item 'a' comes after 'b'", lambda: gz(text([A, B, A]))),
    dump_case(
        "dump-duplicate-other-values",
        "appears a second time",
        lambda: gz(text([A, item_line("a", {"n": ["other"]})])),
    ),
    dump_case("dump-descending", "item 'a' comes after 'c'", lambda: gz(text([C, A]))),
    dump_case(
        "dump-all-lines-twice",
        "appears a second time|comes after",
        lambda: gz(text([line for line in good_lines() for _ in (0, 1)])),
    ),
    dump_case(
        "dump-empty-attribute-name", "attribute name '' is empty", with_line(item_line("a", {"": ["1"]}))
    ),
    dump_case("dump-empty-item-name", "item name '' is empty", with_line(item_line("", {"n": ["1"]}))),
    dump_case(
        "dump-surrogate-item-name",
        "item name 'a\\\\ud800' holds a lone surrogate",
        with_line(b'{"type":"item","name":"a\\ud800","attributes":{"n":["1"]}}'),
    ),
    dump_case(
        "dump-surrogate-attribute-name",
        "attribute name 'n\\\\udc00' holds a lone surrogate",
        with_line(b'{"type":"item","name":"a","attributes":{"n\\udc00":["1"]}}'),
    ),
    dump_case(
        "dump-surrogate-value",
        "a value of attribute 'n' holds a lone surrogate",
        with_line(b'{"type":"item","name":"a","attributes":{"n":["\\ud83d"]}}'),
    ),
    dump_case(
        "dump-surrogate-bytes",
        "line 2 of the dump is not UTF-8",
        with_line(b'{"type":"item","name":"a\xed\xa0\x80","attributes":{"n":["1"]}}'),
    ),
    dump_case(
        "dump-invalid-utf8",
        "line 2 of the dump is not UTF-8",
        with_line(b'{"type":"item","name":"a\xff","attributes":{"n":["1"]}}'),
    ),
    dump_case(
        "dump-item-name-1025-bytes",
        "item name .* exceeds 1024 bytes",
        with_line(item_line("a" * 1025, {"n": ["1"]})),
    ),
    dump_case(
        "dump-attribute-name-1025-bytes",
        "attribute name .* exceeds 1024 bytes",
        with_line(item_line("a", {"é" * 513: ["1"]})),
    ),
    dump_case(
        "dump-value-1025-bytes",
        "a value of attribute 'n' exceeds 1024 bytes",
        with_line(item_line("a", {"n": ["€" * 342]})),
    ),
    dump_case(
        "dump-257-pairs",
        "257 name/value pairs; SimpleDB allows 256",
        with_line(item_line("a", {"n": [str(i) for i in range(257)]})),
    ),
    dump_case("dump-no-attributes", "item 'a' has no attributes", with_line(item_line("a", {}))),
    dump_case(
        "dump-values-not-a-list",
        "attribute 'n' must be a non-empty list of strings",
        with_line(item_line("a", {"n": "1"})),
    ),
    dump_case(
        "dump-values-empty-list",
        "attribute 'n' must be a non-empty list of strings",
        with_line(item_line("a", {"n": []})),
    ),
    dump_case(
        "dump-value-number",
        "attribute 'n' must be a non-empty list of strings",
        with_line(item_line("a", {"n": [1]})),
    ),
    dump_case("dump-name-number", "an item needs a string 'name'", with_line(item_line(5, {"n": ["1"]}))),
    dump_case(
        "dump-attributes-list",
        "an item needs a string 'name' and an object 'attributes'",
        with_line(item_line("a", [["n", "1"]])),
    ),
    dump_case("dump-line-array", "line 2 of the dump is not a JSON object", with_line(b'["item"]')),
    dump_case("dump-line-not-json", "line 2 of the dump is not valid JSON", with_line(b"{item}")),
    dump_case("dump-blank-line", "line 2 of the dump is not valid JSON", with_line(b"")),
    dump_case(
        "dump-unknown-record", "line 2: unknown record type 'comment'", with_line(b'{"type":"comment"}')
    ),
    dump_case(
        "dump-deep-nesting",
        "nests JSON deeper than the parser allows",
        with_line(b'{"type":"item","name":"a","attributes":' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
    ),
    dump_case(
        "dump-line-over-the-cap",
        f"line 2 of the dump is longer than {MAX_LINE_BYTES:,} bytes",
        lambda: gz(header() + b"\n" + b" " * (MAX_LINE_BYTES + 1) + b"\n"),
    ),
    dump_case(
        "dump-header-over-the-cap",
        f"line 1 of the dump is longer than {MAX_LINE_BYTES:,} bytes",
        lambda: gz(b"{" + b" " * MAX_LINE_BYTES + b"}\n"),
    ),
    dump_case(
        "dump-no-trailer", "no trailer after", lambda: gz(b"\n".join([header(), *good_lines()]) + b"\n")
    ),
    dump_case("dump-header-only", "no trailer after 0 items", lambda: gz(header() + b"\n")),
    dump_case(
        "dump-data-after-trailer",
        "data after the trailer",
        lambda: gz(text(good_lines()) + good_lines()[0] + b"\n"),
    ),
    dump_case(
        "dump-two-trailers",
        "data after the trailer",
        lambda: gz(text(good_lines()) + text(good_lines()).split(b"\n")[-2] + b"\n"),
    ),
    dump_case(
        "dump-trailer-item-count", "counts do not match its trailer", lambda: gz(text(good_lines(), items=99))
    ),
    dump_case(
        "dump-trailer-values-count",
        "counts do not match its trailer",
        lambda: gz(text(good_lines(), values=1)),
    ),
    dump_case(
        "dump-trailer-counts-strings",
        "must count items, attributes and values",
        lambda: gz(text(good_lines(), items="12")),
    ),
    dump_case(
        "dump-trailer-counts-booleans",
        "must count items, attributes and values",
        lambda: gz(text([A], items=True)),
    ),
    dump_case(
        "dump-trailer-digest-wrong",
        "checksum mismatch",
        lambda: gz(text(good_lines(), digest={"algorithm": DIGEST_ALGORITHM, "value": "0" * 64})),
    ),
    dump_case(
        "dump-trailer-digest-algorithm",
        "checksum mismatch",
        lambda: gz(text(good_lines(), digest={"algorithm": "md5", "value": "0"})),
    ),
    dump_case(
        "dump-trailer-digest-string", "checksum mismatch", lambda: gz(text(good_lines(), digest="abc"))
    ),
    dump_case(
        "dump-altered-value",
        "checksum mismatch",
        lambda: gz(text(good_lines()).replace(b'"main"', b'"mainx"', 1)),
    ),
    dump_case(
        "dump-s3-metadata-mismatch",
        "its S3 metadata \\(item-count 999",
        lambda: gz(text(good_lines())),
        metadata={"item-count": "999"},
    ),
]


# --- Repoman backup files -----------------------------------------------------------------------------------


def backup_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(repoman_backup_from_items(source_items())))
    return document


def first_entry_path(document: dict[str, Any]) -> list[str]:
    name = next(iter(document["packages"]))
    dist = next(iter(document["packages"][name]))
    comp = next(iter(document["packages"][name][dist]))
    arch = next(iter(document["packages"][name][dist][comp]))
    return ["packages", name, dist, comp, arch]


def edited(change: Callable[[dict[str, Any]], None]) -> Callable[[], bytes]:
    def make() -> bytes:
        document = backup_document()
        change(document)
        return json.dumps(document, indent=2).encode()

    return make


def leaf(document: dict[str, Any]) -> list[dict[str, Any]]:
    target: Any = document
    for key in first_entry_path(document):
        target = target[key]
    entries: list[dict[str, Any]] = target
    return entries


def set_entry(attribute: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        if value is KeyError:
            del leaf(document)[0][attribute]
        else:
            leaf(document)[0][attribute] = value

    return change


def repoman_case(case_id: str, expect: str, make: Callable[[], bytes]) -> Case:
    return Case(case_id, "repoman", expect, upload=lambda: Upload({REPOMAN_KEY: make()}))


def raw(data: bytes) -> Callable[[], bytes]:
    return lambda: data


META_JSON = b'{"metadata": {"dists": ["x"]}, "packages": {}}'

REPOMAN_CASES = [
    repoman_case("repoman-empty-file", "not valid JSON|must be a JSON object", raw(b"")),
    repoman_case("repoman-not-json", "not valid JSON", raw(b"{metadata}")),
    repoman_case("repoman-truncated", "not valid JSON", lambda: edited(lambda document: None)()[:-50]),
    repoman_case(
        "repoman-byte-order-mark", "not valid JSON", lambda: b"\xef\xbb\xbf" + edited(lambda document: None)()
    ),
    repoman_case(
        "repoman-trailing-garbage", "trailing garbage", lambda: edited(lambda document: None)() + b"\n{}"
    ),
    repoman_case("repoman-top-level-array", "the document must be a JSON object", raw(b"[]")),
    repoman_case("repoman-top-level-string", "the document must be a JSON object", raw(b'"metadata"')),
    repoman_case("repoman-top-level-null", "the document must be a JSON object", raw(b"null")),
    repoman_case("repoman-no-packages", "it has no 'packages'", raw(b'{"metadata": {"dists": ["x"]}}')),
    repoman_case("repoman-no-metadata", "it has no 'metadata'", raw(b'{"packages": {}}')),
    repoman_case(
        "repoman-extra-key",
        "exactly the keys 'metadata' and 'packages'.*'extra'",
        edited(lambda document: document.update(extra=1)),
    ),
    repoman_case(
        "repoman-metadata-twice",
        "it has 'metadata' twice",
        raw(b'{"metadata": {"dists": ["x"]}, "metadata": {}, "packages": {}}'),
    ),
    repoman_case(
        "repoman-metadata-array",
        "'metadata' must be a JSON object",
        edited(lambda document: document.update(metadata=["dists"])),
    ),
    repoman_case(
        "repoman-metadata-empty", "'metadata' is empty", edited(lambda document: document.update(metadata={}))
    ),
    repoman_case(
        "repoman-metadata-number",
        "'metadata'\\['dists'\\] must be a string or a list of strings, not a number",
        edited(lambda document: document["metadata"].update(dists=3)),
    ),
    repoman_case(
        "repoman-metadata-nested-list",
        "not a list holding an array",
        edited(lambda document: document["metadata"].update(dists=[["x"]])),
    ),
    repoman_case(
        "repoman-metadata-attribute-twice",
        "'metadata' names attribute 'dists' twice",
        raw(b'{"metadata": {"dists": ["x"], "dists": ["y"]}, "packages": {}}'),
    ),
    repoman_case(
        "repoman-metadata-empty-name",
        "attribute name '' is empty",
        edited(lambda document: document["metadata"].update({"": ["x"]})),
    ),
    repoman_case(
        "repoman-metadata-surrogate",
        "lone surrogate",
        raw(b'{"metadata": {"dists": ["x\\ud800"]}, "packages": {}}'),
    ),
    repoman_case(
        "repoman-metadata-257-values",
        "more than 256 name/value pairs",
        edited(lambda document: document["metadata"].update(dists=[str(i) for i in range(257)])),
    ),
    repoman_case(
        "repoman-packages-array",
        "'packages' must be a JSON object",
        edited(lambda document: document.update(packages=[])),
    ),
    repoman_case(
        "repoman-name-level-array",
        "must be a JSON object, not an array",
        edited(lambda document: document["packages"].update(hello=[])),
    ),
    repoman_case(
        "repoman-dist-level-string",
        "must be a JSON object, not a string",
        edited(lambda document: document["packages"].update(hello={"bookworm": "main"})),
    ),
    repoman_case(
        "repoman-arch-level-object",
        "must be a list of package items",
        edited(lambda document: document["packages"].update(hello={"b": {"m": {"a": {}}}})),
    ),
    repoman_case(
        "repoman-entry-string",
        "\\[0\\] must be a JSON object, not a string",
        edited(lambda document: leaf(document).insert(0, "hello")),
    ),
    repoman_case(
        "repoman-entry-no-version",
        "needs 'version' as a single string",
        edited(set_entry("version", KeyError)),
    ),
    repoman_case(
        "repoman-entry-version-list",
        "needs 'version' as a single string",
        edited(set_entry("version", ["1", "2"])),
    ),
    repoman_case(
        "repoman-entry-name-number",
        "\\['name'\\] must be a string or a list of strings, not a number",
        edited(set_entry("name", 1)),
    ),
    repoman_case("repoman-entry-value-null", "not null", edited(set_entry("md5", None))),
    repoman_case("repoman-entry-value-object", "not an object", edited(set_entry("md5", {"a": "b"}))),
    repoman_case(
        "repoman-entry-filed-elsewhere", "but is filed under", edited(set_entry("distribution", "elsewhere"))
    ),
    repoman_case(
        "repoman-entry-non-ascii-key", "hashes these fields as ASCII", edited(set_entry("version", "1.0ä"))
    ),
    repoman_case(
        "repoman-entry-empty-attribute-name", "attribute name '' is empty", edited(set_entry("", "x"))
    ),
    repoman_case(
        "repoman-entry-value-1025-bytes", "exceeds 1024 bytes", edited(set_entry("md5", "m" * 1025))
    ),
    repoman_case(
        "repoman-entry-257-pairs",
        "more than 256 name/value pairs",
        edited(set_entry("files", [str(i) for i in range(257)])),
    ),
    repoman_case(
        "repoman-entry-surrogate-value",
        "lone surrogate",
        lambda: edited(set_entry("md5", "SURROGATE"))().replace(b"SURROGATE", b"\\udc00"),
    ),
    repoman_case(
        "repoman-entry-bad-pair",
        "lone surrogate",
        lambda: edited(set_entry("md5", "SURROGATE"))().replace(b"SURROGATE", b"\\ud83d\\u0041"),
    ),
    repoman_case(
        "repoman-entry-invalid-utf8",
        "not valid JSON",
        lambda: edited(set_entry("md5", "BYTES"))().replace(b"BYTES", b"\xff\xfe"),
    ),
    repoman_case(
        "repoman-entry-attribute-twice",
        "names attribute 'md5' twice",
        lambda: edited(set_entry("md5", "M1"))().replace(b'"md5": "M1"', b'"md5": "M1", "md5": "M2"'),
    ),
    repoman_case(
        "repoman-entry-empty-lists",
        "holds more than 1,032 JSON values",
        lambda: edited(set_entry("x", "MANY"))().replace(
            b'"x": "MANY"', b", ".join(b'"e%d": []' % i for i in range(2000))
        ),
    ),
    repoman_case(
        "repoman-duplicate-package",
        "a second time",
        edited(lambda document: leaf(document).append(dict(leaf(document)[0]))),
    ),
    repoman_case(
        "repoman-deep-nesting",
        "nesting deeper than 16 levels|must be",
        raw(b'{"metadata": ' + b'{"a": ' * 100_000),
    ),
    repoman_case(
        "repoman-deep-arrays", "'metadata' must be a JSON object", raw(b'{"metadata": ' + b'["",' * 100_000)
    ),
    repoman_case(
        "repoman-endless-string",
        "more than 65,536 bytes without a string delimiter",
        raw(b'{"metadata": {"dists": ["' + b"x" * (4 * MEGABYTE) + b'"]}}'),
    ),
    repoman_case(
        "repoman-endless-number",
        "more than 65,536 bytes without a string delimiter",
        raw(b'{"metadata": {"dists": ' + b"9" * MEGABYTE + b"}}"),
    ),
    repoman_case(
        "repoman-endless-whitespace",
        "more than 65,536 bytes without a string delimiter",
        raw(b"{" + b" " * (2 * MEGABYTE) + b"}"),
    ),
    repoman_case(
        "repoman-escaped-quotes",
        "more than 65,536 bytes without a string delimiter",
        raw(b'{"metadata": {"dists": ["' + b'\\"' * MEGABYTE + b'"]}}'),
    ),
    repoman_case("repoman-number-document", "the document must be a JSON object", raw(b"42")),
    repoman_case(
        "repoman-meta-only-ok-but-bad-entry",
        "needs 'name'",
        raw(META_JSON[:-2] + b'"hello": {"b": {"m": {"a": [{}]}}}}'),
    ),
]


# --- native exports -----------------------------------------------------------------------------------------


def export_objects() -> dict[str, bytes]:
    objects = write_native_export(
        source_items(), domain_name=DOMAIN, export_id=EXPORT_ID, prefix=EXPORT_PREFIX, items_per_file=6
    )
    return objects


def manifest_lines(objects: dict[str, bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in objects[FILES_KEY].decode().splitlines()]


def set_manifest(objects: dict[str, bytes], lines: list[dict[str, Any]]) -> None:
    objects[FILES_KEY] = "\n".join(json.dumps(line) for line in lines).encode()


def set_summary(**changes: Any) -> Callable[[dict[str, bytes]], None]:
    def change(objects: dict[str, bytes]) -> None:
        summary = json.loads(objects[SUMMARY_KEY])
        summary.update(changes)
        objects[SUMMARY_KEY] = json.dumps(summary).encode()

    return change


def set_entry_field(index: int, **changes: Any) -> Callable[[dict[str, bytes]], None]:
    def change(objects: dict[str, bytes]) -> None:
        lines = manifest_lines(objects)
        lines[index].update(changes)
        set_manifest(objects, lines)

    return change


def set_data(data: Any, fix_md5: bool = True) -> Callable[[dict[str, bytes]], None]:
    """Replace the first data file (JSON of ``data``, or these bytes), its MD5 fixed unless asked not to."""

    def change(objects: dict[str, bytes]) -> None:
        body = data(objects) if callable(data) else data
        objects[DATA_KEY] = body if isinstance(body, bytes) else json.dumps(body).encode()
        if fix_md5:
            md5 = base64.b64encode(hashlib.md5(objects[DATA_KEY], usedforsecurity=False).digest()).decode()
            set_entry_field(0, md5Checksum=md5)(objects)

    return change


def records(objects: dict[str, bytes]) -> list[Any]:
    loaded: list[Any] = json.loads(objects[DATA_KEY])
    return loaded


def first_replaced(record: Any) -> Callable[[dict[str, bytes]], list[Any]]:
    return lambda objects: [record, *records(objects)[1:]]


def native_case(
    case_id: str, expect: str, change: Callable[[dict[str, bytes]], None], event: dict[str, Any] | None = None
) -> Case:
    def upload() -> Upload:
        objects = export_objects()
        change(objects)
        return Upload(objects)

    return Case(case_id, "native-export", expect, upload=upload, event_fields=lambda: dict(event or {}))


def drop(key: str) -> Callable[[dict[str, bytes]], None]:
    return lambda objects: objects.pop(key) and None


def put(key: str, data: bytes) -> Callable[[dict[str, bytes]], None]:
    return lambda objects: objects.update({key: data})


def both(*changes: Callable[[dict[str, bytes]], None]) -> Callable[[dict[str, bytes]], None]:
    def change(objects: dict[str, bytes]) -> None:
        for each in changes:
            each(objects)

    return change


ATTRIBUTE = {"name": "a", "values": ["v"]}

NATIVE_CASES = [
    native_case("native-no-summary", "AWS writes the manifests last", drop(SUMMARY_KEY)),
    native_case("native-no-file-manifest", "manifest .*manifest-file.json does not exist", drop(FILES_KEY)),
    native_case("native-no-data-file", "data file .*dataFile00000.json does not exist", drop(DATA_KEY)),
    native_case(
        "native-summary-not-json", "manifest-summary.json is not valid JSON", put(SUMMARY_KEY, b"{itemCount")
    ),
    native_case(
        "native-summary-string",
        "manifest-summary.json must be one JSON object",
        put(SUMMARY_KEY, b'"summary"'),
    ),
    native_case(
        "native-summary-two-objects",
        "must be one JSON object",
        put(SUMMARY_KEY, b'{"itemCount": 1}\n{"itemCount": 2}'),
    ),
    native_case(
        "native-summary-huge",
        "manifest-summary.json is larger than 1,048,576 bytes",
        put(SUMMARY_KEY, json.dumps({f"k{i}": "x" * 60_000 for i in range(20)}).encode()),
    ),
    native_case(
        "native-summary-bloated",
        "an entry holds more than 256 JSON values",
        put(SUMMARY_KEY, b'{"x": [' + b'"",' * 1000 + b'""]}'),
    ),
    native_case(
        "native-summary-deep", "nesting deeper than 16 levels", put(SUMMARY_KEY, b'{"x": ' + b'["",' * 1000)
    ),
    native_case(
        "native-summary-no-count", "has no itemCount", put(SUMMARY_KEY, b'{"domainName": "packages"}')
    ),
    native_case("native-summary-count-negative", "itemCount -1; expected a count", set_summary(itemCount=-1)),
    native_case(
        "native-summary-count-boolean", "itemCount True; expected a count", set_summary(itemCount=True)
    ),
    native_case(
        "native-summary-count-string", "itemCount '12'; expected a count", set_summary(itemCount="12")
    ),
    native_case(
        "native-summary-count-over-cap",
        "exports of at most 5,000,000 items",
        set_summary(itemCount=5_000_001),
    ),
    native_case(
        "native-summary-count-mismatch", "counts 13 items but .* lists 12", set_summary(itemCount=13)
    ),
    native_case("native-summary-other-domain", "is for domain 'other'", set_summary(domainName="other")),
    native_case("native-summary-arn-number", "non-string exportArn or domainName", set_summary(exportArn=5)),
    native_case(
        "native-summary-manifest-outside",
        "outside the export",
        set_summary(manifestFilesS3Key=f"{EXPORT_BASE}../x/manifest-file.json"),
    ),
    native_case(
        "native-manifest-not-json",
        "manifest-file.json is not valid JSON",
        put(FILES_KEY, b'{"itemCount": 3,\n'),
    ),
    native_case(
        "native-manifest-entry-string",
        "entry 1 must be an object with a dataFileS3Key",
        put(FILES_KEY, b'"data/dataFile00000.json"'),
    ),
    native_case(
        "native-manifest-entry-no-key",
        "entry 1 must be an object with a dataFileS3Key",
        set_entry_field(0, dataFileS3Key=None),
    ),
    native_case(
        "native-manifest-key-outside",
        "outside the export",
        set_entry_field(0, dataFileS3Key=f"{EXPORT_BASE}../../x.json"),
    ),
    native_case(
        "native-manifest-key-listed-twice", "a second time", set_entry_field(1, dataFileS3Key=DATA_KEY)
    ),
    native_case(
        "native-manifest-key-huge",
        "longer than S3's 1,024 bytes",
        set_entry_field(0, dataFileS3Key="data/" + "k" * 2000),
    ),
    native_case(
        "native-manifest-md5-malformed",
        "expected an MD5 in base64 or hex",
        set_entry_field(0, md5Checksum="abc"),
    ),
    native_case(
        "native-manifest-md5-number", "expected an MD5 in base64 or hex", set_entry_field(0, md5Checksum=5)
    ),
    native_case(
        "native-manifest-count-missing",
        "has no itemCount",
        lambda objects: set_manifest(
            objects, [{k: v for k, v in line.items() if k != "itemCount"} for line in manifest_lines(objects)]
        ),
    ),
    native_case(
        "native-manifest-bloated-entry",
        "an entry holds more than 256 JSON values",
        put(FILES_KEY, b'{"dataFileS3Key": [' + b'"",' * 1000 + b'""]}'),
    ),
    native_case(
        "native-manifest-endless-line",
        "more than 65,536 bytes without a string delimiter",
        put(FILES_KEY, b"{" + b" " * MEGABYTE + b"}"),
    ),
    native_case(
        "native-md5-mismatch",
        "dataFile00000.json has MD5 [0-9a-f]{32} but the manifest says",
        lambda objects: objects.update({DATA_KEY: objects[DATA_KEY].replace(b'"main"', b'"mainx"', 1)}),
    ),
    native_case(
        "native-md5-truncated",
        "dataFile00000.json is not valid JSON",
        lambda objects: objects.update({DATA_KEY: objects[DATA_KEY][:-30]}),
    ),
    native_case(
        "native-data-not-array", "must hold a JSON array of items, not an object", set_data({"items": []})
    ),
    native_case("native-data-string", "must hold a JSON array of items, not a string", set_data("items")),
    native_case(
        "native-data-more-items",
        "holds more than the 6 items the manifest says",
        set_data(lambda objects: [*records(objects), {"itemName": "zz", "attributes": [ATTRIBUTE]}]),
    ),
    native_case(
        "native-data-fewer-items",
        "holds 5 items but the manifest says 6",
        set_data(lambda objects: records(objects)[:5]),
    ),
    native_case(
        "native-item-not-object", "item 1 must be a JSON object, not a string", set_data(first_replaced("x"))
    ),
    native_case(
        "native-item-no-name", "item 1 has no itemName", set_data(first_replaced({"attributes": [ATTRIBUTE]}))
    ),
    native_case(
        "native-item-empty-name",
        "item 1 has no itemName",
        set_data(first_replaced({"itemName": "", "attributes": [ATTRIBUTE]})),
    ),
    native_case(
        "native-item-name-number",
        "item 1 has no itemName",
        set_data(first_replaced({"itemName": 5, "attributes": [ATTRIBUTE]})),
    ),
    native_case(
        "native-item-no-attributes",
        "must have a non-empty attributes list",
        set_data(first_replaced({"itemName": "x"})),
    ),
    native_case(
        "native-item-attributes-empty",
        "must have a non-empty attributes list",
        set_data(first_replaced({"itemName": "x", "attributes": []})),
    ),
    native_case(
        "native-attribute-no-name",
        "has an attribute that is not",
        set_data(first_replaced({"itemName": "x", "attributes": [{"values": ["v"]}]})),
    ),
    native_case(
        "native-attribute-values-empty",
        "has an attribute that is not",
        set_data(first_replaced({"itemName": "x", "attributes": [{"name": "a", "values": []}]})),
    ),
    native_case(
        "native-attribute-value-number",
        "has a non-string value \\(a number\\)",
        set_data(first_replaced({"itemName": "x", "attributes": [{"name": "a", "values": [1]}]})),
    ),
    native_case(
        "native-attribute-empty-name",
        "attribute name '' is empty",
        set_data(first_replaced({"itemName": "x", "attributes": [{"name": "", "values": ["v"]}]})),
    ),
    native_case(
        "native-item-name-1025-bytes",
        "exceeds 1024 bytes",
        set_data(first_replaced({"itemName": "x" * 1025, "attributes": [ATTRIBUTE]})),
    ),
    native_case(
        "native-value-1025-bytes",
        "exceeds 1024 bytes",
        set_data(first_replaced({"itemName": "x", "attributes": [{"name": "a", "values": ["€" * 342]}]})),
    ),
    native_case(
        "native-257-pairs",
        "more than 256 name/value pairs",
        set_data(
            first_replaced(
                {"itemName": "x", "attributes": [{"name": f"a{i}", "values": ["v"]} for i in range(257)]}
            )
        ),
    ),
    native_case(
        "native-surrogate-name",
        "lone surrogate",
        set_data(
            lambda objects: b'[{"itemName": "x\\ud800", "attributes": [{"name": "a", "values": ["v"]}]}]'
        ),
    ),
    native_case(
        "native-surrogate-value",
        "lone surrogate",
        set_data(
            lambda objects: b'[{"itemName": "x", "attributes": [{"name": "a", "values": ["\\udc00"]}]}]'
        ),
    ),
    native_case(
        "native-duplicate-in-file",
        "appears a second time in the export",
        set_data(lambda objects: [records(objects)[1], *records(objects)[1:]]),
    ),
    native_case(
        "native-duplicate-across-files",
        "dataFile00001.json appears a second time in the export",
        set_data(lambda objects: [json.loads(objects[SECOND_DATA_KEY])[0], *records(objects)[1:]]),
    ),
    native_case(
        "native-deep-nesting",
        "nesting deeper than 16 levels",
        set_data(b'[{"itemName": "x", "other": ' + b'["",' * 10_000),
    ),
    native_case(
        "native-endless-string",
        "more than 65,536 bytes without a string delimiter",
        set_data(b'[{"itemName": "' + b"x" * (2 * MEGABYTE) + b'"}]'),
    ),
    native_case(
        "native-bloated-item",
        "item 1 holds more than 2,064 JSON values",
        set_data(b'[{"itemName": "x", "other": [' + b'"",' * 5000 + b'""]}]'),
    ),
    native_case(
        "native-gzip-damaged",
        "dataFile00000.json is a damaged gzip file",
        set_data(lambda objects: gzip.compress(objects[DATA_KEY])[:-12]),
    ),
    native_case(
        "native-gzip-garbage",
        "is a damaged gzip file|not valid JSON",
        set_data(lambda objects: gzip.compress(objects[DATA_KEY]) + b"garbage"),
    ),
    native_case(
        "native-trailing-garbage",
        "dataFile00000.json is not valid JSON: parse error: trailing garbage",
        set_data(lambda objects: objects[DATA_KEY] + b" []"),
    ),
    native_case(
        "native-byte-order-mark",
        "not valid JSON",
        set_data(lambda objects: b"\xef\xbb\xbf" + objects[DATA_KEY]),
    ),
    native_case(
        "native-export-of-another-domain",
        "source_key: .* is an export of domain 'packages', not of 'other-domain'",
        lambda objects: None,
        event={"domain": "other-domain"},
    ),
]


CASES: list[Case] = [*EVENT_CASES, *DUMP_CASES, *REPOMAN_CASES, *NATIVE_CASES]
