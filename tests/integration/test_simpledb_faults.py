"""The SimpleDB adapter through dropped connections and throttling, against moto with the project's engine.

Faults are real botocore exceptions raised by tests/faults.py from the client's own event hooks, either
before a request reaches the engine or after the engine ran it and answered (the answer lost): the case in
which only an idempotent request may be sent again. The retry policies run on a fake clock, so their pacing
and their time budgets cost no real time.
"""

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

import sdblocal
from faults import (
    FakeClock,
    NetworkFaults,
    connect_timeout,
    connection_reset,
    endpoint_unreachable,
    read_timeout,
)
from legacy_backoff import SharedBackoff
from simpledb_backup.aws.ratecontrol import RateController, RateSettings
from simpledb_backup.aws.simpledb import SimpleDB, select_expression
from simpledb_backup.errors import DomainNotFoundError, NetworkError, ThrottledError
from simpledb_backup.items import Item, make_item

DOMAIN = "packages"
EXPRESSION = select_expression(DOMAIN)  # 100 items a page, SimpleDB's default limit


def numbered(count: int) -> list[Item]:
    """Items with a multi-valued attribute, so a replayed put that added values would show."""
    return [
        make_item(
            f"item-{index:05d}",
            [("index", str(index)), ("tag", "a"), ("tag", "b"), ("payload", "x" * (index % 50))],
        )
        for index in range(count)
    ]


def adapter(sdb_client: Any, clock: FakeClock, **settings: float) -> SimpleDB:
    policy = RateController(RateSettings(**settings), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    return SimpleDB(sdb_client, policy)


def filled(sdb_client: Any, items: list[Item]) -> None:
    sdb_client.create_domain(DomainName=DOMAIN)
    SimpleDB(sdb_client, RateController(RateSettings(initial_rate=1000.0))).write_items(DOMAIN, items)


def contents(sdb_client: Any) -> dict[str, dict[str, frozenset[str]]]:
    """The domain as SimpleDB holds it, read with a plain client (no faults, no retries)."""
    found: dict[str, dict[str, frozenset[str]]] = {}
    arguments: dict[str, Any] = {"SelectExpression": EXPRESSION, "ConsistentRead": True}
    while True:
        answer = sdb_client.select(**arguments)
        for item in answer.get("Items", []):
            assert item["Name"] not in found
            values: dict[str, set[str]] = {}
            for pair in item["Attributes"]:
                values.setdefault(pair["Name"], set()).add(pair["Value"])
            found[item["Name"]] = {name: frozenset(value) for name, value in values.items()}
        if "NextToken" not in answer:
            return found
        arguments["NextToken"] = answer["NextToken"]


def as_contents(items: list[Item]) -> dict[str, dict[str, frozenset[str]]]:
    return {
        item.name: {name: frozenset(values) for name, values in item.attributes.items()} for item in items
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- a dropped connection on one call is retried, and nothing is lost or duplicated --------------------


@pytest.mark.parametrize(
    ("error", "after_response"),
    [
        (connection_reset, False),
        (connection_reset, True),
        (read_timeout, True),
        (connect_timeout, False),
        (endpoint_unreachable, False),
    ],
)
def test_a_dropped_select_page_is_read_again_and_the_scan_is_whole(
    sdb_client: Any, clock: FakeClock, error: Any, after_response: bool
) -> None:
    items = numbered(250)
    filled(sdb_client, items)
    faults = NetworkFaults(sdb_client)
    faults.fail("Select", calls=[2], error=error, after_response=after_response)  # the second page
    sdb = adapter(sdb_client, clock)
    sdblocal.controls.reset_counts()
    pages = list(sdb.select_all(DOMAIN, EXPRESSION))
    names = [item.name for page in pages for item in page]
    assert len(names) == len(set(names)) == 250
    assert sorted((item for page in pages for item in page), key=lambda item: item.name) == items
    assert [(operation, number) for operation, number, _ in faults.injected] == [("Select", 2)]
    # Three pages; the dropped attempt reached the engine only when its answer was what got lost.
    assert sdblocal.controls.call_counts()["Select"] == (4 if after_response else 3)
    stats = sdb.retry_policy.stats()
    assert (stats.network_faults, stats.retries, stats.throttles) == (1, 1, 0)


@pytest.mark.parametrize("after_response", [False, True])
def test_a_dropped_batch_put_is_sent_again_and_the_domain_holds_exactly_the_items(
    sdb_client: Any, clock: FakeClock, after_response: bool
) -> None:
    sdb_client.create_domain(DomainName=DOMAIN)
    items = numbered(100)
    faults = NetworkFaults(sdb_client)
    faults.fail("BatchPutAttributes", calls=[2, 4], after_response=after_response)
    sdb = adapter(sdb_client, clock)
    sdblocal.controls.reset_counts()
    assert sdb.write_items(DOMAIN, items) == 4  # four batches of 25, as planned
    assert len(faults.injected) == 2
    # A replay of an applied batch set each attribute to the same values again: no value twice, none lost.
    assert contents(sdb_client) == as_contents(items)
    assert sdblocal.controls.call_counts()["BatchPutAttributes"] == (6 if after_response else 4)
    assert sdb.retry_policy.stats().network_faults == 2


@pytest.mark.parametrize("after_response", [False, True])
def test_a_dropped_batch_delete_is_sent_again_and_deletes_exactly_what_was_asked(
    sdb_client: Any, clock: FakeClock, after_response: bool
) -> None:
    items = numbered(60)
    filled(sdb_client, items)
    faults = NetworkFaults(sdb_client)
    faults.fail("BatchDeleteAttributes", calls=[1, 3], after_response=after_response)
    sdb = adapter(sdb_client, clock)
    sdblocal.controls.reset_counts()
    whole = [(item.name, None) for item in items[:30]]
    one_value = [(item.name, [("tag", "a")]) for item in items[30:50]]
    assert sdb.delete_items(DOMAIN, [*whole, *one_value]) == 2
    assert sdb.delete_items(DOMAIN, [(items[59].name, None)]) == 1
    expected = as_contents(items[30:59])
    for item in items[30:50]:
        expected[item.name] = {**expected[item.name], "tag": frozenset({"b"})}
    # Deleting again what the lost answer had already deleted succeeded and changed nothing else.
    assert contents(sdb_client) == expected
    assert sdblocal.controls.call_counts()["BatchDeleteAttributes"] == (5 if after_response else 3)


# --- a long outage fails, clearly, after the time budget -------------------------------------------------


def test_a_network_outage_fails_with_a_clear_error_after_the_time_budget(
    sdb_client: Any, clock: FakeClock
) -> None:
    filled(sdb_client, numbered(10))
    faults = NetworkFaults(sdb_client)
    faults.fail("Select", error=endpoint_unreachable)  # every Select, from now on
    sdb = adapter(sdb_client, clock, give_up_after=120.0)
    sdblocal.controls.reset_counts()
    start = clock()
    with pytest.raises(NetworkError) as raised:
        sdb.select_page(DOMAIN, EXPRESSION, None)
    message = str(raised.value)
    assert message.startswith("SimpleDB could not be reached for Select on domain 'packages' for ")
    seconds = int(re.search(r"for (\d+) s \((\d+) attempts", message).group(1))  # type: ignore[union-attr]
    assert 120 <= seconds <= 125
    assert "Could not connect to the endpoint URL" in message
    assert isinstance(raised.value.__cause__, EndpointConnectionError)
    assert clock() - start >= 120.0
    assert sdblocal.controls.call_counts().get("Select", 0) == 0  # nothing ever reached SimpleDB
    stats = sdb.retry_policy.stats()
    assert stats.network_faults == stats.calls == len(faults.injected) > 1
    assert stats.exhausted == 1
    faults.stop()  # the network is back: the same job goes on
    items, _ = sdb.select_page(DOMAIN, EXPRESSION, None)
    assert len(items) == 10


def test_throttling_without_end_fails_with_a_clear_error_after_the_time_budget(
    sdb_client: Any, clock: FakeClock
) -> None:
    sdb_client.create_domain(DomainName=DOMAIN)
    sdb = adapter(sdb_client, clock, give_up_after=180.0)
    sdblocal.controls.reset_counts()
    sdblocal.controls.configure(fault_rate=1.0, seed=3)  # every SimpleDB call answers 503
    with pytest.raises(ThrottledError) as raised:
        sdb.write_items(DOMAIN, numbered(30))
    sdblocal.controls.configure(fault_rate=0.0)
    message = str(raised.value)
    assert message.startswith("SimpleDB kept throttling BatchPutAttributes on domain 'packages' for 18")
    assert "the last answer: ServiceUnavailable (HTTP 503)" in message
    cause = raised.value.__cause__
    assert isinstance(cause, ClientError)
    assert cause.response["Error"]["Code"] == "ServiceUnavailable"
    counts = sdblocal.controls.call_counts()
    assert counts["BatchPutAttributes"] == sdb.retry_policy.stats().throttles > 1  # every attempt was sent
    assert contents(sdb_client) == {}  # a throttled call changes nothing


def test_a_throttle_shorter_than_the_budget_slows_the_job_down_and_then_it_completes(
    sdb_client: Any, clock: FakeClock
) -> None:
    sdb_client.create_domain(DomainName=DOMAIN)
    sdb = adapter(sdb_client, clock, give_up_after=180.0)
    start = clock()
    faults = NetworkFaults(sdb_client)
    # Two minutes of dropped connections on every write, then the network recovers.
    faults.fail("BatchPutAttributes", error=connection_reset, until=lambda: clock() - start >= 120.0)
    items = numbered(75)
    assert sdb.write_items(DOMAIN, items) == 3
    assert clock() - start >= 120.0
    assert contents(sdb_client) == as_contents(items)


# --- 503s and resets mixed ---------------------------------------------------------------------------------


def test_mixed_503s_and_dropped_connections_lose_and_duplicate_nothing(
    sdb_client: Any, clock: FakeClock
) -> None:
    sdb_client.create_domain(DomainName=DOMAIN)
    items = numbered(600)
    faults = NetworkFaults(sdb_client)
    for operation in ("BatchPutAttributes", "BatchDeleteAttributes", "Select"):
        faults.fail(operation, calls=range(3, 400, 7), error=connection_reset, after_response=True)
        faults.fail(operation, calls=range(5, 400, 11), error=read_timeout)
    sdb = adapter(sdb_client, clock)
    sdblocal.controls.configure(fault_rate=0.25, seed=20240601)
    sdb.write_items(DOMAIN, items)
    sdb.delete_items(DOMAIN, [(item.name, None) for item in items[::3]])
    scanned = [item for page in sdb.select_all(DOMAIN, EXPRESSION) for item in page]
    sdblocal.controls.configure(fault_rate=0.0)
    faults.stop()
    kept = [item for index, item in enumerate(items) if index % 3]
    assert sorted(scanned, key=lambda item: item.name) == kept
    assert contents(sdb_client) == as_contents(kept)
    stats = sdb.retry_policy.stats()
    assert stats.throttles > 10
    assert stats.network_faults == len(faults.injected) > 10
    assert stats.exhausted == 0


# --- what is not retried -----------------------------------------------------------------------------------


def test_an_error_no_retry_can_help_is_raised_at_once(sdb_client: Any, clock: FakeClock) -> None:
    sdb = adapter(sdb_client, clock)
    sdblocal.controls.reset_counts()
    with pytest.raises(DomainNotFoundError):
        sdb.select_page("missing", select_expression("missing"), None)
    assert sdblocal.controls.call_counts() == {"Select": 1}
    assert clock.slept == 0.0


def test_the_legacy_backoff_still_plugs_in_and_lets_a_network_fault_through_translated(
    sdb_client: Any,
) -> None:
    filled(sdb_client, numbered(10))
    faults = NetworkFaults(sdb_client)
    faults.fail("Select", calls=[1])
    sdb = SimpleDB(sdb_client, SharedBackoff(base_delay=0.001, max_delay=0.002, max_attempts=3))
    with pytest.raises(NetworkError, match="SimpleDB could not be reached for Select on domain 'packages'"):
        sdb.select_page(DOMAIN, EXPRESSION, None)
    items, _ = sdb.select_page(DOMAIN, EXPRESSION, None)
    assert len(items) == 10
    assert sdb.retry_policy.stats().calls == 2
