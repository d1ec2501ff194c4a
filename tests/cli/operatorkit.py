"""The installed `simpledb-backup` as an operator runs it: the project's console script (.venv/bin, as `make setup`
installs it), started from a temporary directory with no PYTHONPATH, against a local AWS served by another process
(`python -m sdblocal.server`, as `make local-aws` serves it), in a pseudo-terminal that is the command's
controlling terminal, so that Ctrl-C (``\\x03``) is the SIGINT a terminal sends to the command's process group."""

import json
import os
import pty
import re
import signal
import subprocess
import sys
import termios
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pexpect
import psutil
from pexpect import fdpexpect

import sdblocal
from repomandata import fill_domain, repoman_domain_items
from simpledb_backup.items import Item
from stackbucket import create_backup_bucket
from statekey import LOCAL_STATE_KEY_ALIAS, create_state_key

ROOT = Path(__file__).resolve().parents[2]
#: The console script `make setup` installs, beside the interpreter running the tests.
INSTALLED = Path(sys.executable).parent / "simpledb-backup"
DOMAIN = "packages"
BUCKET = "simpledb-backup-operator"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
#: Makes the pseudo-terminal the command's controlling terminal (and its process group the foreground one),
#: then runs the command: what a shell does for a command typed at its prompt.
LAUNCH = "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); os.execv(sys.argv[1], sys.argv[1:])"
RUN_ID = re.compile(r"run (restore-[0-9TZ]+-[0-9a-f]+)")


def plain(text: str) -> str:
    """What a person reads on the terminal: colours and cursor movements taken out, lines joined when a bar
    redraws them."""
    return ANSI.sub("", text)


class LocalAws:
    """`python -m sdblocal.server` on a free loopback port, seeded like the README's local session."""

    def __init__(self) -> None:
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sdblocal.server", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=environment,
            cwd="/",
            start_new_session=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, line
        self.url = match.group(0)
        self.controls = sdblocal.RemoteControls(self.url)
        credentials = {
            "aws_access_key_id": "local",
            "aws_secret_access_key": "local",
            "region_name": "us-east-1",
        }
        self.sdb = boto3.client("sdb", endpoint_url=self.url, **credentials)
        self.s3 = boto3.client("s3", endpoint_url=self.url, **credentials)
        self.kms = boto3.client("kms", endpoint_url=self.url, **credentials)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def reset(self, items: int) -> list[Item]:
        """Nothing but the backup bucket, the state key (as events/env.json names it) and a Repoman-shaped domain
        of ``items`` items (meta included)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        self.controls.reset()
        create_backup_bucket(self.s3, BUCKET, ROOT / "template.yaml")
        create_state_key(self.kms, LOCAL_STATE_KEY_ALIAS, ROOT / "template.yaml")
        domain_items = list(repoman_domain_items(items))
        fill_domain(self.sdb, DOMAIN, domain_items)
        return domain_items

    def item_count(self, domain: str = DOMAIN) -> int:
        try:
            answer = self.sdb.select(SelectExpression=f"select count(*) from `{domain}`", ConsistentRead=True)
        except self.sdb.exceptions.ClientError:
            return 0
        return int(answer["Items"][0]["Attributes"][0]["Value"])

    def writes(self) -> dict[str, int]:
        counts = self.controls.call_counts()
        names = ("CreateDomain", "DeleteDomain", "PutAttributes", "BatchPutAttributes", "DeleteAttributes",
                 "BatchDeleteAttributes")  # fmt: skip
        return {name: counts[name] for name in names if counts.get(name)}


@dataclass
class Operator:
    """Runs the installed command in ``home`` (a temporary directory), with an environment that names the local
    AWS and the functions' settings, and no PYTHONPATH."""

    aws: LocalAws
    home: Path
    environment: dict[str, str]

    @classmethod
    def at(cls, aws: LocalAws, home: Path, **settings: str) -> "Operator":
        environment = {
            key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "COLUMNS")
        }
        environment.update(
            AWS_ENDPOINT_URL=aws.url,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION="us-east-1",
            BACKUP_BUCKET=BUCKET,
            DOMAIN_NAMES=DOMAIN,
            POWERTOOLS_LOG_LEVEL="WARNING",
            SIMPLEDB_BACKUP_LOG_FILE=str(home / "function-logs.jsonl"),
            TERM="xterm-256color",
            **settings,
        )
        environment.pop("AWS_SESSION_TOKEN", None)
        environment.pop("AWS_PROFILE", None)
        return cls(aws, home, environment)

    def run(
        self, *arguments: str, typed: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """The command without a terminal: stdout and stderr apart; ``typed`` its standard input."""
        return subprocess.run(
            [str(INSTALLED), *arguments],
            input="" if typed is None else typed + "\n",
            cwd=self.home,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def answer(self, *arguments: str) -> dict[str, Any]:
        """The command's --json answer (whatever its exit status)."""
        done = self.run(*arguments, "--json")
        assert done.stdout.strip(), done.stderr
        document: dict[str, Any] = json.loads(done.stdout)
        return document

    def terminal(self, *arguments: str) -> "Terminal":
        return Terminal(self, arguments)


class Terminal:
    """The command in a pseudo-terminal of 50 x 160 that is its controlling terminal."""

    def __init__(self, operator: Operator, arguments: tuple[str, ...]) -> None:
        controller, terminal = pty.openpty()
        termios.tcsetwinsize(terminal, (50, 160))
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(INSTALLED), *arguments],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            cwd=operator.home,
            env=operator.environment,
            start_new_session=True,
        )
        os.close(terminal)
        self.screen = fdpexpect.fdspawn(controller, encoding="utf-8", codec_errors="replace", timeout=180)
        self.seen = ""

    def expect(self, pattern: str, timeout: float = 180) -> str:
        """Wait for ``pattern`` (a regular expression, matched against the plain text); the plain text up to it."""
        self.screen.expect(pattern, timeout=timeout)
        shown = plain(
            (self.screen.before or "") + (self.screen.after if isinstance(self.screen.after, str) else "")
        )
        self.seen += shown
        return shown

    def started(self) -> None:
        """Wait until the launcher has made the terminal the command's own and become the command."""
        process = psutil.Process(self.process.pid)
        eventually(lambda: LAUNCH not in process.cmdline(), timeout=30, every=0.02)

    def ctrl_c(self) -> None:
        self.screen.send("\x03")

    def type(self, line: str) -> None:
        self.screen.sendline(line)

    def kill(self) -> None:
        """What a crash or `kill -9` of the command does: the command and everything in its process group (its
        local worker included) die at once."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def finished(self, timeout: float = 180) -> tuple[int, str]:
        """The exit status, and everything the terminal showed (plain)."""
        self.screen.expect(pexpect.EOF, timeout=timeout)
        status = self.process.wait(timeout=60)
        self.seen += plain(self.screen.before or "")
        self.screen.close()
        return status, self.seen


def eventually(check: Callable[[], Any], timeout: float = 180, every: float = 1.0) -> Any:
    """``check()``'s first truthy result within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check}")
        time.sleep(every)
