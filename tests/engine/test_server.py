"""The local AWS endpoint: ``python -m sdblocal.server`` and moto's own server after ``activate()``."""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

import sdblocal
from engine.conftest import FAKE_CREDENTIALS
from engine.helpers import error_of, get, put

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.server


def clients(url: str) -> tuple[Any, Any]:
    sdb = boto3.client("sdb", region_name="us-east-1", endpoint_url=url, **FAKE_CREDENTIALS)
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=url, **FAKE_CREDENTIALS)
    return sdb, s3


def test_module_runs_a_server_and_prints_one_ready_line() -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "local"), str(ROOT / "layers" / "shared")]),
    }
    command = [
        sys.executable,
        "-m",
        "sdblocal.server",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--latency-ms",
        "1",
        "--write-calls-per-second",
        "0.001",  # one call in 1,000 s: only the burst is used while the test runs
        "--write-calls-burst",
        "1",
        "--select-calls-per-second",
        "50",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"local AWS ready at (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        url = match.group(1)
        sdb, s3 = clients(url)
        sdb.create_domain(DomainName="cli")
        put(sdb, "cli", "i", ("a", "1"))
        assert get(sdb, "cli", "i") == {("a", "1")}
        s3.create_bucket(Bucket="served-at-the-same-endpoint")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["served-at-the-same-endpoint"]
        remote = sdblocal.RemoteControls(url)
        assert remote.call_counts() == {"CreateDomain": 1, "PutAttributes": 1, "GetAttributes": 1}
        settings = remote.settings()
        assert (settings["write_calls_per_second"], settings["write_calls_burst"]) == (0.001, 1.0)
        assert (settings["select_calls_per_second"], settings["latency_ms"]) == (50.0, 1.0)
        once = boto3.client(
            "sdb",
            region_name="us-east-1",
            endpoint_url=url,
            config=Config(retries={"total_max_attempts": 1}),
            **FAKE_CREDENTIALS,
        )
        with pytest.raises(ClientError) as excinfo:  # the burst of one write was spent
            put(once, "cli", "j", ("a", "1"))
        assert error_of(excinfo) == ("ServiceUnavailable", 503)
        assert remote.throttled_counts() == {"PutAttributes": 1}
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.stdout.read() == ""  # exactly one line


def test_start_server_serves_simpledb_and_other_query_services() -> None:
    server = sdblocal.start_server("127.0.0.1", 0)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
        sdb, _ = clients(server.url)
        sdb.create_domain(DomainName="own-server")
        assert "own-server" in sdb.list_domains()["DomainNames"]
        # Another form-encoded query API still reaches moto.
        sts = boto3.client("sts", region_name="us-east-1", endpoint_url=server.url, **FAKE_CREDENTIALS)
        assert sts.get_caller_identity()["Account"] == "123456789012"
    finally:
        server.stop()


def test_moto_threaded_server_serves_the_engine_after_activate() -> None:
    sdblocal.activate()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        sdb, _ = clients(f"http://{host}:{port}")
        sdb.create_domain(DomainName="plain-moto")
        put(sdb, "plain-moto", "i", ("a", "1"), ("a", "2"))
        assert len(sdb.select(SelectExpression="select * from `plain-moto`")["Items"][0]["Attributes"]) == 2
    finally:
        server.stop()


# --- the lean path: SimpleDB on kept-alive connections, everything else through werkzeug ------------


def post(connection: Any, body: str, path: str = "/") -> tuple[int, dict[str, str], str]:
    connection.request("POST", path, body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
    answer = connection.getresponse()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read().decode()


def test_simpledb_calls_share_one_connection_and_others_still_reach_moto(engine_server: Any) -> None:
    parts = urlsplit(engine_server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    version = "Version=2009-04-15&AWSAccessKeyId=testing"
    try:
        status, headers, _ = post(connection, f"Action=CreateDomain&DomainName=kept&{version}")
        assert (status, headers.get("connection")) == (200, None)
        socket_before = connection.sock
        status, headers, text = post(connection, f"Action=ListDomains&{version}")
        assert connection.sock is socket_before  # the same TCP connection answered both
        assert status == 200
        assert "<DomainName>kept</DomainName>" in text
        assert int(headers["content-length"]) == len(text.encode())
        status, _, text = post(connection, f"Action=Nothing&{version}")
        assert status == 400
        assert "<Code>InvalidAction</Code>" in text
        # A query string and a non-SimpleDB form go through werkzeug and moto, which close the connection.
        status, headers, text = post(connection, f"DomainName=kept&{version}", "/?Action=DomainMetadata")
        assert (status, headers.get("connection")) == (200, "close")
        assert "<ItemCount>0</ItemCount>" in text
    finally:
        connection.close()
    # Another service's form body (STS, query protocol) reaches moto whole, though the engine read it first.
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=engine_server.url, **FAKE_CREDENTIALS)
    assert sts.get_caller_identity()["Account"].isdigit()
