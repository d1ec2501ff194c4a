"""Status that is true (issue 17): a restore killed mid-write in a child process (SIGKILL, as at a Lambda
timeout: no ``finally`` runs) is reported ``stalled`` since its last heartbeat, with the writes it had made by
then; resumed by the step its status names, it completes and counts every write exactly once, those the killed
invocation made after its last heartbeat included. (Today's finding: status said "continues in the background
... 0 items written" while ~370 were written, and after the resume the summary counted 50.)"""

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

import sdblocal
from crashkit import KILLED, run_child
from localrun import function_environment, invoke, load_handler
from repomandata import fill_domain, repoman_domain_items
from simpledb_backup.aws import clients
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB, select_expression
from simpledb_backup.aws.statemac import StateMac
from simpledb_backup.config import Settings
from simpledb_backup.events import parse_restore_request
from simpledb_backup.restore import compose_restore_service
from simpledb_backup.restore.state import HEARTBEAT_SECONDS, STALL_SECONDS
from simpledb_backup.runtime import Deadline, utc_datetime
from stackbucket import create_backup_bucket
from statekey import create_state_key

pytestmark = [pytest.mark.server, pytest.mark.filterwarnings("ignore:No application metrics to publish")]
DOMAIN, TARGET = "packages", "restored-packages"
BUCKET = "simpledb-backup-heartbeat"
ITEMS = 2000
WRITE_CAP = 12  # batch calls a second: the write takes several heartbeats
forever = Deadline(lambda: 900.0, 30.0)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local AWS server in this process; the child and this process's handlers both talk to it."""
    server = sdblocal.start_server()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    for name, value in function_environment("restore").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BACKUP_BUCKET", BUCKET)
    monkeypatch.setenv("DOMAIN_NAMES", DOMAIN)
    monkeypatch.setenv("RESTORE_TARGET_PATTERN", "restored-*")
    monkeypatch.setenv("CONTINUATION_MARGIN_SECONDS", "30")
    fresh_containers()
    create_backup_bucket(boto3.client("s3"), BUCKET)
    create_state_key(boto3.client("kms"), os.environ["STATE_KEY_ID"])
    fill_domain(boto3.client("sdb"), DOMAIN, repoman_domain_items(ITEMS))
    yield server.url
    sdblocal.controls.reset()
    fresh_containers()
    server.stop()


def fresh_containers() -> None:
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    clients.kms_client.cache_clear()
    load_handler("backup").settings.cache_clear()
    load_handler("backup").backup_service.cache_clear()
    load_handler("restore").settings.cache_clear()


def items_in(domain: str) -> int:
    database = SimpleDB(boto3.client("sdb"))
    return sum(len(page) for page in database.select_all(domain, select_expression(domain)))


def status_at(run_id: str, seconds_from_now: float) -> dict[str, Any]:
    """The run's status as the function would answer it ``seconds_from_now``."""
    moment = utc_datetime() + timedelta(seconds=seconds_from_now)
    restore_service = compose_restore_service(
        SimpleDB(boto3.client("sdb")),
        BucketStore(boto3.client("s3"), BUCKET),
        Settings.from_environment(),
        clock=lambda: moment,
        mac=StateMac(boto3.client("kms"), os.environ["STATE_KEY_ID"]),
    )
    return restore_service.handle(
        parse_restore_request({"action": "status", "domain": DOMAIN, "run_id": run_id}), forever
    )


def test_a_killed_restore_is_stalled_with_its_counts_and_its_resume_counts_every_write_once(
    endpoint: str,
) -> None:
    [backed_up] = invoke("backup", {"trigger": "manual"})
    assert backed_up["status"] == "ok"
    sdblocal.controls.configure(write_calls_per_second=WRITE_CAP, write_calls_burst=1)
    event = {"action": "restore", "domain": DOMAIN, "target_domain": TARGET}
    batches = ITEMS // 25
    child = run_child(
        {
            "function": "restore",
            "event": event,
            "kill_before_operation": ["BatchPutAttributes", batches * 3 // 4],
        },
        endpoint,
    )
    assert child.returncode == KILLED, child.stderr[-2000:]
    written = items_in(TARGET)
    assert 0 < written < ITEMS

    [listed] = invoke("restore", {"action": "runs", "domain": DOMAIN})
    run = listed["runs"][0]
    assert run["phase"] == "writing"
    # Its last heartbeat is a few seconds old at most: a moment later it is stalled since then, its counts those
    # of that heartbeat: never more than were written, and at most a few heartbeats' worth of writes fewer.
    stalled = status_at(run["run_id"], STALL_SECONDS + 1)
    assert stalled["state"] == "stalled"
    assert stalled["stalled_since"] == stalled["heartbeat_at"]
    counted = stalled["progress"]["items_written"]
    assert 0 < counted <= written
    assert written - counted <= 3 * HEARTBEAT_SECONDS * WRITE_CAP * 25
    assert stalled["progress"]["items_to_write"] == ITEMS
    assert "stalled since" in stalled["message"]
    resume = next(step["event"] for step in stalled["next"] if step["event"]["action"] == "restore")
    assert resume == {"action": "restore", "domain": DOMAIN, "target_domain": TARGET, "run_id": run["run_id"]}

    deadline = time.monotonic() + STALL_SECONDS + 30
    while True:  # the function judges with the real clock: the resume goes once the run is stalled
        [answer] = invoke("restore", resume)
        if answer["status"] != "refused" or time.monotonic() > deadline:
            break
        assert answer["error"]["kind"] == "restore-in-progress", answer
        time.sleep(1)
    sdblocal.controls.reset()
    assert answer["status"] == "complete", answer
    assert answer["run_id"] == run["run_id"]
    assert answer["verification"]["verified"] is True
    assert answer["written"]["items_written"] == ITEMS  # every item once: the killed invocation's writes too
    assert answer["progress"]["items_written"] == answer["progress"]["items_to_write"] == ITEMS
    assert items_in(TARGET) == ITEMS
