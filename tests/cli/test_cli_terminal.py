"""`simpledb-backup` in a pseudo-terminal, as an operator types it: the restore's question answered with a wrong
name refuses and writes nothing (the engine's write counts), the right name restores; colours on a terminal.
Also the console script itself, and --local against an embedded local AWS it starts and seeds."""

import json
import os
import pty
import re
import shutil
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pexpect
import pytest
from clihelpers import DOMAIN, ROOT, LoopbackAws, writes
from pexpect import fdpexpect

import sdblocal
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.scan import scan_domain

pytestmark = pytest.mark.server
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def contents(sdb: Any) -> dict[str, Any]:
    return {item.name: item.attributes for page in scan_domain(SimpleDB(sdb), DOMAIN, 4) for item in page}


class Terminal:
    """``simpledb-backup --local ARGUMENTS`` on a pseudo-terminal of 160 columns, driven with pexpect.

    The child is started by subprocess (fork and exec in one step, safe in this multi-threaded test process,
    which serves the local AWS) with the terminal's slave side as its stdin, stdout and stderr.
    """

    def __init__(self, loopback_aws: LoopbackAws, *arguments: str) -> None:
        environment = {**loopback_aws.environment, "TERM": "xterm-256color"}
        for variable in ("COLUMNS", "NO_COLOR"):
            environment.pop(variable, None)
        controller, terminal = pty.openpty()
        termios.tcsetwinsize(terminal, (50, 160))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simpledb_backup_cli", "--local", *arguments],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            cwd=ROOT,
            env=environment,
            start_new_session=True,
        )
        os.close(terminal)
        self.screen = fdpexpect.fdspawn(controller, encoding="utf-8", timeout=120)

    def finished(self) -> tuple[int, str]:
        """The exit status, and what the terminal showed since the last expect, without colour codes."""
        self.screen.expect(pexpect.EOF)
        status = self.process.wait(timeout=60)
        self.screen.close()
        return status, ANSI.sub("", self.screen.before or "")


@pytest.fixture
def damaged(loopback_aws: LoopbackAws) -> dict[str, Any]:
    """A dump of the domain, then an accident: a few packages gone."""
    backup = loopback_aws.run("-m", "simpledb_backup_cli", "--local", "backup", DOMAIN, "--json")
    assert backup.returncode == 0, backup.stderr
    gone = [item.name for item in loopback_aws.items if item.name != "meta"][:5]
    for name in gone:
        loopback_aws.sdb.delete_attributes(DomainName=DOMAIN, ItemName=name)
    return contents(loopback_aws.sdb)


def test_typing_a_wrong_name_refuses_and_writes_nothing(
    loopback_aws: LoopbackAws, damaged: dict[str, Any]
) -> None:
    sdblocal.controls.reset_counts()
    terminal = Terminal(loopback_aws, "restore", DOMAIN, "--mode", "exact")
    terminal.screen.expect("Type the name of the domain to restore into")
    shown = terminal.screen.before
    terminal.screen.sendline("pakages")
    status, rest = terminal.finished()
    assert status == 3
    assert "refused: you typed 'pakages', not 'packages'; nothing was written" in rest
    assert writes() == {}
    assert contents(loopback_aws.sdb) == damaged
    assert "5 to create" in ANSI.sub("", shown)  # the plan came first
    assert "\x1b[" in shown  # a terminal gets colours


def test_typing_the_domain_name_restores(loopback_aws: LoopbackAws, damaged: dict[str, Any]) -> None:
    terminal = Terminal(loopback_aws, "restore", DOMAIN, "--mode", "exact")
    terminal.screen.expect("Type the name of the domain to restore into")
    terminal.screen.sendline(DOMAIN)
    status, rest = terminal.finished()
    assert status == 0, rest
    assert "complete: restored packages: 5 items written" in rest
    assert contents(loopback_aws.sdb) == {item.name: item.attributes for item in loopback_aws.items}


def test_the_console_script_is_installed_and_answers_json_without_colours(loopback_aws: LoopbackAws) -> None:
    script = Path(sys.executable).parent / "simpledb-backup"
    assert script.exists() or shutil.which("simpledb-backup"), (
        "make setup installs the project: simpledb-backup"
    )
    listed = loopback_aws.run(str(script), "--local", "list", DOMAIN, "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["dumps"] == []
    readable = loopback_aws.run(str(script), "--local", "list", DOMAIN)
    assert "no dumps of packages yet" in readable.stdout
    assert "\x1b[" not in readable.stdout  # not a terminal: no colours


def test_local_without_an_endpoint_starts_and_seeds_an_embedded_aws(loopback_aws: LoopbackAws) -> None:
    environment = {**loopback_aws.environment}
    del environment["AWS_ENDPOINT_URL"]
    environment["BACKUP_BUCKET"] = "simpledb-backup-local"
    listed = loopback_aws.run(
        "-m", "simpledb_backup_cli", "--local", "list", DOMAIN, "--json", environment=environment
    )
    assert listed.returncode == 0, listed.stderr
    [dump] = json.loads(listed.stdout)["dumps"]  # the first dump the embedded stack made
    assert dump["items"] == 500
    assert "embedded local AWS at http://127.0.0.1:" in listed.stderr
