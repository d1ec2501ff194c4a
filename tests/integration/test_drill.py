"""Restore drills through the drill function's handler: a drill restores the latest dump into its scratch
domain, verifies it, records the result and deletes the scratch domain, and never touches a configured domain."""

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from restore_helpers import (
    DOMAIN,
    contents,
    dump,
    fast_rate_control,
    fill,
    forever,
    original_domain,
    sealed_document,
    settings,
    state_mac,
)

from callhooks import fail_calls_after
from localrun import LocalContext, invoke, load_handler
from simpledb_backup.aws import clients
from simpledb_backup.aws.keys import lock_key, status_key
from simpledb_backup.aws.ratecontrol import RateController, RateSettings
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.config import Settings
from simpledb_backup.drill import RestoreDrill, compose_restore_drill, scratch_domain
from simpledb_backup.events import DrillEvent
from simpledb_backup.runtime import Deadline

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


# --- issue 16: drills stored apart, a second drill skipped, every failure cleaned up --------------------------


def throttled() -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ServiceUnavailable", "Message": "throttled"},
            "ResponseMetadata": {"HTTPStatusCode": 503},
        },
        "SimpleDB",
    )


def quick_to_give_up() -> RateController:
    """The rate controller with a fault budget of a fraction of a second: a storm of 503s fails fast."""
    return RateController(RateSettings(initial_rate=1000.0, min_rate=200.0, give_up_after=0.3))


def restore_drill(
    sdb_client: Any, s3_client: Any, bucket: str, rate: RateController | None = None
) -> RestoreDrill:
    """The drill as its function composes it, over this test's clients."""
    return compose_restore_drill(
        SimpleDB(sdb_client, rate or fast_rate_control()),
        BucketStore(s3_client, bucket),
        settings(bucket),
        state_mac(),
    )


def simpledb_calls(sdb_client: Any) -> list[tuple[str, str]]:
    """Every later SimpleDB call of ``sdb_client`` as (operation, domain)."""
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        selected = re.search(r"from `((?:[^`]|``)*)`", params.get("SelectExpression", ""))
        calls.append((model.name, params.get("DomainName") or (selected.group(1) if selected else "")))

    sdb_client.meta.events.register("provide-client-params.simpledb", record)
    return calls


def drill_metrics(captured: str) -> dict[str, float]:
    return {
        name: value[0]
        for record in metrics(captured)
        for name, value in record.items()
        if name.startswith("Drill") and isinstance(value, list)
    }


def test_a_drill_is_a_run_of_its_own_kind_stored_apart_from_restores(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    answer = restore_drill(sdb_client, s3_client, bucket).run(DrillEvent(domain=DOMAIN), forever)
    assert answer["status"] == "complete"
    assert answer["run_id"].startswith("drill-")
    keys = {entry["Key"] for entry in s3_client.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert f"drills/{answer['run_id']}.json" in keys
    assert not [key for key in keys if key.startswith("restores/")]
    assert not [key for key in keys if key.startswith("locks/") and key.endswith(".lock")]
    assert {key for key in keys if key.startswith("locks/")} == {f"locks/{SCRATCH}.last-restore"}


def test_a_second_drill_of_a_domain_whose_drill_is_running_is_skipped_and_touches_nothing(
    sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the second drill deleted the first one's scratch domain and reported a false DrillFailed."""
    from repomandata import repoman_domain_items

    fill(sdb_client, DOMAIN, list(repoman_domain_items(400)))
    dump(sdb_client, s3_client, bucket)
    readings = iter(range(10**6))
    first = restore_drill(sdb_client, s3_client, bucket).run(
        DrillEvent(domain=DOMAIN), Deadline(lambda: 900.0 if next(readings) < 4 else 0.0, 30.0)
    )
    assert first["status"] == "continued"
    scratch_before = contents(sdb_client, SCRATCH)
    calls = simpledb_calls(sdb_client)
    capsys.readouterr()

    second = restore_drill(sdb_client, s3_client, bucket).run(DrillEvent(domain=DOMAIN), forever)

    assert second["status"] == "skipped"
    assert f"run {first['run_id']}" in second["message"]
    assert second["drill"] == {"domain": DOMAIN, "scratch_domain": SCRATCH, "passed": None}
    assert calls == []  # not one SimpleDB call: the other drill's scratch domain is left alone
    assert drill_metrics(capsys.readouterr().out) == {"DrillSkipped": 1.0}
    assert contents(sdb_client, SCRATCH) == scratch_before

    resumed = restore_drill(sdb_client, s3_client, bucket).run(
        DrillEvent(domain=DOMAIN, run_id=first["run_id"]), forever
    )
    assert resumed["status"] == "complete"
    assert resumed["drill"]["passed"] is True
    assert ("DeleteDomain", SCRATCH) in calls  # the hook sees the calls: its silence above was real
    assert SCRATCH not in domains(sdb_client)


def test_the_drill_function_answers_skipped(
    drills: list[Any], sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    invoke("backup", {"trigger": "manual"})
    holder = {"run_id": "drill-20261126T030000Z-0123456789ab", "domain": DOMAIN, "target": SCRATCH}
    lock = {**holder, "taken_at": "2026-11-26T03:00:00Z", "expires_at": "2999-01-01T00:00:00+00:00"}
    s3_client.put_object(
        Bucket=bucket,
        Key=lock_key(SCRATCH),
        Body=json.dumps(sealed_document(lock_key(SCRATCH), lock)).encode(),
    )
    drills.clear()
    capsys.readouterr()
    [answer] = invoke("drill", drill_event())
    assert answer["status"] == "skipped"
    assert drills == []
    assert drill_metrics(capsys.readouterr().out) == {"DrillSkipped": 1.0}


@pytest.mark.parametrize(
    ("operation", "calls_before"),
    [("DomainMetadata", 0), ("CreateDomain", 0), ("BatchPutAttributes", 1)],
    ids=["before-the-work", "creating-the-scratch-domain", "mid-write"],
)
def test_a_throttled_drill_fails_loudly_and_removes_its_scratch_domain(
    sdb_client: Any,
    s3_client: Any,
    bucket: str,
    capsys: pytest.CaptureFixture[str],
    operation: str,
    calls_before: int,
) -> None:
    """Before: a drill throttled before its error handling started raised, with no DrillFailed, and left its
    scratch domain."""
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    sdb_client.create_domain(DomainName=SCRATCH)  # left by a dead drill: this one must still clean up
    fail_calls_after(sdb_client, operation, calls_before, throttled)
    capsys.readouterr()
    answer = restore_drill(sdb_client, s3_client, bucket, quick_to_give_up()).run(
        DrillEvent(domain=DOMAIN), forever
    )
    assert answer["status"] == "failed"
    assert answer["error"]["kind"] == "throttled"
    assert answer["drill"] == {"domain": DOMAIN, "scratch_domain": SCRATCH, "passed": False}
    emitted = drill_metrics(capsys.readouterr().out)
    assert emitted["DrillFailed"] == 1.0
    assert "DrillSucceeded" not in emitted
    assert SCRATCH not in domains(sdb_client)
    assert not s3_client.list_objects_v2(Bucket=bucket, Prefix=lock_key(SCRATCH)).get("KeyCount")


def test_a_drill_whose_scratch_domain_cannot_be_deleted_fails_and_says_so(
    sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    fail_calls_after(sdb_client, "DeleteDomain", 0, throttled)
    capsys.readouterr()
    answer = restore_drill(sdb_client, s3_client, bucket, quick_to_give_up()).run(
        DrillEvent(domain=DOMAIN), forever
    )
    assert answer["status"] == "complete"  # the dump restored and verified ...
    assert answer["drill"]["passed"] is False  # ... but the drill did not clean up: someone must
    assert "could not be deleted" in answer["drill"]["scratch_domain_left"]
    assert drill_metrics(capsys.readouterr().out)["DrillFailed"] == 1.0
    assert SCRATCH in domains(sdb_client)


def test_a_drill_state_edited_while_parked_is_refused_and_the_scratch_domain_left_to_its_drill(
    sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from repomandata import repoman_domain_items

    fill(sdb_client, DOMAIN, list(repoman_domain_items(400)))
    dump(sdb_client, s3_client, bucket)
    readings = iter(range(10**6))
    parked = restore_drill(sdb_client, s3_client, bucket).run(
        DrillEvent(domain=DOMAIN), Deadline(lambda: 900.0 if next(readings) < 4 else 0.0, 30.0)
    )
    key = status_key(parked["run_id"])
    assert key.startswith("drills/")
    state = json.loads(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
    state["phase"] = "verifying"
    s3_client.put_object(Bucket=bucket, Key=key, Body=json.dumps(state).encode())
    calls = simpledb_calls(sdb_client)
    capsys.readouterr()
    answer = restore_drill(sdb_client, s3_client, bucket).run(
        DrillEvent(domain=DOMAIN, run_id=parked["run_id"]), forever
    )
    assert answer["status"] == "failed"
    assert answer["error"]["kind"] == "unverified-state"
    assert drill_metrics(capsys.readouterr().out)["DrillFailed"] == 1.0
    assert calls == []  # the parked drill still holds its scratch domain's lock: nothing was touched
    assert SCRATCH in domains(sdb_client)


def test_a_restore_run_id_is_no_drill_run_id(sdb_client: Any, s3_client: Any, bucket: str) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    event = DrillEvent(domain=DOMAIN, run_id="restore-20261126T030000Z-0123456789ab")
    answer = restore_drill(sdb_client, s3_client, bucket).run(event, forever)
    assert answer["status"] == "failed"
    assert "is not a drill run id" in answer["error"]["message"]


def test_the_scratch_prefix_is_a_setting_carrying_the_stack_name(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    configured = settings(bucket, drill_scratch_prefix="my-stack-drill-", restore_target_pattern="my-stack-*")
    drill = compose_restore_drill(
        SimpleDB(sdb_client, fast_rate_control()), BucketStore(s3_client, bucket), configured, state_mac()
    )
    calls = simpledb_calls(sdb_client)
    answer = drill.run(DrillEvent(domain=DOMAIN), forever)
    assert answer["drill"] == {"domain": DOMAIN, "scratch_domain": "my-stack-drill-packages", "passed": True}
    assert {domain for _, domain in calls} == {"my-stack-drill-packages"}
    assert "my-stack-drill-packages" not in domains(sdb_client)
    with pytest.raises(ValueError, match="scratch domains"):
        Settings(
            backup_bucket=bucket, domain_names=("my-stack-drill-x",), drill_scratch_prefix="my-stack-drill-"
        )
    assert configured.may_restore_into("my-stack-restored")
    assert not configured.may_restore_into("my-stack-drill-packages")  # the pattern matches, the prefix wins
