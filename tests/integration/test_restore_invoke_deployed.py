"""scripts/invoke_deployed.py (`make invoke`): function lookup through the stack, the long read timeout without
retries, pretty-printed answers and exit codes; the lookup and the invocation are simpledb_backup_cli.deployed's,
which `simpledb-backup --stack-name` uses too. CloudFormation and Lambda are botocore Stubbers (no network)."""

import base64
import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from localrun import load_script

ROOT = Path(__file__).resolve().parents[2]
STACK = "simpledb-backup"
FUNCTION = "simpledb-backup-restore"


script = load_script("invoke_deployed")


class StubbedSession:
    """Hands out stubbed clients and remembers the botocore Config each was asked for."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}
        self.configs: dict[str, Any] = {}
        for service in ("cloudformation", "lambda"):
            client = boto3.client(service, region_name="us-east-1")
            self.clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()

    def client(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
        self.configs[service] = config
        return self.clients[service]


def payload(document: Any) -> StreamingBody:
    data = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(data), len(data))


def expect_stack(session: StubbedSession, outputs: list[dict[str, str]]) -> None:
    session.stubbers["cloudformation"].add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": STACK,
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": outputs,
                }
            ]
        },
        {"StackName": STACK},
    )


def expect_invoke(
    session: StubbedSession, event: dict[str, Any], answer: Any, function_error: str | None = None
) -> None:
    response: dict[str, Any] = {
        "StatusCode": 200,
        "Payload": payload(answer),
        "LogResult": base64.b64encode(b"START RequestId: 1\nEND RequestId: 1\n").decode(),
    }
    if function_error:
        response["FunctionError"] = function_error
    session.stubbers["lambda"].add_response(
        "invoke",
        response,
        {
            "FunctionName": FUNCTION,
            "InvocationType": "RequestResponse",
            "LogType": "Tail",
            "Payload": json.dumps(event).encode(),
        },
    )


def test_invokes_the_stack_function_with_a_long_timeout_and_no_retries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    session = StubbedSession()
    event = json.loads((ROOT / "events" / "restore-plan.json").read_text())
    expect_stack(session, [{"OutputKey": "RestoreFunctionName", "OutputValue": FUNCTION}])
    expect_invoke(session, event, {"action": "plan", "status": "planned", "items": {"create": 3}})
    code = script.main(
        ["--stack-name", STACK, "restore", str(ROOT / "events" / "restore-plan.json")], session
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {
        "action": "plan",
        "status": "planned",
        "items": {"create": 3},
    }
    config = session.configs["lambda"]
    assert config.read_timeout >= 900
    assert config.retries == {"total_max_attempts": 1}
    session.stubbers["lambda"].assert_no_pending_responses()


def test_falls_back_to_the_stack_resource_and_accepts_inline_json(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession()
    expect_stack(session, [])
    session.stubbers["cloudformation"].add_response(
        "describe_stack_resource",
        {
            "StackResourceDetail": {
                "LogicalResourceId": "RestoreFunction",
                "PhysicalResourceId": FUNCTION,
                "ResourceType": "AWS::Lambda::Function",
                "LastUpdatedTimestamp": "2026-01-01T00:00:00Z",
                "ResourceStatus": "CREATE_COMPLETE",
            }
        },
        {"StackName": STACK, "LogicalResourceId": "RestoreFunction"},
    )
    event = {"action": "restore", "domain": "packages", "confirm": "packages"}
    expect_invoke(session, event, {"status": "continued", "run_id": "restore-1", "domain": "packages"})
    code = script.main(["--stack-name", STACK, "restore", json.dumps(event)], session)
    captured = capsys.readouterr()
    assert code == 0
    assert '"run_id": "restore-1"' in captured.err  # what to ask next, as an event for the console
    assert "simpledb-backup status packages --run-id restore-1 --wait" in captured.err  # and as a command


def test_a_function_error_exits_non_zero_with_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession()
    event = {"action": "list", "domain": "packages"}
    expect_stack(session, [{"OutputKey": "RestoreFunctionName", "OutputValue": FUNCTION}])
    expect_invoke(session, event, {"errorMessage": "boom", "errorType": "StorageError"}, "Unhandled")
    code = script.main(["--stack-name", STACK, "restore", json.dumps(event)], session)
    captured = capsys.readouterr()
    assert code == 1
    assert "boom" in captured.out
    assert "Unhandled" in captured.err
    assert "START RequestId" in captured.err


def test_a_refusal_exits_3_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession()
    event = {"action": "restore", "domain": "packages"}
    refused = {
        "status": "refused",
        "error": {"kind": "confirmation-required", "message": 'add "confirm": "packages" to the event'},
    }
    expect_stack(session, [{"OutputKey": "RestoreFunctionName", "OutputValue": FUNCTION}])
    expect_invoke(session, event, refused)
    assert script.main(["--stack-name", STACK, "restore", json.dumps(event)], session) == 3
    assert 'add "confirm": "packages"' in capsys.readouterr().err


def test_a_missing_stack_or_event_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    session = StubbedSession()
    session.stubbers["cloudformation"].add_client_error(
        "describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist"
    )
    assert (
        script.main(["--stack-name", STACK, "restore", '{"action": "list", "domain": "packages"}'], session)
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert script.main(["--stack-name", STACK, "restore", str(tmp_path / "missing.json")], session) == 2
    assert "neither a JSON file nor inline JSON" in capsys.readouterr().err


def test_a_throttled_invocation_is_a_usage_problem_with_advice(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession()
    expect_stack(session, [{"OutputKey": "RestoreFunctionName", "OutputValue": FUNCTION}])
    session.stubbers["lambda"].add_client_error(
        "invoke", "TooManyRequestsException", "Rate Exceeded.", http_status_code=429
    )
    event = '{"action": "status", "domain": "packages", "run_id": "restore-20261126T030000Z-0123456789ab"}'
    assert script.main(["--stack-name", STACK, "restore", event], session) == 2
    assert (
        "is busy (throttled: its reserved concurrency is in use); try again in a minute"
        in capsys.readouterr().err
    )
