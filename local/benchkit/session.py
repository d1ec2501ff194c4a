"""One benchmark size: which jobs run, in which order, against a domain already filled and the latency set.

Our backup runs first, interleaved with the sequential one: the restores read the dump version it published.
Then our restore, interleaved with the per-item restore (a sample), each into a new domain dropped after the
run; then the segment sweep (our backup with other maximum segment counts, informative).
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchkit.engine import EngineProcess
from benchkit.results import (
    BACKUP,
    BASELINE,
    JOBS,
    OURS,
    RESTORE,
    DomainProfile,
    JobResult,
    JobSpec,
    Machine,
    SizeReport,
    job_key,
    sweep_run,
)
from benchkit.runs import Planned, run_interleaved

ALL_JOBS = tuple(job_key(operation, run) for operation, run in JOBS)


@dataclass(frozen=True)
class Options:
    latency_ms: float
    segments: int  # the backup's maximum segment count of the judged runs
    restore_workers: int  # the restore's workers (the product default unless given)
    baseline_sample: int | None  # items the per-item restore writes; None: all
    repeat: int  # runs of each backup and of our restore, interleaved; the fastest is kept
    sweep_segments: Sequence[int] = ()
    only: Sequence[str] = ()  # job keys; empty: all, and the sweep


@dataclass(frozen=True)
class Place:
    """Where the jobs run: the engine, the bucket that holds the dumps, the filled domain."""

    engine: EngineProcess
    bucket: str
    domain: str
    sdb: Any  # a client of the engine, to drop the restores' targets


class SizeSession:
    def __init__(
        self,
        place: Place,
        options: Options,
        on_start: Callable[[str, int], None] | None = None,
        on_result: Callable[[str, JobResult], None] | None = None,
    ) -> None:
        self.place, self.options = place, options
        self.on_start, self.on_result = on_start, on_result

    def _spec(self, profile: DomainProfile, operation: str, run: str, **fields: Any) -> JobSpec:
        return JobSpec(
            operation,
            run,
            url=self.place.engine.url,
            bucket=self.place.bucket,
            domain=self.place.domain,
            domain_items=profile.items,
            **fields,
        )

    def _measure(self, report: SizeReport, planned: list[Planned]) -> None:
        for job in planned:
            if self.on_start is not None:
                self.on_start(job.key, job.repeat)
        report.jobs.update(run_interleaved(planned, self.place.engine, self.on_result))

    def _drop_target(self, spec: JobSpec) -> None:
        self.place.sdb.delete_domain(DomainName=spec.target)

    def _backups(self, profile: DomainProfile, wanted: set[str]) -> list[Planned]:
        options, planned = self.options, []
        # Our backup runs whenever a restore needs its dump.
        if wanted & {job_key(BACKUP, OURS), job_key(RESTORE, OURS), job_key(RESTORE, BASELINE)}:
            planned.append(
                Planned(
                    job_key(BACKUP, OURS),
                    lambda: self._spec(profile, BACKUP, OURS, segments=options.segments),
                    options.repeat,
                )
            )
        if job_key(BACKUP, BASELINE) in wanted:
            planned.append(
                Planned(
                    job_key(BACKUP, BASELINE), lambda: self._spec(profile, BACKUP, BASELINE), options.repeat
                )
            )
        return planned

    def _restores(self, profile: DomainProfile, wanted: set[str], version_id: str) -> list[Planned]:
        options, planned = self.options, []

        def restore_spec(run: str, sample: int | None) -> Callable[[], JobSpec]:
            return lambda: self._spec(
                profile,
                RESTORE,
                run,
                segments=options.segments,
                restore_workers=options.restore_workers,
                target=f"bench-restore-{profile.items}-{run}-{uuid.uuid4().hex[:6]}",
                version_id=version_id,
                sample=sample,
            )

        if job_key(RESTORE, OURS) in wanted:
            planned.append(
                Planned(job_key(RESTORE, OURS), restore_spec(OURS, None), options.repeat, self._drop_target)
            )
        if job_key(RESTORE, BASELINE) in wanted:
            sample = min(options.baseline_sample, profile.items) if options.baseline_sample else None
            planned.append(
                Planned(job_key(RESTORE, BASELINE), restore_spec(BASELINE, sample), 1, self._drop_target)
            )
        return planned

    def _sweep(self, profile: DomainProfile) -> list[Planned]:
        def sweep_spec(segments: int) -> Callable[[], JobSpec]:
            return lambda: self._spec(profile, BACKUP, sweep_run(segments), segments=segments)

        return [
            Planned(job_key(BACKUP, sweep_run(segments)), sweep_spec(segments))
            for segments in self.options.sweep_segments
            if segments != self.options.segments
        ]

    def measure(self, profile: DomainProfile, machine: Machine, commit: str) -> SizeReport:
        """Every job at this size, side by side."""
        options = self.options
        report = SizeReport(
            profile=profile,
            latency_ms=options.latency_ms,
            segments=options.segments,
            restore_workers=options.restore_workers,
            measured_on=datetime.now(UTC).strftime("%Y-%m-%d"),
            machine=machine,
            commit=commit,
        )
        wanted = set(options.only or ALL_JOBS)
        self._measure(report, self._backups(profile, wanted))
        ours = report.job(BACKUP, OURS)
        version_id = ours.extra.get("version_id") if ours is not None else None
        if version_id is not None:
            self._measure(report, self._restores(profile, wanted, str(version_id)))
        restore = report.jobs.get(job_key(RESTORE, OURS))
        if restore is not None and not restore.failed and not restore.extra.get("verified"):
            restore.error = "the restore did not verify"
        if not options.only:
            self._measure(report, self._sweep(profile))
        if job_key(BACKUP, OURS) not in wanted:
            report.jobs.pop(job_key(BACKUP, OURS), None)
        return report
