"""Helpers of the command-line tests: the CLI run in this process against the handlers (moto with the
project's SimpleDB engine), its stdout, stderr and exit status kept apart; the engine's write counts; a local AWS
on a loopback port for commands run as child processes."""

import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import sdblocal
from localrun import function_output, load_handler
from simpledb_backup.aws import clients
from simpledb_backup_cli.app import Runtime, main
from simpledb_backup_cli.functions import Functions, LocalFunctions

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "packages"
LOOPBACK_BUCKET = "simpledb-backup-loopback"
WRITE_OPERATIONS = (
    "CreateDomain",
    "DeleteDomain",
    "PutAttributes",
    "BatchPutAttributes",
    "DeleteAttributes",
    "BatchDeleteAttributes",
)


def writes() -> dict[str, int]:
    """SimpleDB write calls the engine received since its counts were last reset (zero entries left out)."""
    counts = sdblocal.controls.call_counts()
    return {operation: counts[operation] for operation in WRITE_OPERATIONS if counts.get(operation)}


def fresh_containers() -> None:
    """Each test is a new Lambda container: the handlers' settings and clients are made again."""
    for function in ("backup", "restore"):
        load_handler(function).settings.cache_clear()
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    clients.kms_client.cache_clear()


@dataclass(frozen=True)
class CliRun:
    status: int
    stdout: str
    stderr: str
    #: What the functions printed (their logs and metric records), kept off the command's stdout.
    logs: str


class Cli:
    """``simpledb-backup ARGS`` in this process, with the functions a test gives it."""

    def __init__(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        functions: Functions | None = None,
    ) -> None:
        self.capsys, self.monkeypatch = capsys, monkeypatch
        self.functions: Functions = functions or LocalFunctions()

    def __call__(
        self, *arguments: str, typed: str | None = None, error_console: Console | None = None
    ) -> CliRun:
        """Run the command; ``typed`` is what the operator types when asked (end of input when None)."""
        self.monkeypatch.setattr(sys, "stdin", io.StringIO("" if typed is None else typed + "\n"))
        self.capsys.readouterr()
        logs = io.StringIO()
        runtime = Runtime(
            functions_factory=lambda _: self.functions, stdout=sys.stdout, error_console=error_console
        )
        with function_output(logs):
            status = main(list(arguments), runtime)
        captured = self.capsys.readouterr()
        return CliRun(status, captured.out, captured.err, logs.getvalue())


@dataclass(frozen=True)
class LoopbackAws:
    """A local AWS on a loopback port (moto's server with the engine, in this process), seeded like
    `make local-aws` plus the README's setup: the backup bucket and a Repoman-shaped domain."""

    url: str
    #: The environment of a command run against it (a child process).
    environment: dict[str, str]
    items: list[Any]
    sdb: Any
    s3: Any

    def run(
        self, *command: str, environment: dict[str, str] | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """A command (python -m ..., or a script) run with this environment (or ``environment``) and ``extra``
        variables; stdout and stderr kept apart."""
        return subprocess.run(
            [sys.executable, *command],
            cwd=ROOT,
            env={**(self.environment if environment is None else environment), **extra},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
