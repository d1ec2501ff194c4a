"""The restore function's one entry point: a request in, an answer out; refusals are raised."""

from datetime import datetime
from typing import Any

from simpledb_backup.config import Settings
from simpledb_backup.errors import (
    ConfirmationRequiredError,
    InvalidRequestError,
    RestoreInProgressError,
    SimpleDBBackupError,
)
from simpledb_backup.events import (
    DiffRequest,
    EstimateRequest,
    ListRequest,
    PlanRequest,
    RestoreRequests,
    RestoreRunRequest,
    RunsRequest,
    StatusRequest,
    UnlockRequest,
)
from simpledb_backup.restore.answers import (
    list_answer,
    runs_answer,
    stateless_lock_live_until,
    status_answer,
    unlock_answer,
)
from simpledb_backup.restore.catalog import DumpCatalog
from simpledb_backup.restore.diff import DumpDiffer
from simpledb_backup.restore.estimate import CapacityEstimator
from simpledb_backup.restore.lock import LockHolder
from simpledb_backup.restore.nextsteps import follow_step, list_dumps_step, resume_step, step, unlock_step
from simpledb_backup.restore.prepare import Preparation
from simpledb_backup.restore.runner import RestoreRunner
from simpledb_backup.restore.runs import RestoreRuns
from simpledb_backup.restore.sources import SourceOpener
from simpledb_backup.restore.state import RestoreState, RunError, run_state
from simpledb_backup.runtime import Deadline, utc_now

Request = RestoreRequests


class UnknownDomainError(InvalidRequestError):
    """A domain the function does not work with: the answer names the ones it does."""

    def __init__(self, message: str, configured_domains: tuple[str, ...]) -> None:
        super().__init__(message, [list_dumps_step(domain) for domain in configured_domains])
        self.configured_domains = configured_domains


class RestoreService:
    def __init__(
        self,
        settings: Settings,
        catalog: DumpCatalog,
        sources: SourceOpener,
        preparation: Preparation,
        runner: RestoreRunner,
        runs: RestoreRuns,
        differ: DumpDiffer,
        estimator: CapacityEstimator | None = None,
    ) -> None:
        self.settings, self.catalog, self.sources = settings, catalog, sources
        self.preparation, self.runner, self.runs, self.differ = preparation, runner, runs, differ
        self.estimator = estimator

    # No tracer.capture_method on the entry points: it logs every exception with its traceback, and most
    # exceptions here are refusals the operator reads in the answer. The stages are traced.
    def handle(self, request: Request, deadline: Deadline) -> dict[str, Any]:
        self.check_domain(request.domain)
        match request:
            case ListRequest():
                versions = self.catalog.list(request.domain, request.limit, request.label)
                return list_answer(request, versions, self.catalog.store.bucket)
            case DiffRequest():
                return self.differ.diff(request)
            case PlanRequest():
                self.check_target(request.target)
                return self.preparation.plan(request, self.sources.open(request)).answer
            case StatusRequest():
                return self.status(request)
            case RunsRequest():
                states, more = self.runs.list_runs(request.domain, request.limit)
                return runs_answer(request, states, more, self.runner.now())
            case UnlockRequest():
                return self.unlock(request)
            case RestoreRunRequest():
                self.check_target(request.target)
                return self.runner.run(request, deadline)
            case EstimateRequest():
                if self.estimator is None:
                    raise InvalidRequestError("action: estimate is not available in this deployment")
                return self.estimator.estimate(request)

    def status(self, request: StatusRequest) -> dict[str, Any]:
        state = self.runs.load(request.run_id)
        if request.domain not in (state.domain, state.target):
            raise InvalidRequestError(
                f"run_id: {state.run_id!r} is a restore of {state.domain!r} into {state.target!r}, not a run "
                f"of {request.domain!r}",
                [step(f"list the restore runs of {request.domain}", _runs_of(request.domain))],
            )
        return status_answer(state, self.runner.now())

    def unlock(self, request: UnlockRequest) -> dict[str, Any]:
        """Remove ``request.domain``'s lock when the run holding it is gone; a live run's lock is refused.
        Without ``confirm`` (the domain's name, as for a restore) it says what it would remove."""
        target, lock = request.domain, self.runner.lock
        found = lock.current(target)
        if found is None:
            return unlock_answer(target, None, None, removed=False, now=self.runner.now())
        holder, etag = found
        run = self._run_of(holder)
        self._refuse_if_live(target, holder, run)
        if request.confirm != target:
            raise _confirm_unlock(target, holder, run, self.runner.now())
        if not lock.remove(target, etag):
            raise RestoreInProgressError(
                f"the lock of {target} changed while it was being removed (another restore took it); look again",
                [unlock_step(target, confirm=False)],
            )
        if run is not None and run.status not in ("complete", "failed", "refused"):
            run.status = "failed"
            run.error = RunError(
                kind="abandoned",
                message=f"its lock was removed by unlock at {utc_now()}; the run writes nothing more",
            )
            self.runs.save(run)
        return unlock_answer(target, holder, run, removed=True, now=self.runner.now())

    def _run_of(self, holder: LockHolder | None) -> RestoreState | None:
        if holder is None:
            return None
        try:
            return self.runs.load(holder.run_id)
        except SimpleDBBackupError:
            return None

    def _refuse_if_live(self, target: str, holder: LockHolder | None, run: RestoreState | None) -> None:
        """A lock is live while its run's heartbeat is fresh, or, for a run that saved no state, for a stall
        window after it was taken (its invocation may still be starting)."""
        now = self.runner.now()
        if run is not None and run_state(run, now)[0] == "running":
            raise RestoreInProgressError(
                f"the lock of {target} is live: run {run.run_id} is running (its heartbeat is from "
                f"{run.heartbeat_at or run.updated_at}); nothing was removed",
                [follow_step(run)],
            )
        if run is None and holder is not None:
            # A run saves its state as soon as it holds the lock: one that has not, that long after, is gone.
            starting_until = stateless_lock_live_until(holder)
            if now <= starting_until:
                raise RestoreInProgressError(
                    f"the lock of {target} was taken by run {holder.run_id} at {holder.taken_at}, which has saved "
                    f"no state yet: it may still be starting; the lock can be removed after "
                    f"{starting_until.isoformat(timespec='seconds')}; nothing was removed",
                    [unlock_step(target, confirm=False)],
                )

    def check_domain(self, domain: str) -> None:
        """Every action works on a configured domain, or on one the restore may write (RESTORE_TARGET_PATTERN):
        a mistyped domain is refused the same way everywhere, naming the configured ones."""
        if not self.settings.may_restore_into(domain):
            raise UnknownDomainError(
                f"domain: {domain!r} is not a configured domain ({', '.join(self.settings.domain_names)})"
                + self._pattern_note(),
                self.settings.domain_names,
            )

    def check_target(self, target: str) -> None:
        if not self.settings.may_restore_into(target):
            raise UnknownDomainError(
                f"target_domain: {target!r} is neither a configured domain "
                f"({', '.join(self.settings.domain_names)}) nor matches RESTORE_TARGET_PATTERN "
                f"{self.settings.restore_target_pattern or '(empty)'}",
                self.settings.domain_names,
            )

    def _pattern_note(self) -> str:
        pattern = self.settings.restore_target_pattern
        return f" and does not match RESTORE_TARGET_PATTERN {pattern}" if pattern else ""


def _runs_of(domain: str) -> RunsRequest:
    return RunsRequest(action="runs", domain=domain)


def _confirm_unlock(
    target: str, holder: LockHolder | None, run: RestoreState | None, now: datetime
) -> ConfirmationRequiredError:
    """The refusal that says what unlock would remove and asks for the confirmation."""
    if holder is None:
        what = "a lock this service did not write (it does not verify, or is not a lock)"
    elif run is None:
        what = f"the lock of run {holder.run_id} (taken {holder.taken_at}), which saved no state"
    else:
        what = f"the lock of run {run.run_id}, {run_state(run, now)[0]} in phase {run.phase}"
    steps = [unlock_step(target, confirm=True)]
    advice = ""
    if run is not None and run.status == "continued":
        advice = "; the run is parked, waiting for its continuation: resume it instead to let it finish"
        steps.insert(0, resume_step(run))
    elif run is not None and run.status == "running":
        advice = "; the run is stalled: resume it to let it finish, or unlock to end it"
        steps.insert(0, resume_step(run))
    error = ConfirmationRequiredError(
        f"unlock {target} would remove {what}{advice}. To remove it, confirm with the domain's name"
    )
    error.next_steps = steps
    return error
