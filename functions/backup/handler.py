"""Backup function: wiring only. Dumps each configured SimpleDB domain to a new version of its S3 dump key.

Invoked by the nightly EventBridge Scheduler schedule, by hand (``{"trigger": "manual"}``), or by itself to
continue a run that needed more than one invocation.
"""

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from simpledb_backup.backup import BackupService, run_backup_request
from simpledb_backup.config import Settings
from simpledb_backup.continuation import start_continuation
from simpledb_backup.errors import BackupFailedError
from simpledb_backup.events import BackupEvent, parse_event
from simpledb_backup.observability import logger, tracer
from simpledb_backup.s3store import DumpStore
from simpledb_backup.simpledb import SimpleDB


@cache
def settings() -> Settings:
    return Settings.from_environment()


@cache
def backup_service() -> BackupService:
    config = settings()
    # SimpleDB retries are the rate controller's job, so botocore's own are off; the pool fits every stream.
    sdb_config = Config(retries={"total_max_attempts": 1}, max_pool_connections=config.segments + 4)
    store = DumpStore(boto3.client("s3", config=Config(retries={"mode": "standard"})), config.backup_bucket)
    return BackupService(
        SimpleDB(boto3.client("sdb", config=sdb_config)),
        store,
        config.segments,
        config.continuation_margin_seconds,
    )


# No metrics.log_metrics here: every metric is per domain, flushed by observability.domain_metrics.
@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(BackupEvent, event)
    outcome = run_backup_request(
        request,
        backup_service(),
        settings().domain_names,
        remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
        continue_with=lambda payload: start_continuation(payload, context),
    )
    summary = outcome.summary()
    logger.info("backup finished", extra={"summary": summary})
    if outcome.failures and not outcome.continuation:
        raise BackupFailedError(
            "backup failed for "
            + "; ".join(f"{failure['domain']}: {failure['message']}" for failure in outcome.failures)
        )
    return summary
