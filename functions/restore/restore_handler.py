"""Restore function: wiring only. Lists dumps, plans and runs restores, reports a restore's status and a
domain's runs, removes a stale lock.

Invoked by hand (Lambda console test event, ``aws lambda invoke``, ``simpledb-backup``), or by itself to
continue a restore that needs more than one invocation. The logic is in simpledb_backup.restore.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from simpledb_backup.aws.clients import call_timeout_seconds, kms_client, s3_client, sdb_client
from simpledb_backup.aws.continuation import start_continuation
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.aws.statemac import StateMac
from simpledb_backup.config import Settings
from simpledb_backup.errors import RefusalError
from simpledb_backup.events import RestoreRunRequest, parse_restore_request
from simpledb_backup.observability import logger, tracer
from simpledb_backup.restore import RestoreService, compose_restore_service
from simpledb_backup.restore.answers import refusal
from simpledb_backup.runtime import Deadline


@cache
def settings() -> Settings:
    return Settings.from_environment()


def restore_service() -> RestoreService:
    """A service per invocation: each restore job gets a retry policy of its own. Every call's timeout fits in
    the continuation margin, so a call in flight at the hand-over point cannot make the invocation overrun."""
    config = settings()
    timeout = call_timeout_seconds(config.continuation_margin_seconds)
    return compose_restore_service(
        SimpleDB(sdb_client(config.restore_workers + config.segments + 2, timeout)),
        BucketStore(s3_client(config.segments + 2, timeout), config.backup_bucket),
        config,
        mac=StateMac(kms_client(), config.state_key_id),
    )


# No metrics.log_metrics here: every metric is per target domain, flushed by observability.domain_metrics.
# The event is logged reduced to counts, ids and kinds (observability.DomainDataFreeFormatter).
@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_restore_request(event)
        deadline = Deadline.of_context(context, settings().continuation_margin_seconds)
        answer = restore_service().handle(request, deadline)
    except RefusalError as error:
        refused = refusal(error, event)
        logger.warning("request refused", extra={"refusal": refused})
        return refused
    if answer.get("status") == "continued" and isinstance(request, RestoreRunRequest):
        start_continuation(RestoreRunRequest.model_validate(answer["continues_with"]), context)
    # The logger keeps counts, ids and kinds of it only (observability.loggable): never samples or values.
    logger.info("answered", extra={"answer": answer})
    return answer
