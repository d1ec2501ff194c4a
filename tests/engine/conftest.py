"""Fixtures of the engine conformance suite: every test runs over two transports.

* ``inprocess``: ``moto.mock_aws()`` with the engine activated; boto3 talks to the real endpoint
  names (``sdb.amazonaws.com`` for us-east-1) and moto's botocore stubber answers.
* ``server``: one threaded moto server with the engine per session on 127.0.0.1 (a free port);
  boto3 talks HTTP to it. State is reset between tests with ``POST /moto-api/reset``.

Only loopback is ever contacted; credentials are fake.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from moto import mock_aws

import sdblocal
from sdblocal import Server

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class Transport:
    name: str
    endpoint_url: str | None
    controls: Any  # the sdblocal.controls module, or a RemoteControls

    def client(self, region: str = "us-east-1", **config: Any) -> Any:
        """A SimpleDB client; no retries by default, so that every call is seen exactly once."""
        config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
        return boto3.client(
            "sdb",
            region_name=region,
            endpoint_url=self.endpoint_url,
            config=Config(**config),
            **FAKE_CREDENTIALS,
        )

    def raw(self, params: dict[str, str]) -> tuple[int, str]:
        """POST a hand-made query request (for what botocore would never send); status and body."""
        body = {"Version": "2009-04-15", "AWSAccessKeyId": "testing", **params}
        if self.endpoint_url is None:
            # Inside mock_aws(), moto's `responses` mock routes this to the engine like botocore calls.
            response = requests.post("https://sdb.amazonaws.com/", data=body, timeout=10)
            return response.status_code, response.text
        request = urllib.request.Request(
            self.endpoint_url + "/", data=urllib.parse.urlencode(body).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def s3(self) -> Any:
        return boto3.client("s3", region_name="us-east-1", endpoint_url=self.endpoint_url, **FAKE_CREDENTIALS)


@pytest.fixture(scope="session")
def engine_server() -> Iterator[Server]:
    sdblocal.activate()
    server = sdblocal.start_server("127.0.0.1", 0)
    yield server
    server.stop()


def _reset_moto(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture(params=["inprocess", pytest.param("server", marks=pytest.mark.server)])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Transport]:
    # Never reach for real credentials or a real account.
    for key, value in {
        **{k.upper(): v for k, v in FAKE_CREDENTIALS.items()},
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    sdblocal.activate()
    sdblocal.controls.reset()
    if request.param == "inprocess":
        with mock_aws():
            yield Transport("inprocess", None, sdblocal.controls)
    else:
        server: Server = request.getfixturevalue("engine_server")
        _reset_moto(server.url)
        remote = sdblocal.RemoteControls(server.url)
        remote.reset()
        yield Transport("server", server.url, remote)
        remote.reset()
    sdblocal.controls.reset()


@pytest.fixture
def sdb(transport: Transport) -> Any:
    return transport.client()


@pytest.fixture
def domain(sdb: Any) -> str:
    sdb.create_domain(DomainName="books")
    return "books"
