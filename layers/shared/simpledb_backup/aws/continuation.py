"""The hand-off to the next invocation: this same function, invoked asynchronously (docs/DESIGN.md)."""

import json

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from simpledb_backup.aws.clients import lambda_client
from simpledb_backup.runtime import event_payload


def start_continuation(event: BaseModel, context: LambdaContext) -> None:
    """Invoke this same function asynchronously with ``event``."""
    lambda_client().invoke(
        FunctionName=context.invoked_function_arn,
        InvocationType="Event",
        Payload=json.dumps(event_payload(event)).encode(),
    )
