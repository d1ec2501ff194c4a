"""One benchmark size: which jobs run, in which order, under which conditions, against a domain already filled.

Our backup runs first, interleaved with the sequential one: the restores read the dump version it published.
Then our restore, interleaved with the per-item restore (a sample) and with our restore under today's shared
backoff, each into a new domain dropped after the run. Then the scenarios of issue 12, each group interleaved:
the restore under each write cap (at the sizes given, where the shared backoff's uncapped restore runs too),
with the rate controller and with the shared backoff;
the backup under a Select cap, both policies; the backup and the sequential one at a slow Select latency, and
the segment sweep at that latency. Last, the segment sweep (our backup with other maximum segment counts,
informative). Every job carries its conditions (latency, caps); the runner sets them on the engine before
the job's child starts.
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
    EXTRA_JOBS,
    JOBS,
    LATENCY,
    LEGACY,
    OURS,
    RESTORE,
    SELECT_CAP,
    SHARED_BACKOFF,
    WRITE_CAP,
    DomainProfile,
    JobResult,
    JobSpec,
    Machine,
    RunName,
    SizeReport,
    job_key,
    scenario_run,
    sweep_run,
)
from benchkit.runs import Planned, run_interleaved

#: The scenarios ``--only`` may name besides single jobs.
WRITE_CAPS_SCENARIO, SELECT_CAP_SCENARIO, SLOW_SELECT_SCENARIO = "write-caps", "select-cap", "slow-select"
SCENARIOS = (WRITE_CAPS_SCENARIO, SELECT_CAP_SCENARIO, SLOW_SELECT_SCENARIO)
ALL_JOBS = tuple(job_key(operation, run) for operation, run in (*JOBS, *EXTRA_JOBS))


@dataclass(frozen=True)
class Options:
    latency_ms: float
    segments: int  # the backup's maximum segment count of the judged runs
    restore_workers: int  # the restore's workers (the product default unless given)
    baseline_sample: int | None  # items the per-item restore writes; None: all
    repeat: int  # runs of each backup and of our restore, interleaved; the fastest is kept
    sweep_segments: Sequence[int] = ()
    only: Sequence[str] = ()  # job keys and scenario names; empty: all, and the sweep
    write_caps: Sequence[float] = ()  # calls/s: the restore under each, both policies
    cap_items: Sequence[int] = ()  # the sizes at which the write caps run
    select_cap: float = 0.0  # calls/s: the backup under it, both policies; 0: not run
    cap_repeat: int = 1  # runs of each capped job
    slow_latency_ms: float = 0.0  # the backup and the sequential one at this latency; 0: not run
    slow_repeat: int = 1  # runs of each backup at the slow latency, interleaved
    slow_sweep_segments: Sequence[int] = ()  # our backup at the slow latency with these maximum segments


def conditions_for(run: str, options: Options) -> dict[str, Any]:
    """The JobSpec fields a run's name sets: the engine's latency and caps (the benchmark's latency and no cap
    unless the run names others), the retry policy, and for ours with either policy the maximum segments."""
    name = RunName.parse(run)
    conditions: dict[str, Any] = {"latency_ms": options.latency_ms}
    if name.condition == WRITE_CAP:
        conditions["write_calls_per_second"] = name.value
    elif name.condition == SELECT_CAP:
        conditions["select_calls_per_second"] = name.value
    elif name.condition == LATENCY:
        conditions["latency_ms"] = name.value
    if name.arm == LEGACY:
        conditions["policy"] = SHARED_BACKOFF
    if name.arm in (OURS, LEGACY):
        conditions["segments"] = options.segments
    return conditions


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
            **{**conditions_for(run, self.options), **fields},
        )

    def _measure(self, report: SizeReport, planned: list[Planned]) -> None:
        for job in planned:
            if self.on_start is not None:
                self.on_start(job.key, job.repeat)
        report.jobs.update(run_interleaved(planned, self.place.engine, self.on_result))

    def _drop_target(self, spec: JobSpec) -> None:
        self.place.sdb.delete_domain(DomainName=spec.target)

    def _backup(self, profile: DomainProfile, run: str, repeat: int, **fields: Any) -> Planned:
        return Planned(job_key(BACKUP, run), lambda: self._spec(profile, BACKUP, run, **fields), repeat)

    def _restore(
        self, profile: DomainProfile, run: str, version_id: str, repeat: int, sample: int | None = None
    ) -> Planned:
        def spec() -> JobSpec:
            return self._spec(
                profile,
                RESTORE,
                run,
                restore_workers=self.options.restore_workers,
                target=f"bench-restore-{profile.items}-{uuid.uuid4().hex[:8]}",
                version_id=version_id,
                sample=sample,
            )

        return Planned(job_key(RESTORE, run), spec, repeat, self._drop_target)

    def _backups(self, profile: DomainProfile, wanted: set[str]) -> list[Planned]:
        planned = []
        # Our backup runs whenever a restore needs its dump.
        needs_dump = {job_key(BACKUP, OURS), *(key for key in ALL_JOBS if key.startswith(RESTORE))}
        if wanted & (needs_dump | {WRITE_CAPS_SCENARIO}):
            planned.append(self._backup(profile, OURS, self.options.repeat))
        if job_key(BACKUP, BASELINE) in wanted:
            planned.append(self._backup(profile, BASELINE, self.options.repeat))
        return planned

    def _restores(self, profile: DomainProfile, wanted: set[str], version_id: str) -> list[Planned]:
        options, planned = self.options, []
        if job_key(RESTORE, OURS) in wanted:
            planned.append(self._restore(profile, OURS, version_id, options.repeat))
        if job_key(RESTORE, BASELINE) in wanted:
            sample = min(options.baseline_sample, profile.items) if options.baseline_sample else None
            planned.append(self._restore(profile, BASELINE, version_id, 1, sample))
        # Today's shared backoff without a cap runs where the caps do (the restore scenario).
        if job_key(RESTORE, LEGACY) in wanted and profile.items in options.cap_items:
            planned.append(self._restore(profile, LEGACY, version_id, options.repeat))
        return planned

    def _write_caps(self, profile: DomainProfile, version_id: str) -> list[Planned]:
        options = self.options
        if profile.items not in options.cap_items:
            return []
        return [
            self._restore(profile, scenario_run(arm, WRITE_CAP, cap), version_id, options.cap_repeat)
            for cap in options.write_caps
            for arm in (OURS, LEGACY)
        ]

    def _select_cap(self, profile: DomainProfile) -> list[Planned]:
        cap, repeat = self.options.select_cap, self.options.cap_repeat
        if not cap:
            return []
        return [self._backup(profile, scenario_run(arm, SELECT_CAP, cap), repeat) for arm in (OURS, LEGACY)]

    def _slow_select(self, profile: DomainProfile) -> list[Planned]:
        options = self.options
        latency = options.slow_latency_ms
        if not latency:
            return []
        planned = [
            self._backup(profile, scenario_run(arm, LATENCY, latency), options.repeat)
            for arm in (OURS, BASELINE)
        ]
        planned += [
            self._backup(profile, scenario_run(sweep_run(segments), LATENCY, latency), 1, segments=segments)
            for segments in options.slow_sweep_segments
            if segments != options.segments
        ]
        return planned

    def _sweep(self, profile: DomainProfile) -> list[Planned]:
        return [
            self._backup(profile, sweep_run(segments), 1, segments=segments)
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
        wanted = set(options.only or (*ALL_JOBS, *SCENARIOS))
        self._measure(report, self._backups(profile, wanted))
        ours = report.job(BACKUP, OURS)
        version_id = ours.extra.get("version_id") if ours is not None else None
        if version_id is not None:
            self._measure(report, self._restores(profile, wanted, str(version_id)))
            if WRITE_CAPS_SCENARIO in wanted:
                self._measure(report, self._write_caps(profile, str(version_id)))
        for result in report.jobs.values():
            ours_or_legacy = RunName.parse(result.run).arm != BASELINE
            unverified = not result.failed and not result.extra.get("verified")
            if result.operation == RESTORE and ours_or_legacy and unverified:
                result.error = "the restore did not verify"
        if SELECT_CAP_SCENARIO in wanted:
            self._measure(report, self._select_cap(profile))
        if SLOW_SELECT_SCENARIO in wanted:
            self._measure(report, self._slow_select(profile))
        if not options.only:
            self._measure(report, self._sweep(profile))
        if job_key(BACKUP, OURS) not in wanted:
            report.jobs.pop(job_key(BACKUP, OURS), None)
        return report
