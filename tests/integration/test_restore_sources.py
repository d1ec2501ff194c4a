"""Restoring from the two foreign sources: a ``repoman-cli backup`` file and an AWS native SimpleDB export, both
stored under imports/. Each round-trips exactly, and a damaged one is refused before any write."""

import json
from typing import Any

import pytest
from restore_helpers import DOMAIN, NEW_DOMAIN, as_dict, contents, fill, forever, request, service, writes

import sdblocal
from nativeexportwriter import export_base_key, write_native_export
from repomanauthoring import repoman_backup_from_items
from repomandata import repoman_domain_items
from simpledb_backup.errors import DumpCorruptError, DumpNotFoundError, InvalidRequestError
from simpledb_backup.formats.repoman import META_ITEM_NAME, repoman_item_name
from simpledb_backup.items import Item

REPOMAN_KEY = "imports/packages-repoman-backup.json"
EXPORT_ID = "3eb4eaed-872b-4e08-b4b6-ff6999a83e01"


@pytest.fixture
def repoman_items() -> list[Item]:
    return list(repoman_domain_items(300, seed=3))


def put_repoman_file(s3_client: Any, bucket: str, document: Any) -> None:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    s3_client.put_object(Bucket=bucket, Key=REPOMAN_KEY, Body=body)


def put_export(s3_client: Any, bucket: str, items: list[Item], domain: str = DOMAIN) -> str:
    objects = write_native_export(items, domain_name=domain, export_id=EXPORT_ID, prefix="imports/exports")
    for key, data in objects.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=data)
    return export_base_key("imports/exports", EXPORT_ID, domain)


# --- Repoman backup file ---------------------------------------------------------------------------------------


def test_a_repoman_backup_file_round_trips_with_recomputed_names_and_meta(
    repoman_items: list[Item], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    put_repoman_file(s3_client, bucket, repoman_backup_from_items(repoman_items))
    answer = service(sdb_client, s3_client, bucket).handle(
        request(
            action="restore", source="repoman", source_key=REPOMAN_KEY, target_domain=NEW_DOMAIN, mode="exact"
        ),
        forever,
    )
    assert answer["status"] == "complete"
    assert answer["verification"]["verified"] is True
    assert answer["source"]["kind"] == "repoman"
    restored = contents(sdb_client, NEW_DOMAIN)
    assert restored == as_dict(repoman_items)
    assert META_ITEM_NAME in restored
    package = next(name for name in restored if name != META_ITEM_NAME)
    key_fields = [
        restored[package][field][0]
        for field in ("name", "version", "distribution", "component", "architecture")
    ]
    assert package == repoman_item_name(*key_fields)


def test_a_repoman_file_merged_over_a_live_domain_brings_back_what_was_lost(
    repoman_items: list[Item], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    put_repoman_file(s3_client, bucket, repoman_backup_from_items(repoman_items))
    fill(sdb_client, DOMAIN, repoman_items[:100])  # the live domain lost two thirds of its packages
    plan = service(sdb_client, s3_client, bucket).handle(
        request(action="plan", source="repoman", source_key=REPOMAN_KEY), forever
    )
    assert plan["items"]["create"] == 200
    assert plan["items"]["unchanged"] == 100
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", source="repoman", source_key=REPOMAN_KEY, confirm=DOMAIN), forever
    )
    assert answer["safety_backup"]["items"] == 100
    assert contents(sdb_client, DOMAIN) == as_dict(repoman_items)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        ({"metadata": {"dists": ["stable"]}}, "exactly the keys 'metadata' and 'packages'"),
        (
            {"metadata": {"dists": ["stable"]}, "packages": {"hello": {"stable": {"main": {"amd64": [{}]}}}}},
            "needs 'name'",
        ),
    ],
)
def test_a_damaged_repoman_file_is_refused_before_any_write(
    body: Any, message: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    put_repoman_file(s3_client, bucket, body)
    sdblocal.controls.reset_counts()
    with pytest.raises(DumpCorruptError, match=message):
        service(sdb_client, s3_client, bucket).handle(
            request(action="restore", source="repoman", source_key=REPOMAN_KEY, target_domain=NEW_DOMAIN),
            forever,
        )
    assert writes() == {}


def test_a_source_key_outside_imports_or_missing_is_refused(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    restore_service = service(sdb_client, s3_client, bucket)
    with pytest.raises(InvalidRequestError, match=r"source_key: 'dumps/x\.json' must be under imports/"):
        restore_service.handle(request(action="plan", source="repoman", source_key="dumps/x.json"), forever)
    with pytest.raises(DumpNotFoundError, match=r"source_key: no object .*imports/nothing\.json"):
        restore_service.handle(
            request(action="plan", source="repoman", source_key="imports/nothing.json"), forever
        )


# --- native SimpleDB export ------------------------------------------------------------------------------------


def test_a_native_export_round_trips(
    repoman_items: list[Item], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    base = put_export(s3_client, bucket, repoman_items)
    answer = service(sdb_client, s3_client, bucket).handle(
        request(
            action="restore", source="native-export", source_key=base, target_domain=NEW_DOMAIN, mode="exact"
        ),
        forever,
    )
    assert answer["status"] == "complete"
    assert answer["source"] == {
        "kind": "native-export",
        "key": base,
        "items": len(repoman_items),
        "export_arn": f"arn:aws:sdb:us-east-1:111122223333:domain/{DOMAIN}/export/{EXPORT_ID}",
    }
    assert contents(sdb_client, NEW_DOMAIN) == as_dict(repoman_items)


def test_a_native_export_with_a_changed_data_file_is_refused_before_any_write(
    repoman_items: list[Item], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    base = put_export(s3_client, bucket, repoman_items)
    data_key = next(
        entry["Key"] for entry in s3_client.list_objects_v2(Bucket=bucket, Prefix=base + "data/")["Contents"]
    )
    records = json.loads(s3_client.get_object(Bucket=bucket, Key=data_key)["Body"].read())
    records[0]["attributes"][0]["values"] = ["tampered"]
    s3_client.put_object(Bucket=bucket, Key=data_key, Body=json.dumps(records).encode())
    sdblocal.controls.reset_counts()
    with pytest.raises(DumpCorruptError, match=r"(?i)md5"):
        service(sdb_client, s3_client, bucket).handle(
            request(action="restore", source="native-export", source_key=base, target_domain=NEW_DOMAIN),
            forever,
        )
    assert writes() == {}


def test_an_unfinished_native_export_is_refused(
    repoman_items: list[Item], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    base = put_export(s3_client, bucket, repoman_items)
    s3_client.delete_object(Bucket=bucket, Key=base + "manifest-summary.json")
    sdblocal.controls.reset_counts()
    with pytest.raises(DumpCorruptError, match="still running, failed, or is not there"):
        service(sdb_client, s3_client, bucket).handle(
            request(action="restore", source="native-export", source_key=base, target_domain=NEW_DOMAIN),
            forever,
        )
    assert writes() == {}


def test_a_native_export_of_another_domain_is_refused(
    repoman_items: list[Item], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    base = put_export(s3_client, bucket, repoman_items, domain="other-domain")
    with pytest.raises(InvalidRequestError, match="is an export of domain 'other-domain', not of 'packages'"):
        service(sdb_client, s3_client, bucket).handle(
            request(action="plan", source="native-export", source_key=base), forever
        )
