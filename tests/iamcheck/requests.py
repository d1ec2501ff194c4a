"""What IAM authorizes for each AWS API call the functions make: botocore operation + parameters -> the IAM
requests (action, resource ARN, condition keys) AWS evaluates for it.

This is the one hand-written part of the check, and deliberately small: it names the action and resource of
each operation the functions use, from the Service Authorization Reference (the "Actions defined by ..." tables
of Amazon S3, Amazon SimpleDB, AWS Lambda and AWS KMS) and S3's "Required permissions for Amazon S3 API
operations". Whether a policy allows the request is never decided here: @cloud-copilot/iam-simulate decides it
(simulator.py). An operation missing from the table fails the check loudly (``UnmappedOperationError``), so a
call added later is never waved through.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from simpledb_backup.selectgrammar import SELECT_START, select_parser

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


class UnmappedOperationError(LookupError):
    """A function called an AWS operation this table does not know: add it (with its IAM action) here."""


@dataclass(frozen=True)
class IamRequest:
    """One authorization AWS makes for a call: ``action`` on ``resource`` with these condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    def context_dict(self) -> dict[str, str]:
        return dict(self.context)


@dataclass(frozen=True)
class CallRequests:
    """A call's IAM requests, and the KMS uses S3 makes on the caller's behalf when the bucket's default
    encryption is SSE-KMS with a customer managed key (known only once the deployment is: deployment.py)."""

    requests: tuple[IamRequest, ...]
    #: ``kms:Decrypt`` / ``kms:GenerateDataKey`` S3 asks for with the caller's credentials (SSE-KMS only).
    bucket_key_uses: tuple[str, ...] = ()
    #: The bucket the object calls are on (the KMS uses are on its key).
    bucket: str | None = None


@dataclass
class CallParameters:
    """What the recorder kept of one call."""

    service: str
    operation: str
    params: Mapping[str, Any]
    #: HTTP status of the answer (None when the call never got one).
    status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------- S3
def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _copy_source(params: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """CopySource as botocore takes it: ``bucket/key?versionId=v`` or a dict."""
    source = params["CopySource"]
    if isinstance(source, Mapping):
        return source["Bucket"], source["Key"], source.get("VersionId")
    path, _, query = str(source).partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    version = parse_qs(query).get("versionId", [None])[0]
    return bucket, key, version


def _lock_context(params: Mapping[str, Any], now: datetime) -> tuple[tuple[str, str], ...]:
    """S3's Object Lock condition keys of a request that sets a retention (header or PutObjectRetention)."""
    retention = params.get("Retention") or {}
    mode = params.get("ObjectLockMode") or retention.get("Mode")
    until = params.get("ObjectLockRetainUntilDate") or retention.get("RetainUntilDate")
    context: list[tuple[str, str]] = []
    if mode:
        context.append(("s3:object-lock-mode", str(mode)))
    if until:
        if isinstance(until, str):
            until = datetime.fromisoformat(until.replace("Z", "+00:00"))
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        context.append(("s3:object-lock-retain-until-date", until.isoformat().replace("+00:00", "Z")))
        # Whole days left, rounded up: the strictest reading of a "remaining days" bound.
        remaining = math.ceil((until - now).total_seconds() / 86400)
        context.append(("s3:object-lock-remaining-retention-days", str(remaining)))
    return tuple(context)


def _sets_retention(params: Mapping[str, Any]) -> bool:
    return bool(params.get("ObjectLockMode") or params.get("ObjectLockRetainUntilDate"))


def _s3_object_read(bucket: str, key: str, version: str | None) -> IamRequest:
    return IamRequest("s3:GetObjectVersion" if version else "s3:GetObject", object_arn(bucket, key))


def _s3_write(call: CallParameters, now: datetime) -> list[IamRequest]:
    """PutObject, CreateMultipartUpload, CopyObject: s3:PutObject, plus s3:PutObjectRetention when the request
    sets an Object Lock retention (S3 checks both, with the lock's condition keys on each)."""
    params = call.params
    target = object_arn(params["Bucket"], params["Key"])
    lock = _lock_context(params, now)
    conditional = tuple(
        (key, "*")
        for key, param in (("s3:if-none-match", "IfNoneMatch"), ("s3:if-match", "IfMatch"))
        if param in params
    )
    requests = [IamRequest("s3:PutObject", target, lock + conditional)]
    if _sets_retention(params):
        requests.append(IamRequest("s3:PutObjectRetention", target, lock))
    if params.get("ObjectLockLegalHoldStatus"):
        requests.append(IamRequest("s3:PutObjectLegalHold", target))
    return requests


def _s3(call: CallParameters, now: datetime) -> CallRequests:
    params, operation = call.params, call.operation
    bucket = params["Bucket"]
    key = params.get("Key")
    version = params.get("VersionId")
    requests: list[IamRequest]
    kms: tuple[str, ...] = ()
    if operation in ("GetObject", "HeadObject"):
        requests = [_s3_object_read(bucket, key, version)]
        if call.status == 404:
            # S3 answers a missing key with 404 only to a caller allowed s3:ListBucket (else 403).
            requests.append(IamRequest("s3:ListBucket", bucket_arn(bucket)))
        kms = ("kms:Decrypt",) if operation == "GetObject" else ()
    elif operation == "PutObject" or operation == "CreateMultipartUpload":
        requests, kms = _s3_write(call, now), ("kms:GenerateDataKey",)
    elif operation == "UploadPart":
        requests, kms = [IamRequest("s3:PutObject", object_arn(bucket, key))], ("kms:GenerateDataKey",)
    elif operation == "CompleteMultipartUpload":
        # S3 reads the SSE-KMS parts back to complete the upload: kms:Decrypt ("Using SSE-KMS", multipart).
        requests, kms = [IamRequest("s3:PutObject", object_arn(bucket, key))], ("kms:Decrypt",)
    elif operation == "AbortMultipartUpload":
        requests = [IamRequest("s3:AbortMultipartUpload", object_arn(bucket, key))]
    elif operation == "ListParts":
        requests = [IamRequest("s3:ListMultipartUploadParts", object_arn(bucket, key))]
    elif operation in ("CopyObject", "UploadPartCopy"):
        source_bucket, source_key, source_version = _copy_source(params)
        requests = [*_s3_write(call, now), _s3_object_read(source_bucket, source_key, source_version)]
        kms = ("kms:Decrypt", "kms:GenerateDataKey")
    elif operation == "PutObjectRetention":
        requests = [IamRequest("s3:PutObjectRetention", object_arn(bucket, key), _lock_context(params, now))]
        if params.get("BypassGovernanceRetention"):
            requests.append(IamRequest("s3:BypassGovernanceRetention", object_arn(bucket, key)))
    elif operation == "GetObjectRetention":
        requests = [IamRequest("s3:GetObjectRetention", object_arn(bucket, key))]
    elif operation == "DeleteObject":
        action = "s3:DeleteObjectVersion" if version else "s3:DeleteObject"
        requests = [IamRequest(action, object_arn(bucket, key))]
    elif operation in ("ListObjectVersions", "ListObjectsV2", "ListObjects"):
        action = "s3:ListBucketVersions" if operation == "ListObjectVersions" else "s3:ListBucket"
        context = (("s3:prefix", str(params["Prefix"])),) if "Prefix" in params else ()
        requests = [IamRequest(action, bucket_arn(bucket), context)]
    elif operation == "HeadBucket":
        requests = [IamRequest("s3:ListBucket", bucket_arn(bucket))]
    elif operation == "GetBucketVersioning":
        requests = [IamRequest("s3:GetBucketVersioning", bucket_arn(bucket))]
    else:
        raise UnmappedOperationError(f"s3.{operation}")
    return CallRequests(tuple(requests), kms, bucket)


# ------------------------------------------------------------------------------------------------- SimpleDB
SDB_OPERATIONS = frozenset(
    {
        "DomainMetadata",
        "GetAttributes",
        "PutAttributes",
        "BatchPutAttributes",
        "DeleteAttributes",
        "BatchDeleteAttributes",
        "CreateDomain",
        "DeleteDomain",
    }
)


def domain_arn(domain: str) -> str:
    return f"arn:aws:sdb:{REGION}:{ACCOUNT_ID}:domain/{domain}"


def select_domain(expression: str) -> str:
    """The domain a Select expression reads (SimpleDB's grammar: ``select output from domain ...``)."""
    tree = select_parser().parse(expression, start=SELECT_START)
    name = next(
        child for child in tree.children if getattr(child, "data", None) in ("plain_name", "quoted_name")
    )
    token = str(name.children[0])  # type: ignore[union-attr]
    if name.data == "quoted_name":  # type: ignore[union-attr]
        return token[1:-1].replace("``", "`")
    return token


def _sdb(call: CallParameters, _: datetime) -> CallRequests:
    if call.operation == "Select":
        domain = select_domain(call.params["SelectExpression"])
    elif call.operation in SDB_OPERATIONS:
        domain = call.params["DomainName"]
    else:
        raise UnmappedOperationError(f"sdb.{call.operation}")
    return CallRequests((IamRequest(f"sdb:{call.operation}", domain_arn(domain)),))


# ------------------------------------------------------------------------------------------------- Lambda, KMS
def function_arn(name: str) -> str:
    if name.startswith("arn:"):
        return name.split(":$", 1)[0]
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def _lambda(call: CallParameters, _: datetime) -> CallRequests:
    if call.operation != "Invoke":
        raise UnmappedOperationError(f"lambda.{call.operation}")
    return CallRequests((IamRequest("lambda:InvokeFunction", function_arn(call.params["FunctionName"])),))


def key_arn(key_id: str) -> str:
    if key_id.startswith("arn:"):
        return key_id
    if key_id.startswith("alias/"):
        return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{key_id}"
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}"


KMS_OPERATIONS = frozenset({"GenerateMac", "VerifyMac", "DescribeKey"})


def _kms(call: CallParameters, _: datetime) -> CallRequests:
    if call.operation not in KMS_OPERATIONS:
        raise UnmappedOperationError(f"kms.{call.operation}")
    context: tuple[tuple[str, str], ...] = (("kms:CallerAccount", ACCOUNT_ID),)
    if "MacAlgorithm" in call.params:
        context += (("kms:MacAlgorithm", str(call.params["MacAlgorithm"])),)
    return CallRequests((IamRequest(f"kms:{call.operation}", key_arn(call.params["KeyId"]), context),))


MAPPERS: dict[str, Callable[[CallParameters, datetime], CallRequests]] = {
    "s3": _s3,
    "sdb": _sdb,
    "lambda": _lambda,
    "kms": _kms,
}


def iam_requests(call: CallParameters, now: datetime | None = None) -> CallRequests:
    """The IAM requests of one call (``now``: when it was made, for Object Lock's remaining days)."""
    mapper = MAPPERS.get(call.service)
    if mapper is None:
        raise UnmappedOperationError(f"{call.service}.{call.operation}")
    return mapper(call, now or datetime.now(UTC))
