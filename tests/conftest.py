"""Shared fixtures. Every AWS call in the tests goes to moto (with the project's SimpleDB engine) in-process.

The environment is set before any test module imports boto3 or Powertools, so nothing can reach AWS.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "simpledb-backup",
    "POWERTOOLS_METRICS_NAMESPACE": "SimpleDBBackup",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
os.environ.update(FAKE_ENVIRONMENT)
for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(variable, None)

BUCKET = "simpledb-backup-test"
TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"

# Every AWS call the functions make in any test is checked against template.yaml's policies (tests/iamcheck).
pytest_plugins = ["iamcheck.plugin"]


@pytest.fixture
def aws() -> Iterator[None]:
    """moto for every service, with SimpleDB served by the project's engine; controls reset per test."""
    import moto

    import sdblocal

    sdblocal.activate()
    with moto.mock_aws():
        sdblocal.controls.reset()
        yield
        sdblocal.controls.reset()


@pytest.fixture
def sdb_client(aws: None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("sdb", config=Config(retries={"total_max_attempts": 1}, max_pool_connections=32))


@pytest.fixture
def s3_client(aws: None) -> Any:
    import boto3

    return boto3.client("s3")


@pytest.fixture
def state_key(aws: None) -> str:
    """The state key, made as template.yaml declares it (local/statekey.py), named by the alias the functions'
    STATE_KEY_ID gives locally."""
    import boto3

    from statekey import LOCAL_STATE_KEY_ALIAS, create_state_key

    return str(create_state_key(boto3.client("kms"), LOCAL_STATE_KEY_ALIAS, TEMPLATE)["alias"])


@pytest.fixture
def bucket(s3_client: Any, state_key: str) -> str:
    """The backup bucket, and the state key the stack creates beside it."""
    s3_client.create_bucket(Bucket=BUCKET)
    s3_client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return BUCKET


@pytest.fixture
def backup_environment(monkeypatch: pytest.MonkeyPatch, bucket: str, state_key: str) -> dict[str, str]:
    """The environment template.yaml gives the functions, for a domain named ``packages``."""
    environment = {
        "BACKUP_BUCKET": bucket,
        "DOMAIN_NAMES": "packages,other-domain",
        "BACKUP_SEGMENTS": "4",
        "RESTORE_WORKERS": "4",
        "RESTORE_TARGET_PATTERN": "restored-*",
        "CONTINUATION_MARGIN_SECONDS": "30",
        "STATE_KEY_ID": state_key,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The service's structured log records, as parsed JSON (the Powertools handler's stream, redirected)."""
    import io
    import json

    from simpledb_backup.observability import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
