"""The diff action against moto with the project's SimpleDB engine: a dump against the live domain, the
previous nightly dump against the latest, dumps by version id and time, subset dumps; it writes nothing."""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from restore_helpers import DOMAIN, fill, forever, request, service, writes

import sdblocal
from localrun import LocalContext, load_handler
from repomandata import delete_items, mutate_packages, put_items, repoman_domain_items
from simpledb_backup.aws import clients
from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.service import BackupService
from simpledb_backup.errors import DumpCorruptError, DumpNotFoundError, InvalidRequestError
from simpledb_backup.formats.repoman import KEY_ATTRIBUTES, META_ITEM_NAME, repoman_item_name
from simpledb_backup.items import Item, make_item

PACKAGE_FIELDS = ("package", "version", "distribution", "component", "architecture")


def package_terms(item: Item) -> dict[str, str]:
    return {"item": item.name} | {
        field: item.attributes[attribute][0]
        for attribute, field in zip(KEY_ATTRIBUTES, PACKAGE_FIELDS, strict=True)
    }


def named(descriptions: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {description["item"]: description for description in descriptions}


def moved(item: Item, to: str) -> Item:
    attributes = {**item.attributes, "distribution": (to,)}
    name, version, _, component, architecture = (attributes[key][0] for key in KEY_ATTRIBUTES)
    return Item(repoman_item_name(name, version, to, component, architecture), attributes)


def object_versions(s3_client: Any, bucket: str) -> int:
    return len(s3_client.list_object_versions(Bucket=bucket).get("Versions", []))


@pytest.fixture
def two_nights(sdb_client: Any, s3_client: Any, bucket: str) -> dict[str, Any]:
    """Night 1: meta, 30 bookworm and 10 stable packages. During the day 2 packages get new builds, one is
    removed and meta gains a distribution. Night 2 is dumped; after it, 2 more packages go and one arrives."""
    base = list(repoman_domain_items(31))
    items = base + [moved(item, "stable") for item in base[1:11]]
    fill(sdb_client, DOMAIN, items)
    backups = BackupService(SimpleDB(sdb_client), BucketStore(s3_client, bucket), segments=4)
    first = backups.backup(DOMAIN, "schedule", forever)
    rebuilt = mutate_packages(sdb_client, DOMAIN, items[12:20], count=2, seed=9)
    removed_by_day = items[25]
    delete_items(sdb_client, DOMAIN, [removed_by_day.name])
    meta = items[0]
    new_meta = Item(META_ITEM_NAME, {**meta.attributes, "dists": (*meta.attributes["dists"], "experimental")})
    put_items(sdb_client, DOMAIN, [new_meta])
    second = backups.backup(DOMAIN, "schedule", forever)
    gone_since = [items[21], items[22]]
    delete_items(sdb_client, DOMAIN, [item.name for item in gone_since])
    arrived = moved(items[5], "experimental")
    put_items(sdb_client, DOMAIN, [arrived])
    return {
        "items": items,
        "first": first,
        "second": second,
        "rebuilt": rebuilt,
        "removed_by_day": removed_by_day,
        "meta": (meta, new_meta),
        "gone_since": gone_since,
        "arrived": arrived,
        "backups": backups,
    }


def diff(sdb_client: Any, s3_client: Any, bucket: str, **fields: Any) -> dict[str, Any]:
    answer = service(sdb_client, s3_client, bucket).handle(request(action="diff", **fields), forever)
    json.dumps(answer)
    return answer


def test_the_default_diff_is_the_latest_dump_against_the_live_domain_and_writes_nothing(
    two_nights: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    versions_before = object_versions(s3_client, bucket)
    sdblocal.controls.reset_counts()
    answer = diff(sdb_client, s3_client, bucket)
    assert answer["status"] == "ok"
    assert answer["from"]["version_id"] == two_nights["second"].version_id
    assert (answer["from"]["kind"], answer["from"]["key"], answer["from"]["latest"]) == (
        "dump",
        dump_key(DOMAIN),
        True,
    )
    assert answer["to"] == {"kind": "live", "domain": DOMAIN, "exists": True, "items": 39}
    assert answer["items"] == {"added": 1, "changed": 0, "removed": 2, "unchanged": 38}
    assert answer["samples"]["added"] == [package_terms(two_nights["arrived"])]
    assert named(answer["samples"]["removed"]) == {
        item.name: package_terms(item) for item in two_nights["gone_since"]
    }
    assert answer["sample_names"] == {
        "added": [two_nights["arrived"].name],
        "removed": [entry["item"] for entry in answer["samples"]["removed"]],
    }
    assert "1 added, 0 changed, 2 removed, 38 unchanged" in answer["message"]
    # One scan of the domain; the one added item (only the live side has it) is read by name.
    counts = sdblocal.controls.call_counts()
    assert counts.get("GetAttributes") == 1
    assert writes() == {}
    assert object_versions(s3_client, bucket) == versions_before


def test_what_changed_last_night_is_previous_against_latest(
    two_nights: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    sdblocal.controls.reset_counts()
    answer = diff(sdb_client, s3_client, bucket, **{"from": "previous", "to": "latest"})
    assert answer["from"]["version_id"] == two_nights["first"].version_id
    assert answer["from"]["latest"] is False
    assert answer["to"]["version_id"] == two_nights["second"].version_id
    rebuilt, removed_by_day = two_nights["rebuilt"], two_nights["removed_by_day"]
    assert answer["items"] == {"added": 2, "changed": 1, "removed": 3, "unchanged": 37}
    assert named(answer["samples"]["added"]) == {
        change.new.name: package_terms(change.new) for change in rebuilt
    }
    # The removed items are only in the older dump: a second pass over it reads just the sampled ones.
    assert named(answer["samples"]["removed"]) == {
        item.name: package_terms(item) for item in [removed_by_day, *(change.old for change in rebuilt)]
    }
    [meta] = answer["samples"]["changed"]
    assert meta["meta_changes"] == {"dists": {"added": ["experimental"], "removed": []}}
    assert "experimental" in meta["changes"]["dists"]["after"]
    assert answer["attributes"] == {"added": 0, "changed": 1, "removed": 0}
    assert "GetAttributes" not in sdblocal.controls.call_counts()  # nothing read from the live domain
    assert writes() == {}


def test_dumps_are_chosen_by_version_id_or_time_and_a_safety_backup_is_never_latest(
    two_nights: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    first, second = two_nights["first"], two_nights["second"]
    by_version = diff(
        sdb_client,
        s3_client,
        bucket,
        **{"from": {"version_id": first.version_id}, "to": {"version_id": second.version_id}},
    )
    assert by_version["items"] == {"added": 2, "changed": 1, "removed": 3, "unchanged": 37}
    listed = service(sdb_client, s3_client, bucket).handle(request(action="list"), forever)
    second_time = next(entry["time"] for entry in listed["dumps"] if entry["version_id"] == second.version_id)
    by_time = diff(sdb_client, s3_client, bucket, **{"from": {"as_of": second_time}, "to": "latest"})
    assert by_time["from"]["version_id"] == second.version_id
    assert by_time["items"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 40}
    # A restore adds a pre-restore safety backup as the newest version: latest and previous stay the same.
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), forever
    )
    assert answer["status"] == "complete"
    again = diff(sdb_client, s3_client, bucket, **{"from": "previous", "to": "latest"})
    assert (again["from"]["version_id"], again["to"]["version_id"]) == (first.version_id, second.version_id)
    after_restore = diff(sdb_client, s3_client, bucket)
    assert after_restore["items"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 40}
    safety = answer["safety_backup"]["version_id"]
    undo_preview = diff(sdb_client, s3_client, bucket, **{"from": {"version_id": safety}})
    assert undo_preview["from"]["pre_restore"] is True
    assert undo_preview["items"]["added"] == 2  # the restore brought back what the safety backup lacked
    with pytest.raises(DumpNotFoundError, match="no dump of domain 'packages' was made at or before"):
        diff(sdb_client, s3_client, bucket, **{"from": {"as_of": "2001-01-01T00:00:00Z"}})


def test_previous_needs_two_nightly_dumps(sdb_client: Any, s3_client: Any, bucket: str) -> None:
    fill(sdb_client, DOMAIN, list(repoman_domain_items(5)))
    BackupService(SimpleDB(sdb_client), BucketStore(s3_client, bucket)).backup(DOMAIN, "manual", forever)
    with pytest.raises(DumpNotFoundError, match="only one schedule or manual dump"):
        diff(sdb_client, s3_client, bucket, **{"from": "previous", "to": "latest"})


def test_a_domain_that_is_gone_shows_every_item_removed(
    two_nights: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    sdb_client.delete_domain(DomainName=DOMAIN)
    answer = diff(sdb_client, s3_client, bucket)
    assert answer["to"] == {"kind": "live", "domain": DOMAIN, "exists": False, "items": 0}
    assert answer["items"] == {"added": 0, "changed": 0, "removed": 40, "unchanged": 0}
    assert len(answer["samples"]["removed"]) == 5
    assert f"the domain {DOMAIN} does not exist" in answer["message"]


def test_a_subset_dump_is_compared_inside_its_where_clause(
    two_nights: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    backups = two_nights["backups"]
    where = "`distribution` = 'stable'"
    subset = backups.backup(DOMAIN, "manual", forever, where=where, label="stable")
    stable = [item for item in two_nights["items"] if item.attributes.get("distribution") == ("stable",)]
    assert subset.items == len(stable) == 10
    # Against the live domain: read through the same clause, so the bookworm changes are not in it.
    changed = Item(stable[0].name, {**stable[0].attributes, "size": ("1",)})
    put_items(sdb_client, DOMAIN, [changed])
    delete_items(sdb_client, DOMAIN, [two_nights["items"][3].name])  # a bookworm package
    sdblocal.controls.reset_counts()
    live = diff(sdb_client, s3_client, bucket, **{"from": {"version_id": subset.version_id}})
    assert (live["from"]["label"], live["from"]["where"]) == ("stable", where)
    assert live["to"]["where"] == where
    assert live["items"] == {"added": 0, "changed": 1, "removed": 0, "unchanged": 9}
    [sample] = live["samples"]["changed"]
    assert sample["changes"] == {"size": {"before": list(stable[0].attributes["size"]), "after": ["1"]}}
    # Against a full dump: the full dump is narrowed to the subset's clause.
    full = diff(
        sdb_client,
        s3_client,
        bucket,
        **{"from": {"version_id": two_nights["first"].version_id}, "to": {"version_id": subset.version_id}},
    )
    assert full["items"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 10}
    assert "compared inside subset 'stable'" in full["message"]
    assert writes() == {}
    # Two dumps of one subset, by label: "what changed in the stable subset".
    backups.backup(DOMAIN, "manual", forever, where=where, label="stable")
    nightly = diff(sdb_client, s3_client, bucket, label="stable", **{"from": "previous", "to": "latest"})
    assert nightly["items"] == {"added": 0, "changed": 1, "removed": 0, "unchanged": 9}


def test_a_subset_whose_clause_cannot_be_evaluated_is_not_compared_with_a_full_dump(
    two_nights: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    clause = "`distribution` = 'stable' or `distribution` = 'experimental'"
    subset = two_nights["backups"].backup(DOMAIN, "manual", forever, where=clause, label="two")
    with pytest.raises(InvalidRequestError, match="compare it with the live domain"):
        diff(sdb_client, s3_client, bucket, **{"from": "latest", "to": {"version_id": subset.version_id}})
    live = diff(sdb_client, s3_client, bucket, **{"from": {"version_id": subset.version_id}})
    assert live["to"]["where"] == clause
    assert live["items"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 11}


def test_a_damaged_dump_is_refused_not_compared(
    two_nights: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key=dump_key(DOMAIN), Body=b"\x1f\x8b not a dump")
    with pytest.raises(DumpCorruptError):
        diff(sdb_client, s3_client, bucket)


def test_generic_items_are_described_by_name_and_attributes(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    users = [make_item(f"user-{n}", [("email", f"u{n}@example.org"), ("role", "dev")]) for n in range(6)]
    fill(sdb_client, DOMAIN, users)
    BackupService(SimpleDB(sdb_client), BucketStore(s3_client, bucket)).backup(DOMAIN, "manual", forever)
    put_items(sdb_client, DOMAIN, [make_item("user-1", [("email", "new@example.org"), ("role", "dev")])])
    answer = diff(sdb_client, s3_client, bucket)
    assert answer["samples"] == {
        "changed": [
            {
                "item": "user-1",
                "attributes": {"email": "new@example.org", "role": "dev"},
                "changes": {"email": {"before": ["u1@example.org"], "after": ["new@example.org"]}},
            }
        ]
    }


# --- through the restore function's handler -------------------------------------------------------------


@pytest.fixture
def handler(backup_environment: dict[str, str], aws: None) -> Iterator[ModuleType]:
    module = load_handler("restore")
    for cached in (module.settings, clients.sdb_client, clients.s3_client):
        cached.cache_clear()
    yield module
    for cached in (module.settings, clients.sdb_client, clients.s3_client):
        cached.cache_clear()


def test_the_handler_answers_a_diff_and_refuses_a_bad_one(
    handler: ModuleType, two_nights: dict[str, Any], sdb_client: Any
) -> None:
    context = LocalContext(function_name="simpledb-backup-restore")
    ready = json.loads((Path(__file__).resolve().parents[2] / "events" / "restore-diff.json").read_text())
    answer = handler.lambda_handler({**ready, "sample_size": 1}, context)
    assert answer["status"] == "ok"
    assert {kind: len(samples) for kind, samples in answer["samples"].items()} == {
        "added": 1,
        "changed": 1,
        "removed": 1,
    }
    json.dumps(answer)
    refused = handler.lambda_handler({"action": "diff", "domain": DOMAIN, "from": "live"}, context)
    assert refused["status"] == "refused"
    assert refused["error"]["message"] == (
        "invalid event: from: must be 'latest', 'previous', {\"version_id\": \"...\"} or "
        '{"as_of": "<ISO time>"}'
    )
