"""Where the commands send their events: the functions, deployed or run in this process.

``Functions`` is what a command needs: invoke a function with an event model and get its answer, and wait
sensibly between two polls of a restore's ``status``. ``LocalFunctions`` runs the handlers in this process as
`make invoke-local` does (localrun); the deployed stack's functions are in ``deployed``.
"""

import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from localrun import Invocations, LocalContext
from simpledb_backup_cli.errors import FunctionRaisedError, NotRunningHereError
from simpledb_backup_cli.requests import wire_event

FunctionName = Literal["backup", "restore"]
Answer = dict[str, Any]


class Functions(Protocol):
    def invoke(self, function: FunctionName, event: BaseModel) -> Answer:
        """The function's answer to ``event``; FunctionRaisedError when it raised instead."""
        ...

    def settle(self) -> None:
        """Wait until a restore that continues in the background may have moved on, before polling its status
        again; raises what the background work raised, if it failed without saving that in its status."""
        ...

    def finish(self) -> Answer | None:
        """Wait for work this process runs in the background (a local continuation) to end; its last answer,
        or None when nothing runs here."""
        ...


ContextFactory = Callable[[FunctionName], LocalContext]


def lambda_context(function: FunctionName, timeout_seconds: float = 900.0) -> LocalContext:
    """A context like the deployed function's: 15 minutes to run, unless told otherwise."""
    return LocalContext(function_name=f"simpledb-backup-{function}", timeout_seconds=timeout_seconds)


class LocalFunctions:
    """The handlers, run in this process with a Lambda context, against whatever AWS the environment names.

    A handler that continues its work in a new invocation (a long restore or backup) asks for an asynchronous
    invocation; it runs here in a background thread, as Lambda would run it while the operator polls
    ``status``. The function's environment and where its logs go are set up by ``localrun.local_stack``.
    """

    #: Longest wait between two status polls, should a background invocation take long.
    POLL_SECONDS = 1.0

    def __init__(self, context_factory: ContextFactory = lambda_context) -> None:
        self.context_factory = context_factory
        self._changed = threading.Condition()
        self._finished_invocations = 0
        self._seen_invocations = 0
        self._chains_running = 0
        self._workers: list[threading.Thread] = []
        self._last_answer: Answer | None = None
        self._failure: FunctionRaisedError | None = None
        self._idle_polls = 0

    def invoke(self, function: FunctionName, event: BaseModel) -> Answer:
        chain = Invocations(function, wire_event(event), lambda: self.context_factory(function))
        try:
            answer = next(chain)
        except Exception as error:  # what Lambda reports as a FunctionError
            raise FunctionRaisedError(function, type(error).__name__, str(error)) from error
        if chain.continues:
            with self._changed:
                self._chains_running += 1
            worker = threading.Thread(
                target=self._continue, args=(function, chain), name=f"{function}-continuation", daemon=True
            )
            self._workers.append(worker)
            worker.start()
        return answer

    def _continue(self, function: FunctionName, chain: Iterator[Answer]) -> None:
        """The asynchronous invocations the first one asked for, one after the other."""
        try:
            for answer in chain:
                with self._changed:
                    self._last_answer = answer
                    self._finished_invocations += 1
                    self._changed.notify_all()
        except Exception as error:
            with self._changed:
                self._failure = FunctionRaisedError(function, type(error).__name__, str(error))
        finally:
            with self._changed:
                self._chains_running -= 1
                self._changed.notify_all()

    def settle(self) -> None:
        with self._changed:
            self._changed.wait_for(
                lambda: self._finished_invocations != self._seen_invocations or self._chains_running == 0,
                timeout=self.POLL_SECONDS,
            )
            moved = self._finished_invocations != self._seen_invocations
            self._seen_invocations = self._finished_invocations
            if moved or self._chains_running:
                self._idle_polls = 0
                return
            # Nothing runs here any more and the last poll saw all that ran: a run that failed has said so in
            # its status by now; one still "continued" is parked with nothing to continue it in this process.
            self._idle_polls += 1
            if self._idle_polls > 1:
                raise self._failure or NotRunningHereError(
                    "the run is parked: its continuation does not run in this process (it ran in the command "
                    "that started the restore); resume it with its continues_with event, e.g. through "
                    "`make invoke-local FN=restore EVENT=...`"
                )

    def finish(self) -> Answer | None:
        for worker in self._workers:
            worker.join()
        if self._failure is not None:
            raise self._failure
        return self._last_answer
