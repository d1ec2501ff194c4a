"""What can go wrong around a function's answer, and the exit status each one means.

Exit status, the same as `make invoke` and `make invoke-local`: 0 the function answered; 3 it refused the
request or the restore failed (or the operator did not confirm); 1 the function raised an error; 2 the command
was used wrongly, or AWS could not be reached or asked (credentials, region, stack, throttling).
"""

from enum import IntEnum


class ExitStatus(IntEnum):
    ANSWERED = 0
    RAISED = 1
    USAGE = 2
    REFUSED_OR_FAILED = 3
    INTERRUPTED = 130


class CliError(Exception):
    """A problem reported as one line, with its exit status."""

    status = ExitStatus.USAGE


class FunctionRaisedError(CliError):
    """The function raised instead of answering (Lambda's FunctionError, or the handler's exception locally)."""

    status = ExitStatus.RAISED

    def __init__(self, function: str, error_type: str, message: str) -> None:
        super().__init__(f"the {function} function raised {error_type}: {message}")
        self.function, self.error_type, self.message = function, error_type, message


class FunctionBusyError(CliError):
    """Lambda throttled the invocation: the restore function runs one invocation at a time (reserved
    concurrency 1), so this is expected while a restore's continuation runs."""


class StackError(CliError):
    """The stack, or a function in it, cannot be found."""


class NotConfirmedError(CliError):
    """The operator did not type the target domain's name: nothing was sent, nothing was written."""

    status = ExitStatus.REFUSED_OR_FAILED


class NothingToUndoError(CliError):
    """The run took no safety backup, so there is nothing to restore it from."""

    status = ExitStatus.REFUSED_OR_FAILED


class NotRunningHereError(CliError):
    """A local restore run is parked, and nothing in this process will continue it."""

    status = ExitStatus.REFUSED_OR_FAILED
