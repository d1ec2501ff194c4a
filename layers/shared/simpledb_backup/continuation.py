"""Continuing work in a new invocation: both functions hand what is left to an asynchronous copy of themselves.

Lambda stops an invocation at its timeout (15 minutes at most). A backup or restore that needs longer saves
its state in S3 and invokes its own function with InvocationType Event; Lambda queues that invocation and
retries it on throttling, and a failure lands in the OnFailure destination (template.yaml).
"""

import json
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext


def start_continuation(payload: dict[str, Any], context: LambdaContext) -> None:
    """Invoke this same function asynchronously with ``payload``."""
    boto3.client("lambda").invoke(
        FunctionName=context.invoked_function_arn,
        InvocationType="Event",
        Payload=json.dumps(payload).encode(),
    )
