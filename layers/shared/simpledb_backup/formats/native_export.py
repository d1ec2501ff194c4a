"""Reading an AWS native SimpleDB export (``simpledbv2 StartDomainExport``) as streams, in bounded memory.

What AWS documents (SimpleDB Developer Guide: "StartDomainExport", "Track Export Status"; docs/SOURCES.md):

* an export writes under ``<s3KeyPrefix>/AWSSimpleDB/<exportId>/<domainName>/`` (no prefix: from
  ``AWSSimpleDB/``);
* an empty ``_started`` object first, then data files ``data/dataFile<randomPartitionIds>.json``, and only
  when the export SUCCEEDED the manifests ``manifest-file.json`` and ``manifest-summary.json``; a failed
  export is not cleaned up, so a directory without manifests is an incomplete export;
* items are exported as JSON: each data file is a JSON array of ``{"itemName": ..., "attributes": [{"name":
  ..., "values": [...]}, ...]}``.

The manifests' field names are not in the pages we could consult, so they follow DynamoDB's export
manifests, the sibling format the SimpleDB one is modelled on, and the reader accepts both spellings we know
of: ``manifest-file.json`` lists one data file per JSON line (a JSON array is accepted too) with
``dataFileS3Key``, ``md5Checksum`` (base64 of the MD5 digest, or hex) and ``itemCount``; the summary carries
the total in ``itemCount`` (or ``itemsCount``, GetExport's name for it), and optionally ``exportArn``,
``domainName`` and ``manifestFilesS3Key``. Check these against a real export before relying on them.

The reader is S3-agnostic: the caller passes ``open_object(key) -> stream`` (raising KeyError or
FileNotFoundError for a missing object) and the export directory's key. Every object is read as a stream:
manifests under a size cap, data files through a streaming JSON parser (boundedio), so memory does not grow
with a file's size or what it inflates to. ``read_native_export`` verifies everything (every data file's MD5
and item count against the manifest, every item against SimpleDB's limits, item names unique) before it
returns; iterating reads the files again and checks each one's MD5 and count again at its end, so the caller
should open the same object versions both times (restore.py pins them).
"""

import base64
import binascii
import gzip
import hashlib
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import IO, Any, NamedTuple, cast

from simpledb_backup.errors import DumpCorruptError, InvalidRequestError, LimitExceededError
from simpledb_backup.formats.boundedio import (
    CappedReader,
    JsonEvents,
    Prefixed,
    Readable,
    TranslatedErrors,
    event_budget,
    json_kind,
)
from simpledb_backup.items import MAX_PAIRS_PER_ITEM, Item, SeenNames, make_item, validate_item

OpenObject = Callable[[str], IO[bytes]]

EXPORT_ROOT = "AWSSimpleDB"
MANIFEST_SUMMARY_NAME = "manifest-summary.json"
MANIFEST_FILES_NAME = "manifest-file.json"
STARTED_MARKER_NAME = "_started"
DATA_DIRECTORY = "data/"
#: Caps on what a restore reads of an export. The summary is a few hundred bytes; the file manifest one line
#: of about 200 bytes per data file. The item cap bounds the duplicate check's memory (8 M slots of 8 bytes,
#: 64 MiB, at most), and with it the export's size: 5 million items.
MAX_SUMMARY_BYTES = 1024 * 1024
MAX_FILE_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_DATA_FILES = 100_000
MAX_EXPORT_ITEMS = 5_000_000
_MAX_MANIFEST_ENTRY_EVENTS = 256
#: JSON values one item may hold: its name, and per pair at most an attribute object's name, values list and
#: value; members this reader does not know are skipped, within the same budget.
_MAX_ITEM_EVENTS = 8 * MAX_PAIRS_PER_ITEM + 16
_NOTHING = object()
_HEX_MD5 = re.compile(r"[0-9a-fA-F]{32}")
_GZIP_MAGIC = b"\x1f\x8b"


class DataFile(NamedTuple):
    key: str  # full object key
    md5_hex: str
    item_count: int


class ExportManifest(NamedTuple):
    base_key: str
    export_arn: str | None
    domain_name: str | None
    item_count: int
    data_files: tuple[DataFile, ...]


def _normalized_base(base_key: str) -> str:
    if not base_key.strip("/"):
        raise InvalidRequestError(
            "the export's base key is empty: pass <prefix>/AWSSimpleDB/<exportId>/<domain>/"
        )
    return base_key.rstrip("/") + "/"


def _open(open_object: OpenObject, key: str, what: str) -> IO[bytes]:
    try:
        return open_object(key)
    except (KeyError, FileNotFoundError) as error:
        raise DumpCorruptError(f"native export: {what} {key} does not exist") from error


def _count_field(entry: dict[str, Any], where: str) -> int:
    for field in ("itemCount", "itemsCount"):
        if field in entry:
            value = entry[field]
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
            raise DumpCorruptError(f"native export: {where} has {field} {value!r:.80}; expected a count")
    raise DumpCorruptError(f"native export: {where} has no itemCount")


def _md5_hex(value: object, where: str) -> str:
    if isinstance(value, str):
        if _HEX_MD5.fullmatch(value):
            return value.lower()
        try:
            digest = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) == 16:
            return digest.hex()
    raise DumpCorruptError(
        f"native export: {where} has md5Checksum {value!r:.80}; expected an MD5 in base64 or hex"
    )


def _data_key(base_key: str, listed: str, where: str) -> str:
    """Resolve a manifest's data file key, which may be bucket-relative, prefix-relative or export-relative."""
    if listed.startswith(base_key):
        key = listed
    elif listed.startswith(f"{EXPORT_ROOT}/") and f"{EXPORT_ROOT}/" in base_key:
        key = base_key[: base_key.index(f"{EXPORT_ROOT}/")] + listed
    else:
        key = base_key + listed
    if not key.startswith(base_key) or ".." in key[len(base_key) :].split("/"):
        raise DumpCorruptError(
            f"native export: {where} names {listed[:200]!r}, which is outside the export {base_key}"
        )
    if len(key.encode("utf-8", "replace")) > 1024:
        raise DumpCorruptError(f"native export: {where} names a key longer than S3's 1,024 bytes")
    return key


def _json_values(stream: IO[bytes], key: str, limit: int) -> Iterator[Any]:
    """The JSON values of a small object: one, several one per line (JSON Lines), and each value of a
    top-level array. Each value is built under an event budget; the object is capped at ``limit`` bytes."""
    capped = CappedReader(stream, f"native export: {key}", limit, "far larger than an export writes it")
    events = JsonEvents(capped, f"native export: {key}", multiple_values=True)
    in_array = False
    while True:
        event, value = events.next()
        if event == "end":
            return
        if event == "start_array" and not in_array:
            in_array = True  # one JSON array of entries
        elif event == "end_array" and in_array:
            in_array = False
        else:
            yield events.build(
                event, value, event_budget(f"native export: {key}", _MAX_MANIFEST_ENTRY_EVENTS, "an entry")
            )


def read_manifest(open_object: OpenObject, base_key: str) -> ExportManifest:
    """Parse and cross-check the two manifests of the export under ``base_key`` (no data file is read)."""
    base = _normalized_base(base_key)
    summary_key = base + MANIFEST_SUMMARY_NAME
    try:
        summary_stream = open_object(summary_key)
    except (KeyError, FileNotFoundError) as error:
        raise DumpCorruptError(
            f"native export: {summary_key} does not exist; AWS writes the manifests last, so the export under "
            f"{base} is still running, failed, or is not there"
        ) from error
    with closing(summary_stream):
        values = _json_values(summary_stream, summary_key, MAX_SUMMARY_BYTES)
        summary = next(values, None)
        if not isinstance(summary, dict) or next(values, _NOTHING) is not _NOTHING:
            raise DumpCorruptError(f"native export: {summary_key} must be one JSON object")
    total = _count_field(summary, summary_key)
    if total > MAX_EXPORT_ITEMS:
        raise DumpCorruptError(
            f"native export: {summary_key} counts {total:,} items; a restore reads exports of at most "
            f"{MAX_EXPORT_ITEMS:,} items (its duplicate check keeps 8 to 16 bytes per item)"
        )
    export_arn = summary.get("exportArn")
    domain_name = summary.get("domainName")
    if not isinstance(export_arn, str | None) or not isinstance(domain_name, str | None):
        raise DumpCorruptError(f"native export: {summary_key} has a non-string exportArn or domainName")
    if domain_name is not None and not base.endswith(f"/{domain_name}/") and base != f"{domain_name}/":
        raise DumpCorruptError(
            f"native export: {summary_key} is for domain {domain_name[:80]!r}, not the one under {base}"
        )

    files_key = base + MANIFEST_FILES_NAME
    listed_files_key = summary.get("manifestFilesS3Key")
    if isinstance(listed_files_key, str):
        files_key = _data_key(base, listed_files_key, f"{summary_key} manifestFilesS3Key")
    data_files = _data_files(open_object, base, files_key)
    listed_total = sum(data_file.item_count for data_file in data_files)
    if listed_total != total:
        raise DumpCorruptError(
            f"native export: {summary_key} counts {total} items but {files_key} lists {listed_total} "
            f"in {len(data_files)} data files"
        )
    return ExportManifest(base, export_arn, domain_name, total, tuple(data_files))


def _data_files(open_object: OpenObject, base: str, files_key: str) -> list[DataFile]:
    """The data files the file manifest lists, each once, with its MD5 and item count."""
    data_files: list[DataFile] = []
    seen_keys: set[str] = set()
    with closing(_open(open_object, files_key, "manifest")) as files_stream:
        for index, entry in enumerate(_json_values(files_stream, files_key, MAX_FILE_MANIFEST_BYTES)):
            where = f"{files_key} entry {index + 1}"
            if index >= MAX_DATA_FILES:
                raise DumpCorruptError(
                    f"native export: {files_key} lists more than {MAX_DATA_FILES:,} data files, the most a "
                    "restore reads"
                )
            if not isinstance(entry, dict) or not isinstance(entry.get("dataFileS3Key"), str):
                raise DumpCorruptError(f"native export: {where} must be an object with a dataFileS3Key")
            key = _data_key(base, entry["dataFileS3Key"], where)
            if key in seen_keys:
                raise DumpCorruptError(f"native export: {where} lists {key} a second time")
            seen_keys.add(key)
            data_files.append(
                DataFile(key, _md5_hex(entry.get("md5Checksum"), where), _count_field(entry, where))
            )
    return data_files


class _DataFileReader:
    """The items of one data file, from its JSON events."""

    def __init__(self, events: JsonEvents, data_file: DataFile) -> None:
        self.events, self.data_file = events, data_file

    def corrupt(self, message: str) -> DumpCorruptError:
        return DumpCorruptError(f"native export: {self.data_file.key} {message}")

    def items(self) -> Iterator[Item]:
        event, _ = self.events.next()
        if event == "end":
            return  # an empty file: no items
        if event != "start_array":
            raise self.corrupt(f"must hold a JSON array of items, not {json_kind(event)}")
        index = 0
        while True:
            event, _ = self.events.next()
            if event == "end_array":
                break
            index += 1
            if index > self.data_file.item_count:
                raise self.corrupt(f"holds more than the {self.data_file.item_count} items the manifest says")
            if event != "start_map":
                raise self.corrupt(f"item {index} must be a JSON object, not {json_kind(event)}")
            yield self.item(f"item {index}")
        if self.events.next()[0] != "end":  # pragma: no cover - the parser refuses trailing data first
            raise self.corrupt("has data after its array of items")

    def item(self, where: str) -> Item:
        spend = event_budget(f"native export: {self.data_file.key}", _MAX_ITEM_EVENTS, where)
        name: str | None = None
        pairs: list[tuple[str, str]] | None = None
        while True:
            spend()
            event, member = self.events.next()
            if event == "end_map":
                break
            event, value = self.events.next()
            if member == "itemName":
                if event != "string" or not value:
                    raise self.corrupt(f"{where} has no itemName")
                name = value
            elif member == "attributes":
                if event != "start_array":
                    raise self.corrupt(f"{where} must have a non-empty attributes list")
                pairs = self.attributes(f"{where} ({name[:80] if name else '?'!r})", spend)
            else:
                self.events.skip(event, spend)  # a member this reader does not know
        if name is None:
            raise self.corrupt(f"{where} has no itemName")
        if not pairs:
            raise self.corrupt(f"{where} ({name[:80]!r}) must have a non-empty attributes list")
        item = make_item(name, pairs)
        try:
            validate_item(item)
        except LimitExceededError as error:
            raise self.corrupt(f"{where}: {error}") from error
        return item

    def attributes(self, where: str, spend: Callable[[], None]) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        shape = "{'name': ..., 'values': [...]}"
        while True:
            spend()
            event, _ = self.events.next()
            if event == "end_array":
                return pairs
            if event != "start_map":
                raise self.corrupt(f"{where} has an attribute that is not {shape}")
            attribute: str | None = None
            values: list[str] | None = None
            while True:
                spend()
                event, member = self.events.next()
                if event == "end_map":
                    break
                event, value = self.events.next()
                if member == "name" and event == "string":
                    attribute = value
                elif member == "values" and event == "start_array":
                    values = self.values(where, spend)
                elif member in ("name", "values"):
                    raise self.corrupt(f"{where} has an attribute that is not {shape}")
                else:
                    self.events.skip(event, spend)
            if attribute is None or not values:
                raise self.corrupt(f"{where} has an attribute that is not {shape}")
            pairs += [(attribute, value) for value in values]
            if len(pairs) > MAX_PAIRS_PER_ITEM:
                raise self.corrupt(
                    f"{where} has more than {MAX_PAIRS_PER_ITEM} name/value pairs; SimpleDB allows "
                    f"{MAX_PAIRS_PER_ITEM} per item"
                )

    def values(self, where: str, spend: Callable[[], None]) -> list[str]:
        values: list[str] = []
        while True:
            spend()
            event, value = self.events.next()
            if event == "end_array":
                return values
            if event != "string":
                raise self.corrupt(f"{where} has a non-string value ({json_kind(event)})")
            values.append(value)


def _data_file_items(open_object: OpenObject, data_file: DataFile) -> Iterator[Item]:
    """Stream one data file's items; its MD5 (of the stored bytes) and item count are checked at its end, and
    a gzip file is inflated one bounded buffer at a time."""
    md5 = hashlib.md5(usedforsecurity=False)
    with closing(_open(open_object, data_file.key, "data file")) as stream:
        raw = CappedReader(stream, f"native export: {data_file.key}", hasher=md5)
        magic = raw.read(2)
        text: Readable = Prefixed(magic, raw)
        if magic == _GZIP_MAGIC:
            text = TranslatedErrors(
                gzip.GzipFile(fileobj=cast(IO[bytes], text), mode="rb"),  # reading never seeks
                f"native export: {data_file.key}",
                (OSError, EOFError, zlib.error),
                "is a damaged gzip file",
            )
        events = JsonEvents(text, f"native export: {data_file.key}")
        count = 0
        for item in _DataFileReader(events, data_file).items():
            count += 1
            yield item
        raw.drain()
    if count != data_file.item_count:
        raise DumpCorruptError(
            f"native export: {data_file.key} holds {count} items but the manifest says {data_file.item_count}"
        )
    if md5.hexdigest() != data_file.md5_hex:
        raise DumpCorruptError(
            f"native export: {data_file.key} has MD5 {md5.hexdigest()} but the manifest says {data_file.md5_hex}; "
            "the file was changed or truncated after the export"
        )


class NativeExport:
    """A verified export. Iterating reads the data files again and yields their items, checking each file's
    MD5 and item count again at its end, so a file replaced since the verification is still refused."""

    def __init__(self, open_object: OpenObject, manifest: ExportManifest) -> None:
        self._open_object = open_object
        self.manifest = manifest

    @property
    def item_count(self) -> int:
        return self.manifest.item_count

    def __iter__(self) -> Iterator[Item]:
        for data_file in self.manifest.data_files:
            yield from _data_file_items(self._open_object, data_file)


def read_native_export(open_object: OpenObject, base_key: str) -> NativeExport:
    """Verify the whole export under ``base_key`` and return it for iteration; raises DumpCorruptError.

    Memory stays bounded: each data file is streamed and its items discarded once checked; the only state that
    grows is the compact set of item names seen (items.SeenNames), capped by MAX_EXPORT_ITEMS.
    """
    manifest = read_manifest(open_object, base_key)
    seen = SeenNames()
    for data_file in manifest.data_files:
        for item in _data_file_items(open_object, data_file):
            if not seen.add(item.name):
                raise DumpCorruptError(
                    f"native export: item {item.name[:80]!r} in {data_file.key} appears a second time in the "
                    "export; SimpleDB item names are unique"
                )
    return NativeExport(open_object, manifest)
