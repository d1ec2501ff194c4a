"""Kills at random points of a backup and of a restore, in child processes (SIGKILL: no ``finally`` runs, as
at a Lambda timeout), then the recovery docs/RUNBOOK.md gives, performed as written: nothing is lost, nothing
partial is published, and the work completes."""

import io
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import sdblocal
from crashkit import KILLED, run_child
from localrun import function_environment, invoke, load_handler
from repomandata import fill_domain, repoman_domain_items
from simpledb_backup.aws import clients
from simpledb_backup.aws.keys import dump_key, lock_key
from simpledb_backup.aws.simpledb import SimpleDB, select_expression
from simpledb_backup.formats.dumpformat import read_dump
from simpledb_backup.items import Attributes
from stackbucket import create_backup_bucket
from statekey import create_state_key

pytestmark = pytest.mark.server
DOMAIN = "packages"
BUCKET = "simpledb-backup-crash"
SEEDS = range(4)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local AWS server in this process; the children and this process's handlers all talk to it."""
    server = sdblocal.start_server()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    for name, value in {**function_environment("backup"), **function_environment("restore")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BACKUP_BUCKET", BUCKET)
    monkeypatch.setenv("DOMAIN_NAMES", DOMAIN)
    monkeypatch.setenv("CONTINUATION_MARGIN_SECONDS", "30")
    monkeypatch.setenv("BACKUP_SEGMENTS", "2")
    fresh_containers()
    create_backup_bucket(boto3.client("s3"), BUCKET)
    create_state_key(boto3.client("kms"), os.environ["STATE_KEY_ID"])
    fill_domain(boto3.client("sdb"), DOMAIN, repoman_domain_items(300))
    yield server.url
    fresh_containers()
    server.stop()


def fresh_containers() -> None:
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    clients.kms_client.cache_clear()
    load_handler("backup").settings.cache_clear()
    load_handler("backup").backup_service.cache_clear()
    load_handler("restore").settings.cache_clear()


def domain_contents() -> dict[str, Attributes]:
    database = SimpleDB(boto3.client("sdb"))
    return {
        item.name: item.attributes
        for page in database.select_all(DOMAIN, select_expression(DOMAIN))
        for item in page
    }


def published_dumps() -> list[dict[str, Attributes]]:
    """Every published version of the full dump, each read through the verifying reader."""
    s3 = boto3.client("s3")
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=dump_key(DOMAIN)).get("Versions", [])
    dumps = []
    for version in versions:
        body = s3.get_object(Bucket=BUCKET, Key=dump_key(DOMAIN), VersionId=version["VersionId"])["Body"]
        dumps.append({item.name: item.attributes for item in read_dump(io.BytesIO(body.read()))})
    return dumps


def kill_point(seed: int, calls: int) -> int:
    return random.Random(seed).randint(2, calls)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_backup_killed_anywhere_is_recovered_by_a_new_backup(endpoint: str, seed: int) -> None:
    before = domain_contents()
    child = run_child(
        {
            "function": "backup",
            "event": {"trigger": "manual"},
            "kill_before_call": kill_point(seed, 40),
            "timeout_seconds": 36,
            "stepping_clock": True,
        },
        endpoint,
    )
    assert child.returncode in (0, KILLED), child.stderr[-2000:]
    assert all(dump == before for dump in published_dumps())  # nothing partial was published
    # RUNBOOK, "backup-failed": run a new backup of the domain.
    [answer] = invoke("backup", {"trigger": "manual", "domains": [DOMAIN]})
    assert answer["status"] == "ok"
    dumps = published_dumps()
    assert dumps
    assert all(dump == before for dump in dumps)


def recover_restore(event: dict[str, Any]) -> dict[str, Any]:
    """RUNBOOK, "A restore was interrupted": send the same restore again. While the dead run holds the lock, the
    refusal's next steps say what to do, and they are followed as given: follow the run while it still looks
    alive (its heartbeat is fresh), then resume it; or, when it saved nothing, unlock the target and restore."""
    for _ in range(60):
        [answer] = invoke("restore", event)
        if answer["status"] != "refused":
            return answer
        assert answer["error"]["kind"] == "restore-in-progress", answer
        steps = {step["event"]["action"]: step["event"] for step in answer["next"]}
        if "restore" in steps:  # resume the run that was killed
            [resumed] = invoke("restore", steps["restore"])
            if resumed["status"] != "refused":
                return resumed
        elif "unlock" in steps:  # it saved nothing: what would unlock remove? Then remove it, confirmed
            [unlocked] = invoke("restore", {**steps["unlock"], "confirm": steps["unlock"]["domain"]})
            if unlocked["status"] == "ok":
                continue
        time.sleep(1)  # the run still looks alive (its heartbeat is fresh): follow it until it is stalled
    raise AssertionError(f"the restore was not recovered: {answer}")


@pytest.mark.parametrize("seed", SEEDS)
def test_a_restore_killed_anywhere_converges_by_the_documented_recovery(endpoint: str, seed: int) -> None:
    [backed_up] = invoke("backup", {"trigger": "manual"})
    dump = published_dumps()[0]
    sdb = boto3.client("sdb")
    names = sorted(dump)
    for name in names[::3]:
        sdb.delete_attributes(DomainName=DOMAIN, ItemName=name)
    sdb.put_attributes(DomainName=DOMAIN, ItemName="stray", Attributes=[{"Name": "a", "Value": "b"}])
    event = {"action": "restore", "domain": DOMAIN, "mode": "exact", "confirm": DOMAIN}
    child = run_child(
        {"function": "restore", "event": event, "kill_before_call": kill_point(seed, 60)}, endpoint
    )
    assert child.returncode in (0, KILLED), child.stderr[-2000:]
    answer = recover_restore(event)
    assert answer["status"] == "complete", answer
    assert answer["verification"]["verified"] is True
    assert domain_contents() == dump
    assert not boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=lock_key(DOMAIN)).get("KeyCount")
    assert backed_up["status"] == "ok"
