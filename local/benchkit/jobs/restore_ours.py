"""Our restore: the restore function's own service restoring our backup's dump version into a new domain.

The service is the function's (its settings, clients and client configuration), recomposed with its stages
timed (benchkit.phases); preparation, lock, safety-backup decision and verification included.
"""

import sys
from collections.abc import Callable

from benchkit.jobs.child import JobOutcome, run_child, set_function_environment
from benchkit.phases import PhaseClock, timed_restore_service
from benchkit.results import JobSpec
from localrun import load_handler
from simpledb_backup.events import RestoreRunRequest
from simpledb_backup.runtime import Deadline

#: The run is measured whole, in one invocation: it never runs short of time. Finite, because the restore's
#: lock expires that long after it is taken.
UNLIMITED = Deadline(lambda: 1e9, 0.0)


def prepare(spec: JobSpec) -> Callable[[], JobOutcome]:
    set_function_environment(spec)
    handler = load_handler("restore")
    clock = PhaseClock()
    product = handler.restore_service()
    service = timed_restore_service(product, clock)
    request = RestoreRunRequest(
        action="restore", domain=spec.domain, target_domain=spec.target, version_id=spec.version_id
    )

    def run() -> JobOutcome:
        answer = service.handle(request, UNLIMITED)
        if answer.get("status") != "complete":
            raise RuntimeError(f"restore ended {answer.get('status')}: {answer.get('error') or answer}")
        verification = answer.get("verification") or {}
        written = answer["written"]
        extra = {
            "restore_workers": handler.settings().restore_workers,
            "verified": bool(verification.get("verified")),
            "verification": {key: value for key, value in verification.items() if key != "sample"},
            "put_calls": written.get("put_calls"),
            "retries": product.runner.writer.sdb.retry_policy.stats().retries,
            "phases": {name: round(seconds, 2) for name, seconds in clock.seconds.items()},
        }
        return JobOutcome(int(written["items_written"]), 0, extra)

    return run


if __name__ == "__main__":
    raise SystemExit(run_child(prepare, sys.argv[1:]))
