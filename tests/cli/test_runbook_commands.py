"""Every `simpledb-backup` command docs/RUNBOOK.md and README.md give an operator is one the command accepts as
written (placeholders filled in): each is run against functions that answer at once, and none is a usage
error."""

import io
import re
import shlex
from pathlib import Path

import pytest
from test_cli_next_steps import Recorder

from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.events import parse_restore_request
from simpledb_backup_cli.app import main
from simpledb_backup_cli.cliruntime import Runtime

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDERS = {
    "<domain>": "packages",
    "<run_id>": "restore-20261126T030000Z-0123456789ab",
    "RUN_ID": "restore-20261126T030000Z-0123456789ab",
    "<stack>": "simpledb-backup",
    "<profile>": "default",
    "<region>": "us-east-1",
    "<file>": "repoman-backup.json",
}
#: Code blocks, then inline code spans (delimited by equal runs of backticks, possibly across lines).
BLOCK = re.compile(r"^```\w*\n(.*?)^```", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
PROGRAM = re.compile(r"^(?:\.venv/bin/)?simpledb-backup(?=\s|$)")
#: Actions of the restore function that the event models may not know yet (issue 17's function side).
PENDING_ACTIONS = {"runs", "unlock", "estimate"}


def commands(document: str) -> list[str]:
    """Each `simpledb-backup` command of a document, placeholders filled in ("..." and COMMAND mark prose)."""
    text = (ROOT / document).read_text()
    candidates = [line for block in BLOCK.findall(text) for line in block.splitlines()]
    candidates += [" ".join(span.split()) for _, span in SPAN.findall(BLOCK.sub("", text))]
    found = set()
    for candidate in candidates:
        command = shlex.join(shlex.split(candidate, comments=True)) if PROGRAM.match(candidate) else ""
        words = shlex.split(command)[1:]
        if (
            "..." in command
            or "COMMAND" in command
            or not ({"--help", "--version"} & set(words) or subcommand(words))
        ):
            continue  # prose: the program's name, or a pattern of commands
        for placeholder, value in PLACEHOLDERS.items():
            command = command.replace(placeholder, value)
        found.add(command)
    return sorted(found)


def subcommand(arguments: list[str]) -> str | None:
    return next((argument for argument in arguments if not argument.startswith("-")), None)


def action_known(action: str) -> bool:
    try:
        parse_restore_request({"action": action, "domain": "packages"})
    except InvalidRequestError as error:
        return "action" not in str(error).split(":")[1]
    return True


@pytest.mark.parametrize("command", sorted(set(commands("docs/RUNBOOK.md") + commands("README.md"))))
def test_each_documented_command_is_accepted(command: str) -> None:
    arguments = shlex.split(command)[1:]
    action = subcommand(arguments)
    if action in PENDING_ACTIONS and not action_known(action):
        pytest.skip(f"the restore function's {action!r} action (issue 17's function side) has not landed yet")
    status = main(arguments, Runtime(functions_factory=lambda _: Recorder(), stdout=io.StringIO()))
    assert status != 2, command  # 2: a usage error


def test_the_runbook_gives_the_command_for_each_operator_step() -> None:
    found = {
        shlex.split(command)[1] for command in commands("docs/RUNBOOK.md") if len(shlex.split(command)) > 1
    }
    assert {
        "backup",
        "drill",
        "list",
        "plan",
        "restore",
        "status",
        "runs",
        "unlock",
        "undo",
        "estimate",
    } <= found
