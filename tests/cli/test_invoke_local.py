"""`make invoke-local` (scripts/invoke_local.py) fit for scripts, each run as a child process against a local
AWS on a loopback port: the environment overrides events/env.json; stdout carries only the answer, as JSON,
while the functions' logs go to stderr; exit statuses as `make invoke` (0 answered, 3 refused or failed, 1
raised)."""

import json
from typing import Any

import pytest
from clihelpers import DOMAIN, LOOPBACK_BUCKET, LoopbackAws

pytestmark = pytest.mark.server

SCRIPT = "scripts/invoke_local.py"


def stored_dumps(s3: Any, bucket: str) -> list[str]:
    if bucket not in {entry["Name"] for entry in s3.list_buckets()["Buckets"]}:
        return []
    versions = s3.list_object_versions(Bucket=bucket, Prefix="dumps/").get("Versions", [])
    return [version["VersionId"] for version in versions]


def test_the_environment_overrides_env_json_and_stdout_is_the_answer(loopback_aws: LoopbackAws) -> None:
    backup = loopback_aws.run(SCRIPT, "backup", "events/backup-manual.json")
    assert backup.returncode == 0, backup.stderr
    answer = json.loads(backup.stdout)  # the whole of stdout is one JSON document
    [dump] = answer["dumps"]
    assert dump["domain"] == DOMAIN
    # BACKUP_BUCKET from the environment, not events/env.json's simpledb-backup-local.
    assert stored_dumps(loopback_aws.s3, LOOPBACK_BUCKET) == [dump["version_id"]]
    assert stored_dumps(loopback_aws.s3, "simpledb-backup-local") == []
    logs = [json.loads(line) for line in backup.stderr.splitlines() if line.startswith("{")]
    assert {"backup finished", "dump written"} <= {record.get("message") for record in logs}
    assert any("_aws" in record for record in logs)  # the metric records too


def test_a_missing_domain_from_the_environment_is_backed_up_as_asked_and_fails(
    loopback_aws: LoopbackAws,
) -> None:
    missing = loopback_aws.run(
        SCRIPT, "backup", "events/backup-manual.json", DOMAIN_NAMES=f"{DOMAIN},missing"
    )
    assert missing.returncode == 1  # the function raised
    error = json.loads(missing.stdout)
    assert error["errorType"] == "BackupFailedError"
    assert "missing: SimpleDB domain 'missing' does not exist" in error["errorMessage"]
    assert "error: the backup function raised BackupFailedError" in missing.stderr


def test_a_refusal_exits_3_and_a_plan_exits_0(loopback_aws: LoopbackAws) -> None:
    assert loopback_aws.run(SCRIPT, "backup", "events/backup-manual.json").returncode == 0
    refused = loopback_aws.run(SCRIPT, "restore", "events/restore-by-version.json")
    assert refused.returncode == 3
    assert json.loads(refused.stdout)["error"]["kind"] == "dump-not-found"
    planned = loopback_aws.run(SCRIPT, "restore", "events/restore-plan.json")
    assert planned.returncode == 0
    assert json.loads(planned.stdout)["status"] == "planned"


def test_an_unreadable_event_exits_2(loopback_aws: LoopbackAws) -> None:
    unreadable = loopback_aws.run(SCRIPT, "restore", "events/no-such-event.json")
    assert unreadable.returncode == 2
    assert unreadable.stdout == ""
    assert "cannot read the event" in unreadable.stderr
