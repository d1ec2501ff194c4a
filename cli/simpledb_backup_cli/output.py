"""Where a command prints: the answer on stdout (JSON with --json, else for a person), everything else on
stderr; consoles that colour only where the terminal supports it and do not wrap output to a file or a pipe.

With ``--json`` stdout always carries exactly one JSON document: the function's answer, or the command's own
refusal or error in the same shape (``{"status": "refused", "error": {"kind", "message"}}``; ``"error"`` for a
usage or AWS problem, ``"stopped-following"`` after Ctrl-C, with the run's id and the command that follows it). ``--quiet`` keeps
stderr to what a person must see: the question before a restore, the run id of a run the command started, and
errors.
"""

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console, RenderableType
from rich.text import Text

from simpledb_backup_cli.errors import CliError, ExitStatus
from simpledb_backup_cli.functions import Answer

REFUSED_OR_FAILED = ("refused", "failed")


@dataclass
class Output:
    """Where a command prints: answers on stdout (JSON with --json), everything else on stderr."""

    as_json: bool
    stdout: TextIO
    console: Console
    error_console: Console
    quiet: bool = False

    @property
    def info(self) -> Console:
        """Where a person reads what is not the answer itself (the plan before the question)."""
        return self.error_console if self.as_json else self.console

    def answer(self, answer: Answer, view: Callable[[Answer], RenderableType]) -> int:
        if self.as_json:
            print_json(self.stdout, answer)
        else:
            self.console.print(view(answer))
        return int(exit_status(answer))

    def note(self, text: str) -> None:
        """A line for a person on stderr (not with --quiet)."""
        if not self.quiet:
            self.error_console.print(Text(text, style="dim"))

    def say(self, text: str, style: str = "") -> None:
        """A line on stderr a person must see, --quiet or not (a run id, how to follow a run)."""
        self.error_console.print(Text(text, style=style), highlight=False)


def print_json(stream: TextIO, document: Mapping[str, Any]) -> None:
    stream.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    stream.flush()


def exit_status(answer: Answer) -> ExitStatus:
    if answer.get("status") in REFUSED_OR_FAILED:
        return ExitStatus.REFUSED_OR_FAILED
    return ExitStatus.ANSWERED


def error_document(error: CliError) -> dict[str, Any]:
    """The command's own refusal or error, shaped as the functions' refusals are, for --json."""
    refused = error.status == ExitStatus.REFUSED_OR_FAILED
    stopped = error.kind == "stopped-following"  # Ctrl-C: the run goes on (or the error says why not)
    document: dict[str, Any] = {
        "status": "refused" if refused else "stopped-following" if stopped else "error",
        "error": {"kind": error.kind, "message": str(error)},
        "exit_status": int(error.status),
    }
    return {**document, **error.details}


def unwrapped(stream: TextIO) -> dict[str, Any]:
    """Output to a file or a pipe is not wrapped at 80 columns: lines as long as they are, tables as wide as
    they need (up to 200 columns). A terminal's width is its own."""
    if stream.isatty():
        return {}
    return {"width": 200, "soft_wrap": True}


class CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time, so that the functions' logs in --local mode are
    printed above a progress bar (which takes sys.stderr over while it is drawn)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class Discard:
    """Where the functions' logs go with --quiet and no --log-file."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
