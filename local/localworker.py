"""A function's invocation, and each continuation it asks for, in a worker process of its own: how
`simpledb-backup --local` runs the work that may outlive the command (a restore, a backup, a drill), as Lambda
runs an invocation apart from its caller.

The worker ignores SIGINT and SIGHUP, so the operator's Ctrl-C in the terminal stops the command (which stops
following) and not the work, and the work goes on when the terminal closes, as in Lambda; killing the command's
process group kills the worker too, as an invocation can die in Lambda. It talks to AWS through ``AWS_ENDPOINT_URL`` (a `make local-aws` server, or the
embedded one of the command that started it, which stops with that command).

    python -m localworker FUNCTION [--timeout SECONDS] [--log-file PATH] < event.json

Each invocation's outcome is one JSON line on stdout: ``{"answer": {...}}``, or ``{"raised": {"errorType": ...,
"errorMessage": ...}}`` as Lambda reports a function error (a timeout included, localrun.InvocationTimedOutError).
The functions' logs go to stderr, or to the log file. Once the command that reads stdout is gone, the worker
goes on and its output is dropped.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from localrun import FUNCTIONS, Invocations, LocalContext, function_output, use_function_environment

#: What the terminal sends the command's process group, which the worker does not obey: Ctrl-C, and the hang-up
#: when the terminal closes (or when the command that started the worker leads its session and exits).
DETACHED_FROM = (signal.SIGINT, signal.SIGHUP)


class Tolerant:
    """A text stream that keeps the worker going once its reader is gone: writes to a closed pipe are
    dropped."""

    def __init__(self, stream: TextIO) -> None:
        self.stream: TextIO | None = stream

    def write(self, text: str) -> int:
        if self.stream is not None:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.stream = None
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def outcomes(function: str, event: dict[str, Any], timeout_seconds: float) -> Iterator[dict[str, Any]]:
    """Each invocation's outcome, the first and every continuation, as the worker prints them."""
    chain = Invocations(
        function,
        event,
        lambda: LocalContext(function_name=f"simpledb-backup-{function}", timeout_seconds=timeout_seconds),
    )
    while chain.continues:
        try:
            yield {"answer": next(chain)}
        except StopIteration:
            return
        except (
            Exception
        ) as error:  # what Lambda reports as a FunctionError; the chain goes on (see Invocations)
            yield {"raised": {"errorType": type(error).__name__, "errorMessage": str(error)}}


def main(argv: list[str] | None = None) -> int:
    for ignored in DETACHED_FROM:
        signal.signal(ignored, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="python -m localworker", description=__doc__.split("\n\n")[0])
    parser.add_argument("function", choices=sorted(FUNCTIONS))
    parser.add_argument("--timeout", type=float, default=900.0, help="each invocation's timeout, in seconds")
    parser.add_argument("--log-file", type=Path, help="append the functions' logs here instead of stderr")
    arguments = parser.parse_args(argv)
    event = json.loads(sys.stdin.readline())
    answers = Tolerant(sys.stdout)
    logs: TextIO = Tolerant(sys.stderr)  # type: ignore[assignment]
    if arguments.log_file is not None:
        logs = arguments.log_file.open("a", encoding="utf-8")
    use_function_environment(arguments.function)
    with function_output(logs):
        for outcome in outcomes(arguments.function, event, arguments.timeout):
            answers.write(json.dumps(outcome, default=str) + "\n")
    return 0


class Worker:
    """The command's side of a worker: starts it with an event, reads each invocation's outcome as it comes.

    ``logs`` receives the worker's log lines when no log file is given (a thread relays them while the command
    runs).
    """

    def __init__(
        self,
        function: str,
        event: dict[str, Any],
        timeout_seconds: float,
        log_file: Path | None,
        logs: TextIO,
    ) -> None:
        command = [sys.executable, "-m", "localworker", function, "--timeout", str(timeout_seconds)]
        if log_file is not None:
            command += ["--log-file", str(log_file)]
        self.process = _start_detached(command)
        self.outcomes: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._ended = False
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(json.dumps(event) + "\n")
        stdin.close()
        threading.Thread(target=self._read, name=f"{function}-worker-outcomes", daemon=True).start()
        # The worker's stderr: its logs (without a log file), and anything a crashing interpreter says.
        threading.Thread(
            target=_relay, args=(self.process.stderr, logs), name=f"{function}-worker-logs", daemon=True
        ).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        for line in stdout:
            outcome = json.loads(line)
            with self._changed:
                self.outcomes.append(outcome)
                self._changed.notify_all()
        self.process.wait()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float | None = None) -> bool:
        """Wait until ``count`` outcomes were read or the worker ended; whether either happened in time."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.outcomes) >= count or self._ended, timeout)

    @property
    def ended(self) -> bool:
        with self._changed:
            return self._ended

    def died(self) -> str | None:
        """Why the worker ended without answering (killed, crashed), or None."""
        code = self.process.poll()
        if code is None or code == 0:
            return None
        if code < 0:
            return f"the local worker process {self.pid} was killed ({signal.Signals(-code).name})"
        return f"the local worker process {self.pid} exited with status {code}"


def _start_detached(command: list[str]) -> "subprocess.Popen[str]":
    """The worker inherits ignored SIGINT and SIGHUP (an ignored signal stays ignored across exec, and Python
    keeps it so), so a Ctrl-C right after the start cannot reach it before it ignores them itself."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = [signal.signal(number, signal.SIG_IGN) for number in DETACHED_FROM] if in_main_thread else []
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
    finally:
        for number, handler in zip(DETACHED_FROM, previous, strict=False):
            signal.signal(number, handler)


def _relay(source: IO[str] | None, target: TextIO) -> None:
    for line in source or ():
        try:
            target.write(line)
            target.flush()
        except (OSError, ValueError):
            return


if __name__ == "__main__":
    sys.exit(main())
