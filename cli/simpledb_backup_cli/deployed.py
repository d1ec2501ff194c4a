"""The deployed stack's functions, invoked through the Lambda API (``--stack-name``, `make invoke`).

A function's name is read from the stack's outputs (BackupFunctionName / RestoreFunctionName /
DrillFunctionName), or else from its resources. An invocation waits as long as the function may run (its timeout
is 15 minutes) and is never retried by the SDK: a restore must not be sent twice because an answer was slow.
While a long invocation is under way (in a thread of the command), the command polls the run's ``status`` no
more often than every POLL_SECONDS, which the restore function's reserved concurrency leaves room for.
"""

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel

from simpledb_backup_cli.errors import FunctionBusyError, FunctionRaisedError, StackError
from simpledb_backup_cli.functions import Answer, FunctionName, Pending, ThreadPending
from simpledb_backup_cli.requests import wire_event

#: function -> (stack output key, logical resource id)
STACK_NAMES: dict[FunctionName, tuple[str, str]] = {
    "backup": ("BackupFunctionName", "BackupFunction"),
    "restore": ("RestoreFunctionName", "RestoreFunction"),
    "drill": ("DrillFunctionName", "DrillFunction"),
}
#: How the operator names another stack, in an error that says the stack was not found.
STACK_HINT = "--stack-name or SIMPLEDB_BACKUP_STACK"
#: Longer than the functions' 900-second timeout, so that a long invocation's answer is still read.
READ_TIMEOUT_SECONDS = 960
INVOKE_CONFIG = Config(
    read_timeout=READ_TIMEOUT_SECONDS,
    connect_timeout=10,
    retries={"total_max_attempts": 1},
    tcp_keepalive=True,
)


def function_name(
    cloudformation: Any, stack_name: str, function: FunctionName, stack_hint: str = STACK_HINT
) -> str:
    """The deployed name of ``function`` in the stack; ``stack_hint`` says how to name another one."""
    output_key, logical_id = STACK_NAMES[function]
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        for output in stacks[0].get("Outputs", []) if stacks else []:
            if output.get("OutputKey") == output_key:
                return str(output["OutputValue"])
        detail = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        if error.response.get("Error", {}).get("Code") == "ValidationError" and "does not exist" in message:
            raise StackError(
                f"stack '{stack_name}' (or its {logical_id}) does not exist in {cloudformation.meta.region_name} "
                f"(check {stack_hint}, and the region and profile)"
            ) from error
        raise
    return str(detail["StackResourceDetail"]["PhysicalResourceId"])


@dataclass(frozen=True)
class Invocation:
    """What Lambda gave back: the decoded payload, its FunctionError (None when the function answered) and
    the tail of the invocation's log."""

    payload: Any
    function_error: str | None
    log_tail: str


def invoke_function(lambda_client: Any, name: str, event: dict[str, Any]) -> Invocation:
    """Invoke ``name`` synchronously with ``event``; a throttled call is FunctionBusyError."""
    try:
        response = lambda_client.invoke(
            FunctionName=name,
            InvocationType="RequestResponse",
            LogType="Tail",
            Payload=json.dumps(event).encode(),
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "TooManyRequestsException":
            raise FunctionBusyError(
                f"{name} is busy (throttled: its reserved concurrency is in use); try again in a minute"
            ) from error
        raise
    raw = response["Payload"].read()
    try:
        payload = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        payload = raw.decode("utf-8", "replace")
    log_tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    return Invocation(payload, response.get("FunctionError"), log_tail)


class DeployedFunctions:
    """The functions of a deployed stack, through the Lambda API."""

    #: Seconds between two status polls: the CLI's rule is no more often than every 5 s.
    POLL_SECONDS = 5.0

    def __init__(
        self, session: Any, stack_name: str, region: str | None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.session, self.stack_name, self.region, self.sleep = session, stack_name, region, sleep
        self._names: dict[FunctionName, str] = {}
        self._lambda: Any = None
        self._lock = threading.Lock()  # a long invocation's thread and the status polls share the clients

    def name(self, function: FunctionName) -> str:
        with self._lock:
            if function not in self._names:
                cloudformation = self.session.client("cloudformation", region_name=self.region)
                self._names[function] = function_name(cloudformation, self.stack_name, function)
            if self._lambda is None:
                self._lambda = self.session.client("lambda", region_name=self.region, config=INVOKE_CONFIG)
            return self._names[function]

    def invoke(self, function: FunctionName, event: BaseModel) -> Answer:
        name = self.name(function)
        invocation = invoke_function(self._lambda, name, wire_event(event))
        payload = invocation.payload
        if invocation.function_error:
            details = payload if isinstance(payload, dict) else {}
            raise FunctionRaisedError(
                function,
                str(details.get("errorType", invocation.function_error)),
                str(details.get("errorMessage", payload)),
            )
        if not isinstance(payload, dict):
            raise FunctionRaisedError(
                function, "UnexpectedAnswer", f"answered {payload!r}, not a JSON object"
            )
        return payload

    def start(self, function: FunctionName, event: BaseModel) -> Pending:
        self.name(function)  # a missing stack is reported here, not from the thread
        return ThreadPending(lambda: self.invoke(function, event), f"{function}-invocation")

    def settle(self) -> None:
        self.sleep(self.POLL_SECONDS)

    def finish(self) -> Answer | None:
        return None

    def after_exit(self) -> tuple[bool, str]:
        return True, "in AWS Lambda"
