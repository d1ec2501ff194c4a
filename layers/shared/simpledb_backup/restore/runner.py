"""Moves a restore run through its stages, across as many invocations as it needs.

A run is: open the source, take the target's lock, save the run's state (phase ``planning``), prepare (verify
+ plan + safety backup from one read of the target + confirm rule), then write and verify, each stage
resumable. The state is saved when the run starts, once it is prepared, after each stage, when it parks and
when it ends; while an invocation works on it, its heartbeat saves it every few seconds with the progress
made (heartbeat.py). States and locks are sealed with the state key (aws.statemac): a resume obeys a saved
state only when it verifies and its run holds the target's verified lock.

Until ``prepare`` has returned nothing has been written and an error is a refusal (raised; the run's state
says ``refused``). From then on the run has written, or may have (a safety backup, the target's creation,
batches): an error makes the run ``failed``: its state is saved, the failure metric emitted, and the answer
names what was written and the safety backup to undo it with.

A run is resumed (its continuation, or a person's ``restore`` with its ``run_id``) when it is parked or
stalled; a run whose invocation is alive (a fresh heartbeat) is refused, so two invocations never work on one
run. An invocation whose heartbeat could not be saved for a while stops working (its deadline reads as out of
time), so a run reported stalled is not written by it any more.
"""

import time
from collections.abc import Callable
from datetime import datetime

from simpledb_backup.aws.statemac import unverified_error
from simpledb_backup.errors import (
    ConfirmationRequiredError,
    DumpNotFoundError,
    InvalidRequestError,
    InvalidStateError,
    RefusalError,
    RestoreInProgressError,
    RestoreStalledError,
    SimpleDBBackupError,
)
from simpledb_backup.events import RestoreRunRequest
from simpledb_backup.observability import MetricName, domain_metrics, logger
from simpledb_backup.restore.answers import lock_refusal, restore_answer
from simpledb_backup.restore.heartbeat import Heartbeat
from simpledb_backup.restore.lock import TargetLock
from simpledb_backup.restore.nextsteps import again_step, follow_step
from simpledb_backup.restore.prepare import Preparation, PreparedRestore
from simpledb_backup.restore.runs import RestoreRuns
from simpledb_backup.restore.sources import RestoreSource, SourceOpener
from simpledb_backup.restore.stages import SafetyBackupStage, VerifyStage, WriteStage
from simpledb_backup.restore.state import ENDED, RestoreState, RunError, run_state
from simpledb_backup.runtime import Deadline, StallGuard, utc_now
from simpledb_backup.sealing import Unverified

RestoreAnswer = dict[str, object]
#: Refusals caused by the request itself, not by its data or the service: they count as no failed restore.
_REQUEST_REFUSALS = (
    InvalidRequestError,
    ConfirmationRequiredError,
    DumpNotFoundError,
    RestoreInProgressError,
    InvalidStateError,
)
#: Phases in which nothing has been written: a resumed run in one of them is prepared again.
_UNPREPARED = ("planning",)


class RestoreMetrics:
    """The restore's outcome metrics, per target domain (the restore-failed alarm watches them)."""

    def failed_before_start(self, target: str) -> None:
        with domain_metrics(target) as metrics:
            metrics.add(MetricName.RESTORE_FAILED, 1)

    def ended(self, state: RestoreState, succeeded: bool) -> None:
        """Once per run, when it ends: its items written and deleted over all invocations, and the outcome."""
        with domain_metrics(state.target) as metrics:
            metrics.add(MetricName.RESTORE_ITEMS_WRITTEN, state.written.items_written)
            metrics.add(MetricName.RESTORE_ITEMS_DELETED, state.written.items_deleted)
            metrics.add(MetricName.RESTORE_SUCCEEDED if succeeded else MetricName.RESTORE_FAILED, 1)


class NoRestoreMetrics(RestoreMetrics):
    """For runs whose caller records its own outcome (restore drills): no restore metric at all."""

    def failed_before_start(self, target: str) -> None:
        pass

    def ended(self, state: RestoreState, succeeded: bool) -> None:
        pass


def fenced(deadline: Deadline, heartbeat: Heartbeat) -> Deadline:
    """``deadline``, read as out of time once the run's heartbeat is lost (the run may be taken over)."""
    return Deadline(lambda: 0.0 if heartbeat.lost else deadline.remaining(), deadline.margin_seconds)


def refuse_if_alive(state: RestoreState, now: datetime) -> None:
    """A run an invocation works on (its heartbeat is fresh) is not resumed: one invocation per run."""
    true_state, _ = run_state(state, now)
    if true_state == "running":
        raise RestoreInProgressError(
            f"run {state.run_id} is running: an invocation works on it (its heartbeat is from "
            f"{state.heartbeat_at or state.updated_at}); follow its status instead",
            [follow_step(state)],
        )


def held_by_its_run(lock: TargetLock, state: RestoreState) -> None:
    """A saved state (verified by ``runs.load``) is resumed only by the run that holds the target's lock."""
    holder = lock.found(state.target)
    if isinstance(holder, Unverified):
        raise unverified_error(holder, lock.documents.bucket)
    if holder is None or holder.run_id != state.run_id:
        raise InvalidStateError(
            f"run_id: {state.run_id!r} no longer holds the lock on {state.target} (it expired and was taken "
            "over, or was removed); run the restore again from the start",
            [again_step(state)],
        )


def lock_refused(lock: TargetLock, runs: RestoreRuns, target: str, now: datetime) -> RestoreInProgressError:
    """The refusal of a restore whose target another run holds: who, in what state, what to do."""
    holder = lock.holder(target)
    held = None
    if holder is not None:
        try:
            held = runs.load(holder.run_id)
        except SimpleDBBackupError:
            held = None
    return lock_refusal(target, holder, held, now)


class RestoreRunner:
    def __init__(
        self,
        sources: SourceOpener,
        preparation: Preparation,
        lock: TargetLock,
        runs: RestoreRuns,
        stages: tuple[SafetyBackupStage, WriteStage, VerifyStage],
        metrics: RestoreMetrics | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources, self.preparation, self.lock, self.runs = sources, preparation, lock, runs
        self.safety_backup, self.writer, self.verifier = stages
        self.monotonic = monotonic
        self.metrics = metrics or RestoreMetrics()
        self.stall_guard = StallGuard(
            RestoreStalledError, "raise the function timeout or lower CONTINUATION_MARGIN_SECONDS"
        )

    def now(self) -> datetime:
        return self.lock.clock()

    def run(self, request: RestoreRunRequest, deadline: Deadline) -> RestoreAnswer:
        """Start a restore, or continue the one ``request.run_id`` names, as far as this invocation allows."""
        state = self._load_for_resume(request) if request.run_id else None
        if state is not None and state.status in ENDED:
            return restore_answer(state)  # a repeated continuation event of a run that already ended
        if state is not None:
            refuse_if_alive(state, self.now())
            request = RestoreRunRequest.model_validate(state.request)
        run_id = state.run_id if state else self.runs.new_run_id()
        logger.append_keys(run_id=run_id, target_domain=request.target)
        try:
            return self._run(request, state, run_id, deadline)
        finally:
            logger.remove_keys(["run_id", "target_domain"])

    def _load_for_resume(self, request: RestoreRunRequest) -> RestoreState:
        state = self.runs.load(request.run_id or "")
        if (state.request.get("domain"), state.target) != (request.domain, request.target):
            raise InvalidRequestError(
                f"run_id: {state.run_id!r} is a restore of {state.request.get('domain')!r} into "
                f"{state.target!r}, not of {request.domain!r} into {request.target!r}"
            )
        return state

    def _vouched(self, state: RestoreState) -> PreparedRestore | None:
        """A saved state is resumed only by the run that holds the target's lock; None when the run had not been
        prepared (it is prepared again, from the request its state holds)."""
        held_by_its_run(self.lock, state)
        return None if state.phase in _UNPREPARED else PreparedRestore(state)

    def _run(
        self, request: RestoreRunRequest, state: RestoreState | None, run_id: str, deadline: Deadline
    ) -> RestoreAnswer:
        prepared = self._vouched(state) if state else None
        source = self.sources.reopen(request, state.source) if state else self.sources.open(request)
        self._hold_lock(request, run_id, source, deadline)
        heartbeat = Heartbeat(self.runs.save, monotonic=self.monotonic)
        keep_lock = False
        try:
            if prepared is None:
                prepared = self._prepare(request, state, run_id, source, deadline, heartbeat)
            keep_lock = self._advance(prepared, source, deadline, heartbeat)
            return restore_answer(prepared.state)
        except SimpleDBBackupError as error:
            heartbeat.stop()
            if prepared is None:
                if not isinstance(error, _REQUEST_REFUSALS):
                    self.metrics.failed_before_start(request.target)
                raise
            self._fail(prepared.state, error)
            return restore_answer(prepared.state)
        except BaseException as error:
            heartbeat.stop()
            if prepared is None:
                self.metrics.failed_before_start(request.target)
            else:
                self._fail(prepared.state, error)
            raise
        finally:
            heartbeat.stop()
            if not keep_lock:
                self.lock.release(request.target)

    def _prepare(
        self,
        request: RestoreRunRequest,
        state: RestoreState | None,
        run_id: str,
        source: RestoreSource,
        deadline: Deadline,
        heartbeat: Heartbeat,
    ) -> PreparedRestore:
        """Save the run as planning (with a heartbeat while the target is read), then prepare it; a refusal is
        saved as the run's end and raised."""
        planning = RestoreState(
            run_id=run_id,
            request=request.model_dump(mode="json", exclude_none=True),
            source=source.describe(),
            target=request.target,
            started_at=state.started_at if state else utc_now(),
            invocations=(state.invocations if state else 0) + 1,
        )
        self._checkpoint(planning, source, deadline, heartbeat)
        heartbeat.start()

        def read_so_far(items: int) -> None:
            planning.safety_backup_items_so_far = items

        try:
            prepared = self.preparation.prepare(request, run_id, source, read_so_far)
        except BaseException as error:  # nothing was written: refused, or failed before writing
            heartbeat.stop()
            kind = error.kind if isinstance(error, SimpleDBBackupError) else type(error).__name__
            planning.status = "refused" if isinstance(error, RefusalError) else "failed"
            planning.error = RunError(kind=kind, message=str(error))
            self._save_quietly(planning)
            raise
        prepared.state.started_at = planning.started_at
        prepared.state.invocations = planning.invocations - 1  # _advance counts this invocation
        self.lock.announce_writes(request.target, run_id)
        return prepared

    def _hold_lock(
        self, request: RestoreRunRequest, run_id: str, source: RestoreSource, deadline: Deadline
    ) -> None:
        holder = self.lock.holder_for(
            run_id, request.domain, request.target, source.describe(), deadline.remaining()
        )
        try:
            self.lock.acquire(holder)
        except RestoreInProgressError as error:
            raise lock_refused(self.lock, self.runs, request.target, self.now()) from error

    def _checkpoint(
        self, state: RestoreState, source: RestoreSource, deadline: Deadline, heartbeat: Heartbeat
    ) -> None:
        """Extend the lock over the time this invocation may still need, then save the state (a heartbeat
        saves it again every few seconds, with the progress made)."""

        def save(current: RestoreState) -> None:
            request = RestoreRunRequest.model_validate(current.request)
            self._hold_lock(request, current.run_id, source, deadline)
            self.runs.save(current)

        heartbeat.checkpoint(state, save)

    def _advance(
        self, prepared: PreparedRestore, source: RestoreSource, deadline: Deadline, heartbeat: Heartbeat
    ) -> bool:
        """Run the stages from where the state stands; True when the run parked (it keeps its lock)."""
        state = prepared.state
        state.invocations += 1
        state.status = "running"
        self._checkpoint(state, source, deadline, heartbeat)
        heartbeat.start()
        progress_before = state.progress()
        started = self.monotonic()
        finished = self._stages(prepared, source, fenced(deadline, heartbeat), heartbeat)
        state.elapsed_seconds += self.monotonic() - started
        heartbeat.stop()
        if finished:
            self._finish(state)
            return False
        state.invocations_without_progress = self.stall_guard.after_invocation(
            state.invocations_without_progress, state.progress() != progress_before, f"restore {state.run_id}"
        )
        state.status = "continued"
        self._checkpoint(state, source, deadline, heartbeat)
        logger.info(
            "restore continues in a new invocation",
            extra={"phase": state.phase, "written": state.written.model_dump()},
        )
        return True

    def _stages(
        self, prepared: PreparedRestore, source: RestoreSource, deadline: Deadline, heartbeat: Heartbeat
    ) -> bool:
        """False when time ran short before the run was done."""
        state = prepared.state
        if state.phase == "safety-backup":  # a run saved by an earlier release, mid-way through its backup
            if deadline.out_of_time() or not self.safety_backup.run(prepared, deadline):
                return False
            state.phase = "writing"
            self._checkpoint(state, source, deadline, heartbeat)
        if state.phase == "writing":
            if deadline.out_of_time() or not self.writer.run(prepared, source, deadline):
                return False
            state.phase = "verifying"
            self._checkpoint(state, source, deadline, heartbeat)
        if state.phase == "verifying":
            verification = None if deadline.out_of_time() else self.verifier.run(prepared, source, deadline)
            if verification is None:
                return False
            state.verification = verification
            state.phase = "done"
        return True

    def _finish(self, state: RestoreState) -> None:
        verified = bool(state.verification and state.verification["verified"])
        state.status = "complete" if verified else "failed"
        if not verified:
            state.error = RunError(
                kind="verification-failed",
                message="the target does not match the source after the restore; run the same restore again "
                "(it converges), and look at the sample of mismatching items",
            )
        self.runs.save(state)
        self.metrics.ended(state, succeeded=verified)
        logger.info("restore finished", extra={"summary": restore_answer(state)})

    def _fail(self, state: RestoreState, error: BaseException) -> None:
        logger.error("restore failed", extra={"error": str(error), "error_type": type(error).__name__})
        kind = error.kind if isinstance(error, SimpleDBBackupError) else type(error).__name__
        state.status, state.error = "failed", RunError(kind=kind, message=str(error))
        self.metrics.ended(state, succeeded=False)
        self._save_quietly(state)

    def _save_quietly(self, state: RestoreState) -> None:
        try:
            self.runs.save(state)
        except SimpleDBBackupError as save_error:
            logger.warning("could not save the restore's status", extra={"error": str(save_error)})
