"""Our backup: the backup function's own service (its settings, clients and client configuration), one run.

Parallel Select streams over itemName() ranges, as many as the service chooses up to BACKUP_SEGMENTS, streamed
into a multipart upload and published as a new dump version (which the restores then read). With
``spec.policy`` SHARED_BACKOFF, the same service with today's shared backoff (local/legacy_backoff.py) as
its SimpleDB adapter's retry policy instead of the rate controller.
"""

import sys
from collections.abc import Callable
from dataclasses import asdict

from benchkit.jobs.child import JobOutcome, run_child, set_function_environment
from benchkit.jobs.wire import WireRecorder
from benchkit.results import SHARED_BACKOFF, JobSpec
from legacy_backoff import SharedBackoff
from localrun import load_handler
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.service import BackupService
from simpledb_backup.runtime import Deadline

#: The run is measured whole, in one invocation: it never runs short of time. Finite, because the restore's
#: lock expires that long after it is taken.
UNLIMITED = Deadline(lambda: 1e9, 0.0)


def backup_service(spec: JobSpec) -> BackupService:
    """The function's own service; with the shared backoff, the same one with only the policy replaced."""
    product: BackupService = load_handler("backup").backup_service()
    if spec.policy != SHARED_BACKOFF:
        return product
    sdb = SimpleDB(product.sdb.client, SharedBackoff())
    return BackupService(sdb, product.store, product.segments, product.retention)


def prepare(spec: JobSpec) -> Callable[[], JobOutcome]:
    set_function_environment(spec)
    service = backup_service(spec)
    wire = WireRecorder().attach(service.sdb.client)

    def run() -> JobOutcome:
        # What BackupService.backup() does, keeping the state to report the streams it chose.
        state = service.start(spec.domain, "manual")
        result = service.run(state, UNLIMITED)
        if result.status != "complete":
            raise RuntimeError(f"backup ended {result.status}")
        stats = service.sdb.retry_policy.stats()
        extra = {
            "version_id": result.version_id,
            # The most streams that read at once, as the service reports it (issue 18's scans choose them as
            # they go); before it did, one stream per segment.
            "segments": getattr(result, "streams", None) or len(state.segments),
            "retries": stats.retries,
            "policy": asdict(stats),
            "lanes": wire.summary(),
        }
        return JobOutcome(result.items, result.size_bytes, extra)

    return run


if __name__ == "__main__":
    raise SystemExit(run_child(prepare, sys.argv[1:]))
