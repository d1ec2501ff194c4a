"""The AWS clients of the functions, each created once per container (client creation costs ~100 ms)."""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

#: Attempts of every S3 request (botocore's standard retry mode).
S3_ATTEMPTS = 8


@cache
def sdb_client(pool_connections: int) -> Any:
    """SimpleDB: retries are the adapter's own (simpledb.SimpleDB), so botocore's are off; the pool fits every
    stream and writer at once. Every item is checked against SimpleDB's limits before its batch is formed
    (simpledb.plan_put_batches), so botocore's own check of each request is redundant (make bench measured it
    at 9 % of a batch's CPU)."""
    config = Config(
        retries={"total_max_attempts": 1},
        max_pool_connections=pool_connections,
        parameter_validation=False,
    )
    return boto3.client("sdb", config=config)


@cache
def s3_client(pool_connections: int) -> Any:
    """S3: botocore's standard retry mode retries throttling, 5xx and connection errors (exponential backoff
    with jitter, at most 20 s apart); S3_ATTEMPTS ride out about a minute of trouble. Every S3 request the
    functions make is safe to replay: whole-object and part uploads, conditional puts (a replay of an applied
    one fails its condition, which claims.claim reads back), reads, and CopyObject (at worst an identical second
    dump version)."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": S3_ATTEMPTS},
        max_pool_connections=pool_connections,
    )
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
