"""Drill function: wiring only. Restores the latest dump of one domain into its scratch domain, verifies it,
records the result and deletes the scratch domain (simpledb_backup.drill).

Invoked by each domain's drill schedule, by hand (``{"trigger": "manual", "domain": "packages"}``), or by itself
to continue a drill that needs more than one invocation. A drill of a domain whose drill is running answers
``skipped``.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from simpledb_backup.aws.clients import kms_client, s3_client, sdb_client
from simpledb_backup.aws.continuation import start_continuation
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.aws.statemac import StateMac
from simpledb_backup.config import Settings
from simpledb_backup.drill import compose_restore_drill
from simpledb_backup.errors import RefusalError
from simpledb_backup.events import DrillEvent, parse_event
from simpledb_backup.observability import logger, tracer
from simpledb_backup.restore.answers import refusal
from simpledb_backup.runtime import Deadline


@cache
def settings() -> Settings:
    return Settings.from_environment()


# No metrics.log_metrics here: every metric is per domain, flushed by observability.domain_metrics.
@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = settings()
    try:
        request = parse_event(DrillEvent, event)
        drill = compose_restore_drill(
            SimpleDB(sdb_client(config.restore_workers + config.segments + 2)),
            BucketStore(s3_client(config.segments + 2), config.backup_bucket),
            config,
            StateMac(kms_client(), config.state_key_id),
        )
        answer = drill.run(request, Deadline.of_context(context, config.continuation_margin_seconds))
    except RefusalError as error:
        refused = refusal(error, event)
        logger.warning("drill refused", extra={"refusal": refused})
        return refused
    if answer["status"] == "continued":
        start_continuation(request.model_copy(update={"run_id": answer["run_id"]}), context)
    # The logger keeps counts, ids and kinds of it only (observability.loggable).
    logger.info("answered", extra={"answer": answer})
    return answer
