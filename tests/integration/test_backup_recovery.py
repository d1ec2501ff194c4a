"""RUNBOOK, BackupFailedAlarm: a backup continuation that failed, or whose invocation was killed, is resumed by
its event and completes the one dump; a duplicate or late continuation never publishes twice (issue 10,
finding 5: re-sending a killed continuation answered "ok" with no dump, and a failed one had lost its upload)."""

import io
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from restore_helpers import fill

from callhooks import fail_calls_after
from repomandata import repoman_domain_items
from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.request import BackupRequestOutcome, run_backup_request
from simpledb_backup.backup.service import BackupService
from simpledb_backup.events import BackupEvent
from simpledb_backup.formats.dumpformat import read_dump
from simpledb_backup.items import Item
from simpledb_backup.runtime import Clock, Deadline, utc_datetime

DOMAIN = "packages"


def stepping_deadline() -> Deadline:
    """A page or two per invocation: each reading of the clock takes a second, 31 s against a 30 s margin."""
    ticks = iter(range(10**6))
    return Deadline(lambda: 31.0 - next(ticks), 30.0)


def service(sdb_client: Any, s3_client: Any, bucket: str, clock: Clock = utc_datetime) -> BackupService:
    return BackupService(SimpleDB(sdb_client), BucketStore(s3_client, bucket), segments=1, clock=clock)


def backup(
    backups: BackupService, event: BackupEvent, deadline: Deadline
) -> tuple[BackupRequestOutcome, list[BackupEvent]]:
    continued: list[BackupEvent] = []
    return run_backup_request(event, backups, (DOMAIN,), deadline, continued.append), continued


def versions(s3_client: Any, bucket: str) -> list[dict[str, Any]]:
    return s3_client.list_object_versions(Bucket=bucket, Prefix=dump_key(DOMAIN)).get("Versions", [])


def dumped(s3_client: Any, bucket: str) -> list[Item]:
    body = s3_client.get_object(Bucket=bucket, Key=dump_key(DOMAIN))["Body"].read()
    return list(read_dump(io.BytesIO(body)))


@pytest.fixture
def big_domain(sdb_client: Any) -> list[Item]:
    items = list(repoman_domain_items(1500))  # ~2 MB: several Select pages
    fill(sdb_client, DOMAIN, items)
    return items


def test_a_failed_continuation_is_resumed_by_the_event_its_failure_names(
    big_domain: list[Item], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    backups = service(sdb_client, s3_client, bucket)
    first, [continuation] = backup(backups, BackupEvent(trigger="manual"), stepping_deadline())
    assert first.summary()["status"] == "continued"
    broken = fail_calls_after(
        s3_client, "UploadPart", 0, lambda: ClientError({"Error": {"Code": "InternalError"}}, "UploadPart")
    )
    failed, _ = backup(service(sdb_client, s3_client, bucket), continuation, Deadline(lambda: 900.0, 30.0))
    broken.remove()
    [failure] = failed.failures
    assert failure["domain"] == DOMAIN
    resume = BackupEvent.model_validate(failure["resume_with"])
    assert resume.resume_run_id == continuation.resume_run_id
    assert versions(s3_client, bucket) == []

    resumed, _ = backup(service(sdb_client, s3_client, bucket), resume, Deadline(lambda: 900.0, 30.0))
    assert resumed.summary()["status"] == "ok"
    assert len(versions(s3_client, bucket)) == 1
    assert sorted(dumped(s3_client, bucket)) == sorted(big_domain)


def test_a_killed_continuation_is_resumed_once_its_lease_expired_and_never_published_twice(
    big_domain: list[Item], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    backups = service(sdb_client, s3_client, bucket)
    _, [continuation] = backup(backups, BackupEvent(trigger="manual"), stepping_deadline())
    # The continuation's invocation takes the run's lease and dies (no finally runs, the lease stays).
    dying = service(sdb_client, s3_client, bucket)
    dying.claim_continuation(dying.load(continuation.resume_run_id or ""), Deadline(lambda: 900.0, 30.0))

    too_soon, _ = backup(service(sdb_client, s3_client, bucket), continuation, Deadline(lambda: 900.0, 30.0))
    [skipped] = too_soon.skipped
    assert "being continued by another invocation" in skipped["message"]
    assert "send this event again after then" in skipped["message"]
    assert versions(s3_client, bucket) == []

    later = utc_datetime() + timedelta(seconds=900 + 61)
    resumed, _ = backup(
        service(sdb_client, s3_client, bucket, clock=lambda: later),
        continuation,
        Deadline(lambda: 900.0, 30.0),
    )
    assert resumed.summary()["status"] == "ok"
    assert sorted(dumped(s3_client, bucket)) == sorted(big_domain)

    duplicate, _ = backup(
        service(sdb_client, s3_client, bucket, clock=lambda: later),
        continuation,
        Deadline(lambda: 900.0, 30.0),
    )
    assert "already published" in duplicate.skipped[0]["message"]
    assert len(versions(s3_client, bucket)) == 1
