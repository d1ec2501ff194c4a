"""The benchmark's arithmetic: least calls, projections, ratios and ceilings from raw results. Pure.

The limits below are SimpleDB's (and the engine's, which enforces them): a Select page holds at most 2,500
items (``limit 2500``) and at most 1 MB of response; BatchPutAttributes takes at most 25 items.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from benchkit.results import (
    BACKUP,
    BASELINE,
    OURS,
    RESTORE,
    SELECT_CAP,
    THROTTLED_WRITE_ACTIONS,
    WRITE_ACTIONS,
    WRITE_CAP,
    DomainProfile,
    JobResult,
    RunName,
    SizeReport,
)

#: Items per Select page (``limit 2500``).
SELECT_PAGE_ITEMS = 2500
#: Bytes of ``<Item>`` elements one Select page may carry in the engine (sdblocal.select.MAX_PAGE_BYTES:
#: 1 MB less room for the envelope and the NextToken).
SELECT_PAGE_BYTES = 1024 * 1024 - 4096
#: Items per BatchPutAttributes call.
BATCH_ITEMS = 25
#: Megabytes are 10⁶ bytes throughout the report.
MB = 1_000_000


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def min_select_pages(items: int, response_bytes: int) -> int:
    """The fewest Select pages that can carry ``items`` items of ``response_bytes`` bytes of item XML.

    Each page holds at most 2,500 items and at most SELECT_PAGE_BYTES of them; items are not split across
    pages, so this bound is reachable only to within one item per page (a fraction of a percent here).
    """
    if items <= 0:
        return 1  # an empty domain still takes one (empty) page to find out
    return max(ceil_div(items, SELECT_PAGE_ITEMS), ceil_div(response_bytes, SELECT_PAGE_BYTES))


def min_batch_writes(items: int) -> int:
    """BatchPutAttributes calls needed for ``items`` items: 25 a call (the 1 MB request cap does not bind for
    Repoman items of ~2 KB; plan_put_batches only closes a batch early at 1 MB / 3 of raw data)."""
    return ceil_div(items, BATCH_ITEMS)


def profile_min_pages(profile: DomainProfile) -> int:
    return min_select_pages(profile.items, profile.response_bytes)


def profile_min_writes(profile: DomainProfile) -> int:
    return min_batch_writes(profile.items)


def percent_over(actual: float, minimum: float) -> float:
    return 100.0 * (actual - minimum) / minimum if minimum else 0.0


def segment_page_overshoot_bound(segments: int) -> int:
    """Extra pages a segmented scan may need over one stream: each segment ends with a page that is not full,
    so at most one page per segment beyond the first."""
    return max(0, segments - 1)


# --- one run --------------------------------------------------------------------------------------------------


def is_sampled(result: JobResult) -> bool:
    """The run wrote only the first items of the domain: the per-item restore on a sample (a restore of a damaged
    copy writes few items too, but they are all it has to write)."""
    arm = RunName.parse(result.run).arm
    return result.operation == RESTORE and arm == BASELINE and 0 < result.items < result.domain_items


def projected_wall_seconds(result: JobResult) -> float:
    """Wall time for the whole domain: measured, or linearly extrapolated from a sample."""
    if is_sampled(result):
        return result.wall_seconds * result.domain_items / result.items
    return result.wall_seconds


def total_calls(result: JobResult) -> int:
    return sum(result.calls.values())


def write_calls(result: JobResult) -> int:
    return sum(count for action, count in result.calls.items() if action in WRITE_ACTIONS)


def projected_calls(result: JobResult) -> int:
    """Calls for the whole domain: a sample's item writes scale with the items, its other calls do not."""
    if not is_sampled(result):
        return total_calls(result)
    writes = write_calls(result)
    return total_calls(result) - writes + round(writes * result.domain_items / result.items)


def items_per_second(result: JobResult) -> float:
    return result.items / result.wall_seconds if result.wall_seconds > 0 else 0.0


def data_mb_per_second(profile: DomainProfile, result: JobResult) -> float:
    """Item data (as DomainMetadata counts it) moved per second."""
    if result.wall_seconds <= 0 or profile.items == 0:
        return 0.0
    return profile.data_bytes * result.items / profile.items / MB / result.wall_seconds


def cpu_microseconds_per_item(result: JobResult) -> float:
    return 1e6 * result.cpu_seconds / max(1, result.items)


def streams_used(result: JobResult) -> int | None:
    """Select streams a backup used (its service chooses up to the maximum); None when not recorded."""
    used = result.extra.get("segments")
    return int(used) if used is not None else None


def best_of(results: Sequence[JobResult]) -> JobResult:
    """The fastest of several runs of one job (the least disturbed on a shared machine), with the highest
    peak RSS of them all and every run's wall time and peak in ``extra``; a failed run wins, to be seen."""
    failed = [result for result in results if result.failed]
    if failed:
        return failed[0]
    best = min(results, key=lambda result: result.wall_seconds)
    if len(results) == 1:
        return best
    extra = {
        **best.extra,
        "wall_runs": [result.wall_seconds for result in results],
        "rss_runs": [result.rss_peak_mb for result in results],
    }
    return replace(best, rss_peak_mb=max(result.rss_peak_mb for result in results), extra=extra)


# --- one size -------------------------------------------------------------------------------------------------


def speedup(
    report: SizeReport, operation: str, ours_run: str = OURS, baseline_run: str = BASELINE
) -> float | None:
    """The baseline's wall time (projected to the whole domain) over ours."""
    ours, baseline = report.job(operation, ours_run), report.job(operation, baseline_run)
    if ours is None or baseline is None or ours.wall_seconds <= 0:
        return None
    return projected_wall_seconds(baseline) / ours.wall_seconds


def minimum_calls(report: SizeReport, operation: str) -> int:
    """The calls a target counts, at their least: Select pages (backup), item writes (restore)."""
    if operation == BACKUP:
        return profile_min_pages(report.profile)
    return profile_min_writes(report.profile)


def counted_calls(report: SizeReport, operation: str, run: str) -> int | None:
    """The calls the minimum is about: Select pages (backup), item writes projected to the domain (restore)."""
    result = report.job(operation, run)
    if result is None:
        return None
    if operation == BACKUP:
        return result.calls.get("Select", 0)
    writes = write_calls(result)
    if is_sampled(result):
        return round(writes * result.domain_items / result.items)
    return writes


def verified_restore_minimum(profile: DomainProfile) -> int:
    """The least calls a verified restore into a new domain makes: its writes and one read-back."""
    return profile_min_writes(profile) + profile_min_pages(profile)


@dataclass(frozen=True)
class BackupCeiling:
    """What bounds the backup's speed-up at one size, once the parallel streams have hidden the latency."""

    items: int
    baseline_seconds: float
    baseline_ms_per_page: float
    ours_seconds: float
    streams: int | None
    client_cpu_seconds: float
    engine_cpu_seconds: float
    #: Client and engine CPU per Select page of ours, in ms.
    cpu_ms_per_page: float
    #: Baseline wall over the largest of our client CPU, the engine's CPU, and both spread over the cores.
    cpu_bound: float | None
    #: The baseline's pages over the pages of our longest stream, which it reads one after the other: the
    #: speed-up that many streams allow at the same time per page, even with free CPU.
    stream_bound: float | None
    measured: float | None
    #: Baseline wall over our client CPU alone: the cap if the engine's rendering did not share the machine
    #: (as SimpleDB's does not, in AWS).
    client_cpu_bound: float | None = None
    ours_pages: int = 0
    peak_rss_mb: float = 0.0


def backup_ceiling(
    report: SizeReport, ours_run: str = OURS, baseline_run: str = BASELINE
) -> BackupCeiling | None:
    """What bounds ``ours_run``'s speed-up over ``baseline_run`` (by default the benchmark's own pair)."""
    ours, baseline = report.job(BACKUP, ours_run), report.job(BACKUP, baseline_run)
    if ours is None or baseline is None:
        return None
    baseline_pages = max(1, baseline.calls.get("Select", 0))
    our_pages = max(1, ours.calls.get("Select", 0))
    floor = max(
        ours.cpu_seconds,
        ours.server_cpu_seconds,
        (ours.cpu_seconds + ours.server_cpu_seconds) / report.cores,
    )
    streams = streams_used(ours)
    return BackupCeiling(
        items=report.profile.items,
        baseline_seconds=baseline.wall_seconds,
        baseline_ms_per_page=1000 * baseline.wall_seconds / baseline_pages,
        ours_seconds=ours.wall_seconds,
        streams=streams,
        client_cpu_seconds=ours.cpu_seconds,
        engine_cpu_seconds=ours.server_cpu_seconds,
        cpu_ms_per_page=1000 * (ours.cpu_seconds + ours.server_cpu_seconds) / our_pages,
        cpu_bound=baseline.wall_seconds / floor if floor > 0 else None,
        stream_bound=baseline_pages / ceil_div(our_pages, streams) if streams else None,
        measured=speedup(report, BACKUP, ours_run, baseline_run),
        client_cpu_bound=baseline.wall_seconds / ours.cpu_seconds if ours.cpu_seconds > 0 else None,
        ours_pages=ours.calls.get("Select", 0),
        peak_rss_mb=ours.rss_peak_mb,
    )


@dataclass(frozen=True)
class RestoreBudget:
    """Where our restore's time goes at one size, against the time the speed-up target leaves it."""

    items: int
    baseline_ms_per_item: float
    baseline_seconds: float  # projected to the whole domain
    budget_seconds: float  # baseline_seconds / the speed-up target
    ours_seconds: float
    phases: dict[str, float]  # wall seconds per stage, as the job timed them
    client_cpu_seconds: float
    engine_cpu_seconds: float
    #: Restore-process CPU per BatchPutAttributes call, every stage included, in ms.
    client_cpu_ms_per_batch: float


def restore_budget(report: SizeReport, target_speedup: float) -> RestoreBudget | None:
    ours, baseline = report.job(RESTORE, OURS), report.job(RESTORE, BASELINE)
    if ours is None or baseline is None:
        return None
    projected = projected_wall_seconds(baseline)
    phases = ours.extra.get("phases") or {}
    return RestoreBudget(
        items=report.profile.items,
        baseline_ms_per_item=1000 * baseline.wall_seconds / max(1, baseline.items),
        baseline_seconds=projected,
        budget_seconds=projected / target_speedup,
        ours_seconds=ours.wall_seconds,
        phases={str(name): float(seconds) for name, seconds in phases.items()},
        client_cpu_seconds=ours.cpu_seconds,
        engine_cpu_seconds=ours.server_cpu_seconds,
        client_cpu_ms_per_batch=1000 * ours.cpu_seconds / max(1, ours.calls.get("BatchPutAttributes", 0)),
    )


@dataclass(frozen=True)
class MemoryUse:
    """One of our runs' memory at one size, and how it moved since the smallest size measured."""

    operation: str
    items: int
    after_setup_mb: float
    peak_mb: float
    streams: int | None
    growth_mb: float | None  # peak minus the smallest size's peak; None at the smallest size
    bytes_per_extra_item: float | None


def memory_use(reports: Sequence[SizeReport], operation: str) -> list[MemoryUse]:
    ordered = sorted(reports, key=lambda report: report.profile.items)
    measured = [(report, report.job(operation, OURS)) for report in ordered]
    runs = [(report, result) for report, result in measured if result is not None]
    if not runs:
        return []
    smallest_report, smallest = runs[0]
    rows = []
    for report, result in runs:
        extra_items = report.profile.items - smallest_report.profile.items
        growth = result.rss_peak_mb - smallest.rss_peak_mb if extra_items > 0 else None
        rows.append(
            MemoryUse(
                operation=operation,
                items=report.profile.items,
                after_setup_mb=result.rss_start_mb,
                peak_mb=result.rss_peak_mb,
                streams=streams_used(result),
                growth_mb=growth,
                bytes_per_extra_item=growth * MB / extra_items if growth is not None else None,
            )
        )
    return rows


@dataclass(frozen=True)
class Growth:
    """One run's cost at the smallest and the largest size measured."""

    key: str
    small: JobResult
    large: JobResult

    @property
    def wall_factor(self) -> float:
        before = projected_wall_seconds(self.small)
        return projected_wall_seconds(self.large) / before if before > 0 else 0.0

    @property
    def calls_factor(self) -> float:
        before = projected_calls(self.small)
        return projected_calls(self.large) / before if before else 0.0


def growth(reports: Sequence[SizeReport]) -> list[Growth]:
    """Each run measured at both the smallest and the largest size, in the largest size's order."""
    ordered = sorted(reports, key=lambda report: report.profile.items)
    if len(ordered) < 2:
        return []
    small, large = ordered[0], ordered[-1]
    rows = []
    for key in large.base_keys():
        operation, run = key.split("/", 1)
        before, after = small.job(operation, run), large.job(operation, run)
        if before is not None and after is not None:
            rows.append(Growth(key, before, after))
    return rows


# --- issue 12's scenarios: caps, CPU per MB -------------------------------------------------------------------


def lane_summary(result: JobResult, lane: str) -> dict[str, float]:
    """What the job's wire recorder saw of one lane (benchkit.jobs.wire); empty when not recorded."""
    lanes = result.extra.get("lanes") or {}
    summary = lanes.get(lane) or {}
    return {str(key): float(value) for key, value in summary.items()}


def select_xml_bytes(result: JobResult) -> int | None:
    """Bytes of the Select responses the run's client received whole; None when not recorded."""
    summary = lane_summary(result, "Select")
    return int(summary["ok_bytes"]) if "ok_bytes" in summary else None


def cpu_ms_per_select_mb(result: JobResult) -> float | None:
    """The run's client CPU per MB of Select XML received, in ms."""
    received = select_xml_bytes(result)
    if not received:
        return None
    return 1000 * result.cpu_seconds / (received / MB)


@dataclass(frozen=True)
class SelectCpu:
    """Where a backup's CPU went, per MB of the Select XML its client received (ms/MB).

    ``calls``: within the Select calls (botocore building, signing and sending each request, reading its
    answer; for the sequential loop, botocore's parse too), the adapter's own parser excluded; ``parse``: the
    adapter's parser (its before-parse hook); ``rest``: everything else in the process (items to dump lines,
    digest, compression, the S3 upload, the queues and threads between them).
    """

    key: str
    pages: int
    xml_mb: float
    client_ms: float
    calls_ms: float
    parse_ms: float
    rest_ms: float
    engine_ms: float


def select_cpu(report: SizeReport, key: str) -> SelectCpu | None:
    result = report.jobs.get(key)
    if result is None or result.failed:
        return None
    received = select_xml_bytes(result)
    if not received:
        return None
    megabytes = received / MB
    lane = lane_summary(result, "Select")
    call_cpu, parse_cpu = lane.get("call_cpu", 0.0), lane.get("parse_cpu", 0.0)
    return SelectCpu(
        key=key,
        pages=result.calls.get("Select", 0),
        xml_mb=megabytes,
        client_ms=1000 * result.cpu_seconds / megabytes,
        calls_ms=1000 * (call_cpu - parse_cpu) / megabytes,
        parse_ms=1000 * parse_cpu / megabytes,
        rest_ms=1000 * (result.cpu_seconds - call_cpu) / megabytes,
        engine_ms=1000 * result.server_cpu_seconds / megabytes,
    )


SELECT_ACTIONS = frozenset({"Select"})


def default_burst(cap: float) -> float:
    """The burst of an engine cap set without one: one second of calls, at least one (sdblocal.throttle)."""
    return max(1.0, cap)


@dataclass(frozen=True)
class CapUse:
    """How one run used a cap: its accepted calls' rate over its lane's window, and its throttled share.

    The calls are the engine's counts (a throttled call is in the calls too, as AWS bills it); the window is
    the job's own (benchkit.jobs.wire): from the lane's first request to its last answer.
    """

    key: str
    arm: str
    operation: str
    lane: str  # the metered calls: "write" (the four write actions) or "Select"
    cap: float  # calls/s per domain
    burst: float  # calls a full bucket lets through at once
    calls: int  # every call of the lane, throttled ones included
    throttled: int
    seconds: float  # the window; 0 when the run failed
    learned_rate: float | None  # the rate controller's rate for the lane at the end, calls/s
    #: The same lane's rate in our run of the same operation without a cap: whether the cap binds at all.
    uncapped_rate: float | None = None
    error: str | None = None

    @property
    def accepted(self) -> int:
        return self.calls - self.throttled

    @property
    def rate(self) -> float | None:
        """Accepted calls per second over the window."""
        return self.accepted / self.seconds if self.seconds > 0 and self.error is None else None

    @property
    def share_of_cap(self) -> float | None:
        """The accepted calls' rate over the cap (above 1 by up to the burst over the window)."""
        rate = self.rate
        return rate / self.cap if rate is not None else None

    @property
    def share_of_allowance(self) -> float | None:
        """The accepted calls over all the bucket could admit in the window: its burst and the cap's refill."""
        if self.rate is None:
            return None
        return self.accepted / (self.cap * self.seconds + self.burst)

    @property
    def throttled_share(self) -> float | None:
        return self.throttled / self.calls if self.calls else None


def lane_rate(result: JobResult, lane: str, actions: frozenset[str]) -> float | None:
    """Calls of a lane per second over its window (every call: an uncapped run has no throttled ones)."""
    seconds = lane_summary(result, lane).get("seconds", 0.0)
    calls = sum(count for action, count in result.calls.items() if action in actions)
    return calls / seconds if seconds > 0 and not result.failed else None


def cap_use(report: SizeReport, key: str) -> CapUse | None:
    """The cap use of a run under a write or Select cap (None for any other run)."""
    result = report.jobs.get(key)
    operation, run = key.split("/", 1)
    name = RunName.parse(run)
    if result is None or name.condition not in (WRITE_CAP, SELECT_CAP):
        return None
    # The lanes are named alike by the wire recorder and the rate controller (ratecontrol.default_lane).
    lane, actions = (
        ("write", THROTTLED_WRITE_ACTIONS) if name.condition == WRITE_CAP else ("Select", SELECT_ACTIONS)
    )
    rates = (result.extra.get("policy") or {}).get("rates") or {}
    learned = rates.get(lane)
    uncapped = report.job(operation, OURS)
    return CapUse(
        key=key,
        arm=name.arm,
        operation=operation,
        lane=lane,
        cap=name.value,
        burst=default_burst(name.value),
        calls=sum(count for action, count in result.calls.items() if action in actions),
        throttled=sum(count for action, count in result.throttled.items() if action in actions),
        seconds=lane_summary(result, lane).get("seconds", 0.0) if not result.failed else 0.0,
        learned_rate=float(learned) if learned is not None else None,
        uncapped_rate=lane_rate(uncapped, lane, actions) if uncapped is not None else None,
        error=result.error,
    )


def cap_uses(report: SizeReport) -> list[CapUse]:
    """Every capped run of one size, in the report's order."""
    return [use for key in report.scenario_keys() if (use := cap_use(report, key)) is not None]
