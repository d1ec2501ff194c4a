"""Issue 17, the restore function's side: runs you can find, follow and resume; a stale lock removed by the
function itself; one behaviour for a mistyped domain; structured next steps in every answer."""

import json
import threading
from datetime import timedelta
from types import ModuleType
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
    request,
    sealed_document,
    service,
    writes,
)

import sdblocal
from localrun import LocalContext, load_handler
from repomandata import repoman_domain_items
from simpledb_backup.aws import clients
from simpledb_backup.aws.keys import lock_key, status_key
from simpledb_backup.errors import ConfirmationRequiredError, RestoreInProgressError
from simpledb_backup.events import BackupEvent, parse_event, parse_restore_request
from simpledb_backup.restore.state import PARKED_STALL_SECONDS
from simpledb_backup.runtime import Deadline, utc_datetime

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
#: Always under the 30-second margin: a run parks right after its plan.
SHORT = Deadline(lambda: 10.0, 30.0)


@pytest.fixture
def changed(sdb_client: Any, s3_client: Any, bucket: str) -> str:
    fill(sdb_client, DOMAIN, original_domain())
    version = dump(sdb_client, s3_client, bucket)
    change_since_dump(sdb_client)
    return version


def lock_exists(s3_client: Any, bucket: str, target: str = DOMAIN) -> bool:
    return bool(s3_client.list_objects_v2(Bucket=bucket, Prefix=lock_key(target)).get("KeyCount"))


def events_of(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The next steps of an answer by the action of their event."""
    return {
        step["event"].get("action", "backup"): step["event"] for step in answer["next"] if "event" in step
    }


# --- runs, and resuming one ----------------------------------------------------------------------------------


def test_runs_lists_a_domains_restore_runs_newest_first_with_their_true_state(
    changed: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    restore_service = service(sdb_client, s3_client, bucket)
    complete = restore_service.handle(request(action="restore", target_domain=NEW_DOMAIN), forever)
    with pytest.raises(ConfirmationRequiredError):
        restore_service.handle(request(action="restore", mode="exact"), forever)
    parked = restore_service.handle(request(action="restore", mode="exact", confirm=DOMAIN), SHORT)
    assert parked["status"] == "continued"

    listed = restore_service.handle(request(action="runs"), forever)
    json.dumps(listed)
    assert [run["state"] for run in listed["runs"]] == ["parked", "refused", "complete"]
    assert listed["runs"][0]["run_id"] == parked["run_id"]
    assert listed["runs"][2]["run_id"] == complete["run_id"]
    assert listed["runs"][2]["target_domain"] == NEW_DOMAIN
    assert listed["runs"][1]["error"]["kind"] == "confirmation-required"
    assert listed["more"] == 0
    for run in listed["runs"]:
        assert {
            "run_id",
            "state",
            "phase",
            "started_at",
            "updated_at",
            "heartbeat_at",
            "items_to_write",
        } <= set(run)
        assert run["source"]["kind"] == "dump"
    # The parked run: follow it, and (should its continuation be lost) resume it.
    assert events_of(listed)["status"] == {"action": "status", "domain": DOMAIN, "run_id": parked["run_id"]}
    assert events_of(listed)["restore"] == {"action": "restore", "domain": DOMAIN, "run_id": parked["run_id"]}

    # A parked run whose continuation never started is stalled, after long enough.
    later = utc_datetime() + timedelta(seconds=PARKED_STALL_SECONDS + 1)
    much_later = service(sdb_client, s3_client, bucket, clock=lambda: later)
    assert much_later.handle(request(action="runs"), forever)["runs"][0]["state"] == "stalled"
    status = much_later.handle(request(action="status", run_id=parked["run_id"]), forever)
    assert (status["state"], status["status"]) == ("stalled", "continued")
    assert status["stalled_since"]
    assert "stalled since" in status["message"]


def test_a_parked_run_is_resumed_by_its_run_id(
    changed: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    restore_service = service(sdb_client, s3_client, bucket)
    parked = restore_service.handle(request(action="restore", mode="exact", confirm=DOMAIN), SHORT)
    resume = events_of(restore_service.handle(request(action="status", run_id=parked["run_id"]), forever))
    answer = restore_service.handle(parse_restore_request(resume["restore"]), forever)
    assert answer["status"] == "complete"
    assert answer["run_id"] == parked["run_id"]
    assert contents(sdb_client, DOMAIN) == as_dict(original_domain())
    assert not lock_exists(s3_client, bucket)


def test_a_run_whose_invocation_is_alive_is_neither_resumed_nor_unlocked(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = list(repoman_domain_items(400))
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    sdb_client.delete_domain(DomainName=DOMAIN)
    sdblocal.controls.configure(write_calls_per_second=4, write_calls_burst=1)  # ~4 s of writing
    restore_service = service(sdb_client, s3_client, bucket)
    answers: list[dict[str, Any]] = []
    worker = threading.Thread(
        target=lambda: answers.append(restore_service.handle(request(action="restore"), forever))
    )
    worker.start()
    try:
        run = wait_for_writing(restore_service)
        with pytest.raises(RestoreInProgressError, match="is running: an invocation works on it") as refused:
            restore_service.handle(request(action="restore", run_id=run["run_id"]), forever)
        assert list(events_of_error(refused.value)) == ["status"]
        with pytest.raises(RestoreInProgressError, match="is live"):
            restore_service.handle(request(action="unlock", confirm=DOMAIN), forever)
        assert lock_exists(s3_client, bucket)
    finally:
        worker.join()
        sdblocal.controls.reset()
    assert answers[0]["status"] == "complete"
    assert contents(sdb_client, DOMAIN) == as_dict(items)


def wait_for_writing(restore_service: Any) -> dict[str, Any]:
    """The newest run of the domain once it writes (its state says so)."""
    for _ in range(400):
        runs = restore_service.handle(request(action="runs"), forever)["runs"]
        if runs and runs[0]["phase"] == "writing" and runs[0]["state"] == "running":
            return dict(runs[0])
        threading.Event().wait(0.05)
    raise AssertionError("the run did not start writing")


def events_of_error(error: Any) -> dict[str, dict[str, Any]]:
    return {step["event"]["action"]: step["event"] for step in error.next_steps}


# --- unlock ------------------------------------------------------------------------------------------------------


def plant_lock(s3_client: Any, bucket: str, run_id: str, taken_seconds_ago: float) -> None:
    """A lock as a restore of this service writes it (sealed), whose run saved no state."""
    taken = utc_datetime() - timedelta(seconds=taken_seconds_ago)
    lock = {
        "run_id": run_id,
        "domain": DOMAIN,
        "target": DOMAIN,
        "taken_at": taken.isoformat(),
        "expires_at": (taken + timedelta(seconds=900)).isoformat(),
    }
    body = json.dumps(sealed_document(lock_key(DOMAIN), lock)).encode()
    s3_client.put_object(Bucket=bucket, Key=lock_key(DOMAIN), Body=body)


def test_unlock_removes_a_stale_lock_only_when_confirmed(
    changed: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    restore_service = service(sdb_client, s3_client, bucket)
    assert (
        restore_service.handle(request(action="unlock"), forever)["removed"] is None
    )  # no lock: nothing to do

    # A lock whose run saved nothing, taken a minute ago: its invocation is gone (a run saves its state at once).
    plant_lock(s3_client, bucket, "restore-20261126T030000Z-0123456789ab", taken_seconds_ago=60)
    sdblocal.controls.reset_counts()
    with pytest.raises(ConfirmationRequiredError, match="would remove the lock of run") as asked:
        restore_service.handle(request(action="unlock"), forever)
    assert events_of_error(asked.value)["unlock"] == {"action": "unlock", "domain": DOMAIN, "confirm": DOMAIN}
    assert lock_exists(s3_client, bucket)
    with pytest.raises(ConfirmationRequiredError):
        restore_service.handle(request(action="unlock", confirm="wrong-domain"), forever)
    assert lock_exists(s3_client, bucket)

    removed = restore_service.handle(request(action="unlock", confirm=DOMAIN), forever)
    assert removed["status"] == "ok"
    assert removed["removed"]["run_id"] == "restore-20261126T030000Z-0123456789ab"
    assert not lock_exists(s3_client, bucket)
    assert writes() == {}
    answer = restore_service.handle(request(action="restore", mode="exact", confirm=DOMAIN), forever)
    assert answer["status"] == "complete"


def test_unlock_removes_a_lock_the_service_did_not_write_once_confirmed(
    changed: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key=lock_key(DOMAIN), Body=b"garbage")
    restore_service = service(sdb_client, s3_client, bucket)
    with pytest.raises(ConfirmationRequiredError, match="a lock this service did not write"):
        restore_service.handle(request(action="unlock"), forever)
    removed = restore_service.handle(request(action="unlock", confirm=DOMAIN), forever)
    assert removed["removed"] == {"target_domain": DOMAIN, "readable": False}
    assert not lock_exists(s3_client, bucket)


def test_a_lock_just_taken_by_a_run_that_saved_nothing_yet_is_live(
    changed: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    plant_lock(s3_client, bucket, "restore-20261126T030000Z-0123456789ab", taken_seconds_ago=1)
    with pytest.raises(RestoreInProgressError, match="may still be starting"):
        service(sdb_client, s3_client, bucket).handle(request(action="unlock", confirm=DOMAIN), forever)
    assert lock_exists(s3_client, bucket)


def test_unlocking_a_parked_run_ends_it(changed: str, sdb_client: Any, s3_client: Any, bucket: str) -> None:
    restore_service = service(sdb_client, s3_client, bucket)
    parked = restore_service.handle(request(action="restore", mode="exact", confirm=DOMAIN), SHORT)
    with pytest.raises(ConfirmationRequiredError, match="the run is parked") as asked:
        restore_service.handle(request(action="unlock"), forever)
    assert set(events_of_error(asked.value)) == {"restore", "unlock"}  # resume it instead, or unlock it
    removed = restore_service.handle(request(action="unlock", confirm=DOMAIN), forever)
    assert removed["run"]["state"] == "failed"
    saved = json.loads(s3_client.get_object(Bucket=bucket, Key=status_key(parked["run_id"]))["Body"].read())
    assert saved["error"]["kind"] == "abandoned"
    sdblocal.controls.reset_counts()
    # Its continuation, should it still arrive, finds the run ended: it answers the summary and writes nothing.
    late = restore_service.handle(request(**parked["continues_with"]), forever)
    assert (late["status"], late["error"]["kind"]) == ("failed", "abandoned")
    assert writes() == {}


# --- one behaviour for a mistyped domain --------------------------------------------------------------------


@pytest.fixture
def handler(backup_environment: dict[str, str], aws: None) -> Any:
    module = load_handler("restore")
    fresh_container(module)
    yield module
    fresh_container(module)


def fresh_container(module: ModuleType) -> None:
    module.settings.cache_clear()
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()


def call(handler: ModuleType, payload: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = handler.lambda_handler(
        payload, LocalContext(function_name="simpledb-backup-restore")
    )
    json.dumps(answer)
    return answer


MISTYPED = [
    {"action": "list"},
    {"action": "plan"},
    {"action": "restore", "confirm": "pakages"},
    {"action": "status", "run_id": "restore-20261126T030000Z-0123456789ab"},
    {"action": "diff"},
    {"action": "runs"},
    {"action": "unlock", "confirm": "pakages"},
]


@pytest.mark.parametrize("fields", MISTYPED, ids=[fields["action"] for fields in MISTYPED])
def test_a_mistyped_domain_is_refused_by_every_action_naming_the_configured_domains(
    handler: ModuleType, changed: str, bucket: str, fields: dict[str, Any]
) -> None:
    sdblocal.controls.reset_counts()
    answer = call(handler, {**fields, "domain": "pakages"})
    assert answer["status"] == "refused"
    assert answer["error"]["kind"] == "invalid-request"
    assert "'pakages' is not a configured domain (packages, other-domain)" in answer["error"]["message"]
    assert answer["configured_domains"] == ["packages", "other-domain"]
    assert [step["event"] for step in answer["next"]] == [
        {"action": "list", "domain": "packages"},
        {"action": "list", "domain": "other-domain"},
    ]
    assert writes() == {}


# --- next steps ----------------------------------------------------------------------------------------------


def test_every_answer_carries_next_steps_that_are_events_the_functions_accept(
    handler: ModuleType, changed: str, sdb_client: Any, bucket: str
) -> None:
    answers = [
        call(handler, {"action": "list", "domain": DOMAIN}),
        call(handler, {"action": "plan", "domain": DOMAIN, "mode": "exact"}),
        call(handler, {"action": "restore", "domain": DOMAIN, "mode": "exact"}),  # refused: confirm
        call(handler, {"action": "diff", "domain": DOMAIN}),
    ]
    restored = call(handler, {"action": "restore", "domain": DOMAIN, "mode": "exact", "confirm": DOMAIN})
    answers += [
        restored,
        call(handler, {"action": "status", "domain": DOMAIN, "run_id": restored["run_id"]}),
        call(handler, {"action": "runs", "domain": DOMAIN}),
        call(handler, {"action": "unlock", "domain": DOMAIN}),
        call(handler, {"action": "list", "domain": "other-domain"}),  # no dumps: back it up
        call(handler, {"action": "plan", "domain": DOMAIN, "version_id": "nope"}),
    ]
    for answer in answers:
        assert isinstance(answer["next"], list), answer
        assert '{"action"' not in answer.get("message", "") + answer.get("error", {}).get("message", "")
        for step in answer["next"]:
            assert isinstance(step["say"], str)
            assert step["say"]
            if step["function"] == "restore":
                parse_restore_request(step["event"])
            else:
                assert step["function"] == "backup"
                parse_event(BackupEvent, step["event"])
    plan, unconfirmed, _, complete = answers[1], answers[2], answers[3], answers[4]
    assert events_of(plan)["restore"] == {
        "action": "restore",
        "domain": DOMAIN,
        "mode": "exact",
        "confirm": DOMAIN,
    }
    assert events_of(unconfirmed) == events_of(plan)
    undo = events_of(complete)["restore"]
    assert undo == complete["safety_backup"]["undo"]
    assert events_of(complete)["diff"]["from"] == {"version_id": complete["safety_backup"]["version_id"]}
    assert events_of(answers[8]) == {"backup": {"trigger": "manual", "domains": ["other-domain"]}}
    assert events_of(answers[9]) == {"list": {"action": "list", "domain": DOMAIN}}
