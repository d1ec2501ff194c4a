"""The targets of the throughput issues, judged at every size measured. Pure.

Each verdict carries its figures as numbers (``Speedup``, ``Calls``, ``PeakRss``, ``RssGrowth``, and for issue
12's scenarios ``CapShare``, ``WallRatio``, ``CpuPerMb``); the tables format them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchkit.arithmetic import (
    CapUse,
    cap_uses,
    counted_calls,
    cpu_ms_per_select_mb,
    minimum_calls,
    percent_over,
    speedup,
    streams_used,
    total_calls,
    verified_restore_minimum,
)
from benchkit.results import (
    BACKUP,
    BASELINE,
    LATENCY,
    LEGACY,
    OURS,
    RESTORE,
    SELECT_CAP,
    WRITE_CAP,
    RunName,
    SizeReport,
    scenario_run,
)

BACKUP_SPEEDUP_TARGET = 6.0
RESTORE_SPEEDUP_TARGET = 50.0
CALLS_OVER_MINIMUM_TARGET = 5.0  # percent
RSS_TARGET_MB = 150.0
RSS_TARGET_ITEMS = 200_000
#: "Not growing with the domain size": peak RSS at the largest size may exceed the smallest by this much
#: (allocator noise; a structure that grows with the items grows by far more over a tenfold size).
RSS_GROWTH_TOLERANCE_MB = 10.0

# Issue 12.
#: Under a cap: at least this share of the cap, with at most this share of the calls throttled.
CAP_SHARE_TARGET = 0.90
THROTTLED_SHARE_TARGET = 0.05
#: Without a cap, the restore with the rate controller against the shared backoff: wall time at most this ratio.
NO_SLOWER_RATIO = 1.0
CPU_PER_MB_TARGET = 15.0  # ms of the backup's client CPU per MB of Select XML
SLOW_SPEEDUP_TARGET = 10.0  # the backup at the slow Select latency against the sequential loop at it

SPEEDUP_TARGETS = {BACKUP: BACKUP_SPEEDUP_TARGET, RESTORE: RESTORE_SPEEDUP_TARGET}
BASELINES = {BACKUP: "sequential Select loop", RESTORE: "one PutAttributes per item"}
COUNTED = {BACKUP: "Select pages", RESTORE: "item writes"}


@dataclass(frozen=True)
class Speedup:
    times: float
    streams: int | None = None  # the Select streams the backup used, when the figure names them


@dataclass(frozen=True)
class Calls:
    counted: int
    minimum: int

    @property
    def percent_over(self) -> float:
        return percent_over(self.counted, self.minimum)


@dataclass(frozen=True)
class PeakRss:
    megabytes: float


@dataclass(frozen=True)
class RssGrowth:
    megabytes: float
    since_items: int


@dataclass(frozen=True)
class CapShare:
    """A share (0-1) of the cap (throughput) or of the calls (throttled): ours, and today's shared backoff's
    (None: not measured; ``today_failed``: its run failed)."""

    share: float
    today: float | None = None
    today_failed: bool = False


@dataclass(frozen=True)
class WallRatio:
    """Our wall time against today's, in seconds."""

    ours: float
    today: float

    @property
    def ratio(self) -> float:
        return self.ours / self.today


@dataclass(frozen=True)
class CpuPerMb:
    """Client CPU in ms per MB of Select XML: ours, and the sequential botocore baseline's."""

    ms: float
    baseline_ms: float | None


Figure = Speedup | Calls | PeakRss | RssGrowth | CapShare | WallRatio | CpuPerMb


@dataclass(frozen=True)
class Verdict:
    target: str
    goal: str
    figures: dict[int, Figure]  # by domain size; a size without a figure was not measured
    met: bool | None  # None: not measured


def _all(flags: Iterable[bool | None]) -> bool | None:
    known = [flag for flag in flags if flag is not None]
    return None if not known else all(known)


def _speedup_verdict(reports: Sequence[SizeReport], operation: str) -> Verdict:
    target = SPEEDUP_TARGETS[operation]
    figures: dict[int, Figure] = {}
    for report in reports:
        measured = speedup(report, operation)
        if measured is not None:
            figures[report.profile.items] = Speedup(measured)
    return Verdict(
        f"{operation} wall time vs {BASELINES[operation]}",
        f"≥ {target:g}x faster",
        figures,
        _all(isinstance(figure, Speedup) and figure.times >= target for figure in figures.values()),
    )


def _calls_verdict(target: str, figures: dict[int, Figure]) -> Verdict:
    return Verdict(
        target,
        f"≤ +{CALLS_OVER_MINIMUM_TARGET:g} %",
        figures,
        _all(
            isinstance(figure, Calls) and figure.percent_over <= CALLS_OVER_MINIMUM_TARGET
            for figure in figures.values()
        ),
    )


def _minimum_verdict(reports: Sequence[SizeReport], operation: str) -> Verdict:
    figures: dict[int, Figure] = {}
    for report in reports:
        counted = counted_calls(report, operation, OURS)
        if counted is not None:
            figures[report.profile.items] = Calls(counted, minimum_calls(report, operation))
    return _calls_verdict(f"{operation} {COUNTED[operation]} vs theoretical minimum", figures)


def _all_restore_calls_verdict(reports: Sequence[SizeReport]) -> Verdict:
    """Every SimpleDB call of the restore, against the least a verified restore needs: the writes plus one
    read-back of the domain (the verification step), at the minimum page count."""
    figures: dict[int, Figure] = {}
    for report in reports:
        ours = report.job(RESTORE, OURS)
        if ours is not None:
            figures[report.profile.items] = Calls(total_calls(ours), verified_restore_minimum(report.profile))
    return _calls_verdict("restore, all SimpleDB calls vs writes + one read-back", figures)


def _memory_verdicts(reports: Sequence[SizeReport], operation: str) -> list[Verdict]:
    peaks: dict[int, float] = {}
    for report in reports:
        ours = report.job(operation, OURS)
        if ours is not None:
            peaks[report.profile.items] = ours.rss_peak_mb
    judged = [peak < RSS_TARGET_MB for items, peak in peaks.items() if items >= RSS_TARGET_ITEMS]
    peak_verdict = Verdict(
        f"{operation} peak RSS",
        f"< {RSS_TARGET_MB:g} MB at {RSS_TARGET_ITEMS:,} items",
        {items: PeakRss(peak) for items, peak in peaks.items()},
        _all(judged),
    )
    growth_figures: dict[int, Figure] = {}
    growth_met: bool | None = None
    sizes = [report.profile.items for report in reports]
    if sizes and sizes[0] in peaks and sizes[-1] in peaks and sizes[-1] > sizes[0]:
        growth = peaks[sizes[-1]] - peaks[sizes[0]]
        growth_figures[sizes[-1]] = RssGrowth(growth, sizes[0])
        growth_met = growth <= RSS_GROWTH_TOLERANCE_MB
    growth_verdict = Verdict(
        f"{operation} peak RSS growth with domain size",
        f"flat (≤ +{RSS_GROWTH_TOLERANCE_MB:g} MB)",
        growth_figures,
        growth_met,
    )
    return [peak_verdict, growth_verdict]


# --- issue 12 ---------------------------------------------------------------------------------------------------

#: Per cap condition: the operation run under it, the cap's name and the calls it meters.
CAPPED = {WRITE_CAP: (RESTORE, "write", "write calls"), SELECT_CAP: (BACKUP, "Select", "Select calls")}


def _cap_verdicts(reports: Sequence[SizeReport], condition: str) -> list[Verdict]:
    """Per cap measured: our throughput as a share of the cap, and our throttled share of the calls, each with
    today's shared backoff's beside it."""
    operation, cap_name, calls = CAPPED[condition]
    by_cap: dict[float, dict[int, dict[str, CapUse]]] = {}
    for report in reports:
        for use in cap_uses(report):
            if RunName.parse(use.key.split("/", 1)[1]).condition == condition:
                by_cap.setdefault(use.cap, {}).setdefault(report.profile.items, {})[use.arm] = use
    verdicts = []
    for cap in sorted(by_cap):
        throughput: dict[int, Figure] = {}
        throttled: dict[int, Figure] = {}
        for items, arms in by_cap[cap].items():
            ours, today = arms.get(OURS), arms.get(LEGACY)
            failed = today is not None and today.error is not None
            if ours is not None and ours.share_of_cap is not None:
                throughput[items] = CapShare(ours.share_of_cap, today.share_of_cap if today else None, failed)
            if ours is not None and ours.error is None and ours.throttled_share is not None:
                throttled[items] = CapShare(
                    ours.throttled_share, today.throttled_share if today else None, failed
                )
        what = f"{operation} at a {cap_name} cap of {cap:g} calls/s"
        verdicts.append(
            Verdict(
                f"{what}: throughput / cap",
                f"≥ {100 * CAP_SHARE_TARGET:g} %",
                throughput,
                _all(isinstance(f, CapShare) and f.share >= CAP_SHARE_TARGET for f in throughput.values()),
            )
        )
        verdicts.append(
            Verdict(
                f"{what}: throttled / all {calls}",
                f"≤ {100 * THROTTLED_SHARE_TARGET:g} %",
                throttled,
                _all(
                    isinstance(f, CapShare) and f.share <= THROTTLED_SHARE_TARGET for f in throttled.values()
                ),
            )
        )
    return verdicts


def _no_slower_verdict(reports: Sequence[SizeReport]) -> Verdict:
    figures: dict[int, Figure] = {}
    for report in reports:
        ours, today = report.job(RESTORE, OURS), report.job(RESTORE, LEGACY)
        if ours is not None and today is not None and today.wall_seconds > 0:
            figures[report.profile.items] = WallRatio(ours.wall_seconds, today.wall_seconds)
    return Verdict(
        "restore without a cap vs today's shared backoff",
        "no slower",
        figures,
        _all(isinstance(f, WallRatio) and f.ratio <= NO_SLOWER_RATIO for f in figures.values()),
    )


def _cpu_verdict(reports: Sequence[SizeReport]) -> Verdict:
    figures: dict[int, Figure] = {}
    for report in reports:
        ours, baseline = report.job(BACKUP, OURS), report.job(BACKUP, BASELINE)
        ms = cpu_ms_per_select_mb(ours) if ours is not None else None
        if ms is not None:
            figures[report.profile.items] = CpuPerMb(ms, cpu_ms_per_select_mb(baseline) if baseline else None)
    return Verdict(
        "backup client CPU per MB of Select XML",
        f"≤ {CPU_PER_MB_TARGET:g} ms",
        figures,
        _all(isinstance(f, CpuPerMb) and f.ms <= CPU_PER_MB_TARGET for f in figures.values()),
    )


def _slow_latencies(reports: Sequence[SizeReport]) -> list[float]:
    latencies = set()
    for report in reports:
        for key in report.scenario_keys():
            name = RunName.parse(key.split("/", 1)[1])
            if name.condition == LATENCY:
                latencies.add(name.value)
    return sorted(latencies)


def _slow_select_verdicts(reports: Sequence[SizeReport]) -> list[Verdict]:
    verdicts = []
    for latency in _slow_latencies(reports):
        ours_run, baseline_run = (
            scenario_run(OURS, LATENCY, latency),
            scenario_run(BASELINE, LATENCY, latency),
        )
        speedups: dict[int, Figure] = {}
        peaks: dict[int, float] = {}
        for report in reports:
            measured = speedup(report, BACKUP, ours_run, baseline_run)
            ours = report.job(BACKUP, ours_run)
            if measured is not None and ours is not None:
                speedups[report.profile.items] = Speedup(measured, streams_used(ours))
            if ours is not None:
                peaks[report.profile.items] = ours.rss_peak_mb
        verdicts.append(
            Verdict(
                f"backup at {latency:g} ms per Select vs sequential Select loop",
                f"≥ {SLOW_SPEEDUP_TARGET:g}x faster",
                speedups,
                _all(isinstance(f, Speedup) and f.times >= SLOW_SPEEDUP_TARGET for f in speedups.values()),
            )
        )
        verdicts.append(
            Verdict(
                f"backup at {latency:g} ms per Select, peak RSS",
                f"< {RSS_TARGET_MB:g} MB at {RSS_TARGET_ITEMS:,} items",
                {items: PeakRss(peak) for items, peak in peaks.items()},
                _all([peak < RSS_TARGET_MB for items, peak in peaks.items() if items >= RSS_TARGET_ITEMS]),
            )
        )
    return verdicts


def verdicts(reports: Sequence[SizeReport]) -> list[Verdict]:
    """Each target of the issues, with its figure at every size and whether it is met at every size."""
    ordered = sorted(reports, key=lambda report: report.profile.items)
    return [
        _speedup_verdict(ordered, BACKUP),
        _speedup_verdict(ordered, RESTORE),
        _minimum_verdict(ordered, BACKUP),
        _minimum_verdict(ordered, RESTORE),
        _all_restore_calls_verdict(ordered),
        *_memory_verdicts(ordered, BACKUP),
        *_memory_verdicts(ordered, RESTORE),
        *_cap_verdicts(ordered, WRITE_CAP),
        _no_slower_verdict(ordered),
        *_cap_verdicts(ordered, SELECT_CAP),
        _cpu_verdict(ordered),
        *_slow_select_verdicts(ordered),
    ]
