"""Helpers shared by the restore tests: domains, dumps, a service, and SimpleDB write-call counts."""

from collections.abc import Iterable
from typing import Any

import boto3

import sdblocal
from simpledb_backup.aws.ratecontrol import RateController, RateSettings
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB, plan_put_batches, select_expression
from simpledb_backup.aws.statemac import StateMac
from simpledb_backup.backup.service import BackupService
from simpledb_backup.config import Settings
from simpledb_backup.events import parse_restore_request
from simpledb_backup.items import Attributes, Item, make_item
from simpledb_backup.restore import RestoreService, compose_restore_service
from simpledb_backup.runtime import Clock, Deadline, utc_datetime
from statekey import LOCAL_STATE_KEY_ALIAS

DOMAIN = "packages"
NEW_DOMAIN = "restored-packages"
WRITE_OPERATIONS = (
    "CreateDomain",
    "DeleteDomain",
    "PutAttributes",
    "BatchPutAttributes",
    "DeleteAttributes",
    "BatchDeleteAttributes",
)


def settings(bucket: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "backup_bucket": bucket,
        "domain_names": (DOMAIN,),
        "segments": 4,
        "restore_workers": 4,
        "restore_target_pattern": "restored-*",
        "continuation_margin_seconds": 30.0,
        "state_key_id": LOCAL_STATE_KEY_ALIAS,
    }
    return Settings(**{**values, **overrides})


def state_mac() -> StateMac:
    """The state key's MAC, as the functions use it (the ``bucket`` fixture creates the key)."""
    return StateMac(boto3.client("kms"), LOCAL_STATE_KEY_ALIAS)


def sealed_document(key: str, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as the service itself would store it at ``key``: with the state key's MAC (a lock or state
    the tests plant as if a restore of this service had written it)."""
    return state_mac().seal(key, document)


def fast_rate_control() -> RateController:
    """The rate controller with a floor high enough that a storm of 503s costs the tests little time."""
    return RateController(RateSettings(initial_rate=1000.0, min_rate=200.0, give_up_after=30.0))


def service(
    sdb_client: Any,
    s3_client: Any,
    bucket: str,
    clock: Clock = utc_datetime,
    sdb: SimpleDB | None = None,
    **overrides: Any,
) -> RestoreService:
    return compose_restore_service(
        sdb or SimpleDB(sdb_client, fast_rate_control()),
        BucketStore(s3_client, bucket),
        settings(bucket, **overrides),
        clock,
        mac=state_mac(),
    )


def request(**fields: Any) -> Any:
    """A restore-function request of any action (the model its ``action`` names)."""
    return parse_restore_request({"domain": DOMAIN, **fields})


#: Plenty of time: no invocation runs short.
forever = Deadline(lambda: 900.0, 30.0)


def fill(sdb_client: Any, domain: str, items: Iterable[Item]) -> None:
    sdb_client.create_domain(DomainName=domain)
    database = SimpleDB(sdb_client)
    for batch in plan_put_batches(items):
        database.put_items(domain, batch)


def contents(sdb_client: Any, domain: str) -> dict[str, Attributes]:
    database = SimpleDB(sdb_client)
    return {
        item.name: item.attributes
        for page in database.select_all(domain, select_expression(domain))
        for item in page
    }


def as_dict(items: Iterable[Item]) -> dict[str, Attributes]:
    return {item.name: item.attributes for item in items}


def dump(sdb_client: Any, s3_client: Any, bucket: str, domain: str = DOMAIN) -> str:
    """Back the domain up as the nightly run would; returns the new dump version id."""
    result = BackupService(SimpleDB(sdb_client), BucketStore(s3_client, bucket), segments=4).backup(
        domain, "manual", forever
    )
    assert result.status == "complete"
    assert result.version_id is not None
    return result.version_id


def writes() -> dict[str, int]:
    """SimpleDB write calls received since the counts were last reset (zero entries left out)."""
    counts = sdblocal.controls.call_counts()
    return {operation: counts[operation] for operation in WRITE_OPERATIONS if counts.get(operation)}


def package(item_name: str, /, **attributes: str | list[str]) -> Item:
    pairs = [
        (attribute, value)
        for attribute, values in attributes.items()
        for value in ([values] if isinstance(values, str) else values)
    ]
    return make_item(item_name, pairs)


def original_domain() -> list[Item]:
    """What the dump holds: some packages and Repoman's meta item."""
    return [
        package("meta", dists=["stable", "testing"], comps="main", archs=["amd64", "arm64"]),
        package("a1", name="alpha", version="1.0", distribution="stable"),
        package("b1", name="beta", version="2.0", distribution="stable", tags=["x", "y"]),
        package("c1", name="gamma", version="3.0", distribution="testing"),
        *[
            package(f"p{index:03d}", name=f"pkg{index}", version="1", distribution="stable")
            for index in range(60)
        ],
    ]


def change_since_dump(sdb_client: Any) -> None:
    """The live domain after the dump: one item deleted, one changed (value changed, attribute added and one
    value removed), one new item."""
    database = SimpleDB(sdb_client)
    database.delete_item(DOMAIN, "a1")
    database.put_items(
        DOMAIN,
        [package("b1", name="beta", version="2.1", distribution="stable", tags="x", local_note="patched")],
    )
    database.put_items(DOMAIN, [package("d1", name="delta", version="0.1", distribution="stable")])


def runs_out_after(calls: int, plenty: float = 900.0) -> Deadline:
    """A deadline that reports plenty of time for ``calls`` readings, then none."""
    readings = iter(range(calls))

    def remaining() -> float:
        return plenty if next(readings, None) is not None else 0.0

    return Deadline(remaining, 30.0)
