"""The targets of the throughput issues, judged at every size measured. Pure.

Issue 18's targets first (the backup at a slow Select latency for hex and ordinary names, Select pages, the
restore under write caps beside the engine's capacity, CPU against the library floor, the peer, a restore's
reads of its target), then those of earlier issues that the document showed met (the restore against the
per-item baseline, calls at their minimum, memory). The retired 6x goal for the backup at 30 ms is gone; issue
12's comparisons with today's shared backoff show only when measured (``--legacy``, ``--select-cap``).

Each verdict carries its figures as numbers; the tables format them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchkit.arithmetic import (
    CapUse,
    cap_uses,
    counted_calls,
    minimum_calls,
    percent_over,
    profile_min_pages,
    speedup,
    streams_used,
    total_calls,
    verified_restore_minimum,
)
from benchkit.comparisons import (
    cpu_against_floor,
    damaged_restores,
    engine_capacity,
    engine_ms_per_select_mb,
    of_names,
    pages_allowed,
    peer_rows,
)
from benchkit.results import (
    BACKUP,
    BASELINE,
    HEX,
    LATENCY,
    LEGACY,
    NAME_KINDS,
    OURS,
    RESTORE,
    SELECT_CAP,
    WRITE_CAP,
    RunName,
    SizeReport,
    scenario_run,
)

RESTORE_SPEEDUP_TARGET = 50.0
CALLS_OVER_MINIMUM_TARGET = 5.0  # percent
RSS_TARGET_MB = 150.0
RSS_TARGET_ITEMS = 200_000
#: "Not growing with the domain size": peak RSS at the largest size may exceed the smallest by this much
#: (allocator noise; a structure that grows with the items grows by far more over a fourfold size).
RSS_GROWTH_TOLERANCE_MB = 10.0

# Issue 18.
#: The backup at the slow Select latency against the sequential loop at it, by domain size.
SLOW_SPEEDUP_TARGETS = {50_000: 8.0, 200_000: 10.0}
SLOW_RSS_TARGET_MB = 200.0
#: Under a cap: at least this share of the cap, with at most this share of the calls throttled.
CAP_SHARE_TARGET = 0.90
THROTTLED_SHARE_TARGET = 0.05
#: The engine's uncapped write rate over the highest cap, and its CPU per MB of Select XML it renders.
ENGINE_OVER_CAP_TARGET = 1.5
ENGINE_MS_PER_MB_TARGET = 20.0
CPU_OVER_FLOOR_TARGET = 1.2
#: A restore's Select pages over the least pages of its target (reads the target at most twice).
TARGET_READS_TARGET = 2.0

# Issue 12, shown when measured.
NO_SLOWER_RATIO = 1.0

NAME_LABELS = {HEX: "hex names", "ordinary": "ordinary names (user-000123)"}


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
    (None: not measured; ``today_failed``: its run failed); the engine's uncapped write rate in the same run."""

    share: float
    today: float | None = None
    today_failed: bool = False
    engine_rate: float | None = None


@dataclass(frozen=True)
class WallRatio:
    """Our wall time against another run's, in seconds."""

    ours: float
    today: float

    @property
    def ratio(self) -> float:
        return self.ours / self.today


@dataclass(frozen=True)
class FloorRatio:
    """Client CPU in ms per MB of Select XML: ours against the library floor on the same pages."""

    ms: float
    floor_ms: float

    @property
    def ratio(self) -> float:
        return self.ms / self.floor_ms


@dataclass(frozen=True)
class PeerRatio:
    """Wall seconds: ours and the peer's; ``times``: how many times faster we are."""

    ours: float
    peer: float

    @property
    def times(self) -> float:
        return self.peer / self.ours if self.ours > 0 else 0.0


@dataclass(frozen=True)
class Reads:
    """Select pages against the least a read of the target takes."""

    pages: int
    minimum: int

    @property
    def times(self) -> float:
        return self.pages / self.minimum if self.minimum else 0.0


@dataclass(frozen=True)
class EngineRate:
    rate: float
    highest_cap: float

    @property
    def times(self) -> float:
        return self.rate / self.highest_cap


@dataclass(frozen=True)
class MsPerMb:
    ms: float


Figure = (
    Speedup
    | Calls
    | PeakRss
    | RssGrowth
    | CapShare
    | WallRatio
    | FloorRatio
    | PeerRatio
    | Reads
    | EngineRate
    | MsPerMb
)


@dataclass(frozen=True)
class Verdict:
    target: str
    goal: str
    figures: dict[int, Figure]  # by domain size; a size without a figure was not measured
    met: bool | None  # None: not measured (or measured at no size the goal judges)


def _all(flags: Iterable[bool | None]) -> bool | None:
    known = [flag for flag in flags if flag is not None]
    return None if not known else all(known)


# --- issue 18 --------------------------------------------------------------------------------------------------


def _slow_latencies(reports: Sequence[SizeReport]) -> list[float]:
    latencies = set()
    for report in reports:
        for key in report.scenario_keys():
            name = RunName.parse(key.split("/", 1)[1])
            if name.condition == LATENCY:
                latencies.add(name.value)
    return sorted(latencies)


def _slow_verdicts(reports: Sequence[SizeReport], latency: float, names: str) -> list[Verdict]:
    ours_run, baseline_run = scenario_run(OURS, LATENCY, latency), scenario_run(BASELINE, LATENCY, latency)
    speedups: dict[int, Figure] = {}
    peaks: dict[int, float] = {}
    pages: dict[int, Figure] = {}
    judged: list[bool] = []
    for report in of_names(reports, names):
        items, ours = report.profile.items, report.job(BACKUP, ours_run)
        if ours is None:
            continue
        peaks[items] = ours.rss_peak_mb
        pages[items] = Calls(ours.calls.get("Select", 0), profile_min_pages(report.profile))
        measured = speedup(report, BACKUP, ours_run, baseline_run)
        if measured is not None:
            speedups[items] = Speedup(measured, streams_used(ours))
            if items in SLOW_SPEEDUP_TARGETS:
                judged.append(measured >= SLOW_SPEEDUP_TARGETS[items])
    label = f"backup at {latency:g} ms per Select, {NAME_LABELS.get(names, names)}"
    goal = ", ".join(f"≥ {times:g}x at {items:,}" for items, times in sorted(SLOW_SPEEDUP_TARGETS.items()))
    verdicts = [
        Verdict(f"{label}: vs sequential Select loop", goal, speedups, _all(judged)),
        Verdict(
            f"{label}: peak RSS",
            f"< {SLOW_RSS_TARGET_MB:g} MB",
            {items: PeakRss(peak) for items, peak in peaks.items()},
            _all(peak < SLOW_RSS_TARGET_MB for peak in peaks.values()),
        ),
    ]
    sizes = sorted(peaks)
    growth: dict[int, Figure] = {}
    if len(sizes) > 1:
        growth[sizes[-1]] = RssGrowth(peaks[sizes[-1]] - peaks[sizes[0]], sizes[0])
    verdicts.append(
        Verdict(
            f"{label}: peak RSS growth with domain size",
            f"flat (±{RSS_GROWTH_TOLERANCE_MB:g} MB)",
            growth,
            _all(
                isinstance(f, RssGrowth) and abs(f.megabytes) <= RSS_GROWTH_TOLERANCE_MB
                for f in growth.values()
            ),
        )
    )
    verdicts.append(_pages_verdict(f"{label}: Select pages vs minimum", pages))
    return verdicts


def _pages_verdict(target: str, figures: dict[int, Figure]) -> Verdict:
    return Verdict(
        target,
        "≤ +5 % from 100 pages, ≤ +3 below",
        figures,
        _all(isinstance(f, Calls) and f.counted <= pages_allowed(f.minimum) for f in figures.values()),
    )


def _backup_pages_verdict(reports: Sequence[SizeReport]) -> Verdict:
    figures: dict[int, Figure] = {}
    for report in of_names(reports, HEX):
        counted = counted_calls(report, BACKUP, OURS)
        if counted is not None:
            figures[report.profile.items] = Calls(counted, minimum_calls(report, BACKUP))
    return _pages_verdict("backup Select pages vs minimum", figures)


def _cap_verdicts(reports: Sequence[SizeReport], condition: str) -> list[Verdict]:
    """Per cap measured: our throughput as a share of the cap, and our throttled share of the calls, each with
    today's shared backoff's beside it when measured, and for a write cap the engine's uncapped rate."""
    operation, cap_name, calls = CAPPED[condition]
    by_cap: dict[float, dict[int, dict[str, CapUse]]] = {}
    engines: dict[int, float | None] = {}
    for report in of_names(reports, HEX):
        capacity = engine_capacity(report)
        engines[report.profile.items] = capacity.rate if capacity else None
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
            engine = engines.get(items) if condition == WRITE_CAP else None
            if ours is not None and ours.share_of_cap is not None:
                throughput[items] = CapShare(
                    ours.share_of_cap, today.share_of_cap if today else None, failed, engine
                )
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


#: Per cap condition: the operation run under it, the cap's name and the calls it meters.
CAPPED = {WRITE_CAP: (RESTORE, "write", "write calls"), SELECT_CAP: (BACKUP, "Select", "Select calls")}


def _engine_verdicts(reports: Sequence[SizeReport]) -> list[Verdict]:
    rates: dict[int, Figure] = {}
    rendering: dict[int, Figure] = {}
    for report in of_names(reports, HEX):
        capacity = engine_capacity(report)
        if capacity is not None and capacity.highest_cap:
            rates[report.profile.items] = EngineRate(capacity.rate, capacity.highest_cap)
        # The engine's probe reads pages it never rendered before; without it, our backup's share of its CPU.
        probed, ours = report.engine.get("select_cpu_ms_per_mb"), report.job(BACKUP, OURS)
        ms = float(probed) if probed else engine_ms_per_select_mb(ours) if ours is not None else None
        if ms is not None:
            rendering[report.profile.items] = MsPerMb(ms)
    return [
        Verdict(
            "engine: uncapped write rate vs the highest cap, same run",
            f"≥ {ENGINE_OVER_CAP_TARGET:g}x",
            rates,
            _all(isinstance(f, EngineRate) and f.times >= ENGINE_OVER_CAP_TARGET for f in rates.values()),
        ),
        Verdict(
            "engine: CPU per MB of Select XML it serves",
            f"< {ENGINE_MS_PER_MB_TARGET:g} ms",
            rendering,
            _all(isinstance(f, MsPerMb) and f.ms < ENGINE_MS_PER_MB_TARGET for f in rendering.values()),
        ),
    ]


def _floor_verdict(reports: Sequence[SizeReport]) -> Verdict:
    figures: dict[int, Figure] = {}
    for report in of_names(reports, HEX):
        measured = cpu_against_floor(report)
        if measured is not None:
            figures[report.profile.items] = FloorRatio(measured.ms, measured.floor_ms)
    return Verdict(
        "backup client CPU per MB of Select XML vs the library floor, same pages",
        f"≤ {CPU_OVER_FLOOR_TARGET:g}x",
        figures,
        _all(isinstance(f, FloorRatio) and f.ratio <= CPU_OVER_FLOOR_TARGET for f in figures.values()),
    )


def _peer_verdicts(reports: Sequence[SizeReport]) -> list[Verdict]:
    by_row: dict[str, dict[int, Figure]] = {}
    for report in of_names(reports, HEX):
        for row in peer_rows(report):
            figure = PeerRatio(row.ours.wall_seconds, row.peer.wall_seconds)
            by_row.setdefault(row.what, {})[report.profile.items] = figure
    return [
        Verdict(
            f"vs repoman-cli, {what}: wall time",
            "faster",
            figures,
            _all(isinstance(f, PeerRatio) and f.times > 1.0 for f in figures.values()),
        )
        for what, figures in by_row.items()
    ]


def _reads_verdict(reports: Sequence[SizeReport]) -> Verdict:
    figures: dict[int, Figure] = {}
    for report in of_names(reports, HEX):
        for row in damaged_restores(report):
            figures[report.profile.items] = Reads(row.select_pages, row.target_min_pages)
    return Verdict(
        "restore of a damaged copy: Select pages vs the target's minimum",
        f"≤ {TARGET_READS_TARGET:g}x",
        figures,
        _all(isinstance(f, Reads) and f.times <= TARGET_READS_TARGET for f in figures.values()),
    )


# --- met before ------------------------------------------------------------------------------------------------


def _restore_speedup_verdict(reports: Sequence[SizeReport]) -> Verdict:
    figures: dict[int, Figure] = {}
    for report in of_names(reports, HEX):
        measured = speedup(report, RESTORE)
        if measured is not None:
            figures[report.profile.items] = Speedup(measured)
    return Verdict(
        "restore wall time vs one PutAttributes per item",
        f"≥ {RESTORE_SPEEDUP_TARGET:g}x faster",
        figures,
        _all(isinstance(f, Speedup) and f.times >= RESTORE_SPEEDUP_TARGET for f in figures.values()),
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


def _restore_calls_verdicts(reports: Sequence[SizeReport]) -> list[Verdict]:
    writes: dict[int, Figure] = {}
    every: dict[int, Figure] = {}
    for report in of_names(reports, HEX):
        counted = counted_calls(report, RESTORE, OURS)
        ours = report.job(RESTORE, OURS)
        if counted is not None and ours is not None:
            writes[report.profile.items] = Calls(counted, minimum_calls(report, RESTORE))
            every[report.profile.items] = Calls(total_calls(ours), verified_restore_minimum(report.profile))
    return [
        _calls_verdict("restore item writes vs theoretical minimum", writes),
        _calls_verdict("restore, all SimpleDB calls vs writes + one read-back", every),
    ]


def _memory_verdicts(reports: Sequence[SizeReport], operation: str) -> list[Verdict]:
    peaks: dict[int, float] = {}
    for report in of_names(reports, HEX):
        ours = report.job(operation, OURS)
        if ours is not None:
            peaks[report.profile.items] = ours.rss_peak_mb
    judged = [peak < RSS_TARGET_MB for items, peak in peaks.items() if items >= RSS_TARGET_ITEMS]
    peak_verdict = Verdict(
        f"{operation} peak RSS (30 ms)",
        f"< {RSS_TARGET_MB:g} MB at {RSS_TARGET_ITEMS:,} items",
        {items: PeakRss(peak) for items, peak in peaks.items()},
        _all(judged),
    )
    growth_figures: dict[int, Figure] = {}
    growth_met: bool | None = None
    sizes = sorted(peaks)
    if len(sizes) > 1:
        growth = peaks[sizes[-1]] - peaks[sizes[0]]
        growth_figures[sizes[-1]] = RssGrowth(growth, sizes[0])
        growth_met = growth <= RSS_GROWTH_TOLERANCE_MB
    growth_verdict = Verdict(
        f"{operation} peak RSS growth with domain size (30 ms)",
        f"flat (≤ +{RSS_GROWTH_TOLERANCE_MB:g} MB)",
        growth_figures,
        growth_met,
    )
    return [peak_verdict, growth_verdict]


def _no_slower_verdict(reports: Sequence[SizeReport]) -> Verdict:
    figures: dict[int, Figure] = {}
    for report in of_names(reports, HEX):
        ours, today = report.job(RESTORE, OURS), report.job(RESTORE, LEGACY)
        if ours is not None and today is not None and today.wall_seconds > 0:
            figures[report.profile.items] = WallRatio(ours.wall_seconds, today.wall_seconds)
    return Verdict(
        "restore without a cap vs today's shared backoff",
        "no slower",
        figures,
        _all(isinstance(f, WallRatio) and f.ratio <= NO_SLOWER_RATIO for f in figures.values()),
    )


def verdicts(reports: Sequence[SizeReport]) -> list[Verdict]:
    """Each target, with its figure at every size and whether it is met at every size it judges. Issue 12's
    comparisons with today's shared backoff are left out when nothing measured them."""
    issue_18 = [
        verdict
        for latency in _slow_latencies(reports)
        for names in NAME_KINDS
        for verdict in _slow_verdicts(reports, latency, names)
    ]
    issue_18 += [
        _backup_pages_verdict(reports),
        *_cap_verdicts(reports, WRITE_CAP),
        *_engine_verdicts(reports),
        _floor_verdict(reports),
        *_peer_verdicts(reports),
        _reads_verdict(reports),
    ]
    before = [
        _restore_speedup_verdict(reports),
        *_restore_calls_verdicts(reports),
        *_memory_verdicts(reports, BACKUP),
        *_memory_verdicts(reports, RESTORE),
    ]
    optional = [_no_slower_verdict(reports), *_cap_verdicts(reports, SELECT_CAP)]
    return issue_18 + before + [verdict for verdict in optional if verdict.figures]
