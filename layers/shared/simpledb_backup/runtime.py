"""Working across invocations, for both functions: the deadline, the stall guard, run ids, saved state, and
the hand-off to the next invocation.

Lambda stops an invocation at its timeout (15 minutes at most). A backup or restore that needs longer stops at
a safe point while ``Deadline.out_of_time()`` still leaves a margin, saves its state in S3 as a typed model,
and invokes its own function with InvocationType Event (``aws.continuation.start_continuation``): Lambda queues that invocation
and retries it on throttling, and a failure lands in the OnFailure destination (template.yaml).
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from simpledb_backup.errors import InvalidStateError, SimpleDBBackupError

RemainingSeconds = Callable[[], float]
Clock = Callable[[], datetime]
JobKind = Literal["backup", "restore", "drill"]

#: Run ids: the kind of job, its start time and a random part, e.g. ``restore-20261126T030000Z-3f9a0c1d2e4b``.
#: Runs saved by earlier releases (no kind, or 8 random hex digits) are still recognised.
RUN_ID_PATTERN = re.compile(r"(?:[a-z]+-)?\d{8}T\d{6}Z-[0-9a-f]{8,12}")


def utc_datetime() -> datetime:
    return datetime.now(UTC)


def utc_now() -> str:
    """The current time as ISO 8601 with milliseconds and a ``Z``, as every saved document records it."""
    return utc_datetime().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_run_id(kind: JobKind) -> str:
    return f"{kind}-{utc_datetime():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"


def is_run_id(text: str) -> bool:
    return RUN_ID_PATTERN.fullmatch(text) is not None


@dataclass(frozen=True)
class Deadline:
    """How long this invocation may still work before it must save its state and hand over."""

    remaining_seconds: RemainingSeconds
    #: When less than this is left, stop at the next safe point (CONTINUATION_MARGIN_SECONDS).
    margin_seconds: float

    def remaining(self) -> float:
        return self.remaining_seconds()

    def out_of_time(self) -> bool:
        return self.remaining_seconds() < self.margin_seconds

    @classmethod
    def of_context(cls, context: LambdaContext, margin_seconds: float) -> "Deadline":
        return cls(lambda: context.get_remaining_time_in_millis() / 1000, margin_seconds)


class StallGuard:
    """Stops a job whose invocations keep ending without progress (a timeout shorter than the margin, a scan
    that alone outlasts an invocation) instead of letting it invoke itself forever."""

    #: Consecutive invocations without progress after which the job fails.
    LIMIT = 3

    def __init__(self, error: type[SimpleDBBackupError], advice: str) -> None:
        self.error, self.advice = error, advice

    def after_invocation(self, count: int, progressed: bool, job: str) -> int:
        """The new count of invocations without progress; raises the guard's error at the limit."""
        count = 0 if progressed else count + 1
        if count >= self.LIMIT:
            raise self.error(f"{job} made no progress in {self.LIMIT} invocations in a row; {self.advice}")
        return count


def state_document(state: BaseModel) -> dict[str, Any]:
    """A saved state as JSON-ready data (what S3 receives)."""
    return state.model_dump(mode="json")


def load_state[State: BaseModel](model: type[State], document: object, where: str) -> State:
    """Parse a saved state back into its model; a document that does not fit is refused, never guessed at."""
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'document'}: {problem['msg']}"
            for problem in error.errors()[:5]
        )
        raise InvalidStateError(f"{where} is not a valid saved state: {problems}") from error


def event_payload(event: BaseModel) -> dict[str, Any]:
    """An event model as the JSON a function is invoked with: only the fields that were set."""
    return event.model_dump(mode="json", exclude_unset=True, exclude_none=True)
