"""Fixtures of the command-line tests: fresh handler containers, a Repoman-shaped domain, the CLI in this
process; and a local AWS on a loopback port for the tests that run commands as child processes."""

import os
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from clihelpers import DOMAIN, LOOPBACK_BUCKET, ROOT, Cli, CliRun, LoopbackAws, fresh_containers

import sdblocal
from repomandata import fill_domain, repoman_domain_items
from simpledb_backup.items import Item
from stackbucket import create_backup_bucket
from statekey import LOCAL_STATE_KEY_ALIAS, create_state_key


@pytest.fixture
def handlers(backup_environment: dict[str, str], aws: None) -> Iterator[None]:
    fresh_containers()
    yield
    fresh_containers()


@pytest.fixture
def repoman_domain(handlers: None, sdb_client: Any) -> list[Item]:
    """A Repoman-shaped ``packages`` domain: meta and 59 real Debian packages."""
    items = list(repoman_domain_items(60))
    fill_domain(sdb_client, DOMAIN, items)
    return items


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, handlers: None
) -> Callable[..., CliRun]:
    return Cli(capsys, monkeypatch)


@pytest.fixture(scope="module")
def loopback_server() -> Iterator[Any]:
    sdblocal.activate()
    server = sdblocal.start_server("127.0.0.1", 0)
    yield server
    server.stop()


@pytest.fixture
def loopback_aws(loopback_server: Any, tmp_path: Path) -> LoopbackAws:
    reset = urllib.request.Request(f"{loopback_server.url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as response:
        response.read()
    sdblocal.controls.reset()
    credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local", "region_name": "us-east-1"}
    sdb = boto3.client("sdb", endpoint_url=loopback_server.url, **credentials)
    s3 = boto3.client("s3", endpoint_url=loopback_server.url, **credentials)
    create_backup_bucket(s3, LOOPBACK_BUCKET, ROOT / "template.yaml")
    kms = boto3.client("kms", endpoint_url=loopback_server.url, **credentials)
    create_state_key(kms, LOCAL_STATE_KEY_ALIAS, ROOT / "template.yaml")
    items = list(repoman_domain_items(60))
    fill_domain(sdb, DOMAIN, items)
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": loopback_server.url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Not events/env.json's: the environment wins over it.
        "BACKUP_BUCKET": LOOPBACK_BUCKET,
        "DOMAIN_NAMES": DOMAIN,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join(str(ROOT / folder) for folder in ("cli", "layers/shared", "local")),
        "SIMPLEDB_BACKUP_LOG_FILE": str(tmp_path / "function-logs.jsonl"),
    }
    environment.pop("AWS_SESSION_TOKEN", None)
    return LoopbackAws(loopback_server.url, environment, items, sdb, s3)
