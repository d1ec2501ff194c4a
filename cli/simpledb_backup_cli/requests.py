"""The events the commands send, built from the functions' own event models (pure).

Every event goes through ``parse_restore_request`` or ``parse_event``, the validation the functions apply to
their input, so the command line can never send what the function would not accept: a mistake is reported
here, naming the field, before anything is invoked.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.events import (
    BackupEvent,
    DrillEvent,
    ListRequest,
    PlanRequest,
    RestoreRunRequest,
    StatusRequest,
    parse_event,
    parse_restore_request,
)
from simpledb_backup_cli.errors import CliError

#: Where a diff starts or ends, by name (docs/ANSWERS.md: "latest", "previous", "live").
SOURCE_KEYWORDS = ("latest", "previous", "live")


def wire_event(event: BaseModel) -> dict[str, Any]:
    """An event model as the JSON the function is invoked with: only the fields that were set, as
    ``runtime.event_payload`` gives them, and by alias (a field named after a Python keyword, like a diff's
    ``from``, carries the event's name as its alias)."""
    return event.model_dump(mode="json", exclude_unset=True, exclude_none=True, by_alias=True)


@dataclass(frozen=True)
class RestoreSpec:
    """What a plan or a restore reads, where it writes and which items it covers: the command's options."""

    domain: str
    version_id: str | None = None
    as_of: str | None = None
    mode: str | None = None
    target_domain: str | None = None
    items: tuple[str, ...] = ()
    match: tuple[str, ...] = ()
    source: str | None = None
    source_key: str | None = None
    sample_size: int | None = None

    @property
    def target(self) -> str:
        return self.target_domain or self.domain

    def fields(self) -> dict[str, Any]:
        """The request's fields, only those the operator gave."""
        given: dict[str, Any] = {
            "domain": self.domain,
            "version_id": self.version_id,
            "as_of": self.as_of,
            "mode": self.mode,
            "target_domain": self.target_domain,
            "items": list(self.items) or None,
            "match": match_values(self.match) or None,
            "source": self.source,
            "source_key": self.source_key,
            "sample_size": self.sample_size,
        }
        return {name: value for name, value in given.items() if value is not None}


def match_values(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--match attr=value`` options as the request's ``match``: items whose attribute has that value."""
    values: dict[str, str] = {}
    for pair in pairs:
        attribute, separator, value = pair.partition("=")
        if not separator or not attribute:
            raise CliError(f"--match {pair!r}: expected ATTRIBUTE=VALUE, e.g. distribution=stable")
        if attribute in values:
            raise CliError(f"--match: attribute {attribute!r} given twice (an item has one value to match)")
        values[attribute] = value
    return values


def source_reference(text: str) -> str | dict[str, str]:
    """A diff's ``from`` or ``to``: a keyword (latest, previous, live), a time (as_of: an ISO 8601 date or
    date and time, e.g. 2026-11-26 or 2026-11-26T03:00:00Z), or else a dump's version id."""
    if text in SOURCE_KEYWORDS:
        return text
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return {"version_id": text}
    return {"as_of": text}


def _restore_request(fields: object) -> Any:
    try:
        return parse_restore_request(fields)
    except InvalidRequestError as error:
        raise CliError(str(error)) from error


def list_request(domain: str, limit: int | None = None, label: str | None = None) -> ListRequest:
    fields: dict[str, Any] = {"action": "list", "domain": domain, "limit": limit, "label": label}
    request: ListRequest = _restore_request({k: v for k, v in fields.items() if v is not None})
    return request


def plan_request(spec: RestoreSpec) -> PlanRequest:
    request: PlanRequest = _restore_request({"action": "plan", **spec.fields()})
    return request


def restore_request(spec: RestoreSpec, confirm: str | None) -> RestoreRunRequest:
    fields = {"action": "restore", **spec.fields()}
    if confirm is not None:
        fields["confirm"] = confirm
    request: RestoreRunRequest = _restore_request(fields)
    return request


def status_request(domain: str, run_id: str) -> StatusRequest:
    request: StatusRequest = _restore_request({"action": "status", "domain": domain, "run_id": run_id})
    return request


def resume_request(domain: str, run_id: str, target_domain: str | None = None) -> RestoreRunRequest:
    """Continue the parked or stalled run ``run_id`` (docs/ANSWERS.md): the restore with its run id; the run's
    own saved request says the rest."""
    fields: dict[str, Any] = {"action": "restore", "domain": domain, "run_id": run_id}
    if target_domain is not None and target_domain != domain:
        fields["target_domain"] = target_domain
    request: RestoreRunRequest = _restore_request(fields)
    return request


def runs_request(domain: str) -> BaseModel:
    """The restore runs of a domain, newest first, with their state."""
    request: BaseModel = _restore_request({"action": "runs", "domain": domain})
    return request


def unlock_request(domain: str, confirm: str | None = None) -> BaseModel:
    """Remove the stale lock of ``domain``; without ``confirm`` the function answers what it would remove."""
    fields: dict[str, Any] = {"action": "unlock", "domain": domain}
    if confirm is not None:
        fields["confirm"] = confirm
    request: BaseModel = _restore_request(fields)
    return request


def estimate_request(domain: str, latency_ms: float | None = None) -> BaseModel:
    """How long and how much a backup and a restore of ``domain`` would take."""
    fields: dict[str, Any] = {"action": "estimate", "domain": domain}
    if latency_ms is not None:
        fields["latency_ms"] = latency_ms
    request: BaseModel = _restore_request(fields)
    return request


def drill_request(domain: str) -> DrillEvent:
    """A restore drill of ``domain`` now, as its weekly schedule runs it."""
    try:
        return parse_event(DrillEvent, {"trigger": "manual", "domain": domain})
    except InvalidRequestError as error:
        raise CliError(str(error)) from error


def diff_request(domain: str, source: str | None, target: str | None, sample_size: int | None) -> BaseModel:
    """docs/ANSWERS.md's diff: from a dump (the latest by default) to another dump or the live domain."""
    fields: dict[str, Any] = {"action": "diff", "domain": domain}
    if source is not None:
        fields["from"] = source_reference(source)
    if target is not None:
        fields["to"] = source_reference(target)
    if sample_size is not None:
        fields["sample_size"] = sample_size
    request: BaseModel = _restore_request(fields)
    return request


def backup_request(domain: str, where: str | None = None, label: str | None = None) -> BackupEvent:
    fields: dict[str, Any] = {"trigger": "manual", "domains": [domain], "where": where, "label": label}
    try:
        return parse_event(BackupEvent, {name: value for name, value in fields.items() if value is not None})
    except InvalidRequestError as error:
        raise CliError(str(error)) from error


def undo_spec(undo: object) -> RestoreSpec:
    """The restore a run's ``safety_backup.undo`` event describes (without its ``confirm``, which the operator
    gives again), validated as the restore function would."""
    request = _restore_request(undo)
    if not isinstance(request, RestoreRunRequest):
        raise CliError(f"the run's undo event is a {request.action!r} request, not a restore")
    return RestoreSpec(
        domain=request.domain,
        version_id=request.version_id,
        as_of=request.as_of.isoformat() if request.as_of else None,
        mode=request.mode,
        target_domain=request.target_domain,
        items=tuple(request.items or ()),
        match=tuple(f"{name}={value}" for name, value in (request.match or {}).items()),
        source=request.source if request.source != "dump" else None,
        source_key=request.source_key,
    )
