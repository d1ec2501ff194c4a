"""Where a restore's time goes: the restore service recomposed with its stages timed.

The restore is a runner over collaborators (simpledb_backup.restore): the preparation (verify + plan +
confirm rule), then the safety backup, write and verify stages. ``timed_restore_service`` builds a service from
the same collaborators, whose runner calls each of them through a timer. Nothing in the product is patched:
the timed stages are the runner's collaborators, passed in through its constructor.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from benchkit.results import PREPARE, SAFETY_BACKUP, VERIFY, WRITE
from simpledb_backup.events import RestoreRunRequest
from simpledb_backup.restore import RestoreService
from simpledb_backup.restore.prepare import Preparation, PreparedRestore
from simpledb_backup.restore.runner import RestoreRunner
from simpledb_backup.restore.sources import RestoreSource
from simpledb_backup.restore.stages import SafetyBackupStage, VerifyStage, WriteStage
from simpledb_backup.runtime import Deadline


class PhaseClock:
    """Wall seconds and the process's CPU seconds (every thread's) spent in each phase, summed over every time
    the phase runs."""

    def __init__(
        self, clock: Callable[[], float] = time.perf_counter, cpu: Callable[[], float] = time.process_time
    ) -> None:
        self.clock, self.cpu = clock, cpu
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started, cpu_started = self.clock(), self.cpu()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + self.clock() - started
            self.cpu_seconds[name] = self.cpu_seconds.get(name, 0.0) + self.cpu() - cpu_started


# Each timed collaborator is a subclass only so that the runner's constructor accepts it; it delegates every
# call to the collaborator it wraps and holds none of that collaborator's state, hence no super().__init__().


class TimedPreparation(Preparation):
    def __init__(self, preparation: Preparation, clock: PhaseClock) -> None:
        self.inner, self.clock = preparation, clock

    def prepare(
        self,
        request: RestoreRunRequest,
        run_id: str,
        source: RestoreSource,
        progress: Callable[[int], None] | None = None,
    ) -> PreparedRestore:
        with self.clock.phase(PREPARE):
            return self.inner.prepare(request, run_id, source, progress)


class TimedSafetyBackupStage(SafetyBackupStage):
    def __init__(self, stage: SafetyBackupStage, clock: PhaseClock) -> None:
        self.inner, self.clock = stage, clock

    def run(self, prepared: PreparedRestore, deadline: Deadline) -> bool:
        with self.clock.phase(SAFETY_BACKUP):
            return self.inner.run(prepared, deadline)


class TimedWriteStage(WriteStage):
    def __init__(self, stage: WriteStage, clock: PhaseClock) -> None:
        self.inner, self.clock = stage, clock

    def run(self, prepared: PreparedRestore, source: RestoreSource, deadline: Deadline) -> bool:
        with self.clock.phase(WRITE):
            return self.inner.run(prepared, source, deadline)


class TimedVerifyStage(VerifyStage):
    def __init__(self, stage: VerifyStage, clock: PhaseClock) -> None:
        self.inner, self.clock = stage, clock

    def run(
        self, prepared: PreparedRestore, source: RestoreSource, deadline: Deadline | None = None
    ) -> dict[str, Any] | None:
        with self.clock.phase(VERIFY):
            return self.inner.run(prepared, source, deadline)


def timed_restore_service(service: RestoreService, clock: PhaseClock) -> RestoreService:
    """``service``'s collaborators, with a runner that times its preparation and each of its stages."""
    runner = service.runner
    timed_runner = RestoreRunner(
        runner.sources,
        TimedPreparation(runner.preparation, clock),
        runner.lock,
        runner.runs,
        (
            TimedSafetyBackupStage(runner.safety_backup, clock),
            TimedWriteStage(runner.writer, clock),
            TimedVerifyStage(runner.verifier, clock),
        ),
        monotonic=runner.monotonic,
    )
    return RestoreService(
        service.settings,
        service.catalog,
        service.sources,
        service.preparation,
        timed_runner,
        service.runs,
        service.differ,
        service.estimator,
    )
