"""The AWS clients of the functions, each created once per container (client creation costs ~100 ms)."""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

#: Attempts of every S3 request (botocore's standard retry mode).
S3_ATTEMPTS = 8
#: The longest a SimpleDB call may take (connect + read): SimpleDB ends a Select after 5 s of work with a partial
#: page, and a batch write of 25 items takes well under a second.
MAX_CALL_SECONDS = 20.0


def call_timeout_seconds(margin_seconds: float) -> float:
    """Each SimpleDB call's timeout (connect and read) for a function that hands over ``margin_seconds`` before
    its deadline: a call in flight at the hand-over point ends (or times out, and is retried in the next
    invocation) well inside the margin, with time left to save the run's state. A third of the margin, at
    most MAX_CALL_SECONDS and at least one second."""
    return max(1.0, min(MAX_CALL_SECONDS, margin_seconds / 3))


@cache
def sdb_client(pool_connections: int, timeout_seconds: float = MAX_CALL_SECONDS) -> Any:
    """SimpleDB: retries are the adapter's own (simpledb.SimpleDB), so botocore's are off; the pool fits every
    stream and writer at once; no call outlasts ``timeout_seconds`` waiting for a connection or for its answer
    (call_timeout_seconds). Every item is checked against SimpleDB's limits before its batch is formed
    (simpledb.plan_put_batches), so botocore's own check of each request is redundant (make bench measured it
    at 9 % of a batch's CPU)."""
    config = Config(
        retries={"total_max_attempts": 1},
        max_pool_connections=pool_connections,
        parameter_validation=False,
        connect_timeout=timeout_seconds,
        read_timeout=timeout_seconds,
    )
    return boto3.client("sdb", config=config)


@cache
def s3_client(pool_connections: int, timeout_seconds: float | None = None) -> Any:
    """S3: botocore's standard retry mode retries throttling, 5xx and connection errors (exponential backoff
    with jitter, at most 20 s apart); S3_ATTEMPTS ride out about a minute of trouble. Each attempt waits at most
    ``timeout_seconds`` for a connection or for data (call_timeout_seconds), when given. Every S3 request the functions make
    is safe to replay: whole-object and part uploads, conditional puts (a replay of an applied one fails its
    condition, which claims.claim reads back), reads, and CopyObject (at worst an identical second dump
    version). Without ``timeout_seconds``, botocore's own (60 s: a large CopyObject may be silent that long)."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": S3_ATTEMPTS},
        max_pool_connections=pool_connections,
    )
    if timeout_seconds is not None:
        config = config.merge(Config(connect_timeout=timeout_seconds, read_timeout=timeout_seconds))
    return boto3.client("s3", config=config)


@cache
def kms_client() -> Any:
    """KMS, for the state key's GenerateMac and VerifyMac (aws.statemac): standard retries ride out throttling;
    a short read timeout, as every call of an invocation must fit inside its continuation margin."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=5, read_timeout=10)
    return boto3.client("kms", config=config)


@cache
def lambda_client() -> Any:
    return boto3.client("lambda")
