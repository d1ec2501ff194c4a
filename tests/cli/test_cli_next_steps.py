"""Every next step an answer can carry (docs/ANSWERS.md, ``"next"``) is shown as the `simpledb-backup` command that
sends exactly its event: the command shown, run, sends that event (its ``confirm`` aside, which the operator gives
by typing the domain's name). Also the commands that follow and resume a run, with the operator's global
options."""

import io
import shlex
from typing import Any

import pytest
from pydantic import BaseModel

from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.events import BackupEvent, DrillEvent, parse_event, parse_restore_request
from simpledb_backup_cli.app import main
from simpledb_backup_cli.cliruntime import Runtime
from simpledb_backup_cli.commands import CommandLine
from simpledb_backup_cli.functions import Answer, FunctionName, Pending, ThreadPending
from simpledb_backup_cli.requests import wire_event

RUN_ID = "restore-20261126T030000Z-0123456789ab"
VERSION = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"
RESTORE_STEPS: list[dict[str, Any]] = [
    {"action": "list", "domain": "packages"},
    {"action": "list", "domain": "packages", "limit": 3, "label": "stable"},
    {"action": "plan", "domain": "packages", "mode": "exact", "version_id": VERSION, "sample_size": 5},
    {
        "action": "plan",
        "domain": "packages",
        "as_of": "2026-11-26T03:00:00Z",
        "target_domain": "restored-packages",
    },
    {"action": "plan", "domain": "packages", "items": ["meta", "a b"], "match": {"distribution": "stable"}},
    {"action": "plan", "domain": "packages", "source": "repoman", "source_key": "imports/repoman.json"},
    {
        "action": "restore",
        "domain": "packages",
        "version_id": VERSION,
        "mode": "exact",
        "confirm": "packages",
    },
    {
        "action": "restore",
        "domain": "packages",
        "source": "dump",
        "mode": "merge",
        "sample_size": 5,
        "confirm": "packages",
    },
    {"action": "restore", "domain": "packages", "run_id": RUN_ID},
    {"action": "restore", "domain": "packages", "target_domain": "restored-packages", "run_id": RUN_ID},
    {"action": "status", "domain": "packages", "run_id": RUN_ID},
    {"action": "diff", "domain": "packages", "from": "previous", "to": "latest"},
    {
        "action": "diff",
        "domain": "packages",
        "from": {"version_id": VERSION},
        "to": "live",
        "sample_size": 10,
    },
    {"action": "diff", "domain": "packages", "from": {"as_of": "2026-11-26T03:00:00+00:00"}},
    {"action": "runs", "domain": "packages"},
    {"action": "unlock", "domain": "packages", "confirm": "packages"},
    {"action": "estimate", "domain": "packages"},
    {"action": "estimate", "domain": "packages", "latency_ms": 12.5},
]
OTHER_STEPS: list[tuple[FunctionName, dict[str, Any]]] = [
    ("backup", {"trigger": "manual", "domains": ["packages"]}),
    (
        "backup",
        {
            "trigger": "manual",
            "domains": ["packages"],
            "where": "`distribution` = 'stable'",
            "label": "stable",
        },
    ),
    ("drill", {"trigger": "manual", "domain": "packages"}),
]


def model_of(function: FunctionName, event: dict[str, Any]) -> BaseModel:
    """The event as the function reads it, without the confirm the operator types."""
    unconfirmed = {name: value for name, value in event.items() if name != "confirm"}
    if function == "backup":
        return parse_event(BackupEvent, unconfirmed)
    if function == "drill":
        return parse_event(DrillEvent, unconfirmed)
    model: BaseModel = parse_restore_request(unconfirmed)
    return model


def known(event: dict[str, Any]) -> bool:
    try:
        parse_restore_request(event)
    except InvalidRequestError:
        return False
    return True


class Recorder:
    """Functions that answer every event at once (a plan, a stalled run's status, a complete restore) and keep
    what they were sent."""

    POLL_SECONDS = 0.0

    def __init__(self) -> None:
        self.sent: list[tuple[FunctionName, dict[str, Any]]] = []

    def invoke(self, function: FunctionName, event: BaseModel) -> Answer:
        sent = wire_event(event)
        self.sent.append((function, sent))
        action = sent.get("action")
        if action == "runs":
            return {"action": "runs", "status": "ok", "domain": sent["domain"], "runs": [], "more": 0}
        if action == "status":
            return {"action": "restore", "status": "continued", "state": "stalled", "run_id": sent["run_id"],
                    "domain": sent["domain"]}  # fmt: skip
        return {
            "action": action,
            "status": "complete" if action == "restore" else "ok",
            "domain": sent.get("domain"),
        }

    def start(self, function: FunctionName, event: BaseModel) -> Pending:
        return ThreadPending(lambda: self.invoke(function, event), "recorded")

    def settle(self) -> None:
        pass

    def finish(self) -> Answer | None:
        return None

    def after_exit(self) -> tuple[bool, str]:
        return True, "in the recorder"


def sent_by(command: str, function: FunctionName) -> dict[str, Any]:
    """Run ``command`` (without asking: --yes where a command would ask) and the last event it sent."""
    arguments = shlex.split(command)
    assert arguments[0] == "simpledb-backup"
    if arguments[1] in ("restore", "unlock"):
        arguments.append("--yes")
    recorder = Recorder()
    status = main(arguments[1:], Runtime(functions_factory=lambda _: recorder, stdout=io.StringIO()))
    assert status == 0, command
    # A restore asks for the runs first (to find its own): not the event the command sends.
    sent = [event for called, event in recorder.sent if called == function]
    [last] = [event for event in sent if arguments[1] == "runs" or event.get("action") != "runs"][-1:]
    return last


@pytest.mark.parametrize("event", RESTORE_STEPS, ids=lambda event: " ".join(f"{k}" for k in event))
def test_each_restore_step_is_the_command_that_sends_it(event: dict[str, Any]) -> None:
    if not known(event):
        pytest.skip(
            f"the restore function's {event['action']!r} action (issue 17, restoreops/bench) has not landed yet"
        )
    command = CommandLine().for_step({"say": "…", "function": "restore", "event": event})
    assert command is not None
    assert model_of("restore", sent_by(command, "restore")) == model_of("restore", event), command


@pytest.mark.parametrize(("function", "event"), OTHER_STEPS)
def test_each_backup_and_drill_step_is_the_command_that_sends_it(
    function: FunctionName, event: dict[str, Any]
) -> None:
    command = CommandLine().for_step({"say": "…", "function": function, "event": event})
    assert command is not None
    assert model_of(function, sent_by(command, function)) == model_of(function, event), command


def test_a_step_no_command_sends_is_shown_as_its_event() -> None:
    resume_backup = {
        "trigger": "manual",
        "resume_run_id": "backup-20261126T030000Z-0123456789ab",
        "domains": [],
    }
    assert CommandLine().for_step({"say": "resume", "function": "backup", "event": resume_backup}) is None
    assert (
        CommandLine().for_step({"say": "?", "function": "restore", "event": {"action": "fly", "domain": "x"}})
        is None
    )


def test_the_commands_shown_repeat_the_operators_global_options() -> None:
    local = CommandLine(("--local", "--local-timeout", "6"))
    assert (
        local.status("packages", RUN_ID)
        == f"simpledb-backup --local --local-timeout 6 status packages --run-id {RUN_ID} --wait"
    )
    deployed = CommandLine(("--stack-name", "prod backup", "--region", "eu-west-1"))
    assert deployed.resume("packages", RUN_ID, "restored-packages") == (
        f"simpledb-backup --stack-name 'prod backup' --region eu-west-1 restore packages --resume {RUN_ID} "
        "--target-domain restored-packages"
    )
    assert (
        deployed.runs("packages")
        == "simpledb-backup --stack-name 'prod backup' --region eu-west-1 runs packages"
    )
