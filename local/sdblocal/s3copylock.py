"""A moto defect, fixed for the local AWS: moto refuses an S3 CopyObject that carries Object Lock headers
unless it also carries the Content-MD5 (or SDK checksum) header that S3 wants on an upload with a retention
(MissingUploadObjectWithObjectLockHeaders). S3 does not want it on a copy, which has no body: boto3's own
transfers copy with ObjectLockMode and no such header. The backup publishes each dump that way, locked from the
moment it exists (simpledb_backup.aws.s3store.BucketStore.publish).

moto internal used (pinned in requirements-dev.txt; re-check on upgrade): ``S3Response._key_response_put``,
which makes the check from ``self.headers`` before it copies; a copy with lock headers is shown that header.
"""

from __future__ import annotations

import functools
from typing import Any

from moto.s3.responses import S3Response
from werkzeug.datastructures import Headers

_PATCHED = "_sdblocal_copy_lock"


def _copy_with_lock(put: Any) -> Any:
    @functools.wraps(put)
    def key_response_put(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        headers = self.headers
        if (
            "x-amz-copy-source" in headers
            and (headers.get("x-amz-object-lock-mode") or headers.get("x-amz-object-lock-retain-until-date"))
            and not headers.get("Content-Md5")
            and not headers.get("x-amz-sdk-checksum-algorithm")
        ):
            shown = Headers(list(headers.items()))  # case-insensitive, like the request's own
            shown["x-amz-sdk-checksum-algorithm"] = "COPY"
            self.headers = shown
        return put(self, *args, **kwargs)

    setattr(key_response_put, _PATCHED, True)
    return key_response_put


def allow_locked_copies() -> None:
    """Install the fix (idempotent)."""
    if not getattr(S3Response._key_response_put, _PATCHED, False):
        S3Response._key_response_put = _copy_with_lock(S3Response._key_response_put)  # type: ignore[method-assign]
