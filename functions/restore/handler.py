"""Restore function: wiring only. Lists dumps, plans and runs restores, reports a long restore's status.

Invoked by hand (Lambda console test event, ``aws lambda invoke``, ``make invoke FN=restore``), or by itself
to continue a restore that needs more than one invocation. The logic is in simpledb_backup.restore.
"""

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from simpledb_backup.config import Settings
from simpledb_backup.continuation import start_continuation
from simpledb_backup.events import RestoreRequest, parse_event
from simpledb_backup.observability import logger, tracer
from simpledb_backup.restore import REFUSALS, RestoreService, refusal
from simpledb_backup.s3store import DumpStore
from simpledb_backup.simpledb import SimpleDB


@cache
def settings() -> Settings:
    return Settings.from_environment()


@cache
def clients() -> tuple[Any, Any]:
    """SimpleDB and S3 clients, created once per container. SimpleDB retries are the rate controller's job, so
    botocore's own are off; the pool fits every writer and every scan stream at once."""
    config = settings()
    sdb_config = Config(
        retries={"total_max_attempts": 1},
        max_pool_connections=config.restore_workers + config.segments + 2,
        # Every item is checked against SimpleDB's limits before its batch is formed (plan_put_batches), so
        # botocore's own check of each request is redundant; make bench measured it at 9 % of a batch's CPU.
        parameter_validation=False,
    )
    s3_config = Config(retries={"mode": "standard"}, max_pool_connections=config.segments + 2)
    return boto3.client("sdb", config=sdb_config), boto3.client("s3", config=s3_config)


def restore_service() -> RestoreService:
    """A service per invocation: each restore job gets a rate controller of its own."""
    sdb_client, s3_client = clients()
    config = settings()
    return RestoreService(SimpleDB(sdb_client), DumpStore(s3_client, config.backup_bucket), config)


# No metrics.log_metrics here: every metric is per target domain, flushed by observability.domain_metrics.
@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_event(RestoreRequest, event)
        summary = restore_service().handle(request, lambda: context.get_remaining_time_in_millis() / 1000)
    except REFUSALS as error:
        answer = refusal(error, event)
        logger.warning("request refused", extra={"refusal": answer})
        return answer
    if summary.get("continues_with"):
        start_continuation(summary["continues_with"], context)
    return summary
