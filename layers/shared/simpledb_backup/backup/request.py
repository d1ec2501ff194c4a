"""One backup function invocation: back up every requested domain, resume a continued run first, hand the
rest to a new invocation when time runs short, and report each domain's outcome and metrics.

An event the function cannot carry out as asked (an unknown or unconfigured domain, a field of the wrong type)
is answered ``refused``, naming the problem and the configured domains: it is the sender's mistake, not a
failed backup, so it raises nothing (no Lambda error) and emits no BackupFailed.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from simpledb_backup.backup.service import BackupResult, BackupService, BackupState
from simpledb_backup.errors import (
    BackupFailedError,
    BackupSkippedError,
    DumpRuleError,
    InvalidRequestError,
    SimpleDBBackupError,
)
from simpledb_backup.events import BackupEvent, parse_event
from simpledb_backup.observability import MetricName, domain_metrics, logger
from simpledb_backup.runtime import Deadline, event_payload


@dataclass(frozen=True)
class ResumeRun:
    """Continue the run a continuation event names."""

    run_id: str


@dataclass(frozen=True)
class StartDomain:
    """Start a new run of one domain."""

    domain: str


Work = ResumeRun | StartDomain
ContinueWith = Callable[[BackupEvent], None]


def emit_backup_skipped(domain: str) -> None:
    with domain_metrics(domain) as metrics:
        metrics.add(MetricName.BACKUP_SKIPPED, 1)


def emit_backup_metrics(result: BackupResult | None, domain: str) -> None:
    """Per-domain metrics: counts and size of a complete dump, or a failure count when ``result`` is None."""
    with domain_metrics(domain) as metrics:
        if result is None:
            metrics.add(MetricName.BACKUP_FAILED, 1)
            return
        if result.status != "complete":
            return
        metrics.add(MetricName.BACKUP_SUCCEEDED, 1)
        metrics.add(MetricName.BACKUP_FAILED, 0)
        metrics.add(MetricName.BACKUP_ITEMS, result.items)
        metrics.add(MetricName.BACKUP_ATTRIBUTES, result.attributes)
        metrics.add(MetricName.BACKUP_VALUES, result.values)
        metrics.add(MetricName.BACKUP_BYTES, result.size_bytes)
        metrics.add(MetricName.BACKUP_DURATION, result.duration_seconds)
        metrics.add(MetricName.BACKUP_ITEM_DROP_PERCENT, result.item_drop_percent or 0.0)


@dataclass(frozen=True)
class BackupRequestOutcome:
    results: list[BackupResult]
    failures: list[dict[str, Any]]
    continuation: BackupEvent | None
    skipped: list[dict[str, str]]

    def summary(self) -> dict[str, Any]:
        status = "failed" if self.failures else "continued" if self.continuation else "ok"
        return {
            "status": status,
            "dumps": [result.summary() for result in self.results],
            "failures": self.failures,
            "skipped": self.skipped,
            "continues_with": event_payload(self.continuation) if self.continuation else None,
        }

    def raise_if_failed(self) -> None:
        """BackupFailedError (a Lambda error, which the alarms see) when a domain failed and no continuation
        carries the work on."""
        if self.failures and not self.continuation:
            raise BackupFailedError(
                "backup failed for "
                + "; ".join(f"{failure['domain']}: {failure['message']}" for failure in self.failures)
            )


@dataclass(frozen=True)
class BackupRefusal:
    """The answer to an event the function cannot carry out as asked; nothing was read or written."""

    error: InvalidRequestError
    configured_domains: tuple[str, ...]
    field: str | None = None

    def summary(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"status": "refused", "error": str(self.error)}
        if self.field:
            answer["field"] = self.field
        answer["configured_domains"] = list(self.configured_domains)
        return answer

    def raise_if_failed(self) -> None:
        """A refusal is an answer, never a failure."""


class UnconfiguredDomainError(InvalidRequestError):
    """A backup was asked for a domain the function is not configured for."""


def planned_work(event: BackupEvent, configured_domains: tuple[str, ...]) -> list[Work]:
    """The continued run first (if any), then every requested domain; only configured domains may be asked."""
    domains = list(configured_domains if event.domains is None else event.domains)
    unknown = [domain for domain in domains if domain not in configured_domains]
    if unknown:
        raise UnconfiguredDomainError(
            f"domains {unknown} are not configured for backup; the configured domains are "
            f"{', '.join(configured_domains)} (DOMAIN_NAMES)"
        )
    work: list[Work] = [ResumeRun(event.resume_run_id)] if event.resume_run_id else []
    return work + [StartDomain(domain) for domain in domains]


class BackupRequest:
    """Works through one event's list of domains within one invocation."""

    def __init__(self, event: BackupEvent, service: BackupService, deadline: Deadline) -> None:
        self.event, self.service, self.deadline = event, service, deadline
        self.results: list[BackupResult] = []
        self.skipped: list[dict[str, str]] = []
        self.failures: list[dict[str, Any]] = [
            {"domain": domain, "kind": "earlier", "message": "failed earlier in this run"}
            for domain in event.failed_domains
        ]

    def run(self, work: list[Work], continue_with: ContinueWith) -> BackupRequestOutcome:
        """Every domain is attempted, whatever another one did; when a run continues, the work after it goes
        to the next invocation with it."""
        for position, step in enumerate(work):
            result = self._attempt(step)
            if result is not None and result.status == "continued":
                continuation = self._continuation(result.run_id, work[position + 1 :])
                # Logged before the hand-off: if the invocation dies now, the log still holds the event that
                # resumes the run (docs/RUNBOOK.md).
                logger.info(
                    "backup continues in a new invocation",
                    extra={"continuation": event_payload(continuation)},
                )
                continue_with(continuation)
                return self._outcome(continuation)
        return self._outcome(None)

    def _outcome(self, continuation: BackupEvent | None) -> BackupRequestOutcome:
        return BackupRequestOutcome(self.results, self.failures, continuation, self.skipped)

    def _attempt(self, step: Work) -> BackupResult | None:
        """Back up (or continue) one domain; a failure is recorded, never raised."""
        state: BackupState | None = None
        try:
            state = self._state_for(step)
            if isinstance(step, ResumeRun):
                self.service.claim_continuation(state, self.deadline)
            result = self.service.run(state, self.deadline)
        except BackupSkippedError as error:
            self._skip(state.domain if state else _domain_of(step), error)
            return None
        except Exception as error:
            self._fail(step, state, error)
            return None
        self.results.append(result)
        emit_backup_metrics(result, state.domain)
        return result

    def _skip(self, domain: str, error: BackupSkippedError) -> None:
        logger.warning("domain backup skipped", extra={"domain": domain, "reason": str(error)})
        self.skipped.append({"domain": domain, "kind": error.kind, "message": str(error)})
        emit_backup_skipped(domain)

    def _fail(self, step: Work, state: BackupState | None, error: Exception) -> None:
        domain = state.domain if state else _domain_of(step)
        kind = error.kind if isinstance(error, SimpleDBBackupError) else type(error).__name__
        failure: dict[str, Any] = {"domain": domain, "kind": kind, "message": str(error)}
        if isinstance(error, DumpRuleError):  # what the restore would have refused, and where
            failure.update(rule=error.rule, line=error.line, item=error.item[:200])
        if state is not None and state.checkpointed and not state.published_version_id:
            # The run's checkpoint and upload are kept: this event resumes it (docs/RUNBOOK.md).
            failure["resume_with"] = event_payload(self._continuation(state.run_id, []))
        logger.error(
            "domain backup failed",
            extra={
                "domain": domain,
                "run_id": state.run_id if state else None,
                "error_kind": kind,
                "error": str(error),
                "resume_with": failure.get("resume_with"),
            },
        )
        self.failures.append(failure)
        emit_backup_metrics(None, domain)

    def _state_for(self, step: Work) -> BackupState:
        match step:
            case StartDomain(domain):
                return self.service.start(domain, self.event.trigger, self.event.where, self.event.label)
            case ResumeRun(run_id):
                return self.service.load(run_id)

    def _continuation(self, run_id: str, rest: list[Work]) -> BackupEvent:
        subset: dict[str, Any] = (
            {"where": self.event.where, "label": self.event.label} if self.event.where else {}
        )
        return BackupEvent(
            trigger=self.event.trigger,
            resume_run_id=run_id,
            domains=[step.domain for step in rest if isinstance(step, StartDomain)],
            failed_domains=[failure["domain"] for failure in self.failures if failure["domain"]],
            **subset,
        )


def _domain_of(step: Work) -> str:
    return step.domain if isinstance(step, StartDomain) else ""


def run_backup_request(
    event: BackupEvent,
    service: BackupService,
    configured_domains: tuple[str, ...],
    deadline: Deadline,
    continue_with: ContinueWith,
) -> BackupRequestOutcome:
    """Back up every requested domain; failures are reported once all work has been attempted."""
    return BackupRequest(event, service, deadline).run(planned_work(event, configured_domains), continue_with)


def _field_of(error: InvalidRequestError) -> str | None:
    if isinstance(error, UnconfiguredDomainError):
        return "domains"
    cause = error.__cause__
    if isinstance(cause, ValidationError) and cause.errors():
        location = [str(part) for part in cause.errors()[0]["loc"]]
        return ".".join(location) or None
    return None


def answer_backup_event(
    event: object,
    service: BackupService,
    configured_domains: tuple[str, ...],
    deadline: Deadline,
    continue_with: ContinueWith,
) -> BackupRequestOutcome | BackupRefusal:
    """The backup function's answer to an event: the outcome of every requested domain, or a refusal of an
    event it cannot carry out as asked (before anything is read or written)."""
    try:
        request = parse_event(BackupEvent, event)
        work = planned_work(request, configured_domains)
    except InvalidRequestError as error:
        refusal = BackupRefusal(error, configured_domains, _field_of(error))
        logger.warning("backup request refused", extra={"error": str(error), "field": refusal.field})
        return refusal
    return BackupRequest(request, service, deadline).run(work, continue_with)
