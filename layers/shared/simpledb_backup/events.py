"""Pydantic models of the events the two functions accept, validated at the edge by the Powertools parser.

Unknown keys and wrong types are refused (``extra="forbid"``) with a message naming the field, because these
events are typed by hand in the Lambda console or a terminal.
"""

from datetime import datetime
from typing import Annotated, Literal, Self

from aws_lambda_powertools.utilities.parser import parse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.items import validate_domain_name


def _domain_name(value: str) -> str:
    try:
        return validate_domain_name(value)
    except InvalidRequestError as error:
        raise ValueError(str(error)) from error  # Pydantic reports a ValueError against its field


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
    where: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    label: Label | None = None
    schedule_arn: str | None = None
    scheduled_time: str | None = None
    execution_id: str | None = None
    attempt: str | None = None
    #: Set on continuation events: the run to resume before the domains still to back up.
    resume_run_id: Annotated[str, Field(pattern=r"^[0-9A-Za-z-]{1,64}$")] | None = None
    #: Carried by continuation events: domains that already failed earlier in this nightly run.
    failed_domains: list[str] = []

    @model_validator(mode="after")
    def _subset_needs_label(self) -> Self:
        if self.where and not self.label:
            raise ValueError("a subset backup ('where') needs a 'label', so it never replaces the full dump")
        if self.label and not self.where:
            raise ValueError("'label' names a subset backup and needs a 'where' clause")
        return self


class RestoreRequest(_Event):
    """One restore-function request: list dumps, plan a restore, restore, or read a restore's status."""

    action: Literal["list", "plan", "restore", "status"]
    #: The source domain, whose dumps are read.
    domain: DomainName
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
    mode: Literal["merge", "exact"] = "merge"
    #: Optional subset: these item names only, and/or items whose attributes have these values.
    items: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] | None = None
    match: dict[str, str] | None = None
    #: Required to write into an existing, non-empty domain: that domain's name.
    confirm: str | None = None
    #: For ``status``, and for continuations of a long restore.
    run_id: str | None = None
    #: How many dumps ``list`` returns.
    limit: Annotated[int, Field(ge=1, le=1000)] = 20
    #: How many sample item names ``plan`` shows per kind of change.
    sample_size: Annotated[int, Field(ge=0, le=100)] = 5

    @model_validator(mode="after")
    def _check_combinations(self) -> Self:
        if self.version_id and self.as_of:
            raise ValueError("give either 'version_id' or 'as_of', not both")
        if self.source != "dump" and not self.source_key:
            raise ValueError(f"source {self.source!r} needs 'source_key', the S3 key of the file or export")
        if self.source == "dump" and self.source_key:
            raise ValueError("'source_key' is only for the 'repoman' and 'native-export' sources")
        if self.action == "status" and not self.run_id:
            raise ValueError("action 'status' needs the 'run_id' of a restore")
        return self

    @property
    def target(self) -> str:
        return self.target_domain or self.domain


def describe_validation_error(error: ValidationError) -> str:
    """One readable line per problem, each naming its field."""
    problems = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "event"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{field}: {message}")
    return "; ".join(problems)


def parse_event[EventModel: BaseModel](model: type[EventModel], event: object) -> EventModel:
    """Validate an event with the Powertools parser; its Pydantic error becomes a field-naming message."""
    if not isinstance(event, dict):
        raise InvalidRequestError(f"invalid event: expected a JSON object, got {type(event).__name__}")
    try:
        return parse(event=event, model=model)
    except ValidationError as error:
        raise InvalidRequestError(f"invalid event: {describe_validation_error(error)}") from error
