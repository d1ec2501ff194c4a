"""Issue 10's findings, each reproduced and shown fixed (the hostile-input corpus, the memory bounds, network
faults and kills have files of their own: test_hostile_corpus, test_memory_bounds, test_network_faults,
test_crash)."""

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
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
    sealed_document,
    service,
    state_mac,
    writes,
)

import sdblocal
from callhooks import fail_calls_after
from localrun import ROOT, invoke, load_handler
from simpledb_backup.aws import clients
from simpledb_backup.aws.keys import dump_key, last_restore_key, lock_key, status_key
from simpledb_backup.aws.restoremarks import RestoreMarks
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.aws.statemac import SealedDocuments, StateMac
from simpledb_backup.backup.request import run_backup_request
from simpledb_backup.backup.service import BackupService
from simpledb_backup.config import Settings
from simpledb_backup.errors import (
    InvalidRequestError,
    RestoreInProgressError,
    UnverifiedStateError,
)
from simpledb_backup.events import BackupEvent, parse_event
from simpledb_backup.items import Item
from simpledb_backup.restore.lock import LockHolder, RunLookup, TargetLock
from simpledb_backup.restore.state import RestoreState
from simpledb_backup.runtime import Deadline, state_document, utc_datetime
from statekey import create_state_key, state_key_properties

TEMPLATE = ROOT / "template.yaml"


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


# --- 6. saved state is not a trust boundary (issue 16: states and locks are sealed with the state key) --------

IMPORT = "imports/planted.json"


def attacker_fingerprint(document: dict[str, Any]) -> str:
    """What the lock used to "vouch" for a state with: a SHA-256 anyone can recompute from the state alone."""
    fields = {name: value for name, value in document.items() if name not in ("updated_at", "status")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def repoman_domain_of(count: int) -> list[Item]:
    return [
        package("meta", dists="stable"),
        *[package(f"p{index:05d}", name=f"n{index}") for index in range(count - 1)],
    ]


def plant_empty_repoman_import(s3_client: Any, bucket: str) -> str:
    """A Repoman backup holding only its meta item: an exact restore of it deletes every package."""
    body = b'{"metadata": {"dists": ["stable"]}, "packages": {}}'
    return str(s3_client.put_object(Bucket=bucket, Key=IMPORT, Body=body)["VersionId"])


def put(s3_client: Any, bucket: str, key: str, document: object) -> None:
    s3_client.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())


def read(s3_client: Any, bucket: str, key: str) -> Any:
    return json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_forged_state_and_a_lock_vouching_for_it_are_refused_with_no_write(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    """Before: the resume, without confirm, deleted 2,999 of the 3,000 items, with no safety backup."""
    fill(sdb_client, DOMAIN, repoman_domain_of(3000))
    version = plant_empty_repoman_import(s3_client, bucket)
    run_id = "restore-20261126T030000Z-0123456789ab"
    state = state_document(
        RestoreState(
            run_id=run_id,
            request={
                "action": "restore",
                "domain": DOMAIN,
                "mode": "exact",
                "source": "repoman",
                "source_key": IMPORT,
            },
            source={"kind": "repoman", "key": IMPORT, "version_id": version},
            target=DOMAIN,
            started_at="2026-11-26T03:00:00Z",
            phase="writing",
            status="continued",
            safety_backup_skipped="the target was empty",
        )
    )
    put(s3_client, bucket, status_key(run_id), state)
    lock = {
        "run_id": run_id,
        "domain": DOMAIN,
        "target": DOMAIN,
        "expires_at": (utc_datetime() + timedelta(hours=1)).isoformat(),
        "vouches_for": [attacker_fingerprint(state)],
    }
    put(s3_client, bucket, lock_key(DOMAIN), lock)
    sdblocal.controls.reset_counts()
    with pytest.raises(
        UnverifiedStateError, match=rf"restores/{run_id}.json was not written by this service"
    ):
        service(sdb_client, s3_client, bucket).handle(request(action="restore", run_id=run_id), forever)
    assert writes() == {}
    assert len(contents(sdb_client, DOMAIN)) == 3000
    assert read(s3_client, bucket, lock_key(DOMAIN)) == lock  # refused, not taken over: a person looks at it


def test_a_state_edited_between_the_invocations_of_a_genuine_restore_is_refused_with_no_write(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    """Before: the genuine run's own continuation, its state and lock edited, deleted 2,800 items."""
    fill(sdb_client, DOMAIN, repoman_domain_of(2801))
    dump(sdb_client, s3_client, bucket)
    sdb_client.put_attributes(DomainName=DOMAIN, ItemName="p00001", Attributes=[{"Name": "x", "Value": "y"}])
    version = plant_empty_repoman_import(s3_client, bucket)
    parked = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), Deadline(lambda: 10.0, 30.0)
    )
    assert parked["status"] == "continued"
    key = status_key(parked["run_id"])
    state = read(s3_client, bucket, key)
    state["request"].pop("version_id", None)
    state["request"].update(source="repoman", source_key=IMPORT)
    state["source"] = {"kind": "repoman", "key": IMPORT, "version_id": version}
    state["phase"], state["safety_backup_skipped"] = "writing", "the target was empty"
    put(s3_client, bucket, key, state)  # the MAC it carries still names the genuine state: it fails
    lock = read(s3_client, bucket, lock_key(DOMAIN))
    lock["vouches_for"] = [attacker_fingerprint(state)]
    put(s3_client, bucket, lock_key(DOMAIN), lock)
    sdblocal.controls.reset_counts()
    with pytest.raises(UnverifiedStateError, match="its MAC does not verify"):
        service(sdb_client, s3_client, bucket).handle(request(**parked["continues_with"]), forever)
    assert writes() == {}
    assert len(contents(sdb_client, DOMAIN)) == 2801


def test_a_genuine_lock_that_was_edited_is_refused_with_no_write(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    change_since_dump(sdb_client)
    parked = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), Deadline(lambda: 10.0, 30.0)
    )
    lock = read(s3_client, bucket, lock_key(DOMAIN))
    lock["expires_at"] = "2000-01-01T00:00:00+00:00"  # "abandoned", so that anyone may take it over
    put(s3_client, bucket, lock_key(DOMAIN), lock)
    sdblocal.controls.reset_counts()
    with pytest.raises(UnverifiedStateError, match=r"locks/packages.lock was not written by this service"):
        service(sdb_client, s3_client, bucket).handle(request(**parked["continues_with"]), forever)
    with pytest.raises(UnverifiedStateError, match=r"locks/packages.lock"):
        service(sdb_client, s3_client, bucket).handle(request(action="restore", confirm=DOMAIN), forever)
    assert writes() == {}


def test_a_genuine_state_copied_to_another_run_does_not_verify(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    """The MAC binds a document to its key: a drill's state is no restore's, one run's is no other run's."""
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    change_since_dump(sdb_client)
    parked = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), Deadline(lambda: 10.0, 30.0)
    )
    genuine = read(s3_client, bucket, status_key(parked["run_id"]))
    other = "restore-20261126T030000Z-00000000000a"
    put(s3_client, bucket, status_key(other), {**genuine, "run_id": other})
    with pytest.raises(UnverifiedStateError):
        service(sdb_client, s3_client, bucket).handle(request(action="status", run_id=other), forever)
    put(s3_client, bucket, status_key(other), genuine)
    with pytest.raises(UnverifiedStateError):
        service(sdb_client, s3_client, bucket).handle(request(action="status", run_id=other), forever)


@pytest.mark.parametrize(
    "body",
    [b"\x00garbage", b"[1, 2]", b'{"run_id": "x"}', b"{" * 100_000, b"x" * (1024 * 1024 + 10)],
    ids=["binary", "json-list", "unsealed", "deep", "oversized"],
)
def test_a_garbage_lock_is_refused_never_raised(
    sdb_client: Any, s3_client: Any, bucket: str, body: bytes
) -> None:
    """Before: the restore raised a storage error (a Lambda error, exit 1) on a lock that was not JSON."""
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    s3_client.put_object(Bucket=bucket, Key=lock_key(DOMAIN), Body=body)
    sdblocal.controls.reset_counts()
    with pytest.raises(UnverifiedStateError, match="not written by this service"):
        service(sdb_client, s3_client, bucket).handle(request(action="restore", confirm=DOMAIN), forever)
    assert writes() == {}


@pytest.fixture
def functions(backup_environment: dict[str, str], aws: None) -> Iterator[None]:
    """The functions' handlers in fresh containers (settings and clients made again), in this test's AWS."""

    def fresh() -> None:
        for function in ("backup", "restore", "drill"):
            load_handler(function).settings.cache_clear()
        load_handler("backup").backup_service.cache_clear()
        for client in (clients.sdb_client, clients.s3_client, clients.kms_client):
            client.cache_clear()

    fresh()
    yield
    fresh()


@pytest.mark.usefixtures("functions")
def test_the_function_answers_refused_for_a_garbage_lock(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    invoke("backup", {"trigger": "manual", "domains": [DOMAIN]})
    s3_client.put_object(Bucket=bucket, Key=lock_key(DOMAIN), Body=b"\x00garbage")
    sdblocal.controls.reset_counts()
    [answer] = invoke("restore", {"action": "restore", "domain": DOMAIN, "confirm": DOMAIN})
    assert answer["status"] == "refused"
    assert answer["error"]["kind"] == "unverified-state"
    assert writes() == {}


def test_a_lock_sealed_with_another_key_does_not_verify(sdb_client: Any, s3_client: Any, bucket: str) -> None:
    kms = boto3.client("kms")
    other_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    lock = {
        "run_id": "restore-x",
        "domain": DOMAIN,
        "target": DOMAIN,
        "expires_at": "2000-01-01T00:00:00+00:00",
    }
    put(s3_client, bucket, lock_key(DOMAIN), StateMac(kms, other_key).seal(lock_key(DOMAIN), lock))
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    sdblocal.controls.reset_counts()
    with pytest.raises(UnverifiedStateError, match="its MAC does not verify"):
        service(sdb_client, s3_client, bucket).handle(request(action="restore", confirm=DOMAIN), forever)
    assert writes() == {}


def test_states_and_locks_are_sealed_and_a_parked_restore_resumes(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    change_since_dump(sdb_client)
    parked = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", confirm=DOMAIN), Deadline(lambda: 10.0, 30.0)
    )
    for key in (status_key(parked["run_id"]), lock_key(DOMAIN), last_restore_key(DOMAIN)):
        assert read(s3_client, bucket, key)["mac"]["algorithm"] == "HMAC_SHA_256"
    answer = service(sdb_client, s3_client, bucket).handle(request(**parked["continues_with"]), forever)
    assert answer["status"] == "complete"
    assert contents(sdb_client, DOMAIN) == as_dict(original_domain())


def test_the_local_state_key_is_made_as_the_template_declares_it(aws: None) -> None:
    kms = boto3.client("kms")
    made = create_state_key(kms, "alias/made-here", TEMPLATE)
    assert (made["key_spec"], made["key_usage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    assert create_state_key(kms, "alias/made-here", TEMPLATE) == made  # a rerun finds the same key
    assert state_key_properties(TEMPLATE)["Description"].startswith("simpledb-backup: seals restore")


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

    def get_bytes_and_etag(self, key: str, max_bytes: int = 1 << 20) -> tuple[bytes, str] | None:
        found = super().get_bytes_and_etag(key, max_bytes)
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
    put(s3_client, bucket, lock_key(DOMAIN), sealed_document(lock_key(DOMAIN), expired))
    store = InterleavingStore(s3_client, bucket)
    first = TargetLock(SealedDocuments(store, state_mac()), NoRuns())
    second = TargetLock(SealedDocuments(BucketStore(s3_client, bucket), state_mac()), NoRuns())

    def holder(lock: TargetLock, run: str) -> LockHolder:
        return lock.holder_for(f"restore-20261126T030000Z-{run * 12}", DOMAIN, DOMAIN, {}, 60)

    store.meanwhile.append(lambda: second.acquire(holder(second, "b")))
    with pytest.raises(RestoreInProgressError):
        first.acquire(holder(first, "a"))
    current = read(s3_client, bucket, lock_key(DOMAIN))
    assert current["run_id"].endswith("b" * 12)


def test_an_unverifiable_lock_is_never_taken_over_however_old(s3_client: Any, bucket: str) -> None:
    expired = {
        "run_id": "restore-x",
        "domain": DOMAIN,
        "target": DOMAIN,
        "expires_at": "2000-01-01T00:00:00+00:00",
    }
    put(s3_client, bucket, lock_key(DOMAIN), expired)
    lock = TargetLock(SealedDocuments(BucketStore(s3_client, bucket), state_mac()), NoRuns())
    with pytest.raises(UnverifiedStateError, match=re.escape(f"aws s3 rm s3://{bucket}/{lock_key(DOMAIN)}")):
        lock.acquire(lock.holder_for("restore-20261126T030000Z-aaaaaaaaaaaa", DOMAIN, DOMAIN, {}, 60))
    assert read(s3_client, bucket, lock_key(DOMAIN)) == expired
    assert lock.holder(DOMAIN) is None


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
    store = BucketStore(s3_client, bucket)
    marks = RestoreMarks(SealedDocuments(store, state_mac()))
    return BackupService(SimpleDB(sdb_client), store, segments=2, restore_marks=marks)


def backup(sdb_client: Any, s3_client: Any, bucket: str) -> Any:
    return run_backup_request(
        BackupEvent(trigger="schedule"),
        backup_service(sdb_client, s3_client, bucket),
        (DOMAIN,),
        forever,
        lambda event: None,
    )


def published(s3_client: Any, bucket: str) -> list[Any]:
    return s3_client.list_object_versions(Bucket=bucket, Prefix=dump_key(DOMAIN)).get("Versions", [])  # type: ignore[no-any-return]


def test_a_backup_skips_a_domain_whose_restore_holds_the_lock(
    sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    lock = {
        "run_id": "restore-x",
        "domain": DOMAIN,
        "target": DOMAIN,
        "expires_at": "2999-01-01T00:00:00+00:00",
    }
    put(s3_client, bucket, lock_key(DOMAIN), sealed_document(lock_key(DOMAIN), lock))
    capsys.readouterr()
    outcome = backup(sdb_client, s3_client, bucket)
    assert outcome.summary()["status"] == "ok"
    assert outcome.results == []
    assert outcome.skipped[0]["domain"] == DOMAIN
    assert "a restore is writing packages" in outcome.skipped[0]["message"]
    assert not published(s3_client, bucket)
    skipped = [record for record in metric_records(capsys.readouterr().out) if "BackupSkipped" in record]
    assert skipped
    assert skipped[0]["domain"] == DOMAIN


def test_a_backup_overtaken_by_a_restore_is_not_published(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    later = (utc_datetime() + timedelta(seconds=5)).isoformat()
    mark = sealed_document(last_restore_key(DOMAIN), {"run_id": "r", "at": later})
    put(s3_client, bucket, last_restore_key(DOMAIN), mark)
    outcome = backup(sdb_client, s3_client, bucket)
    assert outcome.skipped
    assert "while this backup" in outcome.skipped[0]["message"]
    assert not published(s3_client, bucket)


@pytest.mark.parametrize(
    ("key", "body"),
    [
        (lock_key(DOMAIN), b'{"run_id": "restore-x"}'),
        (lock_key(DOMAIN), b"\x00garbage"),
        (last_restore_key(DOMAIN), json.dumps({"run_id": "r", "at": "2999-01-01T00:00:00+00:00"}).encode()),
        (last_restore_key(DOMAIN), b"\x00garbage"),
    ],
    ids=["planted-lock", "garbage-lock", "planted-future-mark", "garbage-mark"],
)
def test_a_lock_or_mark_that_does_not_verify_never_blocks_a_backup(
    sdb_client: Any, s3_client: Any, bucket: str, key: str, body: bytes, log_lines: Any
) -> None:
    """Before: a planted lock, or a last-restore mark dated in the future, stopped every backup of the domain."""
    fill(sdb_client, DOMAIN, original_domain())
    s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    outcome = backup(sdb_client, s3_client, bucket)
    assert outcome.skipped == []
    assert [result.status for result in outcome.results] == ["complete"]
    assert len(published(s3_client, bucket)) == 1
    ignored = [line["key"] for line in log_lines() if line["message"].startswith("a restore lock or mark")]
    assert ignored
    assert set(ignored) == {key}


@pytest.mark.usefixtures("functions")
def test_the_backup_function_checks_what_restores_sealed(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    """The function's own wiring: a planted future mark does not block it, a sealed one does."""
    fill(sdb_client, DOMAIN, original_domain())
    future = {"run_id": "r", "at": "2999-01-01T00:00:00+00:00"}
    put(s3_client, bucket, last_restore_key(DOMAIN), future)
    [answer] = invoke("backup", {"trigger": "manual", "domains": [DOMAIN]})
    assert [dump["domain"] for dump in answer["dumps"]] == [DOMAIN]
    put(s3_client, bucket, lock_key(DOMAIN), sealed_document(lock_key(DOMAIN), {"run_id": "r"}))
    [answer] = invoke("backup", {"trigger": "manual", "domains": [DOMAIN]})
    assert answer["dumps"] == []
    assert "a restore is writing packages" in answer["skipped"][0]["message"]


def test_a_restore_leaves_the_mark_a_running_backup_checks(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", target_domain=NEW_DOMAIN), forever
    )
    marks = RestoreMarks(SealedDocuments(BucketStore(s3_client, bucket), state_mac()))
    assert marks.restore_began_at(NEW_DOMAIN) is not None
    assert read(s3_client, bucket, last_restore_key(NEW_DOMAIN))["run_id"] == answer["run_id"]
