"""The restore: list dumps, plan a restore, restore, and report a long restore's status.

One collaborator per job (docs/DESIGN.md):

* ``catalog``  which dump: list a domain's full and subset dumps; resolve a version id, a time, the latest
               or the previous (the latest is the newest schedule or manual dump, never a safety backup).
* ``sources``  where items come from: a dump version, a Repoman backup file, an AWS native export.
* ``lock``     the target's lock (S3 conditional writes), taken over atomically when abandoned.
* ``state``    a run's typed state and its true state (running, stalled, parked, ...); ``runs`` saves, loads
               and lists it; ``heartbeat`` keeps it fresh while an invocation works on the run.
* ``prepare``  step 1: verify the source while planning against one read of the target that also stages the
               safety backup, then the confirm rule.
* ``stages``   steps 3-4: write (``writer``: parallel batches), verify; each stops at the invocation's margin.
* ``runner``   moves a run through the stages across invocations; refusal before step 2, failure after.
* ``diff``     what changed between two dumps, or between a dump and the live domain.
* ``answers``  what the function answers (``nextsteps``: the steps each answer offers; ``fitting``: answers
               that fit the transport); ``service`` dispatches one request.

The algorithm, so nothing is lost: verify the whole source before touching the target; take a safety backup of
a non-empty target; write with Replace so that writes converge; read the target back and compare. The target is
read twice: once before writing (plan and safety backup from one scan) and once to verify.
"""

from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.aws.statemac import SealedDocuments, StateMac
from simpledb_backup.backup.service import BackupService
from simpledb_backup.config import Settings
from simpledb_backup.restore.catalog import DumpCatalog
from simpledb_backup.restore.diff import DumpDiffer
from simpledb_backup.restore.estimate import CapacityEstimator, FunctionLimits
from simpledb_backup.restore.lock import TargetLock
from simpledb_backup.restore.prepare import Preparation
from simpledb_backup.restore.runner import RestoreMetrics, RestoreRunner
from simpledb_backup.restore.runs import RestoreRuns, RunKind
from simpledb_backup.restore.service import RestoreService
from simpledb_backup.restore.sources import SourceOpener
from simpledb_backup.restore.stages import SafetyBackupStage, VerifyStage, WriteStage
from simpledb_backup.restore.target import TargetDomain
from simpledb_backup.runtime import Clock, utc_datetime

__all__ = ["RestoreService", "compose_restore_runner", "compose_restore_service"]


def compose_restore_runner(
    sdb: SimpleDB,
    store: BucketStore,
    settings: Settings,
    clock: Clock = utc_datetime,
    metrics: RestoreMetrics | None = None,
    *,
    mac: StateMac,
    kind: RunKind = "restore",
) -> RestoreRunner:
    """A restore run's collaborators, as the functions run them (``kind`` drill: the drill's runs)."""
    catalog = DumpCatalog(store)
    target = TargetDomain(sdb, settings.segments)
    documents = SealedDocuments(store, mac)
    runs = RestoreRuns(documents, kind)
    backups = BackupService(sdb, store, settings.segments, settings.retention)
    stages = (
        SafetyBackupStage(backups),
        WriteStage(sdb, target, settings.restore_workers),
        VerifyStage(target),
    )
    lock = TargetLock(documents, runs, clock)
    preparation = Preparation(target, backups)
    return RestoreRunner(SourceOpener(store, catalog), preparation, lock, runs, stages, metrics)


def compose_restore_service(
    sdb: SimpleDB, store: BucketStore, settings: Settings, clock: Clock = utc_datetime, *, mac: StateMac
) -> RestoreService:
    """The restore function's service: list, plan, restore, status, diff, runs and unlock over one runner, and
    estimate; ``mac`` seals and verifies its states and locks."""
    runner = compose_restore_runner(sdb, store, settings, clock, mac=mac)
    catalog = runner.sources.catalog
    differ = DumpDiffer(catalog, store, sdb, settings.segments)
    estimator = CapacityEstimator(sdb, settings, FunctionLimits.from_environment())
    return RestoreService(
        settings, catalog, runner.sources, runner.preparation, runner, runner.runs, differ, estimator
    )
