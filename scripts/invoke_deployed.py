"""Invoke a deployed function with a raw JSON event and print its answer (`make invoke`).

    python scripts/invoke_deployed.py --stack-name simpledb-backup restore events/restore-plan.json
    python scripts/invoke_deployed.py --stack-name simpledb-backup restore '{"action": "list", "domain": "packages"}'

The event is a JSON file or inline JSON, sent exactly as written, as the Lambda console would send it; the
`simpledb-backup` command builds the events for you. Both find the function through the stack and invoke it
the same way (simpledb_backup_cli.deployed): a read timeout longer than the function's, no SDK retries.

Exit status: 0 the function answered; 1 the function raised an error (FunctionError); 2 a usage, credentials,
stack lookup or throttling problem; 3 the function answered but refused the request or the restore failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / folder) for folder in ("cli", "layers/shared", "local")]

from awserrors import report_aws_errors  # noqa: E402
from simpledb_backup_cli.deployed import (  # noqa: E402
    INVOKE_CONFIG,
    READ_TIMEOUT_SECONDS,
    STACK_NAMES,
    function_name,
    invoke_function,
)
from simpledb_backup_cli.errors import CliError  # noqa: E402

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


def follow_up(answer: Any) -> str | None:
    """What to run next, for an answer that needs it."""
    if not isinstance(answer, dict):
        return None
    if answer.get("status") == "continued" and answer.get("run_id"):
        status = {"action": "status", "domain": answer.get("domain"), "run_id": answer["run_id"]}
        return (
            "the restore continues in the background; follow it with "
            f"`simpledb-backup status {answer.get('domain')} --run-id {answer['run_id']} --wait`, "
            f"or ask for its status with the event {json.dumps(status)}"
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
    parser.add_argument("function", choices=sorted(STACK_NAMES))
    parser.add_argument("event", help="a JSON file (events/...) or inline JSON")
    args = parser.parse_args(argv)
    session = session or boto3.Session(region_name=args.region)

    def invoke_and_show() -> int:
        event = load_event(args.event)
        cloudformation = session.client("cloudformation", region_name=args.region)
        name = function_name(
            cloudformation, args.stack_name, args.function, stack_hint="STACK_NAME (make invoke)"
        )
        print(f"invoking {name} (waits up to {READ_TIMEOUT_SECONDS // 60} minutes)...", file=sys.stderr)
        lambda_client = session.client("lambda", region_name=args.region, config=INVOKE_CONFIG)
        invocation = invoke_function(lambda_client, name, event)
        answer = invocation.payload
        print(json.dumps(answer, indent=2, ensure_ascii=False, default=str))
        if args.logs or invocation.function_error:
            print(f"--- log tail ---\n{invocation.log_tail}", file=sys.stderr)
        if invocation.function_error:
            print(f"error: the function raised an error ({invocation.function_error})", file=sys.stderr)
            return 1
        hint = follow_up(answer)
        if hint:
            print(hint, file=sys.stderr)
        if isinstance(answer, dict) and answer.get("status") in REFUSED_OR_FAILED:
            return 3
        return 0

    return report_aws_errors(invoke_and_show, InvokeError, CliError)


if __name__ == "__main__":
    sys.exit(main())
