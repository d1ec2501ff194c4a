"""Writing AWS native SimpleDB exports (``simpledbv2 StartDomainExport``) for the tests and the demo (local
tooling, never deployed): the layout ``simpledb_backup.formats.native_export`` reads, with a JSON Lines file manifest
and base64 MD5s (docs/SOURCES.md).
"""

import base64
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.formats.native_export import (
    DATA_DIRECTORY,
    EXPORT_ROOT,
    MANIFEST_FILES_NAME,
    MANIFEST_SUMMARY_NAME,
    STARTED_MARKER_NAME,
)
from simpledb_backup.items import Item

# The export ID of AWS's own documentation example, used when none is given.
EXAMPLE_EXPORT_ID = "3eb4eaed-872b-4e08-b4b6-ff6999a83e01"


def export_base_key(prefix: str, export_id: str, domain_name: str) -> str:
    """The directory key of an export: ``<prefix>/AWSSimpleDB/<exportId>/<domainName>/``."""
    if not export_id or not domain_name or "/" in export_id or "/" in domain_name:
        raise InvalidRequestError(
            f"export id {export_id!r} and domain {domain_name!r} must be non-empty names"
        )
    stem = f"{EXPORT_ROOT}/{export_id}/{domain_name}/"
    prefix = prefix.strip("/")
    return f"{prefix}/{stem}" if prefix else stem


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
    """The objects (key → bytes) a SUCCEEDED export of ``items`` consists of, in the layout simpledb_backup.formats.native_export reads."""
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
