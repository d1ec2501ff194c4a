"""Our restore: the restore function's own service restoring our backup's dump version into a new domain.

The service is the function's (its settings, clients and client configuration), recomposed with its stages
timed (benchkit.phases); preparation, lock, safety-backup decision and verification included. With
``spec.policy`` SHARED_BACKOFF, the same composition over the same clients with today's shared backoff
(local/legacy_backoff.py) as the SimpleDB adapter's retry policy instead of the rate controller.
"""

import sys
from collections.abc import Callable
from dataclasses import asdict

from benchkit.jobs.child import JobOutcome, run_child, set_function_environment
from benchkit.jobs.wire import WireRecorder
from benchkit.phases import PhaseClock, timed_restore_service
from benchkit.results import DAMAGE, SHARED_BACKOFF, JobSpec, RunName
from legacy_backoff import SharedBackoff
from localrun import load_handler
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.events import RestoreRunRequest
from simpledb_backup.restore import RestoreService, compose_restore_service
from simpledb_backup.runtime import Deadline

#: The run is measured whole, in one invocation: it never runs short of time. Finite, because the restore's
#: lock expires that long after it is taken.
UNLIMITED = Deadline(lambda: 1e9, 0.0)


def restore_service(spec: JobSpec) -> RestoreService:
    """The function's own service; with the shared backoff, the same composition with only the policy
    replaced."""
    product: RestoreService = load_handler("restore").restore_service()
    if spec.policy != SHARED_BACKOFF:
        return product
    sdb = SimpleDB(product.runner.writer.sdb.client, SharedBackoff())
    return compose_restore_service(
        sdb, product.catalog.store, product.settings, mac=product.runner.lock.documents.mac
    )


def restore_request(spec: JobSpec) -> RestoreRunRequest:
    """Into a new domain; into a damaged copy, an exact restore, confirmed (the copy holds items)."""
    if RunName.parse(spec.run).condition == DAMAGE:
        return RestoreRunRequest(
            action="restore",
            domain=spec.domain,
            target_domain=spec.target,
            version_id=spec.version_id,
            mode="exact",
            confirm=spec.target,
        )
    return RestoreRunRequest(
        action="restore", domain=spec.domain, target_domain=spec.target, version_id=spec.version_id
    )


def prepare(spec: JobSpec) -> Callable[[], JobOutcome]:
    set_function_environment(spec)
    clock = PhaseClock()
    product = restore_service(spec)
    service = timed_restore_service(product, clock)
    sdb = product.runner.writer.sdb
    wire = WireRecorder().attach(sdb.client)
    request = restore_request(spec)

    def run() -> JobOutcome:
        answer = service.handle(request, UNLIMITED)
        if answer.get("status") != "complete":
            raise RuntimeError(f"restore ended {answer.get('status')}: {answer.get('error') or answer}")
        verification = answer.get("verification") or {}
        written = answer["written"]
        stats = sdb.retry_policy.stats()
        extra = {
            "restore_workers": product.settings.restore_workers,
            "verified": bool(verification.get("verified")),
            "verification": {key: value for key, value in verification.items() if key != "sample"},
            "put_calls": written.get("put_calls"),
            "retries": stats.retries,
            "policy": asdict(stats),
            "lanes": wire.summary(),
            "phases": {name: round(seconds, 2) for name, seconds in clock.seconds.items()},
            "phase_cpu": {name: round(seconds, 2) for name, seconds in clock.cpu_seconds.items()},
        }
        return JobOutcome(int(written["items_written"]), 0, extra)

    return run


if __name__ == "__main__":
    raise SystemExit(run_child(prepare, sys.argv[1:]))
