"""Pydantic models of the events the functions accept, validated at the edge by the Powertools parser.

Unknown keys and wrong types are refused (``extra="forbid"``) with a message naming the field, because these
events are typed by hand in the Lambda console or a terminal. The restore function's requests are one model per
``action`` (a discriminated union), so each action accepts exactly its own fields. Every follow-up event the
service hands out (undo, status, resume, the continuation of a long run) is built from these models.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from aws_lambda_powertools.utilities.parser import parse
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.items import validate_domain_name
from simpledb_backup.runtime import RUN_ID_PATTERN
from simpledb_backup.selectgrammar import MAX_COMPARISONS, checked_where_clause


def _domain_name(value: str) -> str:
    try:
        return validate_domain_name(value)
    except InvalidRequestError as error:
        raise ValueError(str(error)) from error  # Pydantic reports a ValueError against its field


def _where_clause(value: str) -> str:
    # The backup adds two itemName() comparisons around the clause (scan.Segment.expression); SimpleDB allows
    # 20 comparisons in one Select expression.
    try:
        checked_where_clause(value, max_comparisons=MAX_COMPARISONS - 2)
    except InvalidRequestError as error:
        raise ValueError(str(error).removeprefix("where: ")) from error
    return value


DomainName = Annotated[str, AfterValidator(_domain_name)]


def _s3_name(value: str) -> str:
    # S3 keys are at most 1,024 UTF-8 bytes; S3 answers a longer key or version id with an HTTP error (414) the
    # request could not name, and text with a lone surrogate cannot be sent at all.
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise ValueError("must be UTF-8 text; it holds a lone surrogate") from error
    if size > 1024:
        raise ValueError(f"is {size:,} bytes; S3 keys and version ids are at most 1,024 UTF-8 bytes")
    return value


S3Name = Annotated[str, Field(min_length=1), AfterValidator(_s3_name)]
Label = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
RunId = Annotated[str, Field(pattern=f"^{RUN_ID_PATTERN.pattern}$", max_length=100)]
#: An item name or a match value: SimpleDB allows 1,024 bytes (a UTF-8 character is at least one byte).
#: Pydantic refuses text with a lone surrogate (which JSON can carry, and neither SimpleDB nor S3 can store).
ItemText = Annotated[str, Field(min_length=1, max_length=1024)]
Mode = Literal["merge", "exact"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackupEvent(_Event):
    """The nightly schedule's input, a manual run, or a continuation of a run that ran out of time.

    The schedule's input (template.yaml) fills the ``schedule_*`` fields from EventBridge Scheduler's context
    attributes, so the logs of a nightly run say which schedule and attempt started it.
    """

    #: What started the run; a continuation keeps the trigger of the run it continues.
    trigger: Literal["schedule", "manual"] = "manual"
    #: Domains to back up; all configured domains when omitted.
    domains: list[DomainName] | None = None
    #: A Select where clause for a subset dump, as Repoman's query flags allow; needs a ``label``.
    where: Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_where_clause)] | None = None
    label: Label | None = None
    schedule_arn: Annotated[str, Field(max_length=2048)] | None = None
    scheduled_time: Annotated[str, Field(max_length=64)] | None = None
    execution_id: Annotated[str, Field(max_length=128)] | None = None
    attempt: Annotated[str, Field(max_length=16)] | None = None
    #: Set on continuation events: the run to resume before the domains still to back up.
    resume_run_id: RunId | None = None
    #: Carried by continuation events: domains that already failed earlier in this nightly run.
    failed_domains: list[DomainName] = []

    @model_validator(mode="after")
    def _subset_needs_label(self) -> Self:
        if self.where and not self.label:
            raise ValueError("a subset backup ('where') needs a 'label', so it never replaces the full dump")
        if self.label and not self.where:
            raise ValueError("'label' names a subset backup and needs a 'where' clause")
        return self


class DrillEvent(_Event):
    """A restore drill of one domain: its schedule's input, a manual run, or the continuation of a drill."""

    trigger: Literal["schedule", "manual"] = "manual"
    domain: DomainName
    #: Set on the continuation of a drill that needs more than one invocation.
    run_id: RunId | None = None


class _DomainRequest(_Event):
    #: The source domain, whose dumps are read.
    domain: DomainName


class ListRequest(_DomainRequest):
    """The dumps of a domain, newest first."""

    action: Literal["list"]
    #: How many dumps to return, of the full dump and of each subset.
    limit: Annotated[int, Field(ge=1, le=1000)] = 20
    #: Only the dumps of this subset (its backup's ``label``).
    label: Label | None = None


class StatusRequest(_DomainRequest):
    """The progress, or the final summary, of a restore run."""

    action: Literal["status"]
    run_id: RunId


class RunsRequest(_DomainRequest):
    """A domain's restore runs (into it, or from its dumps), newest first, each with its true state."""

    action: Literal["runs"]
    #: How many runs to return.
    limit: Annotated[int, Field(ge=1, le=20)] = 20


class UnlockRequest(_DomainRequest):
    """Remove the lock a restore left on ``domain`` when its invocation is gone (died, timed out, or its run
    ended without releasing it). Without a matching ``confirm`` it only says what it would remove."""

    action: Literal["unlock"]
    #: Required to remove the lock: the domain's name, as for a restore.
    confirm: Annotated[str, Field(max_length=255)] | None = None


class _RestoreSpec(_DomainRequest):
    """What a plan or a restore reads, where it writes, and which items it covers."""

    #: Which dump: a version id, or the newest at or before ``as_of``; the latest when neither is given.
    version_id: S3Name | None = None
    as_of: datetime | None = None
    #: Where the data comes from: our dumps, a Repoman backup file, or an AWS native SimpleDB export.
    source: Literal["dump", "repoman", "native-export"] = "dump"
    #: S3 key (under imports/) of a Repoman backup file or of a native export's folder.
    source_key: S3Name | None = None
    #: Domain to write to; the source domain by default. A new domain is created.
    target_domain: DomainName | None = None
    #: merge: dump written over the target, other items stay. exact: target ends equal to the dump.
    mode: Mode = "merge"
    #: Optional subset: these item names only, and/or items whose attributes have these values.
    items: Annotated[list[ItemText], Field(min_length=1, max_length=10_000)] | None = None
    match: Annotated[dict[ItemText, ItemText], Field(max_length=20)] | None = None
    #: How many sample items the plan shows per kind of change.
    sample_size: Annotated[int, Field(ge=0, le=100)] = 5

    @model_validator(mode="after")
    def _check_combinations(self) -> Self:
        if self.version_id and self.as_of:
            raise ValueError("give either 'version_id' or 'as_of', not both")
        if self.source != "dump" and not self.source_key:
            raise ValueError(f"source {self.source!r} needs 'source_key', the S3 key of the file or export")
        if self.source == "dump" and self.source_key:
            raise ValueError("'source_key' is only for the 'repoman' and 'native-export' sources")
        return self

    @property
    def target(self) -> str:
        return self.target_domain or self.domain

    @property
    def as_of_utc(self) -> datetime | None:
        """``as_of`` with a time zone: a time without one is read as UTC."""
        if self.as_of is None or self.as_of.tzinfo:
            return self.as_of
        return self.as_of.replace(tzinfo=UTC)


class PlanRequest(_RestoreSpec):
    """A dry run: what a restore would change. Writes nothing."""

    action: Literal["plan"]


class RestoreRunRequest(_RestoreSpec):
    """Start a restore, or continue the run ``run_id`` names."""

    action: Literal["restore"]
    #: Required to write into an existing, non-empty domain: that domain's name.
    confirm: Annotated[str, Field(max_length=255)] | None = None
    #: Set on the continuation of a long restore (and to resume one by hand).
    run_id: RunId | None = None

    def continuation(self, run_id: str) -> "RestoreRunRequest":
        """The event that continues run ``run_id`` of this restore."""
        return self.model_copy(update={"run_id": run_id})


class DumpSelector(_Event):
    """One dump, by its version id or as the newest schedule or manual dump at or before a time."""

    version_id: S3Name | None = None
    as_of: datetime | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Self:
        if (self.version_id is None) == (self.as_of is None):
            raise ValueError("give exactly one of 'version_id' and 'as_of'")
        return self

    @property
    def as_of_utc(self) -> datetime | None:
        """``as_of`` with a time zone: a time without one is read as UTC."""
        if self.as_of is None or self.as_of.tzinfo:
            return self.as_of
        return self.as_of.replace(tzinfo=UTC)


def _dump_or(*names: str) -> WrapValidator:
    """One of the given names, or a DumpSelector object; one readable message when it is neither (instead of
    one per member of the union)."""
    expected = ", ".join(f"{name!r}" for name in names) + ', {"version_id": "..."} or {"as_of": "<ISO time>"}'

    def validate(value: object, _: ValidatorFunctionWrapHandler) -> object:
        if isinstance(value, str) and value in names:
            return value
        if isinstance(value, DumpSelector):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"must be {expected}")
        try:
            return DumpSelector.model_validate(value)
        except ValidationError as error:
            raise ValueError(describe_validation_error(error).removeprefix("event: ")) from error

    return WrapValidator(validate)


DiffFrom = Annotated[Literal["latest", "previous"] | DumpSelector, _dump_or("latest", "previous")]
DiffTo = Annotated[Literal["live", "latest"] | DumpSelector, _dump_or("live", "latest")]


class DiffRequest(_DomainRequest):
    """What changed between two dumps, or between a dump and the live domain. Writes nothing."""

    action: Literal["diff"]
    #: The older side: the latest dump (default), the one before it, or a dump by version id or time.
    from_: Annotated[DiffFrom, Field(alias="from")] = "latest"
    #: The newer side: the live domain (default), the latest dump, or a dump by version id or time.
    to: DiffTo = "live"
    #: "latest", "previous" and "as_of" pick among this subset's dumps instead of the full dump's.
    label: Label | None = None
    #: How many sample items the diff shows per kind of difference.
    sample_size: Annotated[int, Field(ge=0, le=100)] = 5


class EstimateRequest(_DomainRequest):
    """How long a backup and a restore of the domain would take, and what they would cost. Reads only."""

    action: Literal["estimate"]
    #: The latency of one SimpleDB call, in ms, instead of timing a few small Select calls.
    latency_ms: Annotated[float, Field(gt=0, le=60_000)] | None = None


RestoreRequests = (
    ListRequest
    | PlanRequest
    | RestoreRunRequest
    | StatusRequest
    | DiffRequest
    | RunsRequest
    | UnlockRequest
    | EstimateRequest
)
RestoreRequest = Annotated[RestoreRequests, Field(discriminator="action")]
ACTIONS = ("list", "plan", "restore", "status", "diff", "runs", "unlock", "estimate")


def undo_request(target: str, version_id: str) -> RestoreRunRequest:
    """The restore that puts a target back as its safety backup found it."""
    return RestoreRunRequest(
        action="restore", domain=target, version_id=version_id, mode="exact", confirm=target
    )


def status_request(domain: str, run_id: str) -> StatusRequest:
    return StatusRequest(action="status", domain=domain, run_id=run_id)


def restore_of(plan: PlanRequest, confirm: str | None) -> RestoreRunRequest:
    """The restore a plan previews, with ``confirm`` (the target's name, when it must be given)."""
    fields = plan.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    return RestoreRunRequest.model_validate({**fields, "action": "restore", "confirm": confirm})


def describe_validation_error(error: ValidationError) -> str:
    """One readable line per problem, each naming its field (without the union's ``action`` tag)."""
    problems = []
    for problem in error.errors():
        location = [str(part) for part in problem["loc"]]
        if location and location[0] in ACTIONS:
            location = location[1:]
        field = ".".join(location) or "event"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        elif problem["type"] == "union_tag_invalid":
            field, message = "action", f"must be one of {', '.join(ACTIONS)}"
        elif problem["type"] == "union_tag_not_found":
            field, message = "action", f"missing; one of {', '.join(ACTIONS)}"
        problems.append(f"{field}: {message}")
    return "; ".join(problems)


def parse_event[Model: BaseModel](model: type[Model], event: object) -> Model:
    """Validate an event with the Powertools parser; its Pydantic error becomes a field-naming message."""
    parsed: Model = _parse(model, event)
    return parsed


def parse_restore_request(event: object) -> RestoreRequests:
    """The restore function's request: the model of its ``action``."""
    parsed: RestoreRequests = _parse(RestoreRequest, event)
    return parsed


def _parse(model: Any, event: object) -> Any:
    if not isinstance(event, dict):
        raise InvalidRequestError(f"invalid event: expected a JSON object, got {type(event).__name__}")
    try:
        return parse(event=event, model=model)
    except ValidationError as error:
        raise InvalidRequestError(f"invalid event: {describe_validation_error(error)}") from error
