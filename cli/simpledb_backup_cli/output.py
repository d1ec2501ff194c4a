"""Where a command prints: the answer on stdout (JSON with --json, else for a person), everything else on
stderr; consoles that colour only where the terminal supports it and do not wrap output to a file or a pipe."""

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from rich.console import Console, RenderableType
from rich.text import Text

from simpledb_backup_cli import render
from simpledb_backup_cli.errors import ExitStatus
from simpledb_backup_cli.functions import Answer

REFUSED_OR_FAILED = ("refused", "failed")


@dataclass
class Output:
    """Where a command prints: answers on stdout (JSON with --json), everything else on stderr."""

    as_json: bool
    stdout: TextIO
    console: Console
    error_console: Console

    @property
    def info(self) -> Console:
        """Where a person reads what is not the answer itself (the plan before the question, progress)."""
        return self.error_console if self.as_json else self.console

    def answer(self, answer: Answer, view: Callable[[Answer], RenderableType] = render.answer_view) -> int:
        if self.as_json:
            self.stdout.write(json.dumps(answer, indent=2, ensure_ascii=False, default=str) + "\n")
            self.stdout.flush()
        else:
            self.console.print(view(answer))
        return int(exit_status(answer))

    def note(self, text: str) -> None:
        self.error_console.print(Text(text, style="dim"))


def exit_status(answer: Answer) -> ExitStatus:
    if answer.get("status") in REFUSED_OR_FAILED:
        return ExitStatus.REFUSED_OR_FAILED
    return ExitStatus.ANSWERED


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
