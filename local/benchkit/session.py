"""One benchmark domain (a size and a kind of names): which jobs run on it, in which order, under which
conditions, once it is filled.

Which scenarios run on which domain is the plan (``Options``): the benchmark's own runs at its sizes (our backup
interleaved with the sequential one, then our restore interleaved with the per-item restore); the library floor
of the backup's CPU on the same pages; the peer (the real ``repoman-cli``) backing up beside ours and
restoring its own backup; our exact restore into a damaged copy of the domain; the restore under each write
cap, with the engine's uncapped write rate measured in the same run; the backup under a Select cap; the backup
and the sequential one at a slow Select latency, for hex and ordinary names; the segment sweep. Every job carries
its conditions (latency, caps); the runner sets them on the engine before the job's child starts. The restores
read the dump version our backup published at that size, so our backup runs first wherever a restore runs.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchkit.engine import EngineProcess
from benchkit.filling import DomainFiller, damage_copy
from benchkit.results import (
    BACKUP,
    BASELINE,
    DAMAGE,
    FLOOR,
    HEX,
    LATENCY,
    LEGACY,
    NAME_KINDS,
    OURS,
    PEER,
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
DAMAGE_SCENARIO, FLOOR_SCENARIO, PEER_SCENARIO = "damage", "floor", "peer"
SCENARIOS = (
    WRITE_CAPS_SCENARIO,
    SELECT_CAP_SCENARIO,
    SLOW_SELECT_SCENARIO,
    DAMAGE_SCENARIO,
    FLOOR_SCENARIO,
    PEER_SCENARIO,
)
#: The benchmark's own runs (the four compared, and ours with the shared backoff).
ALL_JOBS = tuple(
    job_key(operation, run)
    for operation, run in (
        (BACKUP, OURS),
        (BACKUP, BASELINE),
        (RESTORE, OURS),
        (RESTORE, BASELINE),
        (RESTORE, LEGACY),
    )
)


@dataclass(frozen=True)
class Options:
    latency_ms: float
    segments: int  # the backup's maximum segment count of the judged runs
    restore_workers: int  # the restore's workers (the product default unless given)
    baseline_sample: int | None  # items the per-item restore writes; None: all
    repeat: int  # runs of each backup and of our restore, interleaved; the fastest is kept
    base_items: Sequence[int] = (20_000,)  # sizes of the benchmark's own runs (hex names, at latency_ms)
    sweep_segments: Sequence[int] = ()
    only: Sequence[str] = ()  # job keys and scenario names; empty: all, and the sweep
    write_caps: Sequence[float] = ()  # calls/s: the restore under each
    cap_items: Sequence[int] = ()  # the sizes at which the write caps run
    legacy: bool = False  # also the shared backoff: uncapped and under each write cap (issue 12)
    select_cap: float = 0.0  # calls/s: the backup under it, both policies, at the base sizes; 0: not run
    cap_repeat: int = 1  # runs of each capped job
    slow_latency_ms: float = 0.0  # the backup and the sequential one at this latency; 0: not run
    slow_items: Sequence[int] = ()  # the sizes at which the slow Select latency runs
    slow_names: Sequence[str] = NAME_KINDS  # ... for each of these kinds of names
    slow_repeat: int = 1  # runs of each backup at the slow latency, interleaved
    slow_sweep_segments: Sequence[int] = ()  # our backup at the slow latency with these maximum segments
    damage: int = 0  # items damaged in the copy our exact restore repairs; 0: not run
    damage_items: Sequence[int] = ()
    peer_items: Sequence[int] = ()  # sizes at which repoman-cli backs up and restores
    peer_python: str = ""  # the peer's venv's interpreter; "": no peer
    peer_repeat: int = 1
    peer_folder: Path = Path("build/peer")  # where the peer's backup files go
    floor_items: Sequence[int] = ()  # sizes at which the library floor is measured
    floor_pages: int = 100  # most Select pages the floor measures (its figure is per MB)
    seed: int = 0

    def wants(self, name: str) -> bool:
        return not self.only or name in self.only

    def domains(self) -> list[tuple[str, int]]:
        """Every domain the plan measures, (names, items), in the order they are filled: hex names by size,
        then ordinary names by size (each kind of names is a domain of its own, grown across its sizes)."""
        hex_sizes: set[int] = set()
        if any(self.wants(key) for key in ALL_JOBS):
            hex_sizes |= set(self.base_items)
        for scenario, sizes in (
            (WRITE_CAPS_SCENARIO, self.cap_items if self.write_caps else ()),
            (DAMAGE_SCENARIO, self.damage_items if self.damage else ()),
            (PEER_SCENARIO, self.peer_items if self.peer_python else ()),
            (FLOOR_SCENARIO, self.floor_items),
        ):
            if self.wants(scenario):
                hex_sizes |= set(sizes)
        if self.select_cap and self.wants(SELECT_CAP_SCENARIO):
            hex_sizes |= set(self.base_items)
        slow: set[tuple[str, int]] = set()
        if self.slow_latency_ms and self.wants(SLOW_SELECT_SCENARIO):
            slow = {(names, items) for names in self.slow_names for items in self.slow_items}
        planned = {(HEX, items) for items in hex_sizes} | slow
        return sorted(planned, key=lambda domain: (NAME_KINDS.index(domain[0]), domain[1]))


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
    if name.arm == PEER:
        conditions["python"] = options.peer_python
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
        measure_engine: Callable[[SizeReport], None] | None = None,
    ) -> None:
        self.place, self.options = place, options
        self.on_start, self.on_result = on_start, on_result
        #: Measures the engine's own capacity into the report, beside the write caps (benchkit.capacity_probe).
        self.measure_engine = measure_engine

    def _spec(self, profile: DomainProfile, names: str, operation: str, run: str, **fields: Any) -> JobSpec:
        return JobSpec(
            operation,
            run,
            url=self.place.engine.url,
            bucket=self.place.bucket,
            domain=self.place.domain,
            domain_items=profile.items,
            names=names,
            **{**conditions_for(run, self.options), **fields},
        )

    def _measure(self, report: SizeReport, planned: list[Planned]) -> None:
        for job in planned:
            if self.on_start is not None:
                self.on_start(job.key, job.repeat)
        report.jobs.update(run_interleaved(planned, self.place.engine, self.on_result))

    def _drop_target(self, spec: JobSpec) -> None:
        self.place.sdb.delete_domain(DomainName=spec.target)

    def _backup(self, report: SizeReport, run: str, repeat: int, **fields: Any) -> Planned:
        return Planned(
            job_key(BACKUP, run),
            lambda: self._spec(report.profile, report.names, BACKUP, run, **fields),
            repeat,
        )

    def _restore(
        self,
        report: SizeReport,
        run: str,
        version_id: str,
        repeat: int,
        sample: int | None = None,
        prepare: Callable[[str], None] | None = None,
    ) -> Planned:
        """A restore into a new domain, or into the one ``prepare`` fills (a damaged copy)."""

        def spec() -> JobSpec:
            target = f"bench-restore-{report.profile.items}-{uuid.uuid4().hex[:8]}"
            if prepare is not None:
                prepare(target)
            return self._spec(
                report.profile,
                report.names,
                RESTORE,
                run,
                restore_workers=self.options.restore_workers,
                target=target,
                version_id=version_id,
                sample=sample,
            )

        return Planned(job_key(RESTORE, run), spec, repeat, self._drop_target)

    def _peer_file(self, report: SizeReport) -> str:
        folder = self.options.peer_folder
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / f"repoman-backup-{report.names}-{report.profile.items}.json")

    # --- the groups, in the order they run -------------------------------------------------------------------

    def _backups(self, report: SizeReport, wanted: set[str], base: bool, peer: bool) -> list[Planned]:
        options, items, planned = self.options, report.profile.items, []
        restores = {key for key in ALL_JOBS if key.startswith(RESTORE)}
        needs_dump = (
            (base and bool(wanted & {job_key(BACKUP, OURS), *restores}))
            or (items in options.cap_items and WRITE_CAPS_SCENARIO in wanted and bool(options.write_caps))
            or (items in options.damage_items and DAMAGE_SCENARIO in wanted and options.damage > 0)
        )
        if needs_dump:
            judged = base and job_key(BACKUP, OURS) in wanted
            planned.append(self._backup(report, OURS, options.repeat if judged else 1))
        if base and job_key(BACKUP, BASELINE) in wanted:
            planned.append(self._backup(report, BASELINE, options.repeat))
        if peer:
            planned.append(
                self._backup(report, PEER, options.peer_repeat, source_path=self._peer_file(report))
            )
        return planned

    def _floor(self, report: SizeReport) -> list[Planned]:
        return [self._backup(report, FLOOR, 1, floor_pages=self.options.floor_pages)]

    def _restores(
        self, report: SizeReport, wanted: set[str], version_id: str | None, base: bool, peer: bool
    ) -> list[Planned]:
        options, planned = self.options, []
        if base and version_id is not None:
            if job_key(RESTORE, OURS) in wanted:
                planned.append(self._restore(report, OURS, version_id, options.repeat))
            if job_key(RESTORE, BASELINE) in wanted:
                sample = (
                    min(options.baseline_sample, report.profile.items) if options.baseline_sample else None
                )
                planned.append(self._restore(report, BASELINE, version_id, 1, sample))
            if options.legacy and job_key(RESTORE, LEGACY) in wanted:
                planned.append(self._restore(report, LEGACY, version_id, options.repeat))
        if peer and report.job(BACKUP, PEER) is not None:
            peer_file = self._peer_file(report)

            def peer_spec() -> JobSpec:
                target = f"bench-repoman-{report.profile.items}-{uuid.uuid4().hex[:8]}"
                self.place.sdb.create_domain(DomainName=target)  # repoman-cli restore writes, never creates
                return self._spec(
                    report.profile, report.names, RESTORE, PEER, target=target, source_path=peer_file
                )

            planned.append(Planned(job_key(RESTORE, PEER), peer_spec, options.peer_repeat, self._drop_target))
        return planned

    def _damaged(self, report: SizeReport, version_id: str) -> list[Planned]:
        options, engine = self.options, self.place.engine

        def prepare(target: str) -> None:
            engine.controls.configure(latency_ms=0, write_calls_per_second=0, select_calls_per_second=0)
            filler = DomainFiller(engine.url, target, seed=options.seed, names=report.names)
            filler.fill_to(report.profile.items)
            damage_copy(filler.sdb, target, report.profile.items, options.damage, report.names, options.seed)

        run = scenario_run(OURS, DAMAGE, options.damage)
        return [self._restore(report, run, version_id, 1, prepare=prepare)]

    def _write_caps(self, report: SizeReport, version_id: str) -> list[Planned]:
        options = self.options
        arms = (OURS, LEGACY) if options.legacy else (OURS,)
        return [
            self._restore(report, scenario_run(arm, WRITE_CAP, cap), version_id, options.cap_repeat)
            for cap in options.write_caps
            for arm in arms
        ]

    def _select_cap(self, report: SizeReport) -> list[Planned]:
        cap, repeat = self.options.select_cap, self.options.cap_repeat
        return [self._backup(report, scenario_run(arm, SELECT_CAP, cap), repeat) for arm in (OURS, LEGACY)]

    def _slow_select(self, report: SizeReport) -> list[Planned]:
        options = self.options
        latency = options.slow_latency_ms
        planned = [
            self._backup(report, scenario_run(arm, LATENCY, latency), options.slow_repeat)
            for arm in (OURS, BASELINE)
        ]
        planned += [
            self._backup(report, scenario_run(sweep_run(segments), LATENCY, latency), 1, segments=segments)
            for segments in options.slow_sweep_segments
            if segments != options.segments
        ]
        return planned

    def _sweep(self, report: SizeReport) -> list[Planned]:
        return [
            self._backup(report, sweep_run(segments), 1, segments=segments)
            for segments in self.options.sweep_segments
            if segments != self.options.segments
        ]

    def measure(self, profile: DomainProfile, machine: Machine, commit: str, names: str = HEX) -> SizeReport:
        """Every job the plan runs on this domain, side by side."""
        options, items = self.options, profile.items
        report = SizeReport(
            profile=profile,
            latency_ms=options.latency_ms,
            segments=options.segments,
            restore_workers=options.restore_workers,
            measured_on=datetime.now(UTC).strftime("%Y-%m-%d"),
            machine=machine,
            commit=commit,
            names=names,
        )
        wanted = set(options.only or (*ALL_JOBS, *SCENARIOS))
        on_hex = names == HEX
        base = on_hex and items in options.base_items and bool(wanted & set(ALL_JOBS))
        peer = (
            on_hex and items in options.peer_items and PEER_SCENARIO in wanted and bool(options.peer_python)
        )
        self._measure(report, self._backups(report, wanted, base, peer))
        if on_hex and items in options.floor_items and FLOOR_SCENARIO in wanted:
            self._measure(report, self._floor(report))
        ours = report.job(BACKUP, OURS)
        version_id = (
            str(ours.extra["version_id"]) if ours is not None and "version_id" in ours.extra else None
        )
        self._measure(report, self._restores(report, wanted, version_id, base, peer))
        if version_id is not None and on_hex:
            if items in options.damage_items and options.damage and DAMAGE_SCENARIO in wanted:
                self._measure(report, self._damaged(report, version_id))
            if items in options.cap_items and options.write_caps and WRITE_CAPS_SCENARIO in wanted:
                if self.measure_engine is not None:
                    self.measure_engine(report)
                self._measure(report, self._write_caps(report, version_id))
        for result in report.jobs.values():
            ours_or_legacy = RunName.parse(result.run).arm in (OURS, LEGACY)
            unverified = not result.failed and not result.extra.get("verified")
            if result.operation == RESTORE and ours_or_legacy and unverified:
                result.error = "the restore did not verify"
        if base and options.select_cap and SELECT_CAP_SCENARIO in wanted:
            self._measure(report, self._select_cap(report))
        if (
            options.slow_latency_ms
            and items in options.slow_items
            and names in options.slow_names
            and SLOW_SELECT_SCENARIO in wanted
        ):
            self._measure(report, self._slow_select(report))
        if base and not options.only:
            self._measure(report, self._sweep(report))
        if not (base and job_key(BACKUP, OURS) in wanted):
            report.jobs.pop(job_key(BACKUP, OURS), None)  # run for its dump only: not judged here
        return report
