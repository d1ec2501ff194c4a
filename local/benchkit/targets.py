"""The targets of the throughput issue, judged at every size measured. Pure.

Each verdict carries its figures as numbers (``Speedup``, ``Calls``, ``PeakRss``, ``RssGrowth``); the tables
format them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchkit.arithmetic import (
    counted_calls,
    minimum_calls,
    percent_over,
    speedup,
    total_calls,
    verified_restore_minimum,
)
from benchkit.results import BACKUP, OURS, RESTORE, SizeReport

BACKUP_SPEEDUP_TARGET = 6.0
RESTORE_SPEEDUP_TARGET = 50.0
CALLS_OVER_MINIMUM_TARGET = 5.0  # percent
RSS_TARGET_MB = 150.0
RSS_TARGET_ITEMS = 200_000
#: "Not growing with the domain size": peak RSS at the largest size may exceed the smallest by this much
#: (allocator noise; a structure that grows with the items grows by far more over a tenfold size).
RSS_GROWTH_TOLERANCE_MB = 10.0

SPEEDUP_TARGETS = {BACKUP: BACKUP_SPEEDUP_TARGET, RESTORE: RESTORE_SPEEDUP_TARGET}
BASELINES = {BACKUP: "sequential Select loop", RESTORE: "one PutAttributes per item"}
COUNTED = {BACKUP: "Select pages", RESTORE: "item writes"}


@dataclass(frozen=True)
class Speedup:
    times: float


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


Figure = Speedup | Calls | PeakRss | RssGrowth


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


def verdicts(reports: Sequence[SizeReport]) -> list[Verdict]:
    """Each target of the issue, with its figure at every size and whether it is met at every size."""
    ordered = sorted(reports, key=lambda report: report.profile.items)
    return [
        _speedup_verdict(ordered, BACKUP),
        _speedup_verdict(ordered, RESTORE),
        _minimum_verdict(ordered, BACKUP),
        _minimum_verdict(ordered, RESTORE),
        _all_restore_calls_verdict(ordered),
        *_memory_verdicts(ordered, BACKUP),
        *_memory_verdicts(ordered, RESTORE),
    ]
