"""What a restore asks of SimpleDB: it reads its target at most twice (issue 18: once before writing, the plan
and the safety backup from one scan, and once to verify), and random 503s slow it down without driving its
reads or writes to a crawl (issue 16: an exact restore of 4,000 items under 20 % and 50 % random 503s
completes; today its trim reads crawled at 0.6 calls/s under 50 %)."""

from typing import Any

import pytest
from restore_helpers import DOMAIN, as_dict, contents, dump, fill, forever, package, request, service

import sdblocal
from repomandata import repoman_domain_items
from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.ratecontrol import RateSettings
from simpledb_backup.aws.simpledb import SimpleDB, select_expression
from simpledb_backup.items import Item


def selects_of_one_scan(sdb_client: Any) -> int:
    """Select calls one sequential ``select *`` of the domain takes: the fewest a read of it can take."""
    sdblocal.controls.reset_counts()
    for _ in SimpleDB(sdb_client).select_all(DOMAIN, select_expression(DOMAIN)):
        pass
    return int(sdblocal.controls.call_counts()["Select"])


def test_a_small_damage_exact_restore_reads_its_target_at_most_twice(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = list(repoman_domain_items(3000))  # Repoman's items, a few KB each: several Select pages
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    database = SimpleDB(sdb_client)
    database.delete_items(DOMAIN, [(item.name, None) for item in items[100:103]])
    database.put_items(DOMAIN, [package(items[200].name, name="changed")])
    fewest_before = selects_of_one_scan(sdb_client)
    assert fewest_before >= 3

    sdblocal.controls.reset_counts()
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), forever
    )
    selects = sdblocal.controls.call_counts()["Select"]
    assert answer["status"] == "complete"
    assert answer["verification"]["verified"] is True
    assert answer["progress"]["items_written"] == 4
    assert answer["safety_backup"]["items"] == 2997  # the safety backup came from the plan's own read
    fewest_after = selects_of_one_scan(sdb_client)
    # Once before writing (plan and safety backup), once to verify: never more than twice the fewest pages.
    assert selects <= fewest_before + fewest_after
    versions = s3_client.list_object_versions(Bucket=bucket, Prefix=dump_key(DOMAIN))["Versions"]
    assert len(versions) == 2  # the dump and the safety backup


def wide_damage(sdb_client: Any, items: list[Item]) -> None:
    """Every third item changed (an attribute added: exact mode trims it), every fifth deleted, 40 new."""
    fill(sdb_client, DOMAIN, [package(item.name, name="changed", extra="x") for item in items[::3]])
    fill(sdb_client, DOMAIN, [package(f"zz-new-{index}", new="yes") for index in range(40)])
    SimpleDB(sdb_client).delete_items(DOMAIN, [(item.name, None) for item in items[1::5]])


@pytest.mark.parametrize("share", [0.2, 0.5])
def test_an_exact_restore_of_4000_items_converges_under_random_503s(
    sdb_client: Any, s3_client: Any, bucket: str, share: float
) -> None:
    items = [package(f"{index:05x}-item", name=f"pkg{index}", n=str(index)) for index in range(4000)]
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    wide_damage(sdb_client, items)
    database = SimpleDB(sdb_client)  # the product's own rate controller, with its defaults
    restore_service = service(sdb_client, s3_client, bucket, sdb=database, restore_workers=8)
    sdblocal.controls.configure(fault_rate=share, seed=20261126)
    try:
        answer = restore_service.handle(request(action="restore", mode="exact", confirm=DOMAIN), forever)
    finally:
        sdblocal.controls.configure(fault_rate=0.0)
    assert answer["status"] == "complete", answer.get("error")
    assert answer["verification"]["verified"] is True
    assert contents(sdb_client, DOMAIN) == as_dict(items)
    stats = database.retry_policy.stats()
    assert stats.throttles > 100  # the faults happened, and were retried
    # Random faults did not drive the reads or the writes to a crawl: the lanes that carried the work (the trims'
    # reads and the writes) end no lower than the rate they started at, with the faults' share taken for
    # background. (A short write phase, ~75 batch calls here, may end on CUBIC's plateau at exactly the
    # rate its cuts were undone to, so "no lower", not "higher".)
    initial = RateSettings().initial_rate
    assert stats.rates["GetAttributes"] >= initial, stats.rates
    assert stats.rates["write"] >= initial, stats.rates
    policy: Any = database.retry_policy
    for lane in ("GetAttributes", "BatchPutAttributes"):
        assert policy.lane(lane).background() > share / 2, lane
