"""Fault injection, added latency and call counts, in-process and over the server's control endpoints."""

from __future__ import annotations

import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

import sdblocal
from engine.conftest import Transport
from engine.helpers import QUIRKS_OFF, error_of, get, put

NO_CONTROLS = {
    "fault_rate": 0.0,
    "latency_ms": 0.0,
    "write_calls_per_second": 0.0,
    "write_calls_burst": 0.0,
    "select_calls_per_second": 0.0,
    "select_calls_burst": 0.0,
    **QUIRKS_OFF,
}


def test_call_counts(transport: Transport, sdb: Any, domain: str) -> None:
    transport.controls.reset_counts()
    put(sdb, domain, "i", ("a", "1"))
    sdb.batch_put_attributes(
        DomainName=domain, Items=[{"Name": "j", "Attributes": [{"Name": "a", "Value": "2"}]}]
    )
    sdb.select(SelectExpression=f"select * from {domain}")
    sdb.select(SelectExpression=f"select * from {domain}")
    transport.s3().list_buckets()  # not SimpleDB: not counted
    assert transport.controls.call_counts() == {"PutAttributes": 1, "BatchPutAttributes": 1, "Select": 2}
    transport.controls.reset_counts()
    assert transport.controls.call_counts() == {}


def test_fault_injection_answers_503_and_changes_nothing(transport: Transport, sdb: Any, domain: str) -> None:
    transport.controls.configure(fault_rate=1.0)
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, "i", ("a", "1"))
    assert error_of(excinfo) == ("ServiceUnavailable", 503)
    with pytest.raises(ClientError) as excinfo:
        sdb.delete_domain(DomainName=domain)
    assert error_of(excinfo) == ("ServiceUnavailable", 503)
    bucket = transport.s3()
    bucket.create_bucket(Bucket="faults-do-not-touch-s3")  # only SimpleDB calls fault
    transport.controls.configure(fault_rate=0.0)
    assert get(sdb, domain, "i") == set()
    assert sdb.list_domains()["DomainNames"] == [domain]
    assert transport.controls.call_counts()["PutAttributes"] == 1  # faulted calls are counted


def outcomes(sdb: Any, count: int) -> list[bool]:
    results = []
    for _ in range(count):
        try:
            sdb.list_domains()
            results.append(True)
        except ClientError:
            results.append(False)
    return results


def test_seeded_faults_are_repeatable(transport: Transport, sdb: Any) -> None:
    transport.controls.configure(fault_rate=0.5, seed=1234)
    first = outcomes(sdb, 40)
    transport.controls.configure(seed=1234)
    second = outcomes(sdb, 40)
    assert first == second
    assert 5 < first.count(False) < 35


def test_botocore_retries_through_faults(transport: Transport) -> None:
    transport.controls.configure(fault_rate=0.3, seed=7)
    sdb = transport.client(retries={"total_max_attempts": 10, "mode": "standard"})
    for n in range(10):
        sdb.create_domain(DomainName=f"retry{n}")
    assert len(sdb.list_domains()["DomainNames"]) == 10
    assert transport.controls.call_counts()["CreateDomain"] > 10


def test_latency_is_added_and_overlaps_across_threads(transport: Transport, sdb: Any, domain: str) -> None:
    transport.controls.configure(latency_ms=60)
    started = time.perf_counter()
    sdb.list_domains()
    assert time.perf_counter() - started >= 0.06
    clients = [transport.client(max_pool_connections=2) for _ in range(8)]

    def select(client: Any) -> None:
        for _ in range(3):
            client.select(SelectExpression=f"select * from {domain}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(select, clients))
    elapsed = time.perf_counter() - started
    # 24 calls at 60 ms: 1.44 s one after the other; in parallel close to 3 x 60 ms.
    assert elapsed < 0.75, elapsed


def test_configure_keeps_unspecified_settings_and_validates() -> None:
    sdblocal.controls.reset()
    sdblocal.controls.configure(latency_ms=5)
    sdblocal.controls.configure(fault_rate=0.25)
    assert sdblocal.controls.settings() == {**NO_CONTROLS, "fault_rate": 0.25, "latency_ms": 5.0}
    with pytest.raises(ValueError, match="fault_rate"):
        sdblocal.controls.configure(fault_rate=1.5)
    with pytest.raises(ValueError, match="latency_ms"):
        sdblocal.controls.configure(latency_ms=-1)
    sdblocal.controls.reset()
    assert sdblocal.controls.settings() == NO_CONTROLS


def test_remote_controls_refuse_bad_settings(engine_server: Any) -> None:
    remote = sdblocal.RemoteControls(engine_server.url)
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        remote.configure(fault_rate=2.0)
    assert excinfo.value.code == 400
    with pytest.raises(TypeError):
        remote.configure(speed=3)
    remote.reset()
    assert remote.call_counts() == {}
