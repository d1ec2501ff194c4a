"""Restore drills: prove every week that the latest dump of each domain restores, before anyone needs it.

A drill restores the latest dump of one configured domain into its scratch domain ``<prefix><domain>`` (never a
configured domain or a restore target: config.Settings refuses both, and the drill role's IAM grants nothing
else), with the restore's own runner: the dump is verified, written and read back, and the scratch domain must
equal it. Then, pass or fail, the scratch domain is deleted, and the result is recorded as metrics
(DrillSucceeded / DrillFailed, DrillDuration, DrillItems) that the drill alarms watch. A large domain's drill
continues across invocations like a restore.

Drill runs are their own kind (``drill-...`` run ids, states under ``drills/``), and the scratch domain is only
ever touched by the drill that holds its lock (``locks/<scratch domain>.lock``, the restore's own lock): the
leftovers of a dead drill are deleted under the lock before the restore starts, and the scratch domain is
deleted under the lock after it ends. So a second drill of a domain whose drill is running finds the lock held:
it is skipped (answer ``skipped``, metric DrillSkipped), and leaves the other drill's scratch domain alone. Every
other way a drill can end without passing, throttling before the restore began included, is DrillFailed, and
removes the scratch domain it made.
"""

import json
from collections.abc import Callable
from typing import Any

from simpledb_backup.aws.keys import lock_key
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.aws.statemac import StateMac
from simpledb_backup.config import DRILL_DOMAIN_PREFIX, Settings
from simpledb_backup.errors import InvalidRequestError, RestoreInProgressError, SimpleDBBackupError
from simpledb_backup.events import DrillEvent, RestoreRunRequest
from simpledb_backup.items import validate_domain_name
from simpledb_backup.observability import MetricName, domain_metrics, logger
from simpledb_backup.restore import compose_restore_runner
from simpledb_backup.restore.lock import TargetLock
from simpledb_backup.restore.runner import NoRestoreMetrics, RestoreRunner
from simpledb_backup.restore.runs import RestoreRuns
from simpledb_backup.runtime import Deadline, event_payload

#: How long the lock taken to clean a scratch domain up may be held: one DeleteDomain and its retries.
CLEANUP_LOCK_SECONDS = 300.0


def scratch_domain(domain: str, prefix: str = DRILL_DOMAIN_PREFIX) -> str:
    """The domain a drill of ``domain`` restores into (``prefix``: Settings.drill_scratch_prefix)."""
    return f"{prefix}{domain}"


class RestoreDrill:
    def __init__(
        self, runner: RestoreRunner, lock: TargetLock, runs: RestoreRuns, sdb: SimpleDB, settings: Settings
    ) -> None:
        """``lock`` and ``runs`` are the runner's own: the drill holds the same lock between its runs."""
        self.runner, self.lock, self.runs, self.sdb, self.settings = runner, lock, runs, sdb, settings

    def run(self, event: DrillEvent, deadline: Deadline) -> dict[str, Any]:
        """Drill ``event.domain`` as far as this invocation allows; the answer is the restore's, plus the drill.

        An event for anything but a configured domain is refused (raised) before anything is touched.
        """
        scratch = self._scratch_for(event.domain)
        try:
            if event.run_id is None:
                self._under_lock(event.domain, scratch, lambda: self._delete_leftover(scratch))
            answer = self.runner.run(self._request(event, scratch), deadline)
        except RestoreInProgressError:
            return self._skipped(event.domain, scratch)
        except SimpleDBBackupError as error:
            # A dump that cannot be restored is exactly what a drill is for: a failed drill, not a refusal.
            answer = {
                "status": "failed",
                "domain": event.domain,
                "error": {"kind": error.kind, "message": str(error)},
            }
        except BaseException as error:
            self._end(event.domain, scratch, {"status": "failed", "error": {"kind": type(error).__name__}})
            raise
        if answer["status"] == "continued":
            return answer
        return self._end(event.domain, scratch, answer)

    @staticmethod
    def _request(event: DrillEvent, scratch: str) -> RestoreRunRequest:
        return RestoreRunRequest(
            action="restore", domain=event.domain, target_domain=scratch, mode="exact", run_id=event.run_id
        )

    def _scratch_for(self, domain: str) -> str:
        if domain not in self.settings.domain_names:
            raise InvalidRequestError(
                f"domain: {domain!r} is not a configured domain ({', '.join(self.settings.domain_names)})"
            )
        scratch = validate_domain_name(scratch_domain(domain, self.settings.drill_scratch_prefix))
        # Belt and braces: configuration already refuses both (config.Settings).
        if scratch in self.settings.domain_names or self.settings.may_restore_into(scratch):
            raise InvalidRequestError(
                f"the drill's scratch domain {scratch!r} is a configured or restore domain"
            )
        return scratch

    def _under_lock(self, domain: str, scratch: str, work: Callable[[], None]) -> None:
        """Do ``work`` on the scratch domain while holding its lock, under a run id of its own; raises
        RestoreInProgressError when another drill holds it (the scratch domain is that drill's)."""
        run_id = self.runs.new_run_id()
        holder = self.lock.holder_for(
            run_id, domain, scratch, {"kind": "drill-cleanup"}, CLEANUP_LOCK_SECONDS
        )
        self.lock.acquire(holder)
        try:
            work()
        finally:
            self.lock.release(scratch)

    def _delete_leftover(self, scratch: str) -> None:
        if self.sdb.domain_exists(scratch):
            logger.info("deleting the scratch domain a dead drill left", extra={"scratch_domain": scratch})
            self.sdb.delete_domain(scratch)

    def _skipped(self, domain: str, scratch: str) -> dict[str, Any]:
        """Another drill of the domain holds the scratch domain's lock: this one does nothing at all."""
        logger.info("restore drill skipped: another drill of the domain is running", extra={"domain": domain})
        with domain_metrics(domain) as metrics:
            metrics.add(MetricName.DRILL_SKIPPED, 1)
        return {
            "status": "skipped",
            "domain": domain,
            "message": self._held_by_another(domain, scratch),
            "drill": {"domain": domain, "scratch_domain": scratch, "passed": None},
        }

    def _held_by_another(self, domain: str, scratch: str) -> str:
        where = f"s3://{self.lock.documents.bucket}/{lock_key(scratch)}"
        try:
            holder = self.lock.holder(scratch)
        except SimpleDBBackupError:
            holder = None  # only the message is poorer: the skip itself stands
        if holder is None:  # released meanwhile
            return f"another drill of {domain} held {where}; this one is skipped and touched nothing"
        resume = event_payload(DrillEvent(trigger="manual", domain=domain, run_id=holder.run_id))
        return (
            f"another drill of {domain} (run {holder.run_id}, since {holder.taken_at}) holds {where} until "
            f"{holder.expires_at.isoformat()}; this one is skipped and touched nothing. If that drill stopped "
            f"(its continuation was lost), send the drill function {json.dumps(resume)} to resume it, or remove "
            "the lock"
        )

    def _end(self, domain: str, scratch: str, answer: dict[str, Any]) -> dict[str, Any]:
        """Delete the scratch domain (pass or fail) and record the outcome; a scratch domain that could not be
        deleted fails the drill, so that the alarm has someone remove it."""
        left = self._clean_up(domain, scratch)
        succeeded = answer["status"] == "complete" and left is None
        drill: dict[str, Any] = {"domain": domain, "scratch_domain": scratch, "passed": succeeded}
        if left is not None:
            drill["scratch_domain_left"] = left
        self._record(domain, answer, succeeded)
        return {**answer, "drill": drill}

    def _clean_up(self, domain: str, scratch: str) -> str | None:
        """None when the scratch domain is gone (or belongs to a drill that holds it now); otherwise why it is
        still there."""
        try:
            self._under_lock(domain, scratch, lambda: self.sdb.delete_domain(scratch))
        except RestoreInProgressError:
            return None  # another drill took the lock since ours ended: the scratch domain is its own now
        except SimpleDBBackupError as error:
            logger.error(
                "the drill's scratch domain could not be deleted",
                extra={"scratch_domain": scratch, "error_kind": error.kind},
            )
            return f"{scratch} could not be deleted ({error}); delete it by hand (docs/RUNBOOK.md)"
        return None

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


def compose_restore_drill(
    sdb: SimpleDB, store: BucketStore, settings: Settings, mac: StateMac
) -> RestoreDrill:
    """A drill runs the restore's own runner, with the drill's runs and metrics instead of the restore's."""
    runner = compose_restore_runner(sdb, store, settings, metrics=NoRestoreMetrics(), mac=mac, kind="drill")
    return RestoreDrill(runner, runner.lock, runner.runs, sdb, settings)
