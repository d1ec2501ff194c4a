"""Run the Lambda handlers in-process, as `sam local invoke` would but without Docker.

Used by `make invoke-local`, `simpledb-backup --local` (through localworker), `make demo`, the benchmark and the
tests. A handler that continues its work in a new invocation is run again here with its continuation event, as
Lambda would run the asynchronous invocation it asked for. An invocation that runs past its timeout is treated
as Lambda treats it: its answer is abandoned, the continuations it asked for after its deadline are dropped, and
``InvocationTimedOutError`` reports it, so a test that lets an invocation overrun fails.

The functions' environment is events/env.json with the process environment on top (``DOMAIN_NAMES=... make
invoke-local`` wins), and their output (Powertools writes logs and metric records to stdout) goes wherever
``function_output`` sends it, so that a command's own stdout can carry only its answer.
"""

import contextlib
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO, cast

from pydantic import BaseModel

from simpledb_backup.events import BackupEvent
from simpledb_backup.runtime import event_payload

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = {"backup": "BackupFunction", "restore": "RestoreFunction", "drill": "DrillFunction"}
ENVIRONMENT_FILE = ROOT / "events" / "env.json"


def function_environment(function: str) -> dict[str, str]:
    """The function's environment for local runs: events/env.json (also `sam local invoke --env-vars`), where
    a variable set in this process's environment wins."""
    document: dict[str, dict[str, str]] = json.loads(ENVIRONMENT_FILE.read_text())
    defaults = {**document.get("Parameters", {}), **document[FUNCTIONS[function]]}
    return {name: os.environ.get(name, value) for name, value in defaults.items()}


@dataclass
class LocalContext:
    """The parts of the Lambda context object the handlers and Powertools use."""

    function_name: str
    timeout_seconds: float = 900.0
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    clock: Callable[[], float] = time.monotonic
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return int(max(0.0, self.timeout_seconds - (self.clock() - self.started)) * 1000)

    @property
    def enforces_timeout(self) -> bool:
        """Whether the timeout is Lambda's: on the real clock. A test that passes a clock of its own simulates
        time (each reading may advance it), so reading it again would change what the test simulates."""
        return self.clock is time.monotonic

    def overrun_seconds(self) -> float:
        """How far past its timeout the invocation has run (0 while it has not)."""
        return max(0.0, self.clock() - self.started - self.timeout_seconds)


class InvocationTimedOutError(RuntimeError):
    """An invocation ran past its timeout. Lambda stops such an invocation where it is, and its answer is an
    error ("Task timed out"); locally the handler cannot be stopped, so its answer is abandoned instead, and what
    it asked for after its deadline is dropped."""

    def __init__(self, function: str, timeout_seconds: float, ran_seconds: float, dropped: int) -> None:
        dropped_text = (
            f"; {dropped} continuation(s) it asked for after its deadline were dropped" if dropped else ""
        )
        super().__init__(
            f"Task timed out after {timeout_seconds:.2f} seconds: the {function} invocation ran "
            f"{ran_seconds:.1f} s, and Lambda would have stopped it at its timeout (what it did after that "
            f"would not have happened){dropped_text}"
        )
        self.function, self.timeout_seconds, self.ran_seconds = function, timeout_seconds, ran_seconds


def load_module(path: Path, module_name: str) -> ModuleType:
    """Import a file that is not on the import path (a handler, a script) under ``module_name``."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def load_handler(function: str) -> ModuleType:
    """functions/<function>/<function>_handler.py, under its own module name (as Lambda imports it)."""
    return load_module(ROOT / "functions" / function / f"{function}_handler.py", f"{function}_handler")


def load_script(name: str) -> ModuleType:
    """scripts/<name>.py, for tests of the scripts."""
    return load_module(ROOT / "scripts" / f"{name}.py", f"{name}_script")


class _Continuations(threading.local):
    """The asynchronous invocations the handler running in this thread asked for.

    Per thread, because a command may run a restore's continuations in a background thread while it asks
    the same function for the run's status in its own.
    """

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] | None = None
        #: Continuations asked for after the invocation's deadline: Lambda would never have sent them.
        self.late = 0


_continuations = _Continuations()


def _continue_locally(event: BaseModel, context: object) -> None:
    """Stands in for ``aws.continuation.start_continuation``: queue the event for the chain this handler runs in."""
    if _continuations.asked is None:
        raise RuntimeError("a handler asked for a continuation outside localrun.Invocations")
    if isinstance(context, LocalContext) and context.enforces_timeout and context.overrun_seconds() > 0:
        _continuations.late += 1
        return
    _continuations.asked.append(event_payload(event))


class Invocations:
    """A handler's invocation, then each continuation it asks for: one invocation per ``next()``, which
    returns its response.

    The rest of a chain may run in another thread than the one that started it (one thread at a time), as
    Lambda runs an asynchronous invocation while the caller goes on.
    """

    def __init__(
        self,
        function: str,
        event: dict[str, Any],
        context_factory: Callable[[], LocalContext] | None = None,
        max_invocations: int = 100,
        handler: Any = None,
    ) -> None:
        self.function, self.max_invocations = function, max_invocations
        #: The handler module (functions/<function>/), or one a test gives; given a stand-in below for its
        #: ``start_continuation``.
        self.handler: Any = handler if handler is not None else cast(Any, load_handler(function))
        self.handler.start_continuation = _continue_locally
        self.make_context = context_factory or (
            lambda: LocalContext(function_name=f"simpledb-backup-{function}")
        )
        self.pending = [event]
        self.count = 0

    @property
    def continues(self) -> bool:
        """Whether an invocation asked for another that has not run yet."""
        return bool(self.pending)

    def __iter__(self) -> "Invocations":
        return self

    def __next__(self) -> dict[str, Any]:
        """The next invocation's response; InvocationTimedOutError instead when it ran past its timeout (the
        continuations it asked for in time still run on the next call, as Lambda would run them)."""
        if not self.pending:
            raise StopIteration
        if self.count == self.max_invocations:
            raise RuntimeError(f"{self.function} asked for more than {self.max_invocations} invocations")
        asked: list[dict[str, Any]] = []
        _continuations.asked, _continuations.late = asked, 0
        context = self.make_context()
        try:
            response: dict[str, Any] = self.handler.lambda_handler(self.pending.pop(0), context)
        finally:
            _continuations.asked = None
            self.count += 1
            self.pending += asked
        overrun = context.overrun_seconds() if context.enforces_timeout else 0.0
        if overrun > 0:
            raise InvocationTimedOutError(
                self.function, context.timeout_seconds, context.timeout_seconds + overrun, _continuations.late
            )
        return response


def invoke(
    function: str,
    event: dict[str, Any],
    context_factory: Callable[[], LocalContext] | None = None,
    max_invocations: int = 100,
) -> list[dict[str, Any]]:
    """Invoke a handler, then each continuation it asks for; returns every invocation's response."""
    return list(Invocations(function, event, context_factory, max_invocations))


FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def use_function_environment(function: str) -> dict[str, str]:
    """Put the function's environment (events/env.json under this process's own) into this process, as Lambda
    would."""
    environment = function_environment(function)
    os.environ.update(environment)
    return environment


@contextlib.contextmanager
def function_output(stream: TextIO) -> Iterator[None]:
    """Send what the functions print (Powertools logs and EMF metric records, both to stdout by default) to
    ``stream`` instead, so that stdout carries only what the command itself prints.

    Use it after ``use_function_environment``: Powertools' Logger reads POWERTOOLS_SERVICE_NAME and
    POWERTOOLS_LOG_LEVEL when it is created, here at the latest.
    """
    from simpledb_backup.observability import logger

    handler = logger.registered_handler
    previous = handler.setStream(stream) if isinstance(handler, logging.StreamHandler) else None
    try:
        with contextlib.redirect_stdout(stream):
            yield
    finally:
        if previous is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(previous)


def start_embedded_aws() -> Any:
    """Start moto's server with the SimpleDB engine on a free loopback port and point boto3 at it."""
    import sdblocal

    server = sdblocal.start_server(host="127.0.0.1", port=0)
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ["AWS_ENDPOINT_URL"] = server.url
    return server


def seed_local_stack(bucket: str, domain: str, item_count: int | None = None) -> dict[str, Any]:
    """Create the backup bucket and the state key as template.yaml declares them, and a Repoman-shaped domain to
    back up."""
    import boto3

    from repomandata import fill_domain, repoman_domain_items
    from stackbucket import create_backup_bucket
    from statekey import LOCAL_STATE_KEY_ALIAS, create_state_key

    bucket_summary = create_backup_bucket(boto3.client("s3"), bucket, ROOT / "template.yaml")
    # Named as the functions' environment names it (events/env.json).
    alias = os.environ.get("STATE_KEY_ID", LOCAL_STATE_KEY_ALIAS)
    create_state_key(boto3.client("kms"), alias, ROOT / "template.yaml")
    written = fill_domain(boto3.client("sdb"), domain, repoman_domain_items(item_count))
    return {"bucket": bucket_summary, "domain": domain, "items": written}


@contextlib.contextmanager
def local_stack(function: str, output: TextIO, report: Callable[[str], None]) -> Iterator[dict[str, str]]:
    """Everything a local invocation of ``function`` needs, for as long as the context lasts: the function's
    environment (yielded), its output sent to ``output``, and AWS.

    AWS is the endpoint in ``AWS_ENDPOINT_URL`` when it is set (for example `make local-aws`); otherwise an
    embedded local AWS started here and seeded with the backup bucket and the first configured domain, plus a
    first dump when the function is the restore function (so that every restore event has one to read). What
    it did is told to ``report``, one line at a time.
    """
    environment = use_function_environment(function)
    with function_output(output):
        if os.environ.get("AWS_ENDPOINT_URL"):
            yield environment
            return
        server = start_embedded_aws()
        try:
            report(f"embedded local AWS at {server.url}")
            first_domain = environment["DOMAIN_NAMES"].split(",")[0]
            seeded = seed_local_stack(environment["BACKUP_BUCKET"], first_domain, item_count=500)
            report(
                f"seeded bucket {seeded['bucket']['bucket']} and domain {first_domain} ({seeded['items']} items)"
            )
            if function == "restore":
                invoke("backup", event_payload(BackupEvent(trigger="manual")))
                report("made a first dump so that the restore has one to read")
            yield environment
        finally:
            server.stop()
            os.environ.pop("AWS_ENDPOINT_URL", None)


def main(argv: list[str] | None = None) -> int:
    """``python -m localrun seed``: create the backup bucket (as template.yaml declares it) and a Repoman-shaped
    domain at ``AWS_ENDPOINT_URL`` (`make local-aws`), for the README's local session; nothing else needed."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m localrun", description=main.__doc__)
    parser.add_argument("command", choices=["seed"])
    parser.add_argument("--items", type=int, default=500, help="items of the domain, meta included (500)")
    arguments = parser.parse_args(argv)
    if not os.environ.get("AWS_ENDPOINT_URL"):
        print("error: set AWS_ENDPOINT_URL to the local AWS (make local-aws) first", file=sys.stderr)
        return 2
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    environment = use_function_environment("backup")
    domain = environment["DOMAIN_NAMES"].split(",")[0]
    seeded = seed_local_stack(environment["BACKUP_BUCKET"], domain, item_count=arguments.items)
    print(
        f"bucket {seeded['bucket']['bucket']} and domain {domain} ({seeded['items']} items) at {os.environ['AWS_ENDPOINT_URL']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
