"""The AWS clients of the functions, each created once per container (client creation costs ~100 ms)."""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config


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
    """S3: botocore's standard retry mode retries throttling, 5xx and connection errors."""
    return boto3.client(
        "s3", config=Config(retries={"mode": "standard"}, max_pool_connections=pool_connections)
    )


def lambda_client() -> Any:
    return boto3.client("lambda")
