"""What can go wrong around a function's answer, and the exit status each one means.

Exit status, the same as `make invoke` and `make invoke-local`: 0 the function answered; 3 it refused the
request or the restore failed (or the operator did not confirm, or a followed run stalled); 1 the function raised
an error; 2 the command was used wrongly, or AWS could not be reached or asked (credentials, region, stack,
throttling); 130 the operator pressed Ctrl-C (a run the command followed goes on, and the command said how to
follow it again).

Each error has a ``kind``, as the functions' refusals do, so that ``--json`` can print it as an answer.
"""

from enum import IntEnum
from typing import Any


class ExitStatus(IntEnum):
    ANSWERED = 0
    RAISED = 1
    USAGE = 2
    REFUSED_OR_FAILED = 3
    INTERRUPTED = 130


class CliError(Exception):
    """A problem reported as one line, with its exit status."""

    status = ExitStatus.USAGE
    kind = "usage"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        #: What --json prints beside the error (a run id, what the run is doing, the command to follow it).
        self.details: dict[str, Any] = details or {}


class FunctionRaisedError(CliError):
    """The function raised instead of answering (Lambda's FunctionError, or the handler's exception locally)."""

    status = ExitStatus.RAISED
    kind = "function-error"

    def __init__(self, function: str, error_type: str, message: str) -> None:
        super().__init__(f"the {function} function raised {error_type}: {message}")
        self.function, self.error_type, self.message = function, error_type, message


class FunctionBusyError(CliError):
    """Lambda throttled the invocation: the function's reserved concurrency is in use."""

    kind = "throttled"


class StackError(CliError):
    """The stack, or a function in it, cannot be found."""

    kind = "stack-not-found"


class NotConfirmedError(CliError):
    """The operator did not type the target domain's name: nothing was sent, nothing was written."""

    status = ExitStatus.REFUSED_OR_FAILED
    kind = "not-confirmed"


class InterruptedAtQuestionError(NotConfirmedError):
    """Ctrl-C at the question: nothing was sent."""

    status = ExitStatus.INTERRUPTED


class NothingToUndoError(CliError):
    """The run took no safety backup, so there is nothing to restore it from."""

    status = ExitStatus.REFUSED_OR_FAILED
    kind = "nothing-to-undo"


class NotRunningHereError(CliError):
    """A local restore run is parked, and nothing in this process will continue it."""

    status = ExitStatus.REFUSED_OR_FAILED
    kind = "not-running"


class StoppedFollowingError(CliError):
    """The operator pressed Ctrl-C: the command stopped following, or waiting for, work that goes on (or, where
    it cannot outlive the command, says so). Not an error of the work: the message says what it is doing and
    how to follow it again."""

    status = ExitStatus.INTERRUPTED
    kind = "stopped-following"


class NotResumableError(CliError):
    """The run cannot be resumed: it has ended, or it is running."""

    status = ExitStatus.REFUSED_OR_FAILED
    kind = "not-resumable"


class RunStalledError(CliError):
    """A followed run stalled: nothing runs it any more, and it waits to be resumed."""

    status = ExitStatus.REFUSED_OR_FAILED
    kind = "stalled"
