"""Where the commands send their events: the functions, deployed or run on this machine.

``Functions`` is what a command needs: invoke a function with an event model and get its answer; start an
invocation that may take long and wait for it while the command does something else (it follows the run);
wait sensibly between two polls of a restore's ``status``; and say whether work the command started goes on
once the command stops. The deployed stack's functions are in ``deployed``; ``WorkerFunctions`` is `--local`:
the work that may outlive the command (a restore, a backup, a drill) runs in a worker process (localworker), as
Lambda runs an invocation apart from its caller, and the rest in this process. ``LocalFunctions`` runs
everything in this process (the tests, with handlers against moto in-process).
"""

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

from pydantic import BaseModel

from localrun import Invocations, LocalContext
from localworker import Worker
from simpledb_backup.events import BackupEvent, DrillEvent, RestoreRunRequest
from simpledb_backup_cli.errors import FunctionRaisedError, NotRunningHereError
from simpledb_backup_cli.requests import wire_event

FunctionName = Literal["backup", "restore", "drill"]
Answer = dict[str, Any]
#: The events whose invocation may continue in new invocations, and so outlive the command.
LONG_RUNNING = (RestoreRunRequest, BackupEvent, DrillEvent)


class Pending(Protocol):
    """An invocation under way."""

    def wait(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for its answer; whether it came (or the invocation raised)."""
        ...

    def result(self) -> Answer:
        """Its answer; FunctionRaisedError when it raised instead."""
        ...


class Functions(Protocol):
    def invoke(self, function: FunctionName, event: BaseModel) -> Answer:
        """The function's answer to ``event``; FunctionRaisedError when it raised instead."""
        ...

    def start(self, function: FunctionName, event: BaseModel) -> Pending:
        """Invoke, without waiting for the answer here."""
        ...

    def settle(self) -> None:
        """Wait until a restore that continues in the background may have moved on, before polling its status
        again; raises what the background work raised, if it failed without saving that in its status."""
        ...

    def finish(self) -> Answer | None:
        """Wait for work this process follows in the background (a local continuation) to end; its last
        answer, or None when nothing runs here."""
        ...

    def after_exit(self) -> tuple[bool, str]:
        """Whether the work this command started goes on once the command stops, and where (``"in AWS
        Lambda"``) or why not, for a person."""
        ...


class ThreadPending:
    """An invocation made in a thread of this process (the Lambda API call, or an in-process handler)."""

    def __init__(self, call: Callable[[], Answer], name: str) -> None:
        self._done = threading.Event()
        self._answer: Answer | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._answer = call()
            except BaseException as error:  # handed to the thread that asks for the result
                self._error = error
            finally:
                self._done.set()

        # A daemon: a command that stops following (Ctrl-C) exits without waiting for the answer.
        threading.Thread(target=run, name=name, daemon=True).start()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def result(self) -> Answer:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._answer is not None
        return self._answer


ContextFactory = Callable[[FunctionName], LocalContext]


def lambda_context(function: FunctionName, timeout_seconds: float = 900.0) -> LocalContext:
    """A context like the deployed function's: 15 minutes to run, unless told otherwise."""
    return LocalContext(function_name=f"simpledb-backup-{function}", timeout_seconds=timeout_seconds)


def raised(function: str, error: Exception) -> FunctionRaisedError:
    return FunctionRaisedError(function, type(error).__name__, str(error))


class LocalFunctions:
    """The handlers, all run in this process with a Lambda context, against whatever AWS the environment names
    (the tests: moto in-process).

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
            raise raised(function, error) from error
        if chain.continues:
            with self._changed:
                self._chains_running += 1
            worker = threading.Thread(
                target=self._continue, args=(function, chain), name=f"{function}-continuation", daemon=True
            )
            self._workers.append(worker)
            worker.start()
        return answer

    def start(self, function: FunctionName, event: BaseModel) -> Pending:
        return ThreadPending(lambda: self.invoke(function, event), f"{function}-invocation")

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
                self._failure = raised(function, error)
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
                    "the run is parked and nothing in this process continues it (its continuation ran in the "
                    "command that started the restore); resume it with `simpledb-backup --local restore "
                    "DOMAIN --resume RUN_ID`"
                )

    def finish(self) -> Answer | None:
        for worker in self._workers:
            worker.join()
        if self._failure is not None:
            raise self._failure
        return self._last_answer

    def after_exit(self) -> tuple[bool, str]:
        return False, "it runs in this command's process"


class WorkerPending:
    """The first invocation of a worker: its answer is the worker's first outcome."""

    def __init__(self, function: FunctionName, worker: Worker) -> None:
        self.function, self.worker = function, worker

    def wait(self, timeout: float) -> bool:
        return self.worker.wait_for(1, timeout)

    def result(self) -> Answer:
        self.worker.wait_for(1)
        return outcome_answer(self.function, self.worker, 0)


def outcome_answer(function: FunctionName, worker: Worker, index: int) -> Answer:
    if len(worker.outcomes) <= index:
        raise FunctionRaisedError(
            function, "WorkerDied", worker.died() or "the local worker ended unanswered"
        )
    outcome = worker.outcomes[index]
    if "raised" in outcome:
        error = outcome["raised"]
        raise FunctionRaisedError(function, str(error.get("errorType")), str(error.get("errorMessage")))
    answer: Answer = outcome["answer"]
    return answer


class WorkerFunctions:
    """`--local`: a restore, backup or drill runs in a worker process (localworker) with each continuation it
    asks for, so that it goes on when the command stops following it (Ctrl-C), as in Lambda; every other
    request (list, plan, diff, status, ...) is answered in this process.

    With an embedded local AWS (no AWS_ENDPOINT_URL) the workers cannot outlive the command, whose process
    serves that AWS: ``embedded`` says so, and the workers are stopped with the command.
    """

    #: Seconds between two polls of a run's status (the CLI's rule: no more often than every 5 s).
    POLL_SECONDS = 5.0

    def __init__(
        self,
        in_process: LocalFunctions,
        timeout_seconds: float,
        log_file: Path | None,
        logs: TextIO,
        embedded: bool,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.in_process, self.timeout_seconds, self.log_file, self.logs = (
            in_process,
            timeout_seconds,
            log_file,
            logs,
        )
        self.embedded = embedded
        self.workers: list[tuple[FunctionName, Worker]] = []
        self._sleep = sleep or time.sleep

    def invoke(self, function: FunctionName, event: BaseModel) -> Answer:
        if not isinstance(event, LONG_RUNNING):
            return self.in_process.invoke(function, event)
        return self.start(function, event).result()

    def start(self, function: FunctionName, event: BaseModel) -> Pending:
        if not isinstance(event, LONG_RUNNING):
            return self.in_process.start(function, event)
        worker = Worker(function, wire_event(event), self.timeout_seconds, self.log_file, self.logs)
        self.workers.append((function, worker))
        return WorkerPending(function, worker)

    def settle(self) -> None:
        """Wait POLL_SECONDS; then raise what a worker of this command raised, or why it died. (A run whose
        worker belongs to another command, or to none, is followed by its status: its ``state`` says when it
        stalled.)"""
        self._sleep(self.POLL_SECONDS)
        for function, worker in self.workers:
            for index in range(len(worker.outcomes)):
                outcome_answer(function, worker, index)  # raises what it raised
            if worker.ended and worker.died():
                raise FunctionRaisedError(function, "WorkerDied", str(worker.died()))

    def finish(self) -> Answer | None:
        """Wait for every worker to end; the last answer of the last one."""
        last: Answer | None = None
        for function, worker in self.workers:
            worker.process.wait()
            worker.wait_for(len(worker.outcomes) + 1)
            for index in range(len(worker.outcomes)):
                last = outcome_answer(function, worker, index)
            if worker.died():
                raise FunctionRaisedError(function, "WorkerDied", str(worker.died()))
        return last

    def running(self) -> list[int]:
        """The process ids of the workers still running."""
        return [worker.pid for _, worker in self.workers if worker.process.poll() is None]

    def after_exit(self) -> tuple[bool, str]:
        if self.embedded:
            return False, (
                "it runs against the embedded local AWS this command started (AWS_ENDPOINT_URL is not set), "
                "which stops with the command; for runs that outlive a command, start `make local-aws` and "
                "export AWS_ENDPOINT_URL"
            )
        pids = ", ".join(str(pid) for pid in self.running())
        return True, f"in its local worker process ({pids})" if pids else "in its local worker process"

    def wait(self) -> None:
        """Wait for the workers to end, whatever they answered (the command has reported what it followed)."""
        for _, worker in self.workers:
            worker.process.wait()

    def stop(self) -> None:
        """Stop the workers still running (an embedded local AWS is about to stop: they could only fail)."""
        for pid in self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
