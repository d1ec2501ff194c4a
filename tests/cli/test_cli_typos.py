"""A mistyped domain gets one answer from every command of the installed `simpledb-backup --local`: refused,
exit status 3, naming the configured domains (docs/ANSWERS.md, ``configured_domains``), on stdout as JSON with
--json; and nothing is written."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from operatorkit import DOMAIN, LocalAws, Operator

pytestmark = pytest.mark.server

TYPO = "pakages"
RUN_ID = "restore-20261126T030000Z-0123456789ab"
COMMANDS = [
    pytest.param(["list", TYPO], id="list"),
    pytest.param(["plan", TYPO], id="plan"),
    pytest.param(["diff", TYPO], id="diff"),
    pytest.param(["restore", TYPO, "--yes"], id="restore"),
    pytest.param(["restore", TYPO], id="restore, asking first"),
    pytest.param(["restore", TYPO, "--resume", RUN_ID, "--yes"], id="restore --resume"),
    pytest.param(["status", TYPO, "--run-id", RUN_ID], id="status"),
    pytest.param(["undo", TYPO, "--run-id", RUN_ID], id="undo"),
    pytest.param(["runs", TYPO], id="runs"),
    pytest.param(["unlock", TYPO], id="unlock"),
    pytest.param(["estimate", TYPO], id="estimate"),
    pytest.param(["backup", TYPO], id="backup"),
    pytest.param(["drill", TYPO], id="drill"),
]


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    aws = LocalAws()
    aws.reset(20)
    home: Path = tmp_path_factory.mktemp("typos")
    operator = Operator.at(aws, home)
    assert operator.run("--local", "backup", DOMAIN, "--json").returncode == 0
    aws.controls.reset_counts()
    yield operator
    aws.stop()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_a_mistyped_domain_naming_the_configured_ones(
    operator: Operator, command: list[str]
) -> None:
    readable = operator.run("--local", *command, typed=TYPO)
    assert readable.returncode == 3, readable.stdout + readable.stderr
    assert DOMAIN in readable.stdout  # ("pakages" does not contain it)
    as_json = operator.run("--local", *command, "--json", typed=TYPO)
    assert as_json.returncode == 3
    answer = json.loads(as_json.stdout)
    assert answer["status"] == "refused"
    assert answer.get("configured_domains") == [DOMAIN] or DOMAIN in answer["error"]["message"]
    assert operator.aws.writes() == {}
