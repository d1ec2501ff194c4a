"""The restore function's handler, called as Lambda would call it (fake context), with every ready event in
events/restore-*.json, with bad events, and through a restore that continues itself."""

import json
from collections.abc import Iterator
from pathlib import Path
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
    original_domain,
    writes,
)

import sdblocal
from localrun import LocalContext, invoke, load_handler
from repomanauthoring import repoman_backup_from_items
from repomandata import repoman_domain_items
from simpledb_backup.aws import clients
from simpledb_backup.events import parse_restore_request

# metrics.log_metrics warns when an invocation adds no metric to the shared collector: the restore's metrics are
# per domain (observability.domain_metrics) and flushed on their own.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

EVENTS = Path(__file__).resolve().parents[2] / "events"
EVENT_FILES = sorted(EVENTS.glob("restore-*.json"))
REQUIRED_EVENTS = {
    "restore-list.json",
    "restore-plan.json",
    "restore-latest.json",
    "restore-by-version.json",
    "restore-as-of.json",
    "restore-new-domain.json",
    "restore-repoman-file.json",
}


def event(name: str, **changes: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return {**loaded, **changes}


@pytest.fixture
def handler(backup_environment: dict[str, str], aws: None) -> Iterator[ModuleType]:
    module = load_handler("restore")
    fresh_container(module)  # settings and clients are per container; each test is a new container
    yield module
    fresh_container(module)


def fresh_container(module: ModuleType) -> None:
    module.settings.cache_clear()
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    clients.kms_client.cache_clear()


def call(handler: ModuleType, payload: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = handler.lambda_handler(
        payload, LocalContext(function_name="simpledb-backup-restore")
    )
    json.dumps(answer)  # the console shows JSON: the answer must serialise as it is
    return answer


def test_every_required_event_exists_and_validates() -> None:
    assert {path.name for path in EVENT_FILES} >= REQUIRED_EVENTS
    for path in EVENT_FILES:
        request = parse_restore_request(json.loads(path.read_text()))
        assert request.domain == DOMAIN, path.name


def test_the_handler_answers_every_ready_event(
    handler: ModuleType, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    version = dump(sdb_client, s3_client, bucket)
    change_since_dump(sdb_client)
    repoman_items = list(repoman_domain_items(80))
    s3_client.put_object(
        Bucket=bucket,
        Key=event("restore-repoman-file.json")["source_key"],
        Body=json.dumps(repoman_backup_from_items(repoman_items)).encode(),
    )

    listed = call(handler, event("restore-list.json"))
    assert listed["status"] == "ok"
    assert [entry["version_id"] for entry in listed["dumps"]] == [version]

    planned = call(handler, event("restore-plan.json"))
    assert planned["status"] == "planned"
    assert planned["items"] == {"create": 1, "update": 1, "delete": 1, "unchanged": 62}

    latest = call(handler, event("restore-latest.json"))
    assert latest["status"] == "complete"
    assert contents(sdb_client, DOMAIN) == as_dict(original_domain())

    placeholder = call(handler, event("restore-by-version.json"))
    assert placeholder["status"] == "refused"
    assert placeholder["error"]["kind"] == "dump-not-found"
    assert "REPLACE-with-a-version_id-from-restore-list" in placeholder["error"]["message"]
    by_version = call(
        handler, event("restore-by-version.json", version_id=latest["safety_backup"]["version_id"])
    )
    assert by_version["status"] == "complete"  # the undo: back to the changed domain
    assert "d1" in contents(sdb_client, DOMAIN)

    too_early = call(handler, event("restore-as-of.json", as_of="2001-01-01T00:00:00Z"))
    assert too_early["status"] == "refused"
    assert "no dump of domain 'packages' was made at or before" in too_early["error"]["message"]
    as_of = call(handler, event("restore-as-of.json", as_of=listed["dumps"][0]["time"]))
    assert as_of["status"] == "complete"
    assert as_of["source"]["version_id"] == version
    assert contents(sdb_client, DOMAIN) == as_dict(original_domain())

    new_domain = call(handler, event("restore-new-domain.json"))
    assert new_domain["status"] == "complete"
    assert new_domain["target_created"] is True
    assert contents(sdb_client, NEW_DOMAIN) == as_dict(original_domain())

    # restored-packages now holds the dump restored above, so the Repoman file needs a confirm to go over it.
    unconfirmed = call(handler, event("restore-repoman-file.json"))
    assert unconfirmed["status"] == "refused"
    assert unconfirmed["error"]["message"].startswith(f"{NEW_DOMAIN} exists and holds 64 items")
    assert "to write into it, confirm with the target's name" in unconfirmed["error"]["message"]
    assert unconfirmed["next"][0]["event"]["confirm"] == NEW_DOMAIN
    assert unconfirmed["plan"]["items"]["create"] == 79  # every package; the meta item is an update
    assert unconfirmed["plan"]["items"]["update"] == 1
    repoman = call(handler, event("restore-repoman-file.json", confirm=NEW_DOMAIN))
    assert repoman["status"] == "complete"
    assert contents(sdb_client, NEW_DOMAIN) == as_dict(repoman_items)

    status = call(handler, event("restore-status.json", run_id=repoman["run_id"]))
    assert status["status"] == "complete"
    unknown = call(handler, event("restore-status.json"))
    assert unknown["status"] == "refused"
    assert unknown["error"]["kind"] == "invalid-request"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"action": "restore", "domain": DOMAIN, "mdoe": "exact"}, "mdoe: unknown field"),
        (
            {"action": "restore", "domain": DOMAIN, "mode": "replace"},
            "mode: Input should be 'merge' or 'exact'",
        ),
        ({"action": "restore", "domain": DOMAIN, "items": "a1"}, "items: Input should be a valid list"),
        ({"action": "restore", "domain": "x"}, "domain: invalid domain name 'x'"),
        ({"action": "undo", "domain": DOMAIN}, "action: must be one of list, plan, restore, status"),
        ({"domain": DOMAIN}, "action: missing; one of list, plan, restore, status"),
        (
            {"action": "restore", "domain": DOMAIN, "version_id": "v", "as_of": "2026-01-01T00:00:00Z"},
            "give either 'version_id' or 'as_of', not both",
        ),
    ],
)
def test_a_bad_event_is_refused_naming_the_field_and_writes_nothing(
    handler: ModuleType, sdb_client: Any, payload: dict[str, Any], message: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    sdblocal.controls.reset_counts()
    answer = call(handler, payload)
    assert answer["status"] == "refused"
    assert answer["error"]["kind"] == "invalid-request"
    assert message in answer["error"]["message"]
    assert writes() == {}
    assert contents(sdb_client, DOMAIN) == as_dict(original_domain())


def test_a_corrupt_dump_is_refused_with_a_failure_metric(
    handler: ModuleType, sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    s3_client.put_object(Bucket=bucket, Key="dumps/packages/full.jsonl.gz", Body=b"\x1f\x8b garbage")
    capsys.readouterr()
    sdblocal.controls.reset_counts()
    answer = call(handler, event("restore-latest.json"))
    assert answer["status"] == "refused"
    assert answer["error"]["kind"] == "dump-corrupt"
    assert writes() == {}
    metrics = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')
    ]
    assert [record.get("RestoreFailed") for record in metrics if "RestoreFailed" in record] == [[1.0]]


def test_a_missing_confirm_emits_no_failure_metric(
    handler: ModuleType, sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    dump(sdb_client, s3_client, bucket)
    capsys.readouterr()
    answer = call(handler, event("restore-latest.json", confirm=None))
    assert answer["error"]["kind"] == "confirmation-required"
    assert "RestoreFailed" not in capsys.readouterr().out


def test_a_long_restore_continues_itself_through_the_handler(
    handler: ModuleType, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = list(repoman_domain_items(400))
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    sdb_client.delete_domain(DomainName=DOMAIN)
    sdblocal.controls.configure(latency_ms=15)

    ticks = iter(range(10**6))

    def short_invocation() -> LocalContext:
        # Each invocation's clock advances 1 s per reading: with the 30 s margin and a 36 s timeout, every
        # invocation gets about six readings before it hands over to the next one.
        return LocalContext(
            function_name="simpledb-backup-restore", timeout_seconds=36, clock=lambda: next(ticks)
        )

    answers = invoke("restore", event("restore-latest.json", confirm=None), context_factory=short_invocation)
    sdblocal.controls.reset()
    assert len(answers) > 2
    assert [answer["status"] for answer in answers] == ["continued"] * (len(answers) - 1) + ["complete"]
    assert all(answer["run_id"] == answers[0]["run_id"] for answer in answers)
    assert answers[-1]["verification"]["verified"] is True
    assert contents(sdb_client, DOMAIN) == as_dict(items)
