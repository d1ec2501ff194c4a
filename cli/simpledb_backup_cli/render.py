"""The functions' answers as a person reads them: tables of dumps, plans and diffs grouped by change (pure).

Each view takes an answer exactly as the function gave it (docs/ANSWERS.md) and returns a Rich renderable;
the console decides on colours. Keys an answer does not carry are left out rather than guessed.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from simpledb_backup_cli.describe import change_lines, describe_item

Answer = Mapping[str, Any]

#: A plan's kinds of change: (key in ``samples``, key in ``items``, heading, marker, style).
PLAN_CHANGES = (
    ("create", "create", "Create", "+", "green"),
    ("update", "update", "Update", "~", "yellow"),
    ("delete", "delete", "Delete", "-", "red"),
    ("keep", "kept_not_in_dump", "Keep (in the target, not in the dump: merge leaves them)", "=", "cyan"),
    ("unchanged", "unchanged", "Unchanged", "=", "dim"),
)
DIFF_CHANGES = (
    ("added", "added", "Added", "+", "green"),
    ("changed", "changed", "Changed", "~", "yellow"),
    ("removed", "removed", "Removed", "-", "red"),
    ("unchanged", "unchanged", "Unchanged", "=", "dim"),
)
STATUS_STYLES = {
    "ok": "green",
    "planned": "green",
    "complete": "bold green",
    "continued": "yellow",
    "refused": "bold red",
    "failed": "bold red",
}


def status_text(answer: Answer) -> Text:
    status = str(answer.get("status", "?"))
    return Text(status, style=STATUS_STYLES.get(status, ""))


def headline(answer: Answer) -> Text:
    """``planned: <the function's message>``."""
    line = status_text(answer)
    if answer.get("message"):
        line.append(f": {answer['message']}")
    return line


def size_text(size: object) -> str:
    if not isinstance(size, int):
        return "" if size is None else str(size)
    amount = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{size:,} bytes" if unit == "bytes" else f"{amount:,.1f} {unit}"
        amount /= 1024
    return str(size)


def time_text(value: object) -> str:
    """An ISO time as ``2026-11-26 03:00:00 UTC`` when it is UTC; otherwise as given."""
    text = str(value or "")
    for suffix in ("+00:00", "Z"):
        if text.endswith(suffix):
            return text.removesuffix(suffix).replace("T", " ") + " UTC"
    return text


def dump_notes(dump: Mapping[str, Any]) -> Text:
    notes = Text()
    if dump.get("latest"):
        notes.append("latest ", style="bold green")
    if dump.get("pre_restore") or dump.get("trigger") == "pre-restore":
        notes.append("pre-restore safety backup ", style="yellow")
    if dump.get("kind") == "subset":
        notes.append(f"subset {dump.get('label', '')}", style="cyan")
        if dump.get("where"):
            notes.append(f" where {dump['where']}", style="dim")
    return notes


def dumps_view(answer: Answer) -> RenderableType:
    """``list``: one row per dump, newest first (full dumps, then subset dumps)."""
    dumps = answer.get("dumps") or []
    table = Table(title=f"Dumps of {answer.get('domain')}", title_justify="left", box=box.SIMPLE_HEAD)
    # Version ids are what the operator copies into --version-id: never shortened or wrapped.
    table.add_column(
        "Version id", no_wrap=True, min_width=max((len(str(d.get("version_id"))) for d in dumps), default=10)
    )
    table.add_column("Time", no_wrap=True)
    table.add_column("Items", justify="right")
    table.add_column("Size", justify="right")
    table.add_column("Trigger")
    table.add_column("Notes")
    for dump in dumps:
        table.add_row(
            str(dump.get("version_id")),
            time_text(dump.get("time")),
            f"{dump['items']:,}" if isinstance(dump.get("items"), int) else str(dump.get("items", "")),
            size_text(dump.get("size_bytes")),
            str(dump.get("trigger", "")),
            dump_notes(dump),
        )
    parts: list[RenderableType] = [table] if dumps else []
    if answer.get("message"):
        parts.append(Text(str(answer["message"]), style="dim"))
    return Group(*parts)


def source_text(source: object) -> Text:
    """Where a plan or diff reads from: a dump (version, time, items, trigger), the live domain, a file."""
    if not isinstance(source, Mapping):
        return Text(str(source))
    kind = source.get("kind")
    if kind == "live":
        return Text(f"the live domain {source.get('domain')}", style="bold")
    if kind == "dump":
        line = Text(f"dump {source.get('version_id')}", style="bold")
        details = [time_text(source.get("time"))]
        if isinstance(source.get("items"), int):
            details.append(f"{source['items']:,} items")
        if source.get("trigger"):
            details.append(f"trigger {source['trigger']}")
        if source.get("latest"):
            details.append("latest")
        if source.get("label"):
            details.append(f"subset {source['label']}")
        line.append(f" ({', '.join(detail for detail in details if detail)})")
        return line
    described = ", ".join(f"{key} {value}" for key, value in source.items() if value is not None)
    return Text(described)


def counts_table(counts: Mapping[str, Any], changes: Sequence[tuple[str, str, str, str, str]]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column()
    table.add_column(justify="right")
    for _, count_key, heading, _, style in changes:
        if count_key in counts:
            table.add_row(Text(heading.split(" (")[0], style=style), f"{counts[count_key]:,}")
    return table


def samples_view(
    counts: Mapping[str, Any],
    samples: Mapping[str, Any],
    changes: Sequence[tuple[str, str, str, str, str]],
) -> list[RenderableType]:
    """Each kind of change with its sampled items, in the domain's terms, and how many more there are."""
    parts: list[RenderableType] = []
    for sample_key, count_key, heading, marker, style in changes:
        count = counts.get(count_key)
        sampled = samples.get(sample_key) or []
        if not sampled:  # the counts table has said how many
            continue
        parts.append(Text())
        parts.append(
            Text(f"{heading} ({count if count is not None else len(sampled):,})", style=f"bold {style}")
        )
        for sample in sampled:
            line = Text(f"  {marker} ", style=style)
            line.append_text(describe_item(sample))
            parts.append(line)
            parts.extend(Padding(change, (0, 0, 0, 6)) for change in change_lines(sample))
        if isinstance(count, int) and count > len(sampled):
            parts.append(Text(f"    … and {count - len(sampled):,} more", style="dim"))
    return parts


def plan_view(plan: Answer, title: bool = True) -> RenderableType:
    """A plan answer (or a restore answer's ``plan``): what a restore would change, grouped by change."""
    parts: list[RenderableType] = []
    if title and plan.get("message"):
        parts.append(Text(str(plan["message"]), style="bold"))
    if plan.get("source"):
        parts.append(Text("source: ").append_text(source_text(plan["source"])))
    if plan.get("subset"):
        parts.append(Text(f"subset: {plan['subset']}"))
    counts = plan.get("items") or {}
    parts.append(Text())
    parts.append(counts_table(counts, PLAN_CHANGES))
    attributes = plan.get("attributes")
    if isinstance(attributes, Mapping):
        parts.append(
            Text(
                "attributes: " + ", ".join(f"{value:,} {name}" for name, value in attributes.items()),
                style="dim",
            )
        )
    parts += samples_view(counts, plan.get("samples") or {}, PLAN_CHANGES)
    parts.append(Text())
    return Group(*parts)


def diff_view(answer: Answer) -> RenderableType:
    """``diff``: what changed between two dumps, or between a dump and the live domain."""
    parts: list[RenderableType] = [
        Text("from: ").append_text(source_text(answer.get("from"))),
        Text("to:   ").append_text(source_text(answer.get("to"))),
    ]
    counts = answer.get("items") or {}
    parts.append(Text())
    parts.append(counts_table(counts, DIFF_CHANGES))
    parts += samples_view(counts, answer.get("samples") or {}, DIFF_CHANGES)
    if answer.get("message"):
        parts += [Text(), Text(str(answer["message"]), style="dim")]
    return Group(*parts)


def written_text(written: object) -> Text:
    if not isinstance(written, Mapping):
        return Text("")
    return Text(
        f"written: {written.get('items_written', 0):,} items put, {written.get('items_trimmed', 0):,} trimmed "
        f"of extra attributes, {written.get('items_deleted', 0):,} deleted"
    )


def restore_view(answer: Answer, with_plan: bool, undo_command: str | None = None) -> RenderableType:
    """A restore's answer or a run's status: what it did, its safety backup and how to undo it."""
    parts: list[RenderableType] = []
    if with_plan and isinstance(answer.get("plan"), Mapping):
        parts.append(plan_view({"source": answer.get("source"), **answer["plan"]}))
    parts.append(headline(answer))
    if answer.get("run_id"):
        parts.append(Text(f"run: {answer['run_id']} (phase {answer.get('phase')})", style="dim"))
    progress = answer.get("progress")
    if answer.get("status") == "continued" and isinstance(progress, Mapping):
        parts.append(
            Text(
                f"progress: {progress.get('items_written', 0):,} of {progress.get('items_to_write', 0):,} item "
                f"writes made, {progress.get('elapsed_seconds', 0):,.0f} s of invocations so far"
            )
        )
    if answer.get("written"):
        parts.append(written_text(answer["written"]))
    verification = answer.get("verification")
    if isinstance(verification, Mapping):
        verified = verification.get("verified")
        line = Text("verification: ")
        line.append(
            "the target matches the source" if verified else "MISMATCH",
            style="green" if verified else "bold red",
        )
        if not verified and verification.get("sample"):
            line.append(f" (e.g. {', '.join(str(name) for name in verification['sample'])})")
        parts.append(line)
    safety = answer.get("safety_backup")
    if isinstance(safety, Mapping):
        parts.append(Text(f"safety backup: version {safety.get('version_id')} ({safety.get('items')} items)"))
        if answer.get("run_id") and answer.get("domain") and undo_command:
            parts.append(Text(f"undo with: {undo_command}", style="bold"))
    elif answer.get("safety_backup_skipped"):
        parts.append(Text(f"no safety backup: {answer['safety_backup_skipped']}", style="dim"))
    return Group(*parts)


def backup_view(answer: Answer) -> RenderableType:
    """``backup``: the dumps written, and each domain that failed."""
    parts: list[RenderableType] = [status_text(answer)]
    dumps = answer.get("dumps") or []
    if dumps:
        table = Table(title="Dumps written", title_justify="left", box=box.SIMPLE_HEAD)
        for column in ("Domain", "Version id", "Items", "Size", "Seconds", "Item drop"):
            numeric = column in {"Items", "Size", "Seconds", "Item drop"}
            table.add_column(column, justify="right" if numeric else "left", no_wrap=column == "Version id")
        for dump in dumps:
            drop = dump.get("item_drop_percent")
            table.add_row(
                str(dump.get("domain", "")),
                str(dump.get("version_id", dump.get("status", ""))),
                f"{dump['items']:,}" if isinstance(dump.get("items"), int) else "",
                size_text(dump.get("size_bytes")),
                str(dump.get("duration_seconds", "")),
                "" if drop is None else f"{drop} %",
            )
        parts.append(table)
    for failure in answer.get("failures") or []:
        parts.append(Text(f"failed: {failure.get('domain')}: {failure.get('message')}", style="red"))
    if answer.get("status") == "continued":
        parts.append(
            Text("the backup continues in a new invocation; `list` shows the dump once it is published")
        )
    return Group(*parts)


def refusal_view(answer: Answer) -> RenderableType:
    """A refused request: what was wrong; with the plan, when the refusal carries one."""
    parts: list[RenderableType] = []
    if isinstance(answer.get("plan"), Mapping):
        parts.append(plan_view(answer["plan"]))
    error = answer.get("error")
    message = (
        error.get("message") if isinstance(error, Mapping) else error if isinstance(error, str) else None
    )
    kind = error.get("kind") if isinstance(error, Mapping) else None
    line = status_text(answer)
    line.append(f" ({kind})" if kind else "", style="dim")
    line.append(f": {message or answer.get('message', '')}")
    parts.append(line)
    configured = answer.get("configured_domains")
    if isinstance(configured, list) and configured:
        parts.append(Text(f"configured domains: {', '.join(str(name) for name in configured)}"))
    return Group(*parts)
