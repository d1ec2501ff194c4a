"""A restore run's typed state, saved to ``restores/<run_id>.json``, and what it says about the run now.

The state is saved when the run starts (phase ``planning``), after each stage, when it parks for its
continuation and when it ends; while an invocation works on the run, its heartbeat (``heartbeat.py``) saves it
again every few seconds with the time (``heartbeat_at``) and the writes made so far. So a reader can tell a run
that works from one whose invocation died: ``run_state`` derives the run's true state from the saved status
and the age of its heartbeat.
"""

from datetime import datetime, timedelta
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

Phase = Literal["planning", "safety-backup", "writing", "verifying", "done"]
#: What the run saved last: running (an invocation works on it), continued (parked: saved, its continuation
#: is queued), complete, failed, or refused (it stopped before writing anything).
RunStatus = Literal["running", "continued", "complete", "failed", "refused"]
ENDED: tuple[RunStatus, ...] = ("complete", "failed", "refused")
#: The run's true state, as ``status`` and ``runs`` report it (run_state).
TrueState = Literal["running", "stalled", "parked", "complete", "failed", "refused"]

#: An invocation working on a run saves its state this often (heartbeat_at and the writes made so far).
HEARTBEAT_SECONDS = 2.0
#: A running run whose heartbeat is older than this is stalled: its invocation died or timed out. Several
#: heartbeats long, so one slow S3 write does not make a live run look dead; an invocation whose heartbeat could
#: not be saved for FENCE_SECONDS stops working by itself (heartbeat.Heartbeat.lost), so a run reported stalled
#: is no longer written by it.
STALL_SECONDS = 10.0
FENCE_SECONDS = STALL_SECONDS - 2 * HEARTBEAT_SECONDS
#: A parked run whose continuation has not started after this long is stalled too (the queued invocation was
#: lost, or failed before it could start): longer than any invocation (15 minutes) plus Lambda's queueing.
PARKED_STALL_SECONDS = 1200.0


class WriteCounts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    items_written: int = 0
    put_calls: int = 0
    items_trimmed: int = 0  # exact mode: items whose extra attributes were removed
    values_removed: int = 0
    items_deleted: int = 0
    delete_calls: int = 0

    def plus(self, other: "WriteCounts") -> "WriteCounts":
        """Both counts added: a new object, so a reader in another thread never sees half an addition."""
        return WriteCounts(**{name: value + getattr(other, name) for name, value in self})

    @property
    def total(self) -> int:
        return sum(value for _, value in self)

    @property
    def items(self) -> int:
        """Item writes: puts, trims of extra attributes and deletes, each item once (as plans count them)."""
        return self.items_written + self.items_trimmed + self.items_deleted


class SafetyBackup(BaseModel):
    """The dump of the target taken before the first write: restoring it undoes the restore."""

    model_config = ConfigDict(extra="forbid")

    version_id: str
    key: str
    items: int
    undo: dict[str, Any]


class RunError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    message: str


class RestoreState(BaseModel):
    """Everything a restore run needs to continue in another invocation, and what ``status`` reports."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    run_id: str
    #: The request that started the run (as its event was validated).
    request: dict[str, Any]
    #: The source as ``describe()`` gave it when the run started: a continuation reopens exactly this.
    source: dict[str, Any]
    target: str
    started_at: str
    phase: Phase = "planning"
    status: RunStatus = "running"
    target_created: bool = False
    target_items_before: int = 0
    plan: dict[str, Any] | None = None
    safety_backup: SafetyBackup | None = None
    #: Set by runs saved before the safety backup was taken in the plan's scan (phase "safety-backup").
    safety_backup_run_id: str | None = None
    #: Why no safety backup was taken, when none was.
    safety_backup_skipped: str | None = None
    #: Items the plan's scan of the target (and the safety backup) has read so far.
    safety_backup_items_so_far: int = 0
    written: WriteCounts = Field(default_factory=WriteCounts)
    verification: dict[str, Any] | None = None
    #: Count and digest of the source's items (dump format rules), taken while the plan read the source.
    source_totals: dict[str, Any] | None = None
    invocations: int = 0
    invocations_without_progress: int = 0
    elapsed_seconds: float = 0.0
    updated_at: str = ""
    #: When an invocation working on the run last said it is alive (saved every HEARTBEAT_SECONDS).
    heartbeat_at: str = ""
    error: RunError | None = None

    def progress(self) -> tuple[str, int, int]:
        """What changes when a run makes progress: its phase and how much it has done in it."""
        return self.phase, self.safety_backup_items_so_far, self.written.total

    @property
    def domain(self) -> str:
        return str(self.request.get("domain", ""))

    def with_heartbeat(self, now: str, written: WriteCounts, items_read: int) -> Self:
        """A copy of this state as a heartbeat saves it: alive now, with the writes made so far."""
        return self.model_copy(
            update={"heartbeat_at": now, "written": written, "safety_backup_items_so_far": items_read}
        )


def instant(text: str) -> datetime | None:
    """A saved ISO time (``...Z`` or with an offset), or None when there is none."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_state(state: RestoreState, now: datetime) -> tuple[TrueState, datetime | None]:
    """The run's true state and, when it is stalled, since when (its last heartbeat, or when it parked).

    A run saved as running is running only while its heartbeat is fresh; a parked run whose continuation has
    not started after PARKED_STALL_SECONDS is stalled too.
    """
    if state.status in ENDED:
        return state.status, None  # type: ignore[return-value]
    if state.status == "continued":
        parked_at = instant(state.updated_at)
        if parked_at is not None and now - parked_at > timedelta(seconds=PARKED_STALL_SECONDS):
            return "stalled", parked_at
        return "parked", None
    alive_at = instant(state.heartbeat_at) or instant(state.updated_at)
    if alive_at is None or now - alive_at > timedelta(seconds=STALL_SECONDS):
        return "stalled", alive_at
    return "running", None
