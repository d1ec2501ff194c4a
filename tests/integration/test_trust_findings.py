"""Issue 10's findings, each reproduced and shown fixed (the hostile-input corpus, the memory bounds, network
faults and kills have files of their own: test_hostile_corpus, test_memory_bounds, test_network_faults,
test_crash)."""

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
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
    service,
    writes,
)

import sdblocal
from callhooks import fail_calls_after
from simpledb_backup.aws.keys import dump_key, last_restore_key, lock_key, status_key
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.request import run_backup_request
from simpledb_backup.backup.service import BackupService
from simpledb_backup.config import Settings
from simpledb_backup.errors import InvalidRequestError, InvalidStateError, RestoreInProgressError
from simpledb_backup.events import BackupEvent, parse_event
from simpledb_backup.restore.lock import LockHolder, RunLookup, TargetLock
from simpledb_backup.runtime import Deadline, utc_datetime


def rejected(code: str = "InvalidParameterValue") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "rejected"}}, "BatchPutAttributes")


def metric_records(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith('{"_aws"')]


# --- 1. a restore that SimpleDB stops mid-way answers "failed", never "refused" ---------------------------


def test_a_write_rejected_mid_way_fails_naming_what_was_written_and_how_to_undo(
    sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    items = [package(f"item{index:04d}", value=str(index)) for index in range(200)]
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    fill(sdb_client, DOMAIN, [package(f"item{index:04d}", value="changed") for index in range(200)])
    fail_calls_after(sdb_client, "BatchPutAttributes", 2, rejected)
    capsys.readouterr()
    answer = service(sdb_client, s3_client, bucket, restore_workers=1).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), forever
    )
    assert answer["status"] == "failed"
    assert answer["error"]["kind"] == "invalid-request"
    assert answer["written"]["items_written"] == 50  # the two batches that went through
    safety = answer["safety_backup"]
    assert safety["undo"] == {
        "action": "restore",
        "domain": DOMAIN,
        "version_id": safety["version_id"],
        "mode": "exact",
        "confirm": DOMAIN,
    }
    assert f"undo with the safety backup version {safety['version_id']}" in answer["message"]
    failed = [record for record in metric_records(capsys.readouterr().out) if "RestoreFailed" in record]
    assert [record["RestoreFailed"] for record in failed] == [[1.0]]
    saved = json.loads(s3_client.get_object(Bucket=bucket, Key=status_key(answer["run_id"]))["Body"].read())
    assert saved["status"] == "failed"
    assert not s3_client.list_objects_v2(Bucket=bucket, Prefix=lock_key(DOMAIN)).get("KeyCount")


# --- 6. saved state is not a trust boundary -----------------------------------------------------------------


def test_a_planted_state_cannot_steer_a_resume(sdb_client: Any, s3_client: Any, bucket: str) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    s3_client.put_object(Bucket=bucket, Key="imports/planted.json", Body=b'{"metadata": {}, "packages": {}}')
    run_id = "restore-20261126T030000Z-0123456789ab"
    planted = {
        "run_id": run_id,
        "request": {
            "action": "restore",
            "domain": DOMAIN,
            "mode": "exact",
            "source": "repoman",
            "source_key": "imports/planted.json",
        },
        "source": {"kind": "repoman", "key": "imports/planted.json", "version_id": "null"},
        "target": DOMAIN,
        "started_at": "2026-11-26T03:00:00Z",
        "phase": "writing",
        "status": "continued",
        "safety_backup_skipped": "the target was empty",
    }
    s3_client.put_object(Bucket=bucket, Key=status_key(run_id), Body=json.dumps(planted).encode())
    sdblocal.controls.reset_counts()
    with pytest.raises(InvalidStateError, match="no longer holds the lock on packages"):
        service(sdb_client, s3_client, bucket).handle(request(action="restore", run_id=run_id), forever)
    assert writes() == {}
    assert contents(sdb_client, DOMAIN) == as_dict(original_domain())


def test_a_state_changed_while_its_run_is_parked_is_refused_on_resume(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    change_since_dump(sdb_client)
    parked = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), Deadline(lambda: 10.0, 30.0)
    )
    assert parked["status"] == "continued"
    key = status_key(parked["run_id"])
    state = json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    state["phase"], state["safety_backup_skipped"] = (
        "writing",
        "the target was empty",
    )  # skip the safety backup
    s3_client.put_object(Bucket=bucket, Key=key, Body=json.dumps(state).encode())
    sdblocal.controls.reset_counts()
    with pytest.raises(InvalidStateError):
        service(sdb_client, s3_client, bucket).handle(request(**parked["continues_with"]), forever)
    assert writes() == {}


# --- 7. two restores taking over the same expired lock: exactly one wins ---------------------------------------


class NoRuns(RunLookup):
    def parked(self, run_id: str) -> bool:
        return False

    def resume_event(self, run_id: str) -> dict[str, Any] | None:
        return None


class InterleavingStore(BucketStore):
    """Lets a second contender take the lock between this contender's read of the lock and its write."""

    def __init__(self, client: Any, bucket: str) -> None:
        super().__init__(client, bucket)
        self.meanwhile: list[Any] = []

    def get_json_and_etag(self, key: str) -> tuple[Any, str] | None:
        found = super().get_json_and_etag(key)
        while self.meanwhile:
            self.meanwhile.pop()()
        return found


def test_two_restores_taking_over_one_expired_lock_exactly_one_wins(s3_client: Any, bucket: str) -> None:
    expired = {
        "run_id": "restore-20261126T030000Z-000000000000",
        "domain": DOMAIN,
        "target": DOMAIN,
        "expires_at": "2000-01-01T00:00:00+00:00",
    }
    s3_client.put_object(Bucket=bucket, Key=lock_key(DOMAIN), Body=json.dumps(expired).encode())
    store = InterleavingStore(s3_client, bucket)
    first, second = TargetLock(store, NoRuns()), TargetLock(BucketStore(s3_client, bucket), NoRuns())

    def holder(lock: TargetLock, run: str) -> LockHolder:
        return lock.holder_for(f"restore-20261126T030000Z-{run * 12}", DOMAIN, DOMAIN, {}, 60)

    store.meanwhile.append(lambda: second.acquire(holder(second, "b")))
    with pytest.raises(RestoreInProgressError):
        first.acquire(holder(first, "a"))
    current = json.loads(s3_client.get_object(Bucket=bucket, Key=lock_key(DOMAIN))["Body"].read())
    assert current["run_id"].endswith("b" * 12)


# --- 8. bad inputs answer "refused", never an exception -----------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"action": "plan", "version_id": "v" * (1 << 20)},
            "version_id: is 1,048,576 bytes; S3 keys and version ids are at most 1,024 UTF-8 bytes",
        ),
        ({"action": "plan", "source": "repoman", "source_key": "imports/" + "k" * (1 << 20)}, "source_key"),
        (
            {"action": "plan", "items": ["a\ud800b"]},
            "items.0: Input should be a valid string, unable to parse raw data as a unicode",
        ),
        ({"action": "plan", "match": {"name": "\udfff"}}, "match.name: Input should be a valid string"),
        ({"action": "restore", "confirm": "\ud800"}, "confirm: Input should be a valid string"),
    ],
)
def test_oversized_or_unencodable_fields_are_refused_by_the_event_model(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        request(**fields)


# --- 9. a subset's where clause cannot escape its segment ---------------------------------------------------


def test_a_where_clause_that_would_escape_its_segment_is_refused_before_any_select() -> None:
    with pytest.raises(InvalidRequestError, match=r"where: unexpected '\)' at position 21"):
        parse_event(BackupEvent, {"where": "`component` = 'main') or (`component` = 'main'", "label": "main"})


# --- 10. loose ends -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["*", "re?tored-*", "restored-[ab]*", "a*b", "a**", "restored *"])
def test_a_target_pattern_iam_would_read_differently_is_refused(bucket: str, pattern: str) -> None:
    with pytest.raises(ValueError, match="restore_target_pattern"):
        Settings(backup_bucket=bucket, domain_names=(DOMAIN,), restore_target_pattern=pattern)


def test_the_target_pattern_matches_as_iam_does(bucket: str) -> None:
    settings = Settings(backup_bucket=bucket, domain_names=(DOMAIN,), restore_target_pattern="restored-*")
    assert settings.may_restore_into("restored-")
    assert settings.may_restore_into("restored-x.y_z")
    assert not settings.may_restore_into("restoredx")
    assert not settings.may_restore_into("other")
    exact = Settings(backup_bucket=bucket, domain_names=(DOMAIN,), restore_target_pattern="scratch")
    assert exact.may_restore_into("scratch")
    assert not exact.may_restore_into("scratch2")


# --- 11. a backup never publishes a dump of a domain a restore is writing -----------------------------------


def backup_service(sdb_client: Any, s3_client: Any, bucket: str) -> BackupService:
    return BackupService(SimpleDB(sdb_client), BucketStore(s3_client, bucket), segments=2)


def test_a_backup_skips_a_domain_whose_restore_holds_the_lock(
    sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    s3_client.put_object(Bucket=bucket, Key=lock_key(DOMAIN), Body=b'{"run_id": "restore-x"}')
    capsys.readouterr()
    outcome = run_backup_request(
        BackupEvent(trigger="schedule"),
        backup_service(sdb_client, s3_client, bucket),
        (DOMAIN,),
        forever,
        lambda event: None,
    )
    assert outcome.summary()["status"] == "ok"
    assert outcome.results == []
    assert outcome.skipped[0]["domain"] == DOMAIN
    assert "a restore is writing packages" in outcome.skipped[0]["message"]
    assert not s3_client.list_object_versions(Bucket=bucket, Prefix=dump_key(DOMAIN)).get("Versions")
    skipped = [record for record in metric_records(capsys.readouterr().out) if "BackupSkipped" in record]
    assert skipped
    assert skipped[0]["domain"] == DOMAIN


def test_a_backup_overtaken_by_a_restore_is_not_published(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    backups = backup_service(sdb_client, s3_client, bucket)
    later = (utc_datetime() + timedelta(seconds=5)).isoformat()
    s3_client.put_object(
        Bucket=bucket, Key=last_restore_key(DOMAIN), Body=json.dumps({"run_id": "r", "at": later}).encode()
    )
    outcome = run_backup_request(BackupEvent(), backups, (DOMAIN,), forever, lambda event: None)
    assert outcome.skipped
    assert "while this backup" in outcome.skipped[0]["message"]
    assert not s3_client.list_object_versions(Bucket=bucket, Prefix=dump_key(DOMAIN)).get("Versions")


def test_a_restore_leaves_the_mark_a_running_backup_checks(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", target_domain=NEW_DOMAIN), forever
    )
    mark = json.loads(s3_client.get_object(Bucket=bucket, Key=last_restore_key(NEW_DOMAIN))["Body"].read())
    assert mark["run_id"] == answer["run_id"]
