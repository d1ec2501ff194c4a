"""How far a run is (item writes made out of those to make, phase, elapsed time), shown while the command
follows it (following): a progress bar on a terminal, a line whenever the progress changes anywhere else, and
nothing with --quiet."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@dataclass(frozen=True)
class RunProgress:
    phase: str
    items_to_write: int
    items_written: int
    elapsed_seconds: float


def run_progress(answer: Mapping[str, Any]) -> RunProgress:
    """A run's progress from a restore or status answer: its ``progress`` (docs/ANSWERS.md), or else what
    its plan and write counts say."""
    progress = answer.get("progress")
    if not isinstance(progress, Mapping) and "items_written" in answer:  # a run as `runs` lists it
        progress = answer
    if isinstance(progress, Mapping):
        return RunProgress(
            phase=str(progress.get("phase", answer.get("phase", ""))),
            items_to_write=int(progress.get("items_to_write") or 0),
            items_written=int(progress.get("items_written") or 0),
            elapsed_seconds=float(progress.get("elapsed_seconds") or 0.0),
        )
    plan, written = answer.get("plan"), answer.get("written")
    counts = plan.get("items") if isinstance(plan, Mapping) else None
    counts = counts if isinstance(counts, Mapping) else {}
    written = written if isinstance(written, Mapping) else {}
    to_write = sum(int(counts.get(kind) or 0) for kind in ("create", "update", "delete"))
    done = int(written.get("items_written") or 0) + int(written.get("items_deleted") or 0)
    return RunProgress(
        phase=str(answer.get("phase", "")),
        items_to_write=to_write,
        items_written=min(done, to_write),
        elapsed_seconds=float(answer.get("duration_seconds") or 0.0),
    )


class ProgressDisplay(Protocol):
    def __enter__(self) -> "ProgressDisplay": ...

    def __exit__(self, *exc: object) -> None: ...

    def show(self, progress: RunProgress, note: str = "") -> None: ...


class ProgressBar:
    """A live bar on a terminal: phase, bar, written/to write, elapsed time."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("items written"),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[note]}"),
            console=console,
            redirect_stdout=False,
            redirect_stderr=console.stderr,
        )
        self.task = self.progress.add_task("starting", total=None, note="")

    def __enter__(self) -> "ProgressBar":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show(self, progress: RunProgress, note: str = "") -> None:
        self.progress.update(
            self.task,
            description=progress.phase,
            total=progress.items_to_write or None,
            completed=progress.items_written,
            note=note,
        )


class ProgressLines:
    """One line per change of progress, where there is no terminal to draw a bar on."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.last: tuple[str, int, int, str] | None = None

    def __enter__(self) -> "ProgressLines":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def show(self, progress: RunProgress, note: str = "") -> None:
        shown = (progress.phase, progress.items_written, progress.items_to_write, note)
        if shown == self.last:
            return
        self.last = shown
        self.console.print(
            f"{progress.phase}: {progress.items_written:,} of {progress.items_to_write:,} items written "
            f"({progress.elapsed_seconds:.0f} s){f' - {note}' if note else ''}",
            highlight=False,
        )


class NoDisplay:
    """--quiet: no progress at all."""

    def __enter__(self) -> "NoDisplay":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def show(self, progress: RunProgress, note: str = "") -> None:
        pass


def progress_display(console: Console, quiet: bool = False) -> ProgressDisplay:
    if quiet:
        return NoDisplay()
    return ProgressBar(console) if console.is_terminal else ProgressLines(console)
