"""No domain data in the logs: every log line the functions write (at DEBUG, the most they write) while they back
up, plan, diff, restore, report and drill a domain holds none of the item names, attribute names or values it
wrote, nor the where clause or subset the events named; the lines still say what happened, in counts, ids and
kinds."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from localrun import invoke, load_handler
from simpledb_backup.aws import clients
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.items import make_item
from simpledb_backup.observability import loggable, logger

DOMAIN = "packages"
#: Every piece of domain data below contains it; no log line may.
SECRET = "zq9secret"
ITEMS = [
    make_item(
        f"{SECRET}-item-{n:03d}",
        [
            (f"{SECRET}-attr", f"{SECRET}-value-{n}"),
            ("name", f"{SECRET}-name-{n}"),
            ("status", f"{SECRET}-st"),
        ],
    )
    for n in range(40)
]


@pytest.fixture
def logs(
    backup_environment: dict[str, str], log_lines: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.setenv("DOMAIN_NAMES", DOMAIN)
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    for function in ("backup", "restore", "drill"):
        load_handler(function).settings.cache_clear()
    load_handler("backup").backup_service.cache_clear()
    level = logger.log_level
    logger.setLevel("DEBUG")
    yield log_lines
    logger.setLevel(level)


def test_a_backup_plan_diff_restore_and_drill_log_no_domain_data(
    logs: Any, sdb_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    sdb_client.create_domain(DomainName=DOMAIN)
    SimpleDB(sdb_client).write_items(DOMAIN, ITEMS)
    invoke("backup", {"trigger": "manual"})
    invoke("backup", {"domains": [DOMAIN], "where": f"`{SECRET}-attr` like '{SECRET}%'", "label": "subset"})
    # An accident: items lost, one changed, one added.
    for item in ITEMS[:5]:
        sdb_client.delete_attributes(DomainName=DOMAIN, ItemName=item.name)
    sdb_client.put_attributes(
        DomainName=DOMAIN,
        ItemName=ITEMS[6].name,
        Attributes=[{"Name": f"{SECRET}-attr", "Value": f"{SECRET}-changed", "Replace": True}],
    )
    sdb_client.put_attributes(
        DomainName=DOMAIN,
        ItemName=f"{SECRET}-stray",
        Attributes=[{"Name": f"{SECRET}-attr", "Value": SECRET}],
    )
    answers = [
        *invoke("restore", {"action": "list", "domain": DOMAIN}),
        *invoke("restore", {"action": "diff", "domain": DOMAIN, "sample_size": 10}),
        *invoke("restore", {"action": "plan", "domain": DOMAIN, "mode": "exact", "sample_size": 10}),
        *invoke(
            "restore",
            {
                "action": "plan",
                "domain": DOMAIN,
                "items": [ITEMS[1].name],
                "match": {f"{SECRET}-attr": f"{SECRET}-value-2"},
            },
        ),
    ]
    [restored] = invoke(
        "restore", {"action": "restore", "domain": DOMAIN, "mode": "exact", "confirm": DOMAIN}
    )
    assert restored["status"] == "complete", restored
    answers.append(restored)
    answers += invoke("restore", {"action": "status", "domain": DOMAIN, "run_id": restored["run_id"]})
    answers += invoke("restore", {"action": "plan", "domain": "pakages", "items": [ITEMS[3].name]})  # refused
    answers += invoke("drill", {"trigger": "manual", "domain": DOMAIN})
    # The answers, returned to the caller, do carry the data: the logs are what the test is about.
    assert SECRET in json.dumps(answers)

    lines = logs()
    written = "\n".join(json.dumps(line) for line in lines) + capsys.readouterr().out
    assert SECRET not in written, [line for line in lines if SECRET in json.dumps(line)][:3]
    # ...and the lines still tell what happened.
    messages = {line["message"] for line in lines if isinstance(line["message"], str)}
    assert {"answered", "restore finished", "dump written"} <= messages
    answered = [line["answer"] for line in lines if line["message"] == "answered"]
    assert any(answer.get("status") == "complete" and answer.get("run_id") for answer in answered)
    events = [line["message"] for line in lines if isinstance(line["message"], dict)]
    assert {"action": "plan", "domain": DOMAIN, "items": 1} in [
        {key: event[key] for key in ("action", "domain", "items") if key in event} for event in events
    ]


def test_loggable_keeps_counts_ids_and_kinds_only() -> None:
    answer = {
        "status": "refused",
        "domain": DOMAIN,
        "run_id": "restore-20260101T000000Z-0123456789ab",
        "error": {"kind": "invalid_request", "message": f"item {SECRET} is too large"},
        "plan": {
            "items": {"create": 3, "delete": 1},
            "samples": {"create": [{"name": SECRET, "attributes": {SECRET: [SECRET]}}]},
        },
        "match": {SECRET: SECRET},
        "items": [SECRET, SECRET],
        "where": f"`a` = '{SECRET}'",
        "configured_domains": [DOMAIN, "other"],
        SECRET: 1,
    }
    assert loggable(answer) == {
        "status": "refused",
        "domain": DOMAIN,
        "run_id": "restore-20260101T000000Z-0123456789ab",
        "error": {"kind": "invalid_request"},
        "plan": {"items": {"create": 3, "delete": 1}},
        "items": 2,
        "configured_domains": [DOMAIN, "other"],
    }
