"""Any answer as a person reads it, by what it is: the view of its kind, then its state, the samples it left
out and its next steps as `simpledb-backup` commands (pure)."""

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType

from simpledb_backup_cli import render, runviews
from simpledb_backup_cli.commands import CommandLine

Answer = Mapping[str, Any]


def main_view(answer: Answer, commands: CommandLine, with_plan: bool) -> RenderableType:
    if answer.get("status") == "refused":
        return render.refusal_view(answer)
    action = answer.get("action")
    if action == "list":
        return render.dumps_view(answer)
    if action == "plan":
        return render.plan_view(answer)
    if action == "diff":
        return render.diff_view(answer)
    if action == "runs":
        return runviews.runs_view(answer)
    if action == "estimate":
        return runviews.estimate_view(answer)
    if action == "unlock":
        return runviews.unlock_view(answer)
    if isinstance(answer.get("drill"), Mapping):
        return runviews.drill_view(answer)
    if action == "restore" or answer.get("run_id"):
        undo = None
        if isinstance(answer.get("safety_backup"), Mapping) and answer.get("domain") and answer.get("run_id"):
            undo = commands.line("undo", str(answer["domain"]), "--run-id", str(answer["run_id"]))
        return render.restore_view(answer, with_plan, undo)
    return render.backup_view(answer)


def answer_view(
    answer: Answer, commands: CommandLine | None = None, with_plan: bool = True
) -> RenderableType:
    """Any answer: its own view, then (when it carries them) its state, omitted samples and next steps."""
    commands = commands or CommandLine()
    parts = [
        main_view(answer, commands, with_plan),
        runviews.run_state_view(answer, commands),
        runviews.samples_omitted_view(answer),
        runviews.next_steps_view(answer, commands),
    ]
    return Group(*(part for part in parts if part is not None))
