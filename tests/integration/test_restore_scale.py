"""The restore at scale: the fewest write calls, parallel workers, 503 storms, and a restore that runs out of
time several times and continues in new invocations."""

import math
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from restore_helpers import (
    DOMAIN,
    as_dict,
    contents,
    dump,
    fast_rate_control,
    fill,
    forever,
    package,
    request,
    runs_out_after,
    service,
    writes,
)

import sdblocal
from simpledb_backup.aws.keys import dump_key, lock_key, status_key
from simpledb_backup.aws.simpledb import SimpleDB, plan_put_batches
from simpledb_backup.items import Item
from simpledb_backup.restore.writer import take_full_batches
from simpledb_backup.runtime import Deadline


def numbered(count: int, **attributes: str) -> list[Item]:
    return [
        package(f"{index:05x}-item", name=f"pkg{index}", n=str(index), **attributes) for index in range(count)
    ]


def scrambled_since_dump(sdb_client: Any, items: list[Item]) -> None:
    """Every third item changed, every fifth deleted, 40 new items: all three kinds of work for exact mode."""
    fill(sdb_client, DOMAIN, [package(item.name, name="changed", extra="x") for item in items[::3]])
    fill(sdb_client, DOMAIN, [package(f"zz-new-{index}", new="yes") for index in range(40)])
    SimpleDB(sdb_client).delete_items(DOMAIN, [(item.name, None) for item in items[1::5]])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 60), st.integers(0, 1024)), max_size=120))
def test_batching_as_the_plan_streams_in_gives_the_same_batches_as_one_pass(
    shapes: list[tuple[int, int]],
) -> None:
    """The restore cuts batches off a growing buffer; greedy batching makes that equal to batching the whole
    stream at once, so large items (the 1 MB request limit) cost no extra calls either."""
    items = [
        package(f"item{index}", **{f"a{number}": "v" * size for number in range(attributes)})
        for index, (attributes, size) in enumerate(shapes)
    ]
    streamed: list[list[Item]] = []
    buffer: list[Item] = []
    for item in items:
        buffer.append(item)
        if len(buffer) > 25:
            streamed += take_full_batches(buffer)
    streamed += plan_put_batches(buffer)
    assert streamed == list(plan_put_batches(items))


@pytest.mark.parametrize("count", [1, 25, 26, 1234])
def test_a_restore_into_an_empty_domain_makes_the_fewest_write_calls(
    count: int, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = numbered(count)
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    sdb_client.delete_domain(DomainName=DOMAIN)
    sdb_client.create_domain(DomainName=DOMAIN)
    sdblocal.controls.reset_counts()
    answer = service(sdb_client, s3_client, bucket, restore_workers=8).handle(
        request(action="restore"), forever
    )
    assert answer["status"] == "complete"
    assert writes() == {"BatchPutAttributes": math.ceil(count / 25)}
    assert answer["written"]["put_calls"] == math.ceil(count / 25)
    assert contents(sdb_client, DOMAIN) == as_dict(items)


def test_writers_run_in_parallel_with_a_bounded_number_of_batches_in_flight(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = numbered(1000)
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    sdb_client.delete_domain(DomainName=DOMAIN)
    sdblocal.controls.configure(latency_ms=20)
    running = {"now": 0, "most": 0}
    lock = threading.Lock()

    def started(**_: Any) -> None:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])

    def ended(**_: Any) -> None:
        with lock:
            running["now"] -= 1

    sdb_client.meta.events.register("before-call.sdb.BatchPutAttributes", started)
    sdb_client.meta.events.register("after-call.sdb.BatchPutAttributes", ended)
    answer = service(sdb_client, s3_client, bucket, restore_workers=4).handle(
        request(action="restore", target_domain="restored-packages"), forever
    )
    sdblocal.controls.reset()
    assert answer["status"] == "complete"
    assert 1 < running["most"] <= 4
    assert contents(sdb_client, "restored-packages") == as_dict(items)


def test_an_exact_restore_through_a_storm_of_503s_ends_exact(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = numbered(300)
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    scrambled_since_dump(sdb_client, items)
    database = SimpleDB(sdb_client, fast_rate_control())
    restore_service = service(sdb_client, s3_client, bucket, sdb=database, restore_workers=8)
    sdblocal.controls.configure(fault_rate=0.3, seed=20240601)
    answer = restore_service.handle(request(action="restore", mode="exact", confirm=DOMAIN), forever)
    sdblocal.controls.configure(fault_rate=0.0)
    assert answer["status"] == "complete"
    assert answer["verification"]["verified"] is True
    assert database.retry_policy.stats().retries > 20  # the faults happened, and were retried, not failed
    assert contents(sdb_client, DOMAIN) == as_dict(items)


def test_a_restore_that_runs_out_of_time_several_times_continues_and_ends_exact(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = numbered(600)
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    scrambled_since_dump(sdb_client, items)
    restore_service = service(sdb_client, s3_client, bucket, restore_workers=2)

    event = request(action="restore", mode="exact", confirm=DOMAIN)
    answers = []
    while True:
        # Each invocation sees plenty of time for a few readings of the clock, then none: it stops part-way.
        # The first invocation gets so few that it parks right after its plan (whose read of the target also
        # takes the safety backup, whatever the time: a restore never writes from part of a plan).
        answer = restore_service.handle(event, runs_out_after(2 if not answers else 7))
        answers.append(answer)
        if answer["status"] != "continued":
            break
        assert len(answers) < 50
        # Between invocations the lock stays with the run, so no other restore can start.
        assert s3_client.get_object(Bucket=bucket, Key=lock_key(DOMAIN))["Body"].read()
        saved = restore_service.handle(request(action="status", run_id=answer["run_id"]), forever)
        assert saved["status"] == "continued"
        assert answer["continues_with"]["run_id"] == answer["run_id"]
        event = request(**answer["continues_with"])

    final = answers[-1]
    assert len(answers) >= 4
    phases = [answer["phase"] for answer in answers[:-1]]
    assert phases[0] == "writing"  # planned, safety backup taken, nothing written yet
    assert answers[0]["written"]["items_written"] == 0
    assert answers[0]["safety_backup"]["items"] == 600 - 120 + 40
    assert phases.count("writing") >= 2  # the writes themselves were interrupted more than once
    assert final["status"] == "complete"
    assert final["invocations"] == len(answers)
    assert final["verification"] == {"verified": True, "mismatches": 0, "sample": []}
    assert contents(sdb_client, DOMAIN) == as_dict(items)
    # One safety backup, however many invocations it took.
    versions = s3_client.list_object_versions(Bucket=bucket, Prefix=dump_key(DOMAIN))["Versions"]
    assert len(versions) == 2
    assert final["safety_backup"]["items"] == 600 - 120 + 40
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=lock_key(DOMAIN))
    assert listed["KeyCount"] == 0
    assert restore_service.handle(request(action="status", run_id=final["run_id"]), forever)["status"] == (
        "complete"
    )
    # A repeated delivery of the last continuation event changes nothing.
    sdblocal.controls.reset_counts()
    assert restore_service.handle(event, forever)["status"] == "complete"
    assert writes() == {}


def test_a_restore_that_never_gets_time_to_work_stops_instead_of_looping(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = numbered(30)
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    restore_service = service(sdb_client, s3_client, bucket)
    event = request(action="restore", target_domain="restored-packages")
    short = Deadline(lambda: 10.0, 30.0)  # always under the 30-second margin
    for _ in range(2):
        answer = restore_service.handle(event, short)
        assert answer["status"] == "continued"
        event = request(**answer["continues_with"])
    answer = restore_service.handle(event, short)
    assert answer["status"] == "failed"
    assert answer["error"]["kind"] == "restore-stalled"
    assert "no progress in 3 invocations" in answer["error"]["message"]
    saved = s3_client.get_object(Bucket=bucket, Key=status_key(event.run_id or ""))["Body"].read()
    assert b'"status": "failed"' in saved
    assert s3_client.list_objects_v2(Bucket=bucket, Prefix=lock_key("restored-packages"))["KeyCount"] == 0
