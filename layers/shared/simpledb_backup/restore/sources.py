"""Where a restore's items come from: a dump version, a Repoman backup file, or an AWS native export.

Every source streams its items from the start on each ``items()`` call and raises DumpCorruptError (possibly
only at the end of the stream) when it is not intact, so a restore reads it through once to verify it before
it writes anything.
"""

from collections.abc import Iterator
from contextlib import closing
from typing import IO, Any, Protocol

from simpledb_backup.aws.keys import IMPORTS_PREFIX
from simpledb_backup.aws.s3store import META_DIGEST, META_ITEMS, BucketStore, DumpVersion
from simpledb_backup.errors import (
    DumpCorruptError,
    DumpNotFoundError,
    InvalidRequestError,
)
from simpledb_backup.events import PlanRequest, RestoreRunRequest
from simpledb_backup.formats.dumpformat import read_dump
from simpledb_backup.formats.native_export import NativeExport, read_native_export
from simpledb_backup.formats.repoman import check_repoman_file_size, items_from_repoman_stream
from simpledb_backup.items import Item
from simpledb_backup.restore.catalog import DumpCatalog


class RestoreSource(Protocol):
    def describe(self) -> dict[str, Any]: ...

    def items(self) -> Iterator[Item]: ...


class DumpSource:
    """One version of a domain's full dump."""

    def __init__(self, store: BucketStore, domain: str, version: DumpVersion) -> None:
        self.store, self.domain, self.version = store, domain, version

    def describe(self) -> dict[str, Any]:
        return {"kind": "dump", "key": self.version.key, **self.version.summary()}

    def items(self) -> Iterator[Item]:
        with closing(self.store.open(self.version.key, self.version.version_id)) as body:
            reader = read_dump(body)
            if reader.header.domain != self.domain:
                raise DumpCorruptError(
                    f"{self.version.key} version {self.version.version_id} is a dump of domain "
                    f"{reader.header.domain!r}, not of {self.domain!r}"
                )
            yield from reader
        trailer = reader.trailer
        if trailer is None:  # the reader raises before this; kept for the type checker
            raise DumpCorruptError(f"{self.version.key} version {self.version.version_id} has no trailer")
        # The object's metadata was written from the same totals when the dump was published; a mismatch
        # means the object was replaced or altered since.
        recorded_items = self.version.metadata.get(META_ITEMS)
        recorded_digest = self.version.metadata.get(META_DIGEST)
        if (recorded_items is not None and recorded_items != str(trailer.items)) or (
            recorded_digest is not None and recorded_digest != trailer.digest
        ):
            raise DumpCorruptError(
                f"{self.version.key} version {self.version.version_id}: its S3 metadata (item-count "
                f"{recorded_items}, items-digest {recorded_digest}) does not match its contents "
                f"({trailer.items} items, digest {trailer.digest})"
            )


class RepomanFileSource:
    """A ``repoman-cli backup`` file under imports/: item names are recomputed as Repoman does, ``meta``
    included (repoman.items_from_repoman_stream). The file is streamed, never loaded whole."""

    def __init__(self, store: BucketStore, key: str, version_id: str) -> None:
        self.store, self.key, self.version_id = store, key, version_id

    def describe(self) -> dict[str, Any]:
        return {"kind": "repoman", "key": self.key, "version_id": self.version_id}

    def items(self) -> Iterator[Item]:
        version = self.store.head(self.key, self.version_id)
        if version is not None:
            check_repoman_file_size(self.key, version.size)  # an oversized file is refused unread
        with closing(self.store.open(self.key, self.version_id)) as body:
            yield from items_from_repoman_stream(body, self.key)


class NativeExportSource:
    """An AWS native SimpleDB export (simpledbv2 StartDomainExport) under
    ``imports/.../AWSSimpleDB/<exportId>/<domain>/``. The first read verifies the manifests and every data
    file's MD5 and item count (native_export.read_native_export); later reads in the same invocation reuse
    that verification, and each still re-checks every file's MD5 and count at its end. Every object is read
    as a stream, at the S3 version the first read found, so all reads see the bytes that were verified."""

    def __init__(self, store: BucketStore, base_key: str, domain: str) -> None:
        self.store, self.base_key, self.domain = store, base_key.rstrip("/") + "/", domain
        self._export: NativeExport | None = None
        self._versions: dict[str, str] = {}

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"kind": "native-export", "key": self.base_key}
        if self._export is not None:
            described["items"] = self._export.item_count
            described["export_arn"] = self._export.manifest.export_arn
        return described

    def _open_object(self, key: str) -> IO[bytes]:
        version_id = self._versions.get(key)
        if version_id is None:
            head = self.store.head(key)
            if head is None:
                raise KeyError(key)  # what read_native_export expects for a missing object
            version_id = self._versions[key] = head.version_id
        return self.store.open(key, version_id)

    def items(self) -> Iterator[Item]:
        if self._export is None:
            export = read_native_export(self._open_object, self.base_key)
            exported = export.manifest.domain_name
            if exported is not None and exported != self.domain:
                raise InvalidRequestError(
                    f"source_key: {self.base_key} is an export of domain {exported!r}, not of {self.domain!r}"
                )
            self._export = export
        yield from self._export


class SourceOpener:
    """Opens the source a request names; ``reopen`` pins exactly the object version a run started from, so a
    continuation never switches to a newer "latest" (the safety backup itself is a newer dump)."""

    def __init__(self, store: BucketStore, catalog: DumpCatalog) -> None:
        self.store, self.catalog = store, catalog

    def open(self, request: PlanRequest | RestoreRunRequest) -> RestoreSource:
        if request.source == "dump":
            version = self.catalog.resolve(request.domain, request.version_id, request.as_of_utc)
            return DumpSource(self.store, request.domain, version)
        key = self._import_key(request)
        if request.source == "native-export":
            return NativeExportSource(self.store, key, request.domain)
        head = self.store.head(key)
        if head is None:
            raise DumpNotFoundError(f"source_key: no object s3://{self.store.bucket}/{key}")
        return RepomanFileSource(self.store, key, head.version_id)

    def reopen(self, request: RestoreRunRequest, pinned: dict[str, Any]) -> RestoreSource:
        if request.source == "dump":
            try:
                version = self.catalog.version(str(pinned["key"]), str(pinned["version_id"]))
            except DumpNotFoundError as error:
                raise DumpNotFoundError(f"the dump this restore started from is gone: {pinned}") from error
            return DumpSource(self.store, request.domain, version)
        key = self._import_key(request)
        if request.source == "native-export":
            return NativeExportSource(self.store, key, request.domain)
        return RepomanFileSource(self.store, key, str(pinned["version_id"]))

    @staticmethod
    def _import_key(request: PlanRequest | RestoreRunRequest) -> str:
        key = request.source_key or ""
        if not key.startswith(IMPORTS_PREFIX):
            raise InvalidRequestError(
                f"source_key: {key!r} must be under {IMPORTS_PREFIX} (the restore function reads imports there)"
            )
        return key
