"""Restore drills through the drill function's handler: a drill restores the latest dump into its scratch
domain, verifies it, records the result and deletes the scratch domain, and never touches a configured domain."""

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from restore_helpers import DOMAIN, fill, original_domain

from localrun import LocalContext, invoke, load_handler
from simpledb_backup.aws import clients
from simpledb_backup.config import Settings
from simpledb_backup.drill import scratch_domain

SCRATCH = scratch_domain(DOMAIN)


@pytest.fixture
def drills(
    backup_environment: dict[str, str], aws: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[Any]]:
    """Fresh containers, and every SimpleDB call of the functions' clients as (operation, domain)."""
    monkeypatch.setenv("DOMAIN_NAMES", DOMAIN)
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    clients.kms_client.cache_clear()
    for function in ("backup", "restore", "drill"):
        load_handler(function).settings.cache_clear()
    load_handler("backup").backup_service.cache_clear()
    boto3.setup_default_session()
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        selected = re.search(r"from `((?:[^`]|``)*)`", params.get("SelectExpression", ""))
        domain = params.get("DomainName") or (selected.group(1).replace("``", "`") if selected else "")
        calls.append((model.name, domain))

    # The API parameters as the caller gave them, before serialisation.
    boto3.DEFAULT_SESSION._session.register("provide-client-params.simpledb", record)  # type: ignore[union-attr]
    yield calls
    boto3.DEFAULT_SESSION = None
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    clients.kms_client.cache_clear()


def metrics(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith('{"_aws"')]


def drill_event() -> dict[str, Any]:
    return {"trigger": "schedule", "domain": DOMAIN}


def domains(sdb_client: Any) -> list[str]:
    return sdb_client.list_domains().get("DomainNames", [])


def test_a_drill_restores_verifies_and_deletes_its_scratch_domain_without_touching_the_domain(
    drills: list[Any], sdb_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    invoke("backup", {"trigger": "manual"})
    drills.clear()
    capsys.readouterr()
    [answer] = invoke("drill", drill_event())
    assert {domain for _, domain in drills} == {SCRATCH}  # nothing at all on the configured domain
    assert ("DeleteDomain", SCRATCH) in drills
    assert answer["status"] == "complete"
    assert answer["drill"] == {"domain": DOMAIN, "scratch_domain": SCRATCH, "passed": True}
    assert answer["verification"]["verified"] is True
    assert SCRATCH not in domains(sdb_client)
    emitted = metrics(capsys.readouterr().out)
    drill = [record for record in emitted if "DrillSucceeded" in record]
    assert drill[0]["domain"] == DOMAIN
    assert drill[0]["DrillItems"] == [64.0]
    assert not [record for record in emitted if "RestoreSucceeded" in record]


def test_a_drill_whose_verification_fails_still_deletes_its_scratch_domain(
    drills: list[Any], sdb_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    invoke("backup", {"trigger": "manual"})
    clients.sdb_client.cache_clear()
    boto3.DEFAULT_SESSION._session.register(  # type: ignore[union-attr]
        "before-call.simpledb.BatchPutAttributes", lambda **_: (_ok(), {})
    )  # every write is lost
    capsys.readouterr()
    [answer] = invoke("drill", drill_event())
    assert answer["status"] == "failed"
    assert answer["drill"]["passed"] is False
    assert answer["verification"]["verified"] is False
    assert SCRATCH not in domains(sdb_client)
    failed = [record for record in metrics(capsys.readouterr().out) if "DrillFailed" in record]
    assert failed[0]["DrillFailed"] == [1.0]


def _ok() -> Any:
    from botocore.awsrequest import AWSResponse

    return AWSResponse("http://intercepted", 200, {}, None)  # type: ignore[arg-type]


def test_a_drill_of_a_corrupt_dump_fails_loudly(
    drills: list[Any], sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    invoke("backup", {"trigger": "manual"})
    s3_client.put_object(Bucket=bucket, Key=f"dumps/{DOMAIN}/full.jsonl.gz", Body=b"\x1f\x8bnot a dump")
    capsys.readouterr()
    [answer] = invoke("drill", drill_event())
    assert answer["status"] == "failed"
    assert answer["error"]["kind"] == "dump-corrupt"
    assert [record["DrillFailed"] for record in metrics(capsys.readouterr().out) if "DrillFailed" in record]


def test_a_scratch_domain_left_by_a_dead_drill_is_replaced(drills: list[Any], sdb_client: Any) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    invoke("backup", {"trigger": "manual"})
    sdb_client.create_domain(DomainName=SCRATCH)
    sdb_client.put_attributes(DomainName=SCRATCH, ItemName="left", Attributes=[{"Name": "a", "Value": "b"}])
    [answer] = invoke("drill", drill_event())
    assert answer["status"] == "complete"
    assert SCRATCH not in domains(sdb_client)


def test_a_long_drill_continues_and_cleans_up_at_the_end(drills: list[Any], sdb_client: Any) -> None:
    from repomandata import repoman_domain_items

    fill(sdb_client, DOMAIN, list(repoman_domain_items(400)))
    invoke("backup", {"trigger": "manual"})
    ticks = iter(range(10**6))

    def short() -> LocalContext:
        return LocalContext("simpledb-backup-drill", timeout_seconds=36, clock=lambda: next(ticks))

    answers = invoke("drill", drill_event(), context_factory=short)
    assert len(answers) > 1
    assert [answer["status"] for answer in answers] == ["continued"] * (len(answers) - 1) + ["complete"]
    assert SCRATCH not in domains(sdb_client)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"domain": DOMAIN, "target_domain": "packages"}, "target_domain: unknown field"),
        ({"domain": "not-configured"}, "'not-configured' is not a configured domain"),
        ({"trigger": "schedule"}, "domain: Field required"),
    ],
)
def test_a_drill_is_refused_for_anything_but_a_configured_domain(
    drills: list[Any], sdb_client: Any, event: dict[str, Any], message: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    drills.clear()
    [answer] = invoke("drill", event)
    assert answer["status"] == "refused"
    assert message in answer["error"]["message"]
    assert drills == []


def test_the_drill_prefix_is_never_a_configured_domain_or_a_restore_target(bucket: str) -> None:
    with pytest.raises(ValueError, match="scratch domains"):
        Settings(backup_bucket=bucket, domain_names=(SCRATCH,))
    settings = Settings(
        backup_bucket=bucket, domain_names=(DOMAIN,), restore_target_pattern="simpledb-backup-*"
    )
    assert settings.may_restore_into("simpledb-backup-other")
    assert not settings.may_restore_into(SCRATCH)
