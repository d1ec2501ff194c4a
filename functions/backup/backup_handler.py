"""Backup function: wiring only. Dumps each configured SimpleDB domain to a new version of its S3 dump key.

Invoked by the nightly EventBridge Scheduler schedule, by hand (``{"trigger": "manual"}``), or by itself to
continue a run that needed more than one invocation.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from simpledb_backup.aws.clients import kms_client, s3_client, sdb_client
from simpledb_backup.aws.continuation import start_continuation
from simpledb_backup.aws.restoremarks import RestoreMarks
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.aws.statemac import SealedDocuments, StateMac
from simpledb_backup.backup.request import run_backup_request
from simpledb_backup.backup.service import BackupService
from simpledb_backup.config import Settings
from simpledb_backup.errors import BackupFailedError
from simpledb_backup.events import BackupEvent, parse_event
from simpledb_backup.observability import logger, tracer
from simpledb_backup.runtime import Deadline


@cache
def settings() -> Settings:
    return Settings.from_environment()


@cache
def backup_service() -> BackupService:
    config = settings()
    store = BucketStore(s3_client(10), config.backup_bucket)
    return BackupService(
        SimpleDB(sdb_client(config.segments + 4)),
        store,
        config.segments,
        config.retention,
        restore_marks=RestoreMarks(SealedDocuments(store, StateMac(kms_client(), config.state_key_id))),
    )


# No metrics.log_metrics here: every metric is per domain, flushed by observability.domain_metrics.
@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Reduced to counts, ids and kinds by the logger: a subset's where clause is not logged (observability).
    logger.info("backup event", extra={"event": event})
    request = parse_event(BackupEvent, event)
    outcome = run_backup_request(
        request,
        backup_service(),
        settings().domain_names,
        Deadline.of_context(context, settings().continuation_margin_seconds),
        continue_with=lambda continuation: start_continuation(continuation, context),
    )
    summary = outcome.summary()
    logger.info("backup finished", extra={"summary": summary})
    if outcome.failures and not outcome.continuation:
        raise BackupFailedError(
            "backup failed for "
            + "; ".join(f"{failure['domain']}: {failure['message']}" for failure in outcome.failures)
        )
    return summary
