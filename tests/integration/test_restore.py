"""The restore against moto with the project's SimpleDB engine: modes, new domains, refusals, safety backup,
interruption. Every refusal test checks that SimpleDB received no write call and the domain is unchanged."""

import gzip
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from restore_helpers import (
    DOMAIN,
    NEW_DOMAIN,
    as_dict,
    change_since_dump,
    contents,
    dump,
    fill,
    forever,
    original_domain,
    package,
    request,
    sealed_document,
    service,
    writes,
)

import sdblocal
from callhooks import answer_calls, fail_calls_after
from simpledb_backup.aws.keys import dump_key, lock_key
from simpledb_backup.errors import (
    ConfirmationRequiredError,
    DumpCorruptError,
    DumpNotFoundError,
    InvalidRequestError,
    RestoreInProgressError,
)
from simpledb_backup.items import Attributes
from simpledb_backup.restore.lock import LOCK_GRACE_SECONDS
from simpledb_backup.runtime import utc_datetime


@pytest.fixture
def changed_domain(sdb_client: Any, s3_client: Any, bucket: str) -> str:
    """``packages`` dumped, then changed: an item deleted, one changed, one added. Returns the dump version."""
    fill(sdb_client, DOMAIN, original_domain())
    version = dump(sdb_client, s3_client, bucket)
    change_since_dump(sdb_client)
    return version


def lock_exists(s3_client: Any, bucket: str, target: str = DOMAIN) -> bool:
    listed = s3_client.list_objects_v2(Bucket=bucket, Prefix=lock_key(target))
    return bool(listed.get("KeyCount"))


def test_exact_restore_makes_the_domain_equal_to_the_dump(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), forever
    )
    assert answer["status"] == "complete"
    assert contents(sdb_client, DOMAIN) == as_dict(original_domain())
    assert answer["plan"]["items"] == {"create": 1, "update": 1, "delete": 1, "unchanged": 62}
    assert answer["written"]["items_deleted"] == 1
    assert answer["written"]["items_trimmed"] == 1  # b1 lost its local_note
    assert answer["verification"] == {"verified": True, "mismatches": 0, "sample": []}
    assert answer["source"]["version_id"] == changed_domain
    assert not lock_exists(s3_client, bucket)


def test_merge_restore_writes_the_dump_over_the_domain_and_keeps_the_rest(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    answer = service(sdb_client, s3_client, bucket).handle(request(action="restore", confirm=DOMAIN), forever)
    assert answer["status"] == "complete"
    assert answer["verification"]["verified"] is True
    expected: dict[str, Attributes] = as_dict(original_domain())
    # Merge, as Repoman documents it: the new item d1 and b1's new attribute stay; everything the dump has
    # is back with the dump's values (b1's version and tags, the deleted a1).
    expected["d1"] = package("d1", name="delta", version="0.1", distribution="stable").attributes
    expected["b1"] = {**expected["b1"], "local_note": ("patched",)}
    assert contents(sdb_client, DOMAIN) == expected
    assert answer["plan"]["items"]["kept_not_in_dump"] == 1


def test_plan_reports_every_change_and_writes_nothing(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    before = contents(sdb_client, DOMAIN)
    sdblocal.controls.reset_counts()
    plan = service(sdb_client, s3_client, bucket).handle(
        request(action="plan", mode="exact", sample_size=2), forever
    )
    assert plan["items"] == {"create": 1, "update": 1, "delete": 1, "unchanged": 62}
    assert plan["attributes"] == {"added": 0, "changed": 2, "removed": 1}
    samples = plan["samples"]
    assert samples["create"] == [
        {"item": "a1", "attributes": {"distribution": "stable", "name": "alpha", "version": "1.0"}}
    ]
    assert samples["update"] == [
        {
            "item": "b1",
            "attributes": {"distribution": "stable", "name": "beta", "tags": "x"},
            "changes": {
                "local_note": {"before": ["patched"], "after": []},
                "tags": {"before": ["x"], "after": ["x", "y"]},
                "version": {"before": ["2.1"], "after": ["2.0"]},
            },
        }
    ]
    assert samples["delete"] == [
        {"item": "d1", "attributes": {"distribution": "stable", "name": "delta", "version": "0.1"}}
    ]
    assert len(samples["unchanged"]) == 2
    assert plan["sample_names"]["unchanged"] == [entry["item"] for entry in samples["unchanged"]]
    assert {key: plan["sample_names"][key] for key in ("create", "update", "delete")} == {
        "create": ["a1"],
        "update": ["b1"],
        "delete": ["d1"],
    }
    assert plan["target_items"] == 64
    assert writes() == {}
    assert contents(sdb_client, DOMAIN) == before
    assert not lock_exists(s3_client, bucket)


def test_subset_restore_touches_only_the_selected_items(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN, items=["a1", "d1"]), forever
    )
    assert answer["plan"]["items"] == {"create": 1, "update": 0, "delete": 1, "unchanged": 0}
    after = contents(sdb_client, DOMAIN)
    assert after["a1"] == as_dict(original_domain())["a1"]
    assert "d1" not in after
    assert after["b1"]["version"] == ("2.1",)  # not selected: left as changed since the dump


def test_restore_by_attribute_match(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    sdblocal.controls.reset_counts()
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN, match={"distribution": "testing"}), forever
    )
    assert answer["plan"]["items"] == {"create": 0, "update": 0, "delete": 0, "unchanged": 1}  # c1 only
    assert writes() == {}  # nothing to do, nothing written (the safety backup is a read)


def test_restore_into_a_new_domain_creates_it(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    sdblocal.controls.reset_counts()
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", target_domain=NEW_DOMAIN, mode="exact"), forever
    )
    assert answer["status"] == "complete"
    assert answer["target_created"] is True
    assert answer["safety_backup"] is None  # nothing to save in a new domain
    assert answer["safety_backup_skipped"] == "the target is new"
    assert contents(sdb_client, NEW_DOMAIN) == as_dict(original_domain())
    assert writes() == {"CreateDomain": 1, "BatchPutAttributes": 3}  # 64 items: 25 + 25 + 14


def test_a_target_outside_the_configured_domains_and_pattern_is_refused(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    with pytest.raises(InvalidRequestError, match="RESTORE_TARGET_PATTERN restored-\\*"):
        service(sdb_client, s3_client, bucket).handle(
            request(action="restore", target_domain="production-other"), forever
        )


# --- refusals: nothing written ---------------------------------------------------------------------------------


def republish(s3_client: Any, bucket: str, alter: Callable[[bytes], bytes]) -> str:
    """Put an altered copy of the latest dump as a new version of the dump key, metadata and all."""
    key = dump_key(DOMAIN)
    original = s3_client.get_object(Bucket=bucket, Key=key)
    answer = s3_client.put_object(
        Bucket=bucket, Key=key, Body=alter(original["Body"].read()), Metadata=original["Metadata"]
    )
    return str(answer["VersionId"])


def truncate(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


def alter_an_item(data: bytes) -> bytes:
    """Valid gzip, valid JSON lines, counts intact, but one value changed: only the digest can tell."""
    text = gzip.decompress(data).replace(b'"version":["1.0"]', b'"version":["6.6"]')
    return gzip.compress(text)


def drop_an_item(data: bytes) -> bytes:
    lines = gzip.decompress(data).split(b"\n")
    return gzip.compress(b"\n".join(lines[:2] + lines[3:]))


def foreign_object(data: bytes) -> bytes:
    return json.dumps({"hello": "this is not a dump"}).encode()


def not_a_simpledb_limit(data: bytes) -> bytes:
    lines = gzip.decompress(data).split(b"\n")
    record = json.loads(lines[1])
    record["attributes"]["huge"] = ["x" * 1025]  # over SimpleDB's 1024-byte value limit
    lines[1] = json.dumps(record, separators=(",", ":")).encode()
    return gzip.compress(b"\n".join(lines))


@pytest.mark.parametrize(
    ("alter", "message"),
    [
        (truncate, "truncated"),
        (alter_an_item, "checksum mismatch"),
        (drop_an_item, "counts do not match"),
        (foreign_object, "not valid gzip"),
        (lambda data: gzip.compress(b'{"type":"header","format":"other"}\n'), "not a simpledb-backup-dump"),
        (not_a_simpledb_limit, "exceeds 1024 bytes"),
    ],
)
def test_a_damaged_dump_is_refused_before_any_write(
    changed_domain: str,
    sdb_client: Any,
    s3_client: Any,
    bucket: str,
    alter: Callable[[bytes], bytes],
    message: str,
) -> None:
    damaged = republish(s3_client, bucket, alter)
    before = contents(sdb_client, DOMAIN)
    sdblocal.controls.reset_counts()
    with pytest.raises(DumpCorruptError, match=message):
        service(sdb_client, s3_client, bucket).handle(
            request(action="restore", version_id=damaged, mode="exact", confirm=DOMAIN), forever
        )
    assert writes() == {}
    assert contents(sdb_client, DOMAIN) == before
    assert not lock_exists(s3_client, bucket)


def test_a_dump_whose_metadata_disagrees_with_its_contents_is_refused(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    key = dump_key(DOMAIN)
    original = s3_client.get_object(Bucket=bucket, Key=key)
    version = s3_client.put_object(
        Bucket=bucket,
        Key=key,
        Body=original["Body"].read(),
        Metadata={**original["Metadata"], "item-count": "9999"},
    )["VersionId"]
    sdblocal.controls.reset_counts()
    with pytest.raises(DumpCorruptError, match="metadata"):
        service(sdb_client, s3_client, bucket).handle(
            request(action="restore", version_id=version, confirm=DOMAIN), forever
        )
    assert writes() == {}


def test_an_unknown_version_is_refused_naming_it(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    sdblocal.controls.reset_counts()
    with pytest.raises(
        DumpNotFoundError, match="version_id 'no-such-version' is not a dump of domain 'packages'"
    ):
        service(sdb_client, s3_client, bucket).handle(
            request(action="restore", version_id="no-such-version", confirm=DOMAIN), forever
        )
    assert writes() == {}


def test_a_time_before_the_first_dump_is_refused(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    with pytest.raises(DumpNotFoundError, match="as_of 2020-01-01T00:00:00\\+00:00: no dump"):
        service(sdb_client, s3_client, bucket).handle(
            request(action="plan", as_of="2020-01-01T00:00:00"), forever
        )


def test_as_of_picks_the_newest_dump_at_or_before_that_time(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    newer = dump(sdb_client, s3_client, bucket)
    listed = service(sdb_client, s3_client, bucket).handle(request(action="list"), forever)
    assert [entry["version_id"] for entry in listed["dumps"]] == [newer, changed_domain]
    assert listed["dumps"][1]["items"] == 64
    assert listed["dumps"][0]["trigger"] == "manual"
    versions = s3_client.list_object_versions(Bucket=bucket, Prefix=dump_key(DOMAIN))["Versions"]
    times = {version["VersionId"]: version["LastModified"] for version in versions}
    resolve = service(sdb_client, s3_client, bucket).catalog.resolve
    assert resolve(DOMAIN, None, times[newer]).version_id == newer
    if times[newer] > times[changed_domain]:  # moto's times have one-second resolution
        just_before = times[newer] - timedelta(microseconds=1)
        assert resolve(DOMAIN, None, just_before).version_id == changed_domain


def test_no_confirm_answers_with_the_plan_and_writes_nothing(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    before = contents(sdb_client, DOMAIN)
    sdblocal.controls.reset_counts()
    for confirm in (None, "wrong-domain"):
        with pytest.raises(ConfirmationRequiredError) as refused:
            service(sdb_client, s3_client, bucket).handle(
                request(action="restore", mode="exact", confirm=confirm), forever
            )
        assert "to write into it, confirm with the target's name" in str(refused.value)
        [confirmed] = refused.value.next_steps  # the restore as planned, confirmed: what to send next
        assert confirmed["event"] == {
            "action": "restore",
            "domain": DOMAIN,
            "mode": "exact",
            "confirm": DOMAIN,
        }
        assert "{" not in str(refused.value)  # the message names the field, it spells no event
        assert refused.value.plan is not None
        assert refused.value.plan["items"]["delete"] == 1
    assert writes() == {}
    assert contents(sdb_client, DOMAIN) == before
    assert not lock_exists(s3_client, bucket)
    # No safety backup either: the dump key still has only the one version.
    listed = s3_client.list_object_versions(Bucket=bucket, Prefix=dump_key(DOMAIN))["Versions"]
    assert len(listed) == 1


def test_an_existing_empty_domain_needs_no_confirm(sdb_client: Any, s3_client: Any, bucket: str) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    sdb_client.create_domain(DomainName=NEW_DOMAIN)
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", target_domain=NEW_DOMAIN), forever
    )
    assert answer["status"] == "complete"
    assert answer["target_created"] is False
    assert answer["safety_backup"] is None


def test_a_second_restore_of_the_same_target_is_refused_while_the_lock_is_held(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(
        Bucket=bucket,
        Key=lock_key(DOMAIN),
        Body=json.dumps(
            sealed_document(
                lock_key(DOMAIN),
                {
                    "run_id": "restore-other",
                    "domain": DOMAIN,
                    "target": DOMAIN,
                    "expires_at": "2999-01-01T00:00:00+00:00",
                },
            )
        ).encode(),
    )
    sdblocal.controls.reset_counts()
    with pytest.raises(RestoreInProgressError, match="run restore-other") as refused:
        service(sdb_client, s3_client, bucket).handle(request(action="restore", confirm=DOMAIN), forever)
    # The way out is named as a step: see what unlocking would remove (the lock is live until it expires).
    assert [step["event"] for step in refused.value.next_steps] == [{"action": "unlock", "domain": DOMAIN}]
    assert writes() == {}
    assert lock_exists(s3_client, bucket)  # someone else's lock is left alone


# --- safety backup, interruption -------------------------------------------------------------------------------


def test_the_safety_backup_undoes_the_restore(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    before = contents(sdb_client, DOMAIN)
    restore_service = service(sdb_client, s3_client, bucket)
    answer = restore_service.handle(request(action="restore", mode="exact", confirm=DOMAIN), forever)
    safety = answer["safety_backup"]
    assert safety["items"] == len(before)
    head = s3_client.head_object(Bucket=bucket, Key=dump_key(DOMAIN), VersionId=safety["version_id"])
    assert head["Metadata"]["trigger"] == "pre-restore"
    assert contents(sdb_client, DOMAIN) != before

    undo = restore_service.handle(request(**safety["undo"]), forever)
    assert undo["status"] == "complete"
    assert contents(sdb_client, DOMAIN) == before


class Killed(BaseException):
    """Stands for the invocation dying mid-write (tests/integration/test_crash.py kills real processes)."""


def test_a_restore_that_dies_part_way_and_is_run_again_ends_exact(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = [package(f"item{index:04d}", value=str(index), kind="original") for index in range(400)]
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    database_changes = [package(f"item{index:04d}", value="changed") for index in range(0, 400, 2)]
    fill(sdb_client, DOMAIN, [*database_changes, package("extra", value="1")])

    dying = fail_calls_after(sdb_client, "BatchPutAttributes", 3, Killed)
    with pytest.raises(Killed):
        service(sdb_client, s3_client, bucket, restore_workers=1).handle(
            request(action="restore", mode="exact", confirm=DOMAIN), forever
        )
    dying.remove()
    partial = contents(sdb_client, DOMAIN)
    assert partial != as_dict(items)  # part-way: some items restored, not all
    assert sum(partial[item.name] == item.attributes for item in items) > 200

    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), forever
    )
    assert answer["status"] == "complete"
    assert answer["verification"]["verified"] is True
    assert contents(sdb_client, DOMAIN) == as_dict(items)
    assert not lock_exists(s3_client, bucket)


def test_an_abandoned_lock_is_taken_over_once_it_expired(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(
        Bucket=bucket,
        Key=lock_key(DOMAIN),
        Body=json.dumps(
            sealed_document(
                lock_key(DOMAIN),
                {
                    "run_id": "restore-20261126T030000Z-0123456789ab",
                    "domain": DOMAIN,
                    "target": DOMAIN,
                    "taken_at": "2026-11-26T03:00:00+00:00",
                    "expires_at": (utc_datetime() + timedelta(seconds=600)).isoformat(),
                },
            )
        ).encode(),
    )
    with pytest.raises(RestoreInProgressError, match=r"saved no state; after .* its lock may be removed"):
        service(sdb_client, s3_client, bucket).handle(request(action="restore", confirm=DOMAIN), forever)

    later = utc_datetime() + timedelta(seconds=600 + LOCK_GRACE_SECONDS + 1)
    answer = service(sdb_client, s3_client, bucket, clock=lambda: later).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), forever
    )
    assert answer["status"] == "complete"
    assert contents(sdb_client, DOMAIN) == as_dict(original_domain())
    assert not lock_exists(s3_client, bucket)


def test_running_the_same_restore_twice_changes_nothing_the_second_time(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    restore_service = service(sdb_client, s3_client, bucket)
    version = {"version_id": changed_domain}
    restore_service.handle(request(action="restore", mode="exact", confirm=DOMAIN, **version), forever)
    sdblocal.controls.reset_counts()
    again = restore_service.handle(
        request(action="restore", mode="exact", confirm=DOMAIN, **version), forever
    )
    assert again["plan"]["items"] == {"create": 0, "update": 0, "delete": 0, "unchanged": 64}
    assert again["safety_backup"] is None  # nothing is written, so there is nothing to undo
    assert again["safety_backup_skipped"] == "the target already matched the source: nothing to write"
    assert writes() == {}
    assert contents(sdb_client, DOMAIN) == as_dict(original_domain())


def test_latest_and_as_of_skip_safety_backups(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    restore_service = service(sdb_client, s3_client, bucket)
    first = restore_service.handle(request(action="restore", mode="exact", confirm=DOMAIN), forever)
    assert first["safety_backup"] is not None
    listed = restore_service.handle(request(action="list"), forever)["dumps"]
    assert [entry["trigger"] for entry in listed] == ["pre-restore", "manual"]
    assert restore_service.catalog.resolve(DOMAIN, None, None).version_id == changed_domain
    assert restore_service.catalog.resolve(DOMAIN, None, utc_datetime()).version_id == changed_domain


def test_status_reports_a_finished_run(
    changed_domain: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    restore_service = service(sdb_client, s3_client, bucket)
    answer = restore_service.handle(request(action="restore", confirm=DOMAIN), forever)
    status = restore_service.handle(request(action="status", run_id=answer["run_id"]), forever)
    assert status["status"] == "complete"
    assert status["written"] == answer["written"]
    missing = "restore-20200101T000000Z-0123456789ab"
    with pytest.raises(InvalidRequestError, match=f"run_id: no restore run '{missing}'"):
        restore_service.handle(request(action="status", run_id=missing), forever)
    with pytest.raises(InvalidRequestError, match="run_id: String should match pattern"):
        request(action="status", run_id="../../etc/passwd")


@pytest.mark.parametrize("mode", ["exact", "merge"])
def test_a_target_that_does_not_end_equal_to_the_dump_fails_verification(
    changed_domain: str,
    sdb_client: Any,
    s3_client: Any,
    bucket: str,
    mode: str,
) -> None:
    """A lost write (here: every batch put is dropped) is caught by the read-back, whichever path verifies:
    exact mode compares the target's totals with the dump's, then explains the mismatch item by item."""
    answer_calls(sdb_client, "BatchPutAttributes")
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode=mode, confirm=DOMAIN), forever
    )
    assert answer["status"] == "failed"
    assert answer["verification"]["verified"] is False
    assert answer["verification"]["mismatches"] >= 2  # the re-created a1 and the reverted b1 are missing
    assert answer["verification"]["sample"]
