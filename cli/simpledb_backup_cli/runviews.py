"""The answers about runs, estimates and drills as a person reads them, and every answer's next steps as
`simpledb-backup` commands (pure).

A run's ``state`` (docs/ANSWERS.md) is shown with what it means for the operator: ``running`` (an invocation
works on it now), ``parked`` (waiting for its queued continuation), ``stalled`` (nothing runs it: it waits to be
resumed, and the command that resumes it is shown), ``complete``, ``failed``, ``refused``.
"""

import json
from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from simpledb_backup_cli.commands import CommandLine
from simpledb_backup_cli.render import status_text, time_text

Answer = Mapping[str, Any]

STATE_STYLES = {
    "running": "green",
    "parked": "yellow",
    "stalled": "bold red",
    "complete": "bold green",
    "failed": "bold red",
    "refused": "red",
}
STATE_MEANINGS = {
    "running": "an invocation works on it now",
    "parked": "waiting for its queued continuation",
    "stalled": "nothing runs it: its last invocation died or timed out",
    "complete": "ended: done and verified",
    "failed": "ended: failed",
    "refused": "ended: refused before it wrote anything",
}


def state_text(state: object) -> Text:
    return Text(str(state or "?"), style=STATE_STYLES.get(str(state), ""))


def run_state_view(answer: Answer, commands: CommandLine) -> RenderableType | None:
    """A status or restore answer's state: what it means, since when it is stalled, how to resume it."""
    state = answer.get("state")
    if not state:
        return None
    line = Text("state: ").append_text(state_text(state))
    meaning = STATE_MEANINGS.get(str(state))
    if state == "stalled" and answer.get("stalled_since"):
        meaning = f"since {time_text(answer['stalled_since'])}: {meaning}"
    if meaning:
        line.append(f" ({meaning})", style="dim")
    parts: list[RenderableType] = [line]
    if answer.get("heartbeat_at") and state in ("running", "parked", "stalled"):
        parts.append(Text(f"last heartbeat: {time_text(answer['heartbeat_at'])}", style="dim"))
    domain, run_id = answer.get("domain"), answer.get("run_id")
    if state == "stalled" and domain and run_id and not answer.get("next"):
        parts.append(
            Text("resume it with: ", style="bold").append(
                commands.resume(str(domain), str(run_id), answer.get("target_domain"))
            )
        )
    return Group(*parts)


def next_steps_view(answer: Answer, commands: CommandLine) -> RenderableType | None:
    """``next``: each step as the command that takes it (or, when no command sends that event, the event)."""
    steps = [step for step in answer.get("next") or [] if isinstance(step, Mapping)]
    if not steps:
        return None
    parts: list[RenderableType] = [Text("next:", style="bold")]
    for step in steps:
        parts.append(Text(f"  {step.get('say', '')}"))
        command = commands.for_step(step)
        if command is not None:
            parts.append(Text(f"    $ {command}", style="cyan"))
        elif isinstance(step.get("event"), Mapping):  # no command sends exactly this event: the event itself
            event = json.dumps(step["event"], ensure_ascii=False)
            parts.append(Text(f"    invoke the {step.get('function')} function with {event}", style="cyan"))
    return Group(*parts)


def runs_view(answer: Answer) -> RenderableType:
    """``runs``: the restore runs of a domain, newest first, with their state and progress."""
    runs = [run for run in answer.get("runs") or [] if isinstance(run, Mapping)]
    parts: list[RenderableType] = []
    if not runs:
        parts.append(Text(f"no restore runs of {answer.get('domain')}"))
    else:
        table = Table(
            title=f"Restore runs of {answer.get('domain')}", title_justify="left", box=box.SIMPLE_HEAD
        )
        table.add_column("Run id", no_wrap=True)  # what the operator copies into --run-id or --resume
        for column in ("State", "Phase", "Started", "Last heartbeat", "Written"):
            table.add_column(column, justify="right" if column == "Written" else "left")
        table.add_column("Source")
        for run in runs:
            table.add_row(
                str(run.get("run_id")),
                state_text(run.get("state")),
                str(run.get("phase") or ""),
                time_text(run.get("started_at")),
                time_text(run.get("heartbeat_at") or run.get("updated_at")),
                _written(run),
                _source(run.get("source")),
            )
        parts.append(table)
    if answer.get("more"):
        parts.append(Text(f"… and {answer['more']:,} older run(s)", style="dim"))
    return Group(*parts)


def _written(run: Mapping[str, Any]) -> str:
    written, total = run.get("items_written"), run.get("items_to_write")
    if written is None:
        return ""
    return f"{written:,} of {total:,}" if isinstance(total, int) else f"{written:,}"


def _source(source: object) -> str:
    if not isinstance(source, Mapping):
        return "" if source is None else str(source)
    if source.get("version_id"):
        return f"dump {source['version_id']}" + (
            f" ({time_text(source['time'])})" if source.get("time") else ""
        )
    return ", ".join(f"{key} {value}" for key, value in source.items() if value is not None and key != "kind")


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int | float):
        return ""
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"


def estimate_view(answer: Answer) -> RenderableType:
    """``estimate``: how long and how much a backup and a restore of the domain would take, and on what."""
    parts: list[RenderableType] = [Text(f"Estimate for {answer.get('domain')}", style="bold")]
    for label, key in (("domain", "metadata"), ("settings", "settings")):
        figures = answer.get(key)
        if isinstance(figures, Mapping):
            shown = ", ".join(f"{name.replace('_', ' ')} {_number(value)}" for name, value in figures.items())
            parts.append(Text(f"{label}: {shown}"))
    latency = answer.get("latency_ms")
    if isinstance(latency, Mapping):
        measured = "measured" if latency.get("measured") else "assumed"
        parts.append(
            Text(
                f"latency per call ({measured}): select {latency.get('select')} ms, write {latency.get('write')} ms"
            )
        )
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("", "Time", "Invocations", "Calls", "Lambda GB-s", "Cost (USD)", "Bound by"):
        table.add_column(column, justify="left" if column in ("", "Bound by") else "right")
    for job, calls in (("backup", "select_pages"), ("restore", "write_calls")):
        figures = answer.get(job)
        if isinstance(figures, Mapping):
            table.add_row(
                job,
                _duration(figures.get("seconds")),
                _number(figures.get("invocations")),
                _number(figures.get(calls)),
                _number(figures.get("lambda_gb_seconds")),
                _number(figures.get("cost_usd")),
                str(figures.get("bound") or ""),
            )
    parts.append(table)
    for assumption in answer.get("assumptions") or []:
        parts.append(Text(f"  assumes: {assumption}", style="dim"))
    return Group(*parts)


def _number(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6f}".rstrip("0").rstrip(".") if value < 1 else f"{value:,.1f}"
    return str(value)


def drill_view(answer: Answer) -> RenderableType:
    """A drill's answer: passed or not, into which scratch domain, what it wrote and verified."""
    parts: list[RenderableType] = [status_text(answer)]
    drill = answer.get("drill")
    if isinstance(drill, Mapping):
        passed = drill.get("passed")
        line = Text(f"drill of {drill.get('domain')} into {drill.get('scratch_domain')}: ")
        line.append("passed" if passed else "did not pass", style="bold green" if passed else "bold red")
        parts.append(line)
    written = answer.get("written")
    if isinstance(written, Mapping):
        parts.append(Text(f"written: {written.get('items_written', 0):,} items"))
    verification = answer.get("verification")
    if isinstance(verification, Mapping):
        verified = verification.get("verified")
        parts.append(
            Text("verification: ").append(
                "the scratch domain matches the dump" if verified else "MISMATCH",
                style="green" if verified else "bold red",
            )
        )
    if answer.get("run_id"):
        parts.append(Text(f"run: {answer['run_id']}", style="dim"))
    if answer.get("status") == "continued":
        parts.append(Text("the drill continues in new invocations by itself; its result: the drill metrics"))
    if answer.get("message"):
        parts.append(Text(str(answer["message"]), style="dim"))
    return Group(*parts)


def unlock_view(answer: Answer) -> RenderableType:
    """``unlock``: the lock it removed (whose run, since when) and the run that ends with it."""
    parts: list[RenderableType] = [status_text(answer).append(f": {answer.get('message', '')}")]
    removed = answer.get("removed")
    if isinstance(removed, Mapping):
        held = (
            f"run {removed.get('run_id')}, taken {time_text(removed.get('taken_at'))}"
            if removed.get("readable")
            else "unreadable"
        )
        parts.append(Text(f"removed the lock of {removed.get('target_domain')} ({held})", style="dim"))
    run = answer.get("run")
    if isinstance(run, Mapping):
        parts.append(
            Text(f"run {run.get('run_id')}: ")
            .append_text(state_text(run.get("state")))
            .append(f", {run.get('phase')}, {_written(run)} item writes made", style="dim")
        )
    return Group(*parts)


def samples_omitted_view(answer: Answer) -> RenderableType | None:
    omitted = answer.get("samples_omitted")
    if not isinstance(omitted, Mapping) or not omitted:
        return None
    counts = ", ".join(f"{count:,} {kind}" for kind, count in omitted.items())
    return Text(f"samples left out to keep the answer under Lambda's size limit: {counts}", style="dim")
