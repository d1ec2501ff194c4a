"""Run the Lambda handlers in-process, as `sam local invoke` would but without Docker.

Used by `make invoke-local`, `make demo`, the benchmark and the tests. A handler that continues its work in
a new invocation is run again here with its continuation event, as Lambda would run the asynchronous
invocation it asked for.
"""

import importlib.util
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from simpledb_backup.runtime import event_payload

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = {"backup": "BackupFunction", "restore": "RestoreFunction", "drill": "DrillFunction"}
ENVIRONMENT_FILE = ROOT / "events" / "env.json"


def function_environment(function: str) -> dict[str, str]:
    """The function's environment for local runs, from events/env.json (also `sam local invoke --env-vars`)."""
    document: dict[str, dict[str, str]] = json.loads(ENVIRONMENT_FILE.read_text())
    return {**document.get("Parameters", {}), **document[FUNCTIONS[function]]}


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


def invoke(
    function: str,
    event: dict[str, Any],
    context_factory: Callable[[], LocalContext] | None = None,
    max_invocations: int = 100,
) -> list[dict[str, Any]]:
    """Invoke a handler, then each continuation it asks for; returns every invocation's response."""
    handler: Any = load_handler(function)  # Any: its start_continuation is replaced below
    continuations: list[dict[str, Any]] = []

    def continue_locally(event: BaseModel, context: object) -> None:
        continuations.append(event_payload(event))

    handler.start_continuation = continue_locally
    make_context = context_factory or (lambda: LocalContext(function_name=f"simpledb-backup-{function}"))
    responses: list[dict[str, Any]] = []
    pending = [event]
    while pending:
        if len(responses) == max_invocations:
            raise RuntimeError(f"{function} asked for more than {max_invocations} invocations")
        responses.append(handler.lambda_handler(pending.pop(0), make_context()))
        pending += continuations
        continuations.clear()
    return responses


FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def use_function_environment(function: str) -> dict[str, str]:
    """Put the function's environment (events/env.json) into this process, as Lambda would."""
    environment = function_environment(function)
    os.environ.update(environment)
    return environment


def start_embedded_aws() -> Any:
    """Start moto's server with the SimpleDB engine on a free loopback port and point boto3 at it."""
    import sdblocal

    server = sdblocal.start_server(host="127.0.0.1", port=0)
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    os.environ["AWS_ENDPOINT_URL"] = server.url
    return server


def seed_local_stack(bucket: str, domain: str, item_count: int | None = None) -> dict[str, Any]:
    """Create the backup bucket as template.yaml declares it and a Repoman-shaped domain to back up."""
    import boto3

    from repomandata import fill_domain, repoman_domain_items
    from stackbucket import create_backup_bucket

    bucket_summary = create_backup_bucket(boto3.client("s3"), bucket, ROOT / "template.yaml")
    written = fill_domain(boto3.client("sdb"), domain, repoman_domain_items(item_count))
    return {"bucket": bucket_summary, "domain": domain, "items": written}
