"""A restore run's typed state: saved to ``restores/<run_id>.json`` when it continues and when it ends."""

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

Phase = Literal["safety-backup", "writing", "verifying", "done"]
#: running (within an invocation), continued (saved, resumes in a new invocation), complete or failed.
RunStatus = Literal["running", "continued", "complete", "failed"]
ENDED: tuple[RunStatus, ...] = ("complete", "failed")


class WriteCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items_written: int = 0
    put_calls: int = 0
    items_trimmed: int = 0  # exact mode: items whose extra attributes were removed
    values_removed: int = 0
    items_deleted: int = 0
    delete_calls: int = 0

    def merge(self, other: Self) -> None:
        for name, value in other:
            setattr(self, name, getattr(self, name) + value)

    @property
    def total(self) -> int:
        return sum(value for _, value in self)


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
    phase: Phase = "safety-backup"
    status: RunStatus = "running"
    target_created: bool = False
    target_items_before: int = 0
    plan: dict[str, Any] | None = None
    safety_backup: SafetyBackup | None = None
    safety_backup_run_id: str | None = None
    #: Why no safety backup was taken, when none was.
    safety_backup_skipped: str | None = None
    #: Items the safety backup has dumped so far, while it continues across invocations.
    safety_backup_items_so_far: int = 0
    written: WriteCounts = Field(default_factory=WriteCounts)
    verification: dict[str, Any] | None = None
    #: Count and digest of the source's items (dump format rules), taken while the plan read the source.
    source_totals: dict[str, Any] | None = None
    invocations: int = 0
    invocations_without_progress: int = 0
    elapsed_seconds: float = 0.0
    updated_at: str = ""
    error: RunError | None = None

    def progress(self) -> tuple[str, int, int]:
        """What changes when a run makes progress: its phase and how much it has done in it."""
        return self.phase, self.safety_backup_items_so_far, self.written.total
