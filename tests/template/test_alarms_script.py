"""scripts/alarms.py (`make alarms`) against the template deployed into moto.

moto's CloudFormation cannot create AWS::CloudWatch::Alarm (cfnsupport.deploy_to_moto creates them through the
CloudWatch API), so its ListStackResources lacks them. A botocore ``after-call`` hook adds exactly those
resource summaries to moto's real response; everything else (stack lookup, pagination, DescribeAlarms, alarm
states) is moto. The per-domain drill-missing composite alarms are not among them: moto 5.2.5 implements no
PutCompositeAlarm (and scripts/alarms.py lists only AWS::CloudWatch::Alarm resources so far).
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from cfnsupport import REGION, STACK_NAME, Deployed, deploy_to_moto, translate
from moto import mock_aws

from localrun import load_script

alarms = load_script("alarms")


@pytest.fixture(scope="module")
def stack() -> Iterator[Deployed]:
    with mock_aws():
        deployed = deploy_to_moto(translate())
        deployed.cloudwatch.set_alarm_state(
            AlarmName=f"{STACK_NAME}-backup-failed",
            StateValue="ALARM",
            StateReason="Threshold Crossed: 1 out of the last 1 datapoints [1.0] was greater than the threshold (0.0).",
        )
        deployed.cloudwatch.set_alarm_state(
            AlarmName=f"{STACK_NAME}-backup-missing-packages",
            StateValue="OK",
            StateReason="a backup succeeded",
        )
        yield deployed


def session_with_alarm_resources(deployed: Deployed) -> boto3.Session:
    """A session whose ListStackResources responses also carry the alarms moto's CloudFormation skipped."""
    session = boto3.Session(region_name=REGION)

    def add_alarms(parsed: dict[str, Any], **_: Any) -> None:
        if "StackResourceSummaries" in parsed:
            parsed["StackResourceSummaries"] += [
                {
                    "LogicalResourceId": logical_id,
                    "PhysicalResourceId": name,
                    "ResourceType": "AWS::CloudWatch::Alarm",
                    "ResourceStatus": "CREATE_COMPLETE",
                    "LastUpdatedTimestamp": datetime.now(UTC),
                }
                for logical_id, name in deployed.alarm_names.items()
            ]

    session.events.register("after-call.cloudformation.ListStackResources", add_alarms)
    return session


def test_alarm_names_come_from_the_stack(stack: Deployed) -> None:
    cfn = session_with_alarm_resources(stack).client("cloudformation")
    assert sorted(alarms.alarm_names(cfn, STACK_NAME)) == sorted(stack.alarm_names.values())


def test_prints_every_alarm_with_state_reason_and_last_change(
    stack: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    code = alarms.main(["--stack-name", STACK_NAME], session=session_with_alarm_resources(stack))
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"Alarms of stack {STACK_NAME}: 1 ALARM")
    header = lines[2]
    assert header.split() == ["STATE", "ALARM", "LAST", "CHANGE", "REASON"]
    rows = lines[3:]
    assert len(rows) == len(stack.alarm_names) == 10
    assert rows[0].startswith("ALARM")
    assert f"{STACK_NAME}-backup-failed" in rows[0]
    assert "Threshold Crossed" in rows[0]
    assert " UTC " in rows[0]
    ok_row = next(row for row in rows if f"{STACK_NAME}-backup-missing-packages" in row)
    assert ok_row.startswith("OK")
    assert "a backup succeeded" in ok_row
    # The columns line up: every row's alarm name starts where the header's ALARM column does.
    column = header.index("ALARM", 1)
    assert all(row[column:].startswith(STACK_NAME) for row in rows)


def test_missing_stack_is_a_clear_error(stack: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    code = alarms.main(["--stack-name", "no-such-stack", "--region", REGION])
    err = capsys.readouterr().err
    assert code == 2
    assert "stack 'no-such-stack' does not exist in us-east-1" in err


def test_missing_credentials_are_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no IMDS lookup: nothing leaves the machine
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    code = alarms.main(["--stack-name", STACK_NAME, "--region", REGION])
    assert code == 2
    assert "no AWS credentials found" in capsys.readouterr().err


def test_table_formatting() -> None:
    when = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)
    rows = [
        alarms.AlarmRow("s-ok", "OK", "fine", when),
        alarms.AlarmRow("s-bad", "ALARM", "line one\nline two " + "x" * 200, when),
        alarms.AlarmRow("s-new", "INSUFFICIENT_DATA", "", None),
    ]
    table = alarms.format_table(sorted(rows, key=lambda r: (alarms.STATE_ORDER[r.state], r.name)), "s")
    lines = table.splitlines()
    assert lines[0] == "Alarms of stack s: 1 ALARM, 1 INSUFFICIENT_DATA, 1 OK"
    assert [line.split()[0] for line in lines[3:]] == ["ALARM", "INSUFFICIENT_DATA", "OK"]
    assert "2025-01-02 03:04 UTC" in lines[3]
    assert "line one line two" in lines[3]
    assert lines[3].endswith("…")
    assert len(lines[3]) < 200
    assert " - " in lines[4]
    assert alarms.format_table([], "s") == "Stack s has no CloudWatch alarms."


def test_alarms_sorted_alarm_first_and_unknown_names_marked(stack: Deployed) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    names = [*stack.alarm_names.values(), f"{STACK_NAME}-deleted-by-hand"]
    rows = alarms.describe(cloudwatch, names)
    assert rows[0].state == "MISSING"
    assert rows[1].name == f"{STACK_NAME}-backup-failed"
    assert rows[1].state == "ALARM"
