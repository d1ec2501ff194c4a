"""Reading (and, for tests, writing) an AWS native SimpleDB export: ``simpledbv2 StartDomainExport``.

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

The reader is S3-agnostic: the caller passes ``read_object(key) -> bytes`` (raising KeyError or
FileNotFoundError for a missing object) and the export directory's key. Everything is verified (every data
file's MD5 and item count against the manifest, every item's shape, item names unique) before the first
item is handed out, so restoring from a bad export writes nothing.
"""

import base64
import binascii
import gzip
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from simpledb_backup.errors import DumpCorruptError, InvalidRequestError
from simpledb_backup.items import Item, make_item

ReadObject = Callable[[str], bytes]

EXPORT_ROOT = "AWSSimpleDB"
MANIFEST_SUMMARY_NAME = "manifest-summary.json"
MANIFEST_FILES_NAME = "manifest-file.json"
STARTED_MARKER_NAME = "_started"
DATA_DIRECTORY = "data/"
# The export ID of AWS's own documentation example, used by the test writer when none is given.
EXAMPLE_EXPORT_ID = "3eb4eaed-872b-4e08-b4b6-ff6999a83e01"
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


def export_base_key(prefix: str, export_id: str, domain_name: str) -> str:
    """The directory key of an export: ``<prefix>/AWSSimpleDB/<exportId>/<domainName>/``."""
    if not export_id or not domain_name or "/" in export_id or "/" in domain_name:
        raise InvalidRequestError(
            f"export id {export_id!r} and domain {domain_name!r} must be non-empty names"
        )
    stem = f"{EXPORT_ROOT}/{export_id}/{domain_name}/"
    prefix = prefix.strip("/")
    return f"{prefix}/{stem}" if prefix else stem


def _normalized_base(base_key: str) -> str:
    if not base_key.strip("/"):
        raise InvalidRequestError(
            "the export's base key is empty: pass <prefix>/AWSSimpleDB/<exportId>/<domain>/"
        )
    return base_key.rstrip("/") + "/"


def _read(read_object: ReadObject, key: str, what: str) -> bytes:
    try:
        return read_object(key)
    except (KeyError, FileNotFoundError) as error:
        raise DumpCorruptError(f"native export: {what} {key} does not exist") from error


def _parse_json(data: bytes, key: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DumpCorruptError(f"native export: {key} is not valid JSON: {error}") from error


def _count_field(entry: dict[str, Any], where: str) -> int:
    for field in ("itemCount", "itemsCount"):
        if field in entry:
            value = entry[field]
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
            raise DumpCorruptError(f"native export: {where} has {field} {value!r}; expected a count")
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
        f"native export: {where} has md5Checksum {value!r}; expected an MD5 in base64 or hex"
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
            f"native export: {where} names {listed!r}, which is outside the export {base_key}"
        )
    return key


def _manifest_entries(data: bytes, key: str) -> list[Any]:
    """The entries of manifest-file.json: one JSON object per line, or one JSON array of them."""
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError as error:
        raise DumpCorruptError(f"native export: {key} is not UTF-8 text: {error}") from error
    if text.startswith("["):
        entries = _parse_json(data, key)
        if not isinstance(entries, list):
            raise DumpCorruptError(f"native export: {key} must list its data files")
        return entries
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise DumpCorruptError(
                f"native export: {key} line {number} is not valid JSON: {error}"
            ) from error
    return entries


def read_manifest(read_object: ReadObject, base_key: str) -> ExportManifest:
    """Parse and cross-check the two manifests of the export under ``base_key`` (no data file is read)."""
    base = _normalized_base(base_key)
    summary_key = base + MANIFEST_SUMMARY_NAME
    try:
        summary_bytes = read_object(summary_key)
    except (KeyError, FileNotFoundError) as error:
        raise DumpCorruptError(
            f"native export: {summary_key} does not exist; AWS writes the manifests last, so the export under "
            f"{base} is still running, failed, or is not there"
        ) from error
    summary = _parse_json(summary_bytes, summary_key)
    if not isinstance(summary, dict):
        raise DumpCorruptError(f"native export: {summary_key} must be a JSON object")
    total = _count_field(summary, summary_key)
    export_arn = summary.get("exportArn")
    domain_name = summary.get("domainName")
    if not isinstance(export_arn, str | None) or not isinstance(domain_name, str | None):
        raise DumpCorruptError(f"native export: {summary_key} has a non-string exportArn or domainName")
    if domain_name is not None and not base.endswith(f"/{domain_name}/") and base != f"{domain_name}/":
        raise DumpCorruptError(
            f"native export: {summary_key} is for domain {domain_name!r}, not the one under {base}"
        )

    files_key = base + MANIFEST_FILES_NAME
    listed_files_key = summary.get("manifestFilesS3Key")
    if isinstance(listed_files_key, str):
        files_key = _data_key(base, listed_files_key, f"{summary_key} manifestFilesS3Key")
    files_bytes = _read(read_object, files_key, "manifest")
    entries = _manifest_entries(files_bytes, files_key)

    data_files: list[DataFile] = []
    seen_keys: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{files_key} entry {index + 1}"
        if not isinstance(entry, dict) or not isinstance(entry.get("dataFileS3Key"), str):
            raise DumpCorruptError(f"native export: {where} must be an object with a dataFileS3Key")
        key = _data_key(base, entry["dataFileS3Key"], where)
        if key in seen_keys:
            raise DumpCorruptError(f"native export: {where} lists {key} a second time")
        seen_keys.add(key)
        data_files.append(
            DataFile(key, _md5_hex(entry.get("md5Checksum"), where), _count_field(entry, where))
        )
    listed_total = sum(data_file.item_count for data_file in data_files)
    if listed_total != total:
        raise DumpCorruptError(
            f"native export: {summary_key} counts {total} items but {files_key} lists {listed_total} "
            f"in {len(data_files)} data files"
        )
    return ExportManifest(base, export_arn, domain_name, total, tuple(data_files))


def _items_of(data: bytes, data_file: DataFile) -> list[Item]:
    """Check a data file's bytes against its manifest entry and parse its items."""
    actual_md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if actual_md5 != data_file.md5_hex:
        raise DumpCorruptError(
            f"native export: {data_file.key} has MD5 {actual_md5} but the manifest says {data_file.md5_hex}; "
            "the file was changed or truncated after the export"
        )
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise DumpCorruptError(
                f"native export: {data_file.key} is a damaged gzip file: {error}"
            ) from error
    records = _parse_json(data, data_file.key) if data.strip() else []
    if not isinstance(records, list):
        raise DumpCorruptError(f"native export: {data_file.key} must hold a JSON array of items")
    if len(records) != data_file.item_count:
        raise DumpCorruptError(
            f"native export: {data_file.key} holds {len(records)} items but the manifest says {data_file.item_count}"
        )
    return [_item_of(record, f"{data_file.key} item {index + 1}") for index, record in enumerate(records)]


def _item_of(record: object, where: str) -> Item:
    if not isinstance(record, dict):
        raise DumpCorruptError(f"native export: {where} must be a JSON object")
    name = record.get("itemName")
    if not isinstance(name, str) or not name:
        raise DumpCorruptError(f"native export: {where} has no itemName")
    attributes = record.get("attributes")
    if not isinstance(attributes, list) or not attributes:
        raise DumpCorruptError(f"native export: {where} ({name!r}) must have a non-empty attributes list")
    pairs: list[tuple[str, str]] = []
    for attribute in attributes:
        attribute_name = attribute.get("name") if isinstance(attribute, dict) else None
        values = attribute.get("values") if isinstance(attribute, dict) else None
        if not isinstance(attribute_name, str) or not isinstance(values, list) or not values:
            raise DumpCorruptError(
                f"native export: {where} ({name!r}) has an attribute that is not {{'name': ..., 'values': [...]}}"
            )
        for value in values:
            if not isinstance(value, str):
                raise DumpCorruptError(
                    f"native export: {where} ({name!r}) attribute {attribute_name!r} has a non-string value"
                )
            pairs.append((attribute_name, value))
    return make_item(name, pairs)


class NativeExport:
    """A verified export. Iterating reads the data files again and yields their items, checking each file's
    MD5 once more so a file replaced since the verification is still refused."""

    def __init__(self, read_object: ReadObject, manifest: ExportManifest) -> None:
        self._read_object = read_object
        self.manifest = manifest

    @property
    def item_count(self) -> int:
        return self.manifest.item_count

    def __iter__(self) -> Iterator[Item]:
        for data_file in self.manifest.data_files:
            yield from _items_of(_read(self._read_object, data_file.key, "data file"), data_file)


def read_native_export(read_object: ReadObject, base_key: str) -> NativeExport:
    """Verify the whole export under ``base_key`` and return it for iteration; raises DumpCorruptError.

    Memory stays at one data file: the verification pass parses and discards each file, and iteration
    reads them again.
    """
    manifest = read_manifest(read_object, base_key)
    first_file_of: dict[str, str] = {}
    for data_file in manifest.data_files:
        for item in _items_of(_read(read_object, data_file.key, "data file"), data_file):
            if item.name in first_file_of:
                where = (
                    f"twice in {data_file.key}"
                    if first_file_of[item.name] == data_file.key
                    else f"in both {first_file_of[item.name]} and {data_file.key}"
                )
                raise DumpCorruptError(f"native export: item {item.name!r} is {where}")
            first_file_of[item.name] = data_file.key
    return NativeExport(read_object, manifest)


def s3_object_reader(s3_client: Any, bucket: str) -> ReadObject:
    """A ``read_object`` for ``bucket``: a missing object raises KeyError, other S3 errors propagate."""

    def read_object(key: str) -> bytes:
        try:
            body: bytes = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3_client.exceptions.NoSuchKey as error:
            raise KeyError(key) from error
        return body

    return read_object


# --- writing, for tests and the demo ----------------------------------------------------------------------


def _record_of(item: Item) -> dict[str, Any]:
    return {
        "itemName": item.name,
        "attributes": [{"name": name, "values": list(values)} for name, values in item.attributes.items()],
    }


def write_native_export(
    items: Iterable[Item],
    *,
    domain_name: str,
    export_id: str = EXAMPLE_EXPORT_ID,
    prefix: str = "",
    items_per_file: int = 1000,
    region: str = "us-east-1",
    account_id: str = "111122223333",
    bucket: str = "export-bucket",
) -> dict[str, bytes]:
    """The objects (key → bytes) a SUCCEEDED export of ``items`` consists of, in the layout read above."""
    if items_per_file < 1:
        raise InvalidRequestError(f"items_per_file must be at least 1, not {items_per_file}")
    base = export_base_key(prefix, export_id, domain_name)
    objects: dict[str, bytes] = {base + STARTED_MARKER_NAME: b""}
    manifest_lines: list[str] = []
    total = 0
    batch: list[Item] = []

    def flush() -> None:
        key = f"{base}{DATA_DIRECTORY}dataFile{len(manifest_lines):05d}.json"
        data = json.dumps([_record_of(item) for item in batch], ensure_ascii=False).encode("utf-8")
        objects[key] = data
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")
        manifest_lines.append(json.dumps({"itemCount": len(batch), "md5Checksum": md5, "dataFileS3Key": key}))

    for item in items:
        batch.append(item)
        total += 1
        if len(batch) == items_per_file:
            flush()
            batch = []
    if batch or not manifest_lines:
        flush()
    objects[base + MANIFEST_FILES_NAME] = ("\n".join(manifest_lines) + "\n").encode("utf-8")
    summary = {
        "version": "2025-09-26",
        "exportArn": f"arn:aws:sdb:{region}:{account_id}:domain/{domain_name}/export/{export_id}",
        "domainName": domain_name,
        "s3Bucket": bucket,
        "s3KeyPrefix": prefix,
        "manifestFilesS3Key": base + MANIFEST_FILES_NAME,
        "itemCount": total,
        "outputFormat": "JSON",
    }
    objects[base + MANIFEST_SUMMARY_NAME] = json.dumps(summary, indent=2).encode("utf-8")
    return objects
