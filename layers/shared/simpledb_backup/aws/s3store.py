"""S3 adapter for the backup bucket: staged multipart uploads, publication with metadata, versions, small JSON
objects and conditional writes. It raises storage errors only (AccessDeniedError, ObjectNotFoundError,
StorageError); what a missing or existing object means is for its callers to say. Keys are built in keys.py.

A dump is uploaded to a staging key under ``checkpoints/`` and only then copied onto its dump key with its
metadata, so the dump key never gets a version that is partial: a run that fails leaves at most an aborted
upload or a staging object, both expired by the bucket's lifecycle rules.
"""

import base64
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from simpledb_backup.config import Retention
from simpledb_backup.errors import AccessDeniedError, ObjectNotFoundError, StorageError
from simpledb_backup.runtime import utc_datetime

DUMP_CONTENT_TYPE = "application/gzip"
#: S3 wants every part but the last to be at least 5 MiB; 8 MiB keeps part counts low for large domains.
PART_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024

# User metadata keys (x-amz-meta-*) on every dump version; docs/FORMAT.md lists them.
META_FORMAT_VERSION = "format-version"
META_DOMAIN = "domain"
META_ITEMS = "item-count"
META_ATTRIBUTES = "attribute-count"
META_VALUES = "value-count"
META_DIGEST = "items-digest"
META_TRIGGER = "trigger"
META_RUN_ID = "run-id"
META_STARTED_AT = "started-at"
META_LABEL = "label"
#: The trigger of the safety backup a restore takes of its target before writing. "Latest" never means one.
PRE_RESTORE_TRIGGER = "pre-restore"


def _sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass(frozen=True)
class DumpVersion:
    key: str
    version_id: str
    last_modified: datetime
    size: int
    is_latest: bool
    metadata: dict[str, str]
    #: A subset dump's where clause, read from its header (the catalog fills it in; None for a full dump).
    where: str | None = None

    @property
    def item_count(self) -> int | None:
        value = self.metadata.get(META_ITEMS)
        return int(value) if value is not None else None

    @property
    def trigger(self) -> str | None:
        return self.metadata.get(META_TRIGGER)

    @property
    def label(self) -> str | None:
        """A subset dump's label (its S3 metadata); None for a full dump."""
        return self.metadata.get(META_LABEL)

    @property
    def is_pre_restore(self) -> bool:
        return self.trigger == PRE_RESTORE_TRIGGER

    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "version_id": self.version_id,
            "time": self.last_modified.isoformat(),
            "items": self.item_count,
            "size_bytes": self.size,
            "trigger": self.trigger,
            "latest": self.is_latest,
            "pre_restore": self.is_pre_restore,
        }
        if self.label is not None:
            summary["label"] = self.label
            summary["where"] = self.where
        return summary


@dataclass(frozen=True)
class ListedVersion:
    """One version as ListObjectVersions names it (no metadata: that takes a HeadObject)."""

    key: str
    version_id: str
    last_modified: datetime
    is_latest: bool


_NOT_FOUND = {"NoSuchKey", "NoSuchVersion", "404", "NoSuchBucket"}
# HeadObject has no body, so a missing version (or a malformed version id) answers only a status code.
_HEAD_NOT_FOUND = {"404", "NoSuchKey", "NoSuchVersion", "400"}
_CONDITION_FAILED = {"PreconditionFailed", "ConditionalRequestConflict", "412"}


#: botocore raises ClientError for an error answer and BotoCoreError subclasses when no answer came (connection
#: reset or refused, timeouts) after its own retries (standard mode retries both, clients.s3_client).
_AWS_ERRORS = (ClientError, BotoCoreError)
#: The largest small JSON object (state, lock, claim) read whole: anything bigger is not one of ours.
MAX_JSON_BYTES = 1024 * 1024
#: What a streaming body raises when its connection breaks mid-object.
_STREAM_ERRORS = (BotoCoreError, ConnectionError, OSError)
#: Times a dump's download is resumed from where it broke (a Range request on the same version).
STREAM_RESUMES = 5


def _error_code(error: Exception) -> str:
    if not isinstance(error, ClientError):
        return ""
    return str(error.response.get("Error", {}).get("Code", ""))


class BucketClient:
    """The bucket's client with the translation of its errors, and what the bucket says about itself and its
    versions beyond one key: its versioning, a listing of every dump key of a domain, a dump's first bytes."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def _fail(self, error: Exception, what: str) -> Exception:
        if isinstance(error, BotoCoreError):
            return StorageError(f"S3 could not be reached for {what} in bucket {self.bucket!r}: {error}")
        code = _error_code(error)
        if code in {"AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId"}:
            return AccessDeniedError(f"access denied to {what} in bucket {self.bucket!r}")
        if code in _NOT_FOUND:
            return ObjectNotFoundError(f"{what} not found in bucket {self.bucket!r} ({code})")
        return StorageError(f"S3 refused {what} in bucket {self.bucket!r}: {code}")

    def iter_versions_under(self, prefix: str) -> Iterator[ListedVersion]:
        """Every version of every key under ``prefix`` (one listing for a domain's full and subset dumps), in
        S3's order: by key, and newest first within a key."""
        paginator = self.client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for version in page.get("Versions", []):
                    yield ListedVersion(
                        str(version["Key"]),
                        str(version["VersionId"]),
                        version["LastModified"],
                        bool(version["IsLatest"]),
                    )
        except _AWS_ERRORS as error:
            raise self._fail(error, f"the versions under {prefix}") from error

    def iter_keys_under(self, prefix: str) -> Iterator[str]:
        """Every current key under ``prefix``, in S3's order (by key): ListObjectsV2, no versions."""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for listed in page.get("Contents", []):
                    yield str(listed["Key"])
        except _AWS_ERRORS as error:
            raise self._fail(error, f"the keys under {prefix}") from error

    def read_prefix(self, key: str, version_id: str, length: int) -> bytes:
        """The first ``length`` bytes of one object version (a ranged GET), e.g. to read a dump's header."""
        try:
            answer = self.client.get_object(
                Bucket=self.bucket, Key=key, VersionId=version_id, Range=f"bytes=0-{length - 1}"
            )
        except _AWS_ERRORS as error:
            if _error_code(error) == "InvalidRange":  # an empty object
                return b""
            raise self._fail(error, f"{key} version {version_id}") from error
        return bytes(answer["Body"].read())

    def versioning_status(self) -> str:
        """The bucket's versioning: "Enabled", "Suspended", or "" when it was never enabled
        (GetBucketVersioning; needs s3:GetBucketVersioning on the bucket)."""
        try:
            answer = self.client.get_bucket_versioning(Bucket=self.bucket)
        except _AWS_ERRORS as error:
            raise self._fail(error, "the versioning configuration") from error
        return str(answer.get("Status", ""))


class BucketStore(BucketClient):
    """The backup bucket: dumps, checkpoints, locks, restore status and imports."""

    # --- staged multipart upload -------------------------------------------------------------------------
    def start_upload(self, key: str) -> str:
        try:
            answer = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=DUMP_CONTENT_TYPE, ChecksumAlgorithm="SHA256"
            )
        except _AWS_ERRORS as error:
            raise self._fail(error, f"starting an upload to {key}") from error
        return str(answer["UploadId"])

    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> dict[str, Any]:
        checksum = _sha256_b64(data)
        try:
            answer = self.client.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=part_number,
                Body=data,
                ChecksumSHA256=checksum,
            )
        except _AWS_ERRORS as error:
            raise self._fail(error, f"uploading part {part_number} of {key}") from error
        return {"PartNumber": part_number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}

    def complete_upload(self, key: str, upload_id: str, parts: list[dict[str, Any]]) -> None:
        listed = [{name: part[name] for name in ("PartNumber", "ETag", "ChecksumSHA256")} for part in parts]
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )
        except _AWS_ERRORS as error:
            raise self._fail(error, f"completing the upload of {key}") from error

    def abort_upload(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except _AWS_ERRORS as error:
            raise self._fail(error, f"aborting the upload of {key}") from error

    def publish(
        self, staging_key: str, key: str, metadata: dict[str, str], retention: Retention | None = None
    ) -> str:
        """Copy a completed staging object onto the dump key with its metadata; returns the new version id.

        The copy also asks S3 for a full-object SHA-256 checksum of the dump (a multipart upload only gets a
        checksum of part checksums). A single CopyObject handles up to 5 GB; SimpleDB's 10 GB domain limit
        compresses far below that.
        """
        try:
            answer = self.client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": staging_key},
                MetadataDirective="REPLACE",
                Metadata=metadata,
                ContentType=DUMP_CONTENT_TYPE,
                ChecksumAlgorithm="SHA256",
            )
        except _AWS_ERRORS as error:
            raise self._fail(error, f"publishing {key}") from error
        version_id = str(answer.get("VersionId", "null"))
        if retention is not None:
            self._lock_version(key, version_id, retention)
        return version_id

    def _lock_version(self, key: str, version_id: str, retention: Retention) -> None:
        """S3 Object Lock on one dump version: nobody can delete or overwrite it until the date (in compliance
        mode not even the root user). Set right after the copy: only dump versions are ever locked, never the
        service's working objects, which the bucket's lifecycle and the functions must be able to delete."""
        until = utc_datetime() + timedelta(days=retention.days)
        try:
            self.client.put_object_retention(
                Bucket=self.bucket,
                Key=key,
                VersionId=version_id,
                Retention={"Mode": retention.mode, "RetainUntilDate": until},
            )
        except _AWS_ERRORS as error:
            raise self._fail(error, f"locking {key} version {version_id}") from error

    # --- small objects -------------------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                ChecksumSHA256=_sha256_b64(data),
            )
        except _AWS_ERRORS as error:
            raise self._fail(error, f"writing {key}") from error

    def put_json(self, key: str, document: Any) -> None:
        self.put_bytes(key, json.dumps(document, indent=1).encode(), "application/json")

    def get_bytes(self, key: str, version_id: str | None = None, max_bytes: int = MAX_JSON_BYTES) -> bytes:
        """A small object whole; StorageError when it is larger than ``max_bytes`` (it is then not ours)."""
        with self.open(key, version_id) as body:
            data = body.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise StorageError(f"{key} in bucket {self.bucket!r} is larger than {max_bytes} bytes")
        return data

    def get_json(self, key: str) -> Any:
        try:
            return json.loads(self.get_bytes(key))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise StorageError(f"{key} in bucket {self.bucket!r} is not valid JSON") from error

    def open(self, key: str, version_id: str | None = None) -> io.BufferedReader:
        """A streaming body of one object version; a download that breaks is resumed where it stopped."""
        return io.BufferedReader(ResumableBody(self, key, version_id), buffer_size=1 << 20)

    def get_from(self, key: str, version_id: str | None, offset: int) -> tuple[IO[bytes], str]:
        """A streaming body of an object version from ``offset`` on, and the version id it has."""
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            arguments["VersionId"] = version_id
        if offset:
            arguments["Range"] = f"bytes={offset}-"
        try:
            answer = self.client.get_object(**arguments)
        except _AWS_ERRORS as error:
            what = f"{key} version {version_id}" if version_id else key
            raise self._fail(error, what) from error
        return answer["Body"], str(answer.get("VersionId") or version_id or "")

    # --- versions ------------------------------------------------------------------------------------------
    def head(self, key: str, version_id: str | None = None) -> DumpVersion | None:
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            arguments["VersionId"] = version_id
        try:
            answer = self.client.head_object(**arguments)
        except _AWS_ERRORS as error:
            if _error_code(error) in _HEAD_NOT_FOUND and not version_id:
                return None
            if _error_code(error) in _HEAD_NOT_FOUND:
                raise ObjectNotFoundError(f"no version {version_id!r} of {key}") from error
            raise self._fail(error, key) from error
        return DumpVersion(
            key=key,
            version_id=str(answer.get("VersionId", version_id or "null")),
            last_modified=answer["LastModified"],
            size=int(answer["ContentLength"]),
            is_latest=version_id is None,
            metadata=dict(answer.get("Metadata", {})),
        )

    def iter_versions(self, key: str) -> Iterator[tuple[str, datetime, bool]]:
        """(version id, time, is latest) of every version of exactly this key, newest first."""
        paginator = self.client.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
                for version in page.get("Versions", []):
                    if version["Key"] == key:
                        yield str(version["VersionId"]), version["LastModified"], bool(version["IsLatest"])
        except _AWS_ERRORS as error:
            raise self._fail(error, f"the versions of {key}") from error

    # --- conditional writes -------------------------------------------------------------------------------
    def put_if_absent(self, key: str, document: Any) -> str | None:
        """Create ``key`` if no object exists there (If-None-Match: *); its ETag, or None when one already
        does."""
        return self._put_conditionally(key, document, IfNoneMatch="*")

    def put_if_match(self, key: str, document: Any, etag: str) -> str | None:
        """Replace ``key`` only if it is still the object with ``etag`` (If-Match); the new ETag, or None when
        it changed or is gone."""
        return self._put_conditionally(key, document, IfMatch=etag)

    def _put_conditionally(self, key: str, document: Any, **condition: str) -> str | None:
        try:
            answer = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(document).encode(),
                ContentType="application/json",
                **condition,
            )
        except _AWS_ERRORS as error:
            if _error_code(error) in _CONDITION_FAILED | _NOT_FOUND:
                return None
            raise self._fail(error, f"writing {key} conditionally") from error
        return str(answer["ETag"])

    def get_json_and_etag(self, key: str) -> tuple[Any, str] | None:
        """A small JSON object and its ETag (for a later ``put_if_match``); None when there is none."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except _AWS_ERRORS as error:
            if _error_code(error) in _NOT_FOUND:
                return None
            raise self._fail(error, key) from error
        try:
            document = json.loads(answer["Body"].read())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise StorageError(f"{key} in bucket {self.bucket!r} is not valid JSON") from error
        return document, str(answer["ETag"])

    def get_bytes_and_etag(self, key: str, max_bytes: int = MAX_JSON_BYTES) -> tuple[bytes, str] | None:
        """At most ``max_bytes + 1`` bytes of an object and its ETag; None when there is none. Unlike
        ``get_json_and_etag`` it never judges the content: a caller that must refuse an object it did not write,
        rather than raise, reads it this way (aws.statemac)."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except _AWS_ERRORS as error:
            if _error_code(error) in _NOT_FOUND:
                return None
            raise self._fail(error, key) from error
        body = answer["Body"]
        try:
            data = body.read(max_bytes + 1)
        except _STREAM_ERRORS as error:
            raise StorageError(f"reading {key} in bucket {self.bucket!r} broke off: {error}") from error
        finally:
            body.close()
        return data, str(answer["ETag"])

    def delete_if_match(self, key: str, etag: str) -> bool:
        """Delete ``key`` only if it is still the object with ``etag``; False when it changed or is gone."""
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)
        except _AWS_ERRORS as error:
            if _error_code(error) in _CONDITION_FAILED | _NOT_FOUND:
                return False
            raise self._fail(error, f"deleting {key}") from error
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except _AWS_ERRORS as error:
            raise self._fail(error, f"deleting {key}") from error


class ResumableBody(io.RawIOBase):
    """A GetObject body that survives a dropped connection: botocore retries a request, never a body that
    breaks while it streams, so a read that fails re-requests the same object version from the offset reached
    (a Range request), at most STREAM_RESUMES times. The version is pinned on the first request, so a resumed
    read can never splice two versions together."""

    def __init__(self, store: BucketStore, key: str, version_id: str | None) -> None:
        super().__init__()
        self.store, self.key = store, key
        self._body: IO[bytes] | None = None  # set before the request, so a failed one still closes cleanly
        self._body, self.version_id = store.get_from(key, version_id, 0)
        self._offset, self._resumes = 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            if self._body is None:
                raise ValueError("read from a closed download")
            try:
                data = self._body.read(len(buffer))
            except _STREAM_ERRORS as error:
                self._resume(error)
                continue
            buffer[: len(data)] = data
            self._offset += len(data)
            return len(data)

    def _resume(self, error: Exception) -> None:
        self._resumes += 1
        if self._resumes > STREAM_RESUMES:
            raise StorageError(
                f"the download of {self.key} kept breaking ({self._resumes - 1} resumes): {error}"
            ) from error
        if self._body is not None:
            self._body.close()
        self._body, _ = self.store.get_from(self.key, self.version_id or None, self._offset)

    def close(self) -> None:
        if not self.closed and self._body is not None:
            self._body.close()
        super().close()


def iter_dumps(store: BucketStore, key: str, as_of: datetime | None = None) -> Iterator[DumpVersion]:
    """The versions of a dump key (at or before ``as_of``) that are not pre-restore safety backups, newest
    first, each with its metadata (one HeadObject per version reached)."""
    # S3 lists a key's versions newest first; LastModified has whole seconds, so the stable sort keeps S3's
    # order between versions written within the same second.
    newest_first = sorted(store.iter_versions(key), key=lambda listed: listed[1], reverse=True)
    for version_id, modified, _ in newest_first:
        if as_of is not None and modified > as_of:
            continue
        version = store.head(key, version_id)
        if version is not None and not version.is_pre_restore:
            yield version


def newest_dump(store: BucketStore, key: str, as_of: datetime | None = None) -> DumpVersion | None:
    """What "the latest dump" means everywhere: the newest schedule or manual version of a dump key (at or
    before ``as_of``), never a pre-restore safety backup. None when there is none."""
    return next(iter_dumps(store, key, as_of), None)
