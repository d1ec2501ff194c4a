"""`simpledb-backup --stack-name NAME`: the functions found through the stack's outputs, invoked through the
Lambda API with a read timeout longer than a restore may run and no SDK retries; a restore that continues is
followed by polling `status` (throttled polls waited out). CloudFormation and Lambda are botocore Stubbers: no
AWS, no network."""

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from clihelpers import DOMAIN

from simpledb_backup_cli.app import Runtime, main
from simpledb_backup_cli.deployed import DeployedFunctions

STACK = "simpledb-backup"
RESTORE = "simpledb-backup-restore"
BACKUP = "simpledb-backup-backup"
DRILL = "simpledb-backup-drill"


class StubbedSession:
    """Hands out stubbed clients, remembers each client's botocore Config and every event sent to Lambda."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}
        self.configs: dict[str, Any] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        for service in ("cloudformation", "lambda"):
            client = boto3.client(service, region_name="us-east-1")
            self.clients[service] = client
            self.stubbers[service] = Stubber(client)
            self.stubbers[service].activate()
        self.clients["lambda"].meta.events.register("provide-client-params.lambda.Invoke", self._sent)

    def _sent(self, params: dict[str, Any], **_: Any) -> None:
        self.events.append((params["FunctionName"], json.loads(params["Payload"])))

    def client(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
        self.configs[service] = config
        return self.clients[service]

    def stack(self, name: str = STACK) -> None:
        outputs = [
            {"OutputKey": "RestoreFunctionName", "OutputValue": RESTORE},
            {"OutputKey": "BackupFunctionName", "OutputValue": BACKUP},
            {"OutputKey": "DrillFunctionName", "OutputValue": DRILL},
        ]
        stack = {"StackName": name, "CreationTime": "2026-01-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE"}
        self.stubbers["cloudformation"].add_response(
            "describe_stacks", {"Stacks": [{**stack, "Outputs": outputs}]}, {"StackName": name}
        )

    def answers(self, answer: Any, function: str = RESTORE, error: str | None = None) -> None:
        data = json.dumps(answer).encode()
        response: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(data), len(data))}
        if error:
            response["FunctionError"] = error
        expected = {
            "FunctionName": function,
            "InvocationType": "RequestResponse",
            "LogType": "Tail",
            "Payload": ANY,
        }
        self.stubbers["lambda"].add_response("invoke", response, expected)

    def runs(self, *runs: dict[str, Any]) -> None:
        """The restore's runs, as the command asks for them before it sends a restore (to find the new one)."""
        self.answers({"action": "runs", "status": "ok", "domain": DOMAIN, "runs": list(runs), "more": 0})

    def throttles(self) -> None:
        self.stubbers["lambda"].add_client_error(
            "invoke", "TooManyRequestsException", "Rate Exceeded.", http_status_code=429
        )


def run(session: StubbedSession, capsys: pytest.CaptureFixture[str], *arguments: str, **runtime: Any) -> Any:
    capsys.readouterr()
    status = main(list(arguments), Runtime(session=session, **runtime))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def listing() -> dict[str, Any]:
    return {
        "action": "list",
        "status": "ok",
        "domain": DOMAIN,
        "dumps": [],
        "message": "no dumps of packages yet",
    }


def test_the_stacks_restore_function_is_invoked_with_a_long_timeout_and_no_retries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    session = StubbedSession()
    session.stack()
    session.answers(listing())
    status, out, _ = run(session, capsys, "list", DOMAIN, "--json")  # the default stack: simpledb-backup
    assert status == 0
    assert json.loads(out) == listing()
    assert session.events == [(RESTORE, {"action": "list", "domain": DOMAIN})]
    config = session.configs["lambda"]
    assert config.read_timeout > 900  # the functions' timeout: a long restore's answer is still read
    assert config.retries == {"total_max_attempts": 1}  # a restore is never sent twice
    session.stubbers["lambda"].assert_no_pending_responses()


def test_another_stack_and_the_backup_function(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession()
    session.stack("other-stack")
    answer = {"status": "ok", "dumps": [], "failures": [], "continues_with": None}
    session.answers(answer, function=BACKUP)
    status, out, _ = run(session, capsys, "--stack-name", "other-stack", "backup", DOMAIN, "--json")
    assert status == 0
    assert json.loads(out) == answer
    assert session.events == [(BACKUP, {"trigger": "manual", "domains": [DOMAIN]})]


def test_a_continued_restore_is_followed_through_throttled_polls(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession()
    session.stack()
    run_id = "restore-20261126T030000Z-0123456789ab"

    def state(status: str, phase: str, written: int) -> dict[str, Any]:
        return {
            "action": "restore",
            "status": status,
            "run_id": run_id,
            "domain": DOMAIN,
            "target_domain": DOMAIN,
            "phase": phase,
            "written": {"items_written": written, "items_trimmed": 0, "items_deleted": 0},
            "progress": {
                "phase": phase,
                "items_to_write": 300,
                "items_written": written,
                "elapsed_seconds": 9.5,
            },
            "message": f"restore of packages {status}",
        }

    session.runs()
    session.answers(state("continued", "safety-backup", 0))
    session.throttles()  # the function's reserved concurrency is in use: the poll is throttled
    session.answers(state("continued", "writing", 120))
    session.answers(state("complete", "done", 300))
    sleeps: list[float] = []
    functions = DeployedFunctions(session, STACK, None, sleep=sleeps.append)
    status, out, err = run(session, capsys, "restore", DOMAIN, "--yes", functions_factory=lambda _: functions)
    assert status == 0, err
    assert "complete: restore of packages complete" in out
    status_event = {"action": "status", "domain": DOMAIN, "run_id": run_id}
    assert session.events == [
        (RESTORE, {"action": "runs", "domain": DOMAIN}),
        (RESTORE, {"action": "restore", "domain": DOMAIN, "confirm": DOMAIN}),
        (RESTORE, status_event),
        (RESTORE, status_event),
        (RESTORE, status_event),
    ]
    assert sleeps == [DeployedFunctions.POLL_SECONDS] * 3
    lines = [line for line in err.splitlines() if "items written" in line]
    assert lines == [
        "safety-backup: 0 of 300 items written (10 s)",
        "safety-backup: 0 of 300 items written (10 s) - the function is busy (throttled); waiting",
        "writing: 120 of 300 items written (10 s)",
        "done: 300 of 300 items written (10 s)",
    ]


def test_a_function_error_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession()
    session.stack()
    session.answers({"errorType": "StorageError", "errorMessage": "the bucket is gone"}, error="Unhandled")
    status, out, err = run(session, capsys, "list", DOMAIN)
    assert status == 1
    assert out == ""
    assert err.strip() == "error: the restore function raised StorageError: the bucket is gone"


def test_a_missing_stack_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession()
    session.stubbers["cloudformation"].add_client_error(
        "describe_stacks", "ValidationError", "Stack with id nope does not exist"
    )
    status, _, err = run(session, capsys, "--stack-name", "nope", "list", DOMAIN)
    assert status == 2
    assert "stack 'nope' (or its RestoreFunction) does not exist in us-east-1" in err
    assert "Traceback" not in err


def test_a_throttled_first_call_is_exit_2_with_advice(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession()
    session.stack()
    session.runs()
    session.throttles()
    status, _, err = run(session, capsys, "restore", DOMAIN, "--yes")
    assert status == 2
    assert "is busy (throttled" in err


def test_the_stack_name_comes_from_simpledb_backup_stack(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMPLEDB_BACKUP_STACK", "prod-backup")
    session = StubbedSession()
    session.stubbers["cloudformation"].add_client_error(
        "describe_stacks", "ValidationError", "Stack with id prod-backup does not exist"
    )
    status, _, err = run(session, capsys, "list", DOMAIN)
    assert status == 2
    assert "stack 'prod-backup' (or its RestoreFunction) does not exist" in err
    assert "(check --stack-name or SIMPLEDB_BACKUP_STACK, and the region and profile)" in err


def test_an_unknown_profile_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--profile", "no-such-profile-anywhere", "list", DOMAIN, "--json"])
    captured = capsys.readouterr()
    assert status == 2
    assert "no-such-profile-anywhere" in captured.err
    assert "--profile or AWS_PROFILE" in captured.err
    assert json.loads(captured.out)["status"] == "error"  # --json: stdout is JSON whatever happened


def test_a_drill_on_demand_is_the_drill_functions(capsys: pytest.CaptureFixture[str]) -> None:
    session = StubbedSession()
    session.stack()
    answer = {
        "action": "restore",
        "status": "complete",
        "run_id": "drill-20261126T050000Z-0123456789ab",
        "drill": {"domain": DOMAIN, "scratch_domain": "simpledb-backup-drill-packages", "passed": True},
        "written": {"items_written": 296},
        "verification": {"verified": True},
    }
    session.answers(answer, function=DRILL)
    status, out, _ = run(session, capsys, "drill", DOMAIN)
    assert status == 0
    assert session.events == [(DRILL, {"trigger": "manual", "domain": DOMAIN})]
    assert "drill of packages into simpledb-backup-drill-packages: passed" in out
    assert "the scratch domain matches the dump" in out


def test_a_followed_run_that_stalls_says_so_with_the_command_that_resumes_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    session = StubbedSession()
    session.stack()
    run_id = "restore-20261126T030000Z-0123456789ab"
    resume = {"action": "restore", "domain": DOMAIN, "run_id": run_id}
    base = {
        "action": "restore",
        "status": "continued",
        "run_id": run_id,
        "domain": DOMAIN,
        "target_domain": DOMAIN,
    }
    progress = {"phase": "writing", "items_to_write": 300, "items_written": 120, "elapsed_seconds": 800.0}
    session.runs({"run_id": "restore-20261125T030000Z-abcdefabcdef", "state": "complete"})
    session.answers({**base, "state": "parked", "phase": "writing", "progress": progress})
    session.answers(
        {
            **base,
            "state": "stalled",
            "phase": "writing",
            "progress": progress,
            "heartbeat_at": "2026-11-26T03:14:00+00:00",
            "stalled_since": "2026-11-26T03:14:00+00:00",
            "next": [{"say": "Resume the run where it stands.", "function": "restore", "event": resume}],
        }
    )
    functions = DeployedFunctions(session, STACK, None, sleep=lambda _: None)
    status, out, err = run(
        session,
        capsys,
        "--region",
        "eu-west-1",
        "restore",
        DOMAIN,
        "--yes",
        functions_factory=lambda _: functions,
    )
    assert status == 3, err
    assert (
        f"run {run_id}: follow it with `simpledb-backup --region eu-west-1 status packages --run-id {run_id} --wait`"
        in err
    )
    assert "state: stalled (since 2026-11-26 03:14:00 UTC: nothing runs it" in out
    assert "Resume the run where it stands." in out
    assert f"$ simpledb-backup --region eu-west-1 restore packages --resume {run_id}" in out
    assert [event for _, event in session.events][-1] == {
        "action": "status",
        "domain": DOMAIN,
        "run_id": run_id,
    }


def test_following_asks_for_status_no_more_often_than_every_5_seconds() -> None:
    from simpledb_backup_cli.functions import WorkerFunctions

    assert DeployedFunctions.POLL_SECONDS >= 5
    assert WorkerFunctions.POLL_SECONDS >= 5
