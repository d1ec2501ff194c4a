"""Our backup: the backup function's own service (its settings, clients and client configuration), one run.

Parallel Select streams over itemName() ranges, as many as the service chooses up to BACKUP_SEGMENTS, streamed
into a multipart upload and published as a new dump version (which the restores then read).
"""

import sys
from collections.abc import Callable

from benchkit.jobs.child import JobOutcome, run_child, set_function_environment
from benchkit.results import JobSpec
from localrun import load_handler
from simpledb_backup.runtime import Deadline

#: The run is measured whole, in one invocation: it never runs short of time. Finite, because the restore's
#: lock expires that long after it is taken.
UNLIMITED = Deadline(lambda: 1e9, 0.0)


def prepare(spec: JobSpec) -> Callable[[], JobOutcome]:
    set_function_environment(spec)
    service = load_handler("backup").backup_service()

    def run() -> JobOutcome:
        # What BackupService.backup() does, keeping the state to report the streams it chose.
        state = service.start(spec.domain, "manual")
        result = service.run(state, UNLIMITED)
        if result.status != "complete":
            raise RuntimeError(f"backup ended {result.status}")
        extra = {
            "version_id": result.version_id,
            "segments": len(state.segments),
            "retries": service.sdb.retry_policy.stats().retries,
        }
        return JobOutcome(result.items, result.size_bytes, extra)

    return run


if __name__ == "__main__":
    raise SystemExit(run_child(prepare, sys.argv[1:]))
