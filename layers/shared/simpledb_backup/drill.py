"""Restore drills: prove every week that the latest dump of each domain restores, before anyone needs it.

A drill restores the latest dump of one configured domain into its scratch domain
``simpledb-backup-drill-<domain>`` (never a configured domain or a restore target: config.DRILL_DOMAIN_PREFIX,
and the drill role's IAM grants nothing else), with the restore's own runner: the dump is verified, written and
read back, and the scratch domain must equal it. Then, pass or fail, the scratch domain is deleted, and the
result is recorded as metrics (DrillSucceeded / DrillFailed, DrillDuration, DrillItems) that the drill alarms
watch. A large domain's drill continues across invocations like a restore.
"""

from typing import Any

from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.config import DRILL_DOMAIN_PREFIX, Settings
from simpledb_backup.errors import InvalidRequestError, SimpleDBBackupError
from simpledb_backup.events import DrillEvent, RestoreRunRequest
from simpledb_backup.observability import MetricName, domain_metrics, logger
from simpledb_backup.restore import compose_restore_runner
from simpledb_backup.restore.runner import NoRestoreMetrics, RestoreRunner
from simpledb_backup.runtime import Deadline


def scratch_domain(domain: str) -> str:
    return f"{DRILL_DOMAIN_PREFIX}{domain}"


class RestoreDrill:
    def __init__(self, runner: RestoreRunner, sdb: SimpleDB, settings: Settings) -> None:
        self.runner, self.sdb, self.settings = runner, sdb, settings

    def run(self, event: DrillEvent, deadline: Deadline) -> dict[str, Any]:
        """Drill ``event.domain`` as far as this invocation allows; the answer is the restore's, plus the drill."""
        scratch = self._scratch_for(event.domain)
        if event.run_id is None and self.sdb.domain_exists(scratch):
            self.sdb.delete_domain(scratch)  # left by a drill that died before its clean-up: start clean
        request = RestoreRunRequest(
            action="restore", domain=event.domain, target_domain=scratch, mode="exact", run_id=event.run_id
        )
        try:
            answer = self.runner.run(request, deadline)
        except SimpleDBBackupError as error:
            # A dump that cannot be restored is exactly what a drill is for: a failed drill, not a refusal.
            answer = {
                "status": "failed",
                "domain": event.domain,
                "error": {"kind": error.kind, "message": str(error)},
            }
        if answer["status"] == "continued":
            return answer
        self.sdb.delete_domain(scratch)
        succeeded = answer["status"] == "complete"
        self._record(event.domain, answer, succeeded)
        return {**answer, "drill": {"domain": event.domain, "scratch_domain": scratch, "passed": succeeded}}

    def _scratch_for(self, domain: str) -> str:
        if domain not in self.settings.domain_names:
            raise InvalidRequestError(
                f"domain: {domain!r} is not a configured domain ({', '.join(self.settings.domain_names)})"
            )
        scratch = scratch_domain(domain)
        # Belt and braces: configuration already refuses both (config.Settings).
        if scratch in self.settings.domain_names or self.settings.may_restore_into(scratch):
            raise InvalidRequestError(
                f"the drill's scratch domain {scratch!r} is a configured or restore domain"
            )
        return scratch

    @staticmethod
    def _record(domain: str, answer: dict[str, Any], succeeded: bool) -> None:
        logger.info(
            "restore drill finished",
            extra={"domain": domain, "passed": succeeded, "run_id": answer.get("run_id")},
        )
        plan = answer.get("plan") or {}
        with domain_metrics(domain) as metrics:
            metrics.add(MetricName.DRILL_SUCCEEDED if succeeded else MetricName.DRILL_FAILED, 1)
            metrics.add(MetricName.DRILL_DURATION, float(answer.get("duration_seconds", 0.0)))
            metrics.add(MetricName.DRILL_ITEMS, int(plan.get("items", {}).get("create", 0)))


def compose_restore_drill(sdb: SimpleDB, store: BucketStore, settings: Settings) -> RestoreDrill:
    """A drill runs the restore's own runner, with the drill's metrics instead of the restore's."""
    return RestoreDrill(
        compose_restore_runner(sdb, store, settings, metrics=NoRestoreMetrics()), sdb, settings
    )
