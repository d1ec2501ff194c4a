"""One broad run of the three functions through their handlers, for the IAM check: nightly backups of several
domains (one continuing over invocations), a manual and a subset backup, every restore action (list, plan, diff
of dumps and of the live domain, restores into the domain itself and into new targets, from a dump, a Repoman
file and a native export, a long one continuing, status), and a drill continuing over invocations; one
continuation of each function goes through the real Lambda hand-off (``aws.continuation.start_continuation``,
its Invoke answered without sending)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest

from callhooks import answer_calls
from localrun import Invocations, LocalContext, invoke, load_handler
from nativeexportwriter import export_base_key, write_native_export
from repomanauthoring import repoman_backup_from_items
from repomandata import fill_domain, repoman_domain_items
from simpledb_backup.aws import clients, continuation
from simpledb_backup.items import make_item
from stackbucket import create_backup_bucket
from statekey import create_state_key

STACK = "simpledb-backup"
DOMAINS = ("packages", "repo-meta.v2", "build_cache")
TARGET_PATTERN = f"{STACK}-restored-*"
NEW_TARGET = f"{STACK}-restored-packages"
REPOMAN_KEY = "imports/packages-repoman-backup.json"
EXPORT_ID = "3eb4eaed-872b-4e08-b4b6-ff6999a83e01"
MARGIN_SECONDS = 30


def environment(bucket: str, lock_days: int, state_key: str) -> dict[str, str]:
    """What template.yaml gives the functions of a stack named STACK (deployment.environment_parameters reads
    the same settings back into template parameters)."""
    return {
        "BACKUP_BUCKET": bucket,
        "DOMAIN_NAMES": ",".join(DOMAINS),
        "BACKUP_SEGMENTS": "4",
        "RESTORE_WORKERS": "4",
        "RESTORE_TARGET_PATTERN": TARGET_PATTERN,
        "CONTINUATION_MARGIN_SECONDS": str(MARGIN_SECONDS),
        "DUMP_RETENTION_DAYS": str(lock_days),
        "DUMP_RETENTION_MODE": "GOVERNANCE",
        "DRILL_SCRATCH_PREFIX": f"{STACK}-drill-",
        "STATE_KEY_ID": state_key,
    }


def fresh_containers() -> None:
    """New clients and settings, as a new Lambda container would have."""
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    clients.lambda_client.cache_clear()
    for function in ("backup", "restore", "drill"):
        load_handler(function).settings.cache_clear()
    load_handler("backup").backup_service.cache_clear()
    boto3.setup_default_session()


def short(function: str, reads: int = 6) -> LocalContext:
    """An invocation with a few clock ``reads`` left before the margin: the work continues in another."""
    return LocalContext(
        f"{STACK}-{function}", timeout_seconds=MARGIN_SECONDS + reads, clock=itertools.count().__next__
    )


@contextmanager
def through_lambda(function: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The handler hands over with the real ``start_continuation``; Lambda's Invoke is answered unsent."""
    monkeypatch.setattr(load_handler(function), "start_continuation", continuation.start_continuation)
    interception = answer_calls(clients.lambda_client(), "Invoke", {"StatusCode": 202})
    try:
        yield
    finally:
        interception.remove()


def run_once(
    function: str, event: dict[str, Any], monkeypatch: pytest.MonkeyPatch, reads: int = 6
) -> dict[str, Any]:
    with through_lambda(function, monkeypatch):
        answer: dict[str, Any] = load_handler(function).lambda_handler(event, short(function, reads))
    return answer


def seed(sdb_client: Any, s3_client: Any, bucket: str, lock_days: int) -> None:
    create_backup_bucket(s3_client, bucket, parameters={"DumpRetentionLockDays": str(lock_days)})
    fill_domain(sdb_client, DOMAINS[0], repoman_domain_items(300, seed=1))
    # One item too large to share a batch (256 pairs of non-ASCII names and values): PutAttributes alone.
    wide = make_item("wide", [(f"{n:03d}" + "é" * 510, "é" * 512) for n in range(256)])
    fill_domain(
        sdb_client, DOMAINS[1], [wide, *(make_item(f"item-{n:03d}", [("a", f"v{n}")]) for n in range(30))]
    )
    # Several 1 MB Select pages: a backup of it continues over invocations.
    fill_domain(sdb_client, DOMAINS[2], [make_item(f"{n:05d}", [("a", "x" * 500)]) for n in range(4000)])
    repoman_items = list(repoman_domain_items(60, seed=5))
    s3_client.put_object(
        Bucket=bucket, Key=REPOMAN_KEY, Body=json.dumps(repoman_backup_from_items(repoman_items)).encode()
    )
    for key, data in write_native_export(
        repoman_items, domain_name=DOMAINS[0], export_id=EXPORT_ID, prefix="imports/exports"
    ).items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=data)


def damage(sdb_client: Any, domain: str) -> None:
    """An accident an exact restore repairs: one item lost, one item too many, one attribute too many."""
    sdb_client.delete_attributes(DomainName=domain, ItemName="item-001")
    sdb_client.put_attributes(DomainName=domain, ItemName="stray", Attributes=[{"Name": "a", "Value": "b"}])
    sdb_client.put_attributes(
        DomainName=domain, ItemName="item-002", Attributes=[{"Name": "extra", "Value": "x"}]
    )


def backups(monkeypatch: pytest.MonkeyPatch) -> None:
    for domain in DOMAINS:
        invoke("backup", {"trigger": "schedule", "domains": [domain]})
    answers = invoke("backup", {"trigger": "manual"}, context_factory=lambda: short("backup"))
    assert len(answers) > 1, answers
    assert answers[-1]["status"] == "ok", answers
    invoke("backup", {"domains": [DOMAINS[0]], "where": "`component` = 'main'", "label": "main"})
    once = run_once("backup", {"trigger": "manual", "domains": [DOMAINS[2]]}, monkeypatch, reads=2)
    assert once["status"] == "continued", once


def backup_overtaken_by_a_restore(sdb_client: Any) -> None:
    """A continued backup whose domain a restore wrote meanwhile gives up: its staging upload is aborted."""
    chain = Invocations("backup", {"trigger": "manual", "domains": [DOMAINS[2]]}, lambda: short("backup", 2))
    assert next(chain)["status"] == "continued"
    sdb_client.delete_attributes(DomainName=DOMAINS[2], ItemName="00001")
    [restored] = invoke(
        "restore", {"action": "restore", "domain": DOMAINS[2], "mode": "exact", "confirm": DOMAINS[2]}
    )
    assert restored["status"] == "complete", restored
    finished = list(chain)
    assert finished[-1]["skipped"], finished[-1]


def restores(sdb_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    domain = DOMAINS[0]
    invoke("restore", {"action": "list", "domain": domain})
    invoke("restore", {"action": "diff", "domain": domain, "from": "previous", "to": "latest"})
    sdb_client.delete_attributes(DomainName=domain, ItemName="meta")
    sdb_client.put_attributes(DomainName=domain, ItemName="stray", Attributes=[{"Name": "a", "Value": "b"}])
    invoke("restore", {"action": "diff", "domain": domain})
    invoke("restore", {"action": "plan", "domain": domain, "mode": "exact"})
    [done] = invoke("restore", {"action": "restore", "domain": domain, "mode": "exact", "confirm": domain})
    assert done["status"] == "complete", done
    invoke("restore", {"action": "status", "domain": domain, "run_id": done["run_id"]})
    invoke(
        "restore", {"action": "status", "domain": domain, "run_id": "restore-20260101T000000Z-0123456789ab"}
    )
    # A configured domain deleted by accident: the restore creates it again (the wide item goes alone).
    sdb_client.delete_domain(DomainName=DOMAINS[1])
    [recreated] = invoke("restore", {"action": "restore", "domain": DOMAINS[1]})
    assert recreated["status"] == "complete", recreated
    damage(sdb_client, DOMAINS[1])
    [repaired] = invoke(
        "restore", {"action": "restore", "domain": DOMAINS[1], "mode": "exact", "confirm": DOMAINS[1]}
    )
    assert repaired["status"] == "complete", repaired
    answers = invoke(
        "restore",
        {"action": "restore", "domain": DOMAINS[1], "target_domain": NEW_TARGET},
        context_factory=lambda: short("restore"),
    )
    assert answers[-1]["status"] == "complete", answers[-1]
    damage(sdb_client, NEW_TARGET)
    [repaired] = invoke(
        "restore",
        {
            "action": "restore",
            "domain": DOMAINS[1],
            "target_domain": NEW_TARGET,
            "mode": "exact",
            "confirm": NEW_TARGET,
        },
    )
    assert repaired["status"] == "complete", repaired
    for source, key in (
        ("repoman", REPOMAN_KEY),
        ("native-export", export_base_key("imports/exports", EXPORT_ID, domain)),
    ):
        [answer] = invoke(
            "restore",
            {
                "action": "restore",
                "domain": domain,
                "source": source,
                "source_key": key,
                "target_domain": f"{STACK}-restored-{source}",
            },
        )
        assert answer["status"] == "complete", answer
    first = run_once(
        "restore",
        {"action": "restore", "domain": DOMAINS[2], "target_domain": f"{STACK}-restored-x"},
        monkeypatch,
    )
    assert first["status"] == "continued", first


def drills(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = invoke(
        "drill", {"trigger": "schedule", "domain": DOMAINS[0]}, context_factory=lambda: short("drill")
    )
    assert len(answers) > 1, answers
    assert answers[-1]["status"] == "complete", answers[-1]
    [wide] = invoke("drill", {"trigger": "schedule", "domain": DOMAINS[1]})  # its wide item goes alone
    assert wide["status"] == "complete", wide
    once = run_once("drill", {"trigger": "manual", "domain": DOMAINS[2]}, monkeypatch, reads=2)
    assert once["status"] == "continued", once


def run_everything(
    sdb_client: Any, s3_client: Any, bucket: str, lock_days: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_key = create_state_key(boto3.client("kms"))["alias"]
    for name, value in environment(bucket, lock_days, state_key).items():
        monkeypatch.setenv(name, value)
    fresh_containers()
    seed(sdb_client, s3_client, bucket, lock_days)
    backups(monkeypatch)
    restores(sdb_client, monkeypatch)
    backup_overtaken_by_a_restore(sdb_client)
    drills(monkeypatch)
