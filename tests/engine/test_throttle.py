"""Throttling: per-domain token buckets on write and Select calls, answering 503 at once when empty.

Time is a fake clock (``sdblocal.controls.use_clock``), so rates and bursts are checked exactly, with
no sleeping. The server transport runs in this process, so the same clock drives it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

import sdblocal
from engine.conftest import Transport
from engine.helpers import QUIRKS_OFF, FakeClock, error_of, get, put
from sdblocal.controls import Controls
from sdblocal.throttle import Cap, Throttle, TokenBucket

# --- the bucket, on its own -----------------------------------------------------------------------


def test_a_bucket_starts_full_and_refills_at_its_rate() -> None:
    bucket = TokenBucket(Cap(calls_per_second=4, burst=2), now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(0.125) is False  # half a token
    assert bucket.take(0.25) is True  # a whole one
    assert bucket.take(0.25) is False
    assert [bucket.take(10.0) for _ in range(3)] == [True, True, False]  # never more than the burst


def test_a_refused_call_takes_nothing() -> None:
    bucket = TokenBucket(Cap(calls_per_second=1, burst=1), now=0.0)
    assert bucket.take(0.0) is True
    assert [bucket.take(0.5) for _ in range(5)] == [False] * 5
    assert bucket.take(1.0) is True  # the refusals at 0.5 s did not push the refill back


def test_buckets_are_per_domain_and_a_new_cap_refills_them() -> None:
    throttle = Throttle()
    assert all(throttle.admit("a", 0.0) for _ in range(100))  # no cap: everything passes
    throttle.set_cap(Cap(calls_per_second=1, burst=2))
    assert [throttle.admit("a", 0.0) for _ in range(3)] == [True, True, False]
    assert [throttle.admit("b", 0.0) for _ in range(3)] == [True, True, False]
    throttle.set_cap(Cap(calls_per_second=1, burst=3))
    assert [throttle.admit("a", 0.0) for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize(
    ("rate", "burst", "cap"),
    [
        (0, None, None),
        (0, 5, None),  # 0 means no cap, whatever the burst
        (10, None, Cap(10.0, 10.0)),  # default burst: one second of calls
        (0.5, 0, Cap(0.5, 1.0)),  # ... and at least one call
        (10, 3, Cap(10.0, 3.0)),
    ],
)
def test_cap_defaults(rate: float, burst: float | None, cap: Cap | None) -> None:
    assert Cap.of(rate, burst) == cap


@pytest.mark.parametrize(("rate", "burst"), [(-1, None), (10, 0.5), (float("nan"), None), (10, float("inf"))])
def test_cap_refuses_bad_values(rate: float, burst: float | None) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        Cap.of(rate, burst)


# --- the controls object, in-process -------------------------------------------------------------


def test_controls_count_throttled_calls_apart_and_reset_clears_the_caps() -> None:
    clock = FakeClock()
    controls = Controls(clock)
    controls.configure(write_calls_per_second=1, write_calls_burst=1, select_calls_per_second=2)
    assert controls.is_capped("PutAttributes")
    assert controls.is_capped("Select")
    assert not controls.is_capped("GetAttributes")
    assert [controls.admit("BatchPutAttributes", "d") for _ in range(2)] == [True, False]
    assert controls.admit("DeleteAttributes", "d") is False  # writes of every kind share the bucket
    assert [controls.admit("Select", "d") for _ in range(3)] == [True, True, False]  # its own bucket
    assert controls.throttled_counts() == {"BatchPutAttributes": 1, "DeleteAttributes": 1, "Select": 1}
    clock.advance(1.0)
    assert controls.admit("PutAttributes", "d") is True
    controls.reset()
    assert not controls.is_capped("PutAttributes")
    assert controls.throttled_counts() == {}
    assert controls.settings()["write_calls_per_second"] == 0.0


def test_configure_keeps_the_other_caps_and_refuses_bad_ones_without_a_change() -> None:
    controls = Controls(FakeClock())
    controls.configure(write_calls_per_second=5, select_calls_per_second=7, select_calls_burst=2)
    controls.configure(write_calls_burst=3)
    controls.configure(latency_ms=1)
    with pytest.raises(ValueError, match="burst"):
        controls.configure(select_calls_burst=0.5, fault_rate=0.5)
    settings = controls.settings()
    assert settings == {
        "fault_rate": 0.0,
        "latency_ms": 1.0,
        "write_calls_per_second": 5.0,
        "write_calls_burst": 3.0,
        "select_calls_per_second": 7.0,
        "select_calls_burst": 2.0,
        **QUIRKS_OFF,
    }
    controls.configure(write_calls_per_second=0)
    assert not controls.is_capped("PutAttributes")


# --- through the wire: in-process and over HTTP ---------------------------------------------------


@pytest.fixture
def clock(transport: Transport) -> Iterator[FakeClock]:
    fake = FakeClock()
    sdblocal.controls.use_clock(fake)
    yield fake
    sdblocal.controls.reset()  # the real clock again


def throttled(call: Any, *args: Any, **kwargs: Any) -> bool:
    """Whether a call answered 503 ServiceUnavailable; any other error is raised."""
    try:
        call(*args, **kwargs)
    except ClientError as error:
        answer = error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
        if answer == ("ServiceUnavailable", 503):
            return True
        raise
    return False


def puts(sdb: Any, domain: str, count: int, start: int = 0) -> list[bool]:
    """``count`` single-item puts; for each, whether it was throttled."""
    return [throttled(put, sdb, domain, f"item{n}", ("a", "1")) for n in range(start, start + count)]


def test_burst_then_rate_for_writes(transport: Transport, sdb: Any, domain: str, clock: FakeClock) -> None:
    transport.controls.configure(write_calls_per_second=4, write_calls_burst=3)
    assert puts(sdb, domain, 4) == [False, False, False, True]
    assert get(sdb, domain, "item3") == set()  # the throttled put wrote nothing
    clock.advance(0.125)  # half a token
    assert puts(sdb, domain, 1, start=10) == [True]
    clock.advance(0.125)
    assert puts(sdb, domain, 2, start=20) == [False, True]
    clock.advance(10.0)  # ten seconds refill only up to the burst
    assert puts(sdb, domain, 4, start=30) == [False, False, False, True]


def test_every_write_call_is_metered(transport: Transport, sdb: Any, domain: str, clock: FakeClock) -> None:
    transport.controls.configure(write_calls_per_second=1, write_calls_burst=4)
    items = [{"Name": "b", "Attributes": [{"Name": "a", "Value": "1"}]}]
    assert not throttled(put, sdb, domain, "a", ("a", "1"))
    assert not throttled(sdb.batch_put_attributes, DomainName=domain, Items=items)
    assert not throttled(sdb.delete_attributes, DomainName=domain, ItemName="a")
    assert not throttled(sdb.batch_delete_attributes, DomainName=domain, Items=[{"Name": "b"}])
    assert throttled(put, sdb, domain, "c", ("a", "1"))
    # Reads other than Select and domain calls are never throttled.
    assert not throttled(sdb.get_attributes, DomainName=domain, ItemName="a")
    assert not throttled(sdb.domain_metadata, DomainName=domain)
    assert not throttled(sdb.create_domain, DomainName="another")
    assert not throttled(sdb.select, SelectExpression=f"select * from {domain}")
    assert transport.controls.throttled_counts() == {"PutAttributes": 1}


def test_selects_have_their_own_bucket(transport: Transport, sdb: Any, domain: str, clock: FakeClock) -> None:
    transport.controls.configure(select_calls_per_second=2, select_calls_burst=2)
    expressions = [f"select * from {domain}", f"select count(*) from `{domain}`", f"select * from {domain}"]
    assert [throttled(sdb.select, SelectExpression=e) for e in expressions] == [False, False, True]
    assert puts(sdb, domain, 3) == [False] * 3  # writes are not capped
    clock.advance(0.5)
    assert [throttled(sdb.select, SelectExpression=e) for e in expressions] == [False, True, True]
    with pytest.raises(ClientError) as excinfo:  # a malformed expression is refused by the engine
        sdb.select(SelectExpression=f"select * from {domain} where")
    assert error_of(excinfo) == ("InvalidQueryExpression", 400)


def test_each_domain_has_its_own_bucket(
    transport: Transport, sdb: Any, domain: str, clock: FakeClock
) -> None:
    sdb.create_domain(DomainName="music")
    transport.controls.configure(write_calls_per_second=1, write_calls_burst=2)
    assert puts(sdb, domain, 3) == [False, False, True]
    assert puts(sdb, "music", 3) == [False, False, True]
    clock.advance(1.0)
    assert puts(sdb, domain, 2, start=10) == [False, True]
    assert puts(sdb, "music", 2, start=10) == [False, True]


def test_each_region_has_its_own_domains_and_buckets(transport: Transport, clock: FakeClock) -> None:
    if transport.name == "server":
        pytest.skip("SigV2 carries no region: a local endpoint serves us-east-1 only")
    east, west = transport.client("us-east-1"), transport.client("eu-west-1")
    for client in (east, west):
        client.create_domain(DomainName="books")
    transport.controls.configure(write_calls_per_second=1, write_calls_burst=1)
    assert puts(east, "books", 2) == [False, True]
    assert puts(west, "books", 2) == [False, True]


def test_a_throttled_call_answers_at_once(
    transport: Transport, sdb: Any, domain: str, clock: FakeClock
) -> None:
    transport.controls.configure(latency_ms=40, write_calls_per_second=1, write_calls_burst=1)
    assert puts(sdb, domain, 1) == [False]
    assert clock.slept == [0.04]  # the latency was taken by the admitted call
    assert puts(sdb, domain, 3, start=1) == [True] * 3
    assert clock.slept == [0.04]  # ... and by none of the throttled ones
    sdb.get_attributes(DomainName=domain, ItemName="item0")
    assert clock.slept == [0.04, 0.04]


def test_a_throttled_call_draws_no_fault(
    transport: Transport, sdb: Any, domain: str, clock: FakeClock
) -> None:
    def faults(throttled_puts_between: int) -> list[bool]:
        transport.controls.configure(fault_rate=0.5, seed=99)
        outcomes = []
        for _ in range(12):
            outcomes.append(throttled(sdb.list_domains))
            assert puts(sdb, domain, throttled_puts_between) == [True] * throttled_puts_between
        return outcomes

    transport.controls.configure(write_calls_per_second=0.001, write_calls_burst=1)
    put(sdb, domain, "spent", ("a", "1"))  # the one token of the burst
    assert faults(0) == faults(3)


def test_throttled_calls_stay_in_the_call_counts(
    transport: Transport, sdb: Any, domain: str, clock: FakeClock
) -> None:
    transport.controls.configure(write_calls_per_second=1, write_calls_burst=2, select_calls_per_second=1)
    transport.controls.reset_counts()
    assert puts(sdb, domain, 5) == [False, False, True, True, True]
    assert [throttled(sdb.select, SelectExpression=f"select * from {domain}") for _ in range(2)] == [
        False,
        True,
    ]
    assert transport.controls.call_counts() == {"PutAttributes": 5, "Select": 2}
    assert transport.controls.throttled_counts() == {"PutAttributes": 3, "Select": 1}
    transport.controls.reset_counts()
    assert transport.controls.call_counts() == {}
    assert transport.controls.throttled_counts() == {}


def test_reset_removes_every_cap(transport: Transport, sdb: Any, domain: str, clock: FakeClock) -> None:
    transport.controls.configure(write_calls_per_second=1, write_calls_burst=1, select_calls_per_second=1)
    assert puts(sdb, domain, 2) == [False, True]
    transport.controls.reset()
    sdblocal.controls.use_clock(clock)
    assert puts(sdb, domain, 20, start=10) == [False] * 20
    assert [throttled(sdb.select, SelectExpression=f"select * from {domain}") for _ in range(5)] == [
        False
    ] * 5
    assert transport.controls.throttled_counts() == {}


# --- the HTTP control endpoints -------------------------------------------------------------------


def post_controls(url: str, payload: object) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{url}/_sdblocal/controls",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.server
def test_http_controls_set_and_read_the_caps(engine_server: Any) -> None:
    remote = sdblocal.RemoteControls(engine_server.url)
    remote.reset()
    try:
        status, settings = post_controls(
            engine_server.url, {"write_calls_per_second": 40, "select_calls_per_second": 10}
        )
        assert status == 200
        assert (settings["write_calls_per_second"], settings["select_calls_per_second"]) == (40, 10)
        remote.configure(write_calls_burst=5, select_calls_burst=2)
        assert remote.settings() == {
            "fault_rate": 0.0,
            "latency_ms": 0.0,
            "write_calls_per_second": 40.0,
            "write_calls_burst": 5.0,
            "select_calls_per_second": 10.0,
            "select_calls_burst": 2.0,
            **QUIRKS_OFF,
        }
        for bad in ({"write_calls_per_second": -1}, {"select_calls_burst": 0.5}, {"writes_per_second": 3}):
            status, answer = post_controls(engine_server.url, bad)
            assert status == 400, bad
            assert "error" in answer
        assert remote.settings()["select_calls_burst"] == 2.0  # a refused request changes nothing
        remote.configure(write_calls_per_second=0, select_calls_per_second=0)
        assert remote.settings()["write_calls_per_second"] == 0.0
    finally:
        remote.reset()
