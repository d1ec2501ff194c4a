"""Invoke a deployed function through the AWS API and pretty-print its answer (`make invoke`).

    python scripts/invoke_deployed.py --stack-name simpledb-backup restore events/restore-plan.json
    python scripts/invoke_deployed.py --stack-name simpledb-backup restore '{"action": "list", "domain": "packages"}'

The event is a JSON file or inline JSON. The function's name is read from the stack's outputs
(RestoreFunctionName / BackupFunctionName), or else from its resources (RestoreFunction / BackupFunction). The
call waits as long as the function may run (its timeout is 15 minutes) and is never retried by the SDK: a
restore must not be sent twice because a response was slow.

Exit status: 0 the function answered; 1 the function raised an error (FunctionError); 2 a usage, credentials or
stack lookup problem; 3 the function answered but refused the request or the restore failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "local"))
from awserrors import report_aws_errors

#: function argument -> (stack output key, logical resource id)
FUNCTIONS = {
    "backup": ("BackupFunctionName", "BackupFunction"),
    "restore": ("RestoreFunctionName", "RestoreFunction"),
}
#: Longer than the functions' 900-second timeout, so a long restore's answer is still read.
READ_TIMEOUT_SECONDS = 960
INVOKE_CONFIG = Config(
    read_timeout=READ_TIMEOUT_SECONDS,
    connect_timeout=10,
    retries={"total_max_attempts": 1},
    tcp_keepalive=True,
)
REFUSED_OR_FAILED = {"refused", "failed"}


class InvokeError(Exception):
    """A problem the user can fix (printed without a traceback)."""


def load_event(argument: str) -> dict[str, Any]:
    text = argument if argument.lstrip().startswith("{") else None
    if text is None:
        path = Path(argument)
        if not path.is_file():
            raise InvokeError(f"event {argument!r} is neither a JSON file nor inline JSON")
        text = path.read_text()
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvokeError(f"event {argument!r} is not valid JSON: {error}") from error
    if not isinstance(event, dict):
        raise InvokeError(f"event {argument!r} must be a JSON object")
    return event


def function_name(cloudformation: Any, stack_name: str, function: str) -> str:
    """The deployed name of ``function`` (backup or restore) in the stack."""
    output_key, logical_id = FUNCTIONS[function]
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        for output in stacks[0].get("Outputs", []) if stacks else []:
            if output.get("OutputKey") == output_key:
                return str(output["OutputValue"])
        detail = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        if error.response.get("Error", {}).get("Code") == "ValidationError" and "does not exist" in message:
            raise InvokeError(
                f"stack '{stack_name}' (or its {logical_id}) does not exist in {cloudformation.meta.region_name} "
                "(check --stack-name / STACK_NAME and the region)"
            ) from error
        raise
    return str(detail["StackResourceDetail"]["PhysicalResourceId"])


def invoke(
    lambda_client: Any, name: str, event: dict[str, Any]
) -> tuple[dict[str, Any] | Any, str | None, str]:
    """(decoded answer, FunctionError or None, tail of the invocation's log)."""
    response = lambda_client.invoke(
        FunctionName=name,
        InvocationType="RequestResponse",
        LogType="Tail",
        Payload=json.dumps(event).encode(),
    )
    raw = response["Payload"].read()
    try:
        answer = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        answer = raw.decode("utf-8", "replace")
    log_tail = base64.b64decode(response.get("LogResult", "")).decode("utf-8", "replace")
    return answer, response.get("FunctionError"), log_tail


def follow_up(answer: Any) -> str | None:
    """What to run next, for an answer that needs it."""
    if not isinstance(answer, dict):
        return None
    if answer.get("status") == "continued" and answer.get("run_id"):
        status = {"action": "status", "domain": answer.get("domain"), "run_id": answer["run_id"]}
        return (
            f"the restore continues in the background; ask for its status with the event {json.dumps(status)}"
        )
    error = answer.get("error")
    if answer.get("status") in REFUSED_OR_FAILED and isinstance(error, dict):
        return f"{answer['status']}: {error.get('message')}"
    return None


def main(argv: Sequence[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--region", help="defaults to the AWS CLI/SDK configuration (AWS_REGION, profile)")
    parser.add_argument("--logs", action="store_true", help="also print the tail of the invocation's log")
    parser.add_argument("function", choices=sorted(FUNCTIONS))
    parser.add_argument("event", help="a JSON file (events/...) or inline JSON")
    args = parser.parse_args(argv)
    session = session or boto3.Session(region_name=args.region)

    def invoke_and_show() -> int:
        event = load_event(args.event)
        cloudformation = session.client("cloudformation", region_name=args.region)
        name = function_name(cloudformation, args.stack_name, args.function)
        print(f"invoking {name} (waits up to {READ_TIMEOUT_SECONDS // 60} minutes)...", file=sys.stderr)
        lambda_client = session.client("lambda", region_name=args.region, config=INVOKE_CONFIG)
        answer, function_error, log_tail = invoke(lambda_client, name, event)
        print(json.dumps(answer, indent=2, ensure_ascii=False, default=str))
        if args.logs or function_error:
            print(f"--- log tail ---\n{log_tail}", file=sys.stderr)
        if function_error:
            print(f"error: the function raised an error ({function_error})", file=sys.stderr)
            return 1
        hint = follow_up(answer)
        if hint:
            print(hint, file=sys.stderr)
        if isinstance(answer, dict) and answer.get("status") in REFUSED_OR_FAILED:
            return 3
        return 0

    return report_aws_errors(invoke_and_show, InvokeError)


if __name__ == "__main__":
    sys.exit(main())
