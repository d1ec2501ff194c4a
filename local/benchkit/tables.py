"""The benchmark's tables, as Markdown: figures only, laid out by ``tabulate``. Pure.

Every explanation of these figures is written by hand in docs/PERFORMANCE.md, next to the table it reads.
"""

from collections.abc import Callable, Sequence

from tabulate import tabulate

from benchkit import modelcheck
from benchkit.arithmetic import (
    MB,
    backup_ceiling,
    cap_uses,
    counted_calls,
    cpu_microseconds_per_item,
    data_mb_per_second,
    growth,
    is_sampled,
    items_per_second,
    memory_use,
    minimum_calls,
    percent_over,
    profile_min_pages,
    profile_min_writes,
    projected_calls,
    projected_wall_seconds,
    restore_budget,
    select_cpu,
    streams_used,
)
from benchkit.comparisons import damaged_restores, floor, of_names, peer_rows
from benchkit.results import (
    BACKUP,
    BASELINE,
    DAMAGE,
    FLOOR_STEPS,
    HEX,
    LATENCY,
    LEGACY,
    ORDINARY,
    OURS,
    PEER,
    PHASE_ORDER,
    RESTORE,
    SELECT_CAP,
    SWEEP_PREFIX,
    WRITE_CAP,
    RunName,
    SizeReport,
    scenario_run,
)
from benchkit.targets import (
    RESTORE_SPEEDUP_TARGET,
    Calls,
    CapShare,
    EngineRate,
    Figure,
    FloorRatio,
    MsPerMb,
    PeakRss,
    PeerRatio,
    Reads,
    RssGrowth,
    Speedup,
    WallRatio,
    verdicts,
)

#: Marks a figure extrapolated from a sample (the per-item restore); docs/PERFORMANCE.md explains it.
ESTIMATED = "¹"
#: Marks the peer's restore standing for its restore of a damaged copy (it writes every item whatever the
#: target holds); docs/PERFORMANCE.md explains it.
SAME_RUN = "²"
NONE = "-"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A Markdown table padded to fixed column widths (readable as text, stable under reruns).

    ``align`` has one letter per column, ``l`` or ``r`` (default ``l``). Cells are shown as given.
    """
    aligns = ["right" if align[index : index + 1] == "r" else "left" for index in range(len(headers))]
    return tabulate(rows, headers, tablefmt="pipe", colalign=aligns, disable_numparse=True)


def by_size(reports: Sequence[SizeReport]) -> list[SizeReport]:
    """Every report, smallest first, hex names before ordinary ones at a size."""
    return sorted(reports, key=lambda report: report.key)


def hex_only(reports: Sequence[SizeReport]) -> list[SizeReport]:
    """The reports of the domain with Repoman's hex names: where the benchmark's own runs are."""
    return of_names(reports, HEX)


NAMES_CELLS = {HEX: "hex", ORDINARY: "user-000123"}


def names_cell(report: SizeReport) -> str:
    return NAMES_CELLS.get(report.names, report.names)


def items_cell(items: int) -> str:
    return f"{items:,}"


def optional(value: float | None, form: Callable[[float], str]) -> str:
    return NONE if value is None else form(value)


CONDITION_LABELS = {
    WRITE_CAP: ", write cap {:g}/s",
    SELECT_CAP: ", Select cap {:g}/s",
    LATENCY: ", {:g} ms",
    DAMAGE: ", exact, into a copy with {:g} items damaged",
}


def run_label(report: SizeReport, key: str) -> str:
    """A run's name in the tables; a backup names the streams it used of the maximum it was given, a
    scenario's run the condition it ran under."""
    operation, run = key.split("/", 1)
    name = RunName.parse(run)
    result = report.jobs.get(key)
    used = streams_used(result) if result is not None else None
    suffix = CONDITION_LABELS[name.condition].format(name.value) if name.condition in CONDITION_LABELS else ""
    if name.arm.startswith(SWEEP_PREFIX):
        maximum = name.arm.removeprefix(SWEEP_PREFIX)
        return f"backup, max {maximum} segments" + (f" ({used} used)" if used is not None else "") + suffix
    if operation == BACKUP and name.arm in (OURS, LEGACY):
        streams = (
            f"{report.segments} segments" if used is None else f"{used} of max {report.segments} segments"
        )
        policy = ", shared backoff" if name.arm == LEGACY else ""
        return f"backup ({streams}){policy}{suffix}"
    labels = {
        (BACKUP, PEER): "backup, repoman-cli",
        (RESTORE, PEER): "restore, repoman-cli",
        (BACKUP, BASELINE): "backup, sequential Select",
        (RESTORE, OURS): f"restore ({report.restore_workers} workers)",
        (RESTORE, LEGACY): f"restore ({report.restore_workers} workers), shared backoff",
        (RESTORE, BASELINE): "restore, 1 PutAttributes/item",
    }
    return labels.get((operation, name.arm), run) + suffix


# --- targets ---------------------------------------------------------------------------------------------------


def share_cell(share: float | None) -> str:
    return NONE if share is None else f"{100 * share:.1f} %"


def figure_cell(figure: Figure | None) -> str:
    match figure:
        case None:
            return ""
        case Speedup(times=times, streams=None):
            return f"{times:.1f}x"
        case Speedup(times=times, streams=streams):
            return f"{times:.1f}x ({streams} streams)"
        case CapShare(share=share, today=today, today_failed=failed, engine_rate=engine):
            return (
                share_cell(share)
                + (
                    " (today: failed)"
                    if failed
                    else f" (today: {share_cell(today)})"
                    if today is not None
                    else ""
                )
                + (f" (engine uncapped: {engine:.0f}/s)" if engine is not None else "")
            )
        case WallRatio(ours=ours, today=today):
            return f"{ours:.1f} s vs {today:.1f} s ({figure.ratio:.2f}x)"
        case FloorRatio(ms=ms, floor_ms=floor_ms):
            return f"{ms:.1f} ms vs {floor_ms:.1f} ({figure.ratio:.2f}x)"
        case PeerRatio(ours=ours, peer=peer):
            return f"{ours:,.1f} s vs {peer:,.1f} s ({figure.times:.2f}x)"
        case Reads(pages=pages, minimum=minimum):
            return f"{pages:,} / {minimum:,} ({figure.times:.2f}x)"
        case EngineRate(rate=rate, highest_cap=cap):
            return f"{rate:.0f}/s vs {cap:g}/s ({figure.times:.2f}x)"
        case MsPerMb(ms=ms):
            return f"{ms:.1f} ms"
        case Calls(counted=counted, minimum=minimum):
            return f"{counted:,} / {minimum:,} ({figure.percent_over:+.1f} %)"
        case PeakRss(megabytes=megabytes):
            return f"{megabytes:.0f} MB"
        case RssGrowth(megabytes=megabytes, since_items=since):
            return f"{megabytes:+.0f} MB vs {since:,}"


def mark(met: bool | None) -> str:
    return NONE if met is None else "✓" if met else "✗"


def targets_table(reports: Sequence[SizeReport]) -> str:
    sizes = sorted({report.profile.items for report in reports})
    headers = ["target", "goal", *(f"{size:,} items" for size in sizes), "met"]
    rows = [
        [
            verdict.target,
            verdict.goal,
            *(figure_cell(verdict.figures.get(size)) for size in sizes),
            mark(verdict.met),
        ]
        for verdict in verdicts(reports)
    ]
    return markdown_table(headers, rows)


# --- measurements ------------------------------------------------------------------------------------------------

MEASUREMENT_HEADERS = (
    "items",
    "names",
    "run",
    "wall s",
    "items/s",
    "MB/s",
    "SimpleDB calls",
    "pages or writes / min",
    "vs min",
    "peak RSS MB",
    "CPU s client / server",
)


def measurement_rows(report: SizeReport) -> list[list[str]]:
    rows = []
    for key in report.ordered_keys():
        result = report.jobs[key]
        operation, run = key.split("/", 1)
        label = run_label(report, key)
        if result.failed:
            rows.append([items_cell(report.profile.items), names_cell(report), label, "failed", *[""] * 7])
            continue
        minimum = minimum_calls(report, operation)
        counted = counted_calls(report, operation, run) or 0
        if RunName.parse(run).condition == DAMAGE:  # what it has to write is the damage: count its reads
            minimum, counted = profile_min_pages(report.profile), result.calls.get("Select", 0)
        sampled = is_sampled(result)
        wall = f"{projected_wall_seconds(result):,.1f}"
        rows.append(
            [
                items_cell(report.profile.items),
                names_cell(report),
                label,
                wall + (f" (est.{ESTIMATED} from {result.items:,})" if sampled else ""),
                f"{items_per_second(result):,.0f}",
                f"{data_mb_per_second(report.profile, result):.2f}",
                f"{projected_calls(result):,}" + (ESTIMATED if sampled else ""),
                f"{counted:,} / {minimum:,}",
                f"{percent_over(counted, minimum):+.1f} %",
                f"{result.rss_peak_mb:.0f}",
                f"{result.cpu_seconds:.1f} / {result.server_cpu_seconds:.1f}",
            ]
        )
    return rows


def measurements_table(reports: Sequence[SizeReport]) -> str:
    rows = [row for report in by_size(reports) for row in measurement_rows(report)]
    return markdown_table(MEASUREMENT_HEADERS, rows, "rlllrrrrrrr")


def calls_table(reports: Sequence[SizeReport]) -> str:
    """Every run's SimpleDB calls by action, as the engine counted them (a sample's, not projected)."""
    ordered = by_size(reports)
    actions = sorted(
        {action for report in ordered for result in report.jobs.values() for action in result.calls}
    )
    rows = [
        [
            items_cell(report.profile.items),
            names_cell(report),
            run_label(report, key),
            *(f"{report.jobs[key].calls.get(action, 0):,}" for action in actions),
        ]
        for report in ordered
        for key in report.ordered_keys()
        if not report.jobs[key].failed
    ]
    return markdown_table(["items", "names", "run", *actions], rows, "rll" + "r" * len(actions))


def domains_table(reports: Sequence[SizeReport]) -> str:
    headers = [
        "items",
        "names",
        "data MB",
        "Select XML MB",
        "min Select pages",
        "min batch writes",
        "latency ms",
        "measured on",
        "code",
    ]
    rows = [
        [
            items_cell(report.profile.items),
            names_cell(report),
            f"{report.profile.data_bytes / MB:.1f}",
            f"{report.profile.response_bytes / MB:.1f}",
            f"{profile_min_pages(report.profile):,}",
            f"{profile_min_writes(report.profile):,}",
            f"{report.latency_ms:g}",
            report.measured_on,
            f"`{report.commit}`" if report.commit else NONE,
        ]
        for report in by_size(reports)
    ]
    return markdown_table(headers, rows, "rlrrrrrll")


def machine_table(reports: Sequence[SizeReport]) -> str:
    headers = ["items", "names", "cores", "memory GB", "load at start", "system", "Python"]
    rows = []
    for report in by_size(reports):
        machine = report.machine
        if machine is None:
            rows.append([items_cell(report.profile.items), names_cell(report), *[NONE] * 5])
            continue
        rows.append(
            [
                items_cell(report.profile.items),
                names_cell(report),
                str(machine.cores),
                f"{machine.memory_gb:.0f}",
                f"{machine.load_average:.1f}",
                machine.system,
                machine.python,
            ]
        )
    return markdown_table(headers, rows, "rlrrrll")


# --- growth and the figures behind the targets -------------------------------------------------------------------


def growth_table(reports: Sequence[SizeReport]) -> str:
    """How each run's cost grows from the smallest to the largest size (x: larger / smaller)."""
    ordered = hex_only(reports)
    growths = growth(ordered)
    if growths:
        small, large = ordered[0].profile.items, ordered[-1].profile.items
        sizes, factor = f" {small:,} → {large:,}", f" (items x{large / max(1, small):.0f})"
    else:
        sizes = factor = ""  # one size measured: nothing to compare
    headers = [
        "run",
        f"wall s{sizes}",
        f"wall x{factor}",
        "calls x",
        "peak RSS MB",
        "µs CPU/item client",
    ]
    rows = [
        [
            run_label(ordered[-1], row.key),
            f"{projected_wall_seconds(row.small):,.1f} → {projected_wall_seconds(row.large):,.1f}",
            f"{row.wall_factor:.1f}",
            f"{row.calls_factor:.1f}",
            f"{row.small.rss_peak_mb:.0f} → {row.large.rss_peak_mb:.0f}",
            f"{cpu_microseconds_per_item(row.small):.0f} → {cpu_microseconds_per_item(row.large):.0f}",
        ]
        for row in growths
    ]
    return markdown_table(headers, rows, "lrrrrr")


def backup_ceiling_table(reports: Sequence[SizeReport]) -> str:
    headers = [
        "items",
        "sequential s",
        "sequential ms/page",
        "ours s",
        "streams",
        "CPU s client",
        "CPU s engine",
        "CPU ms/page",
        "CPU-bound cap",
        "stream cap",
        "measured",
    ]
    rows = []
    for report in hex_only(reports):
        ceiling = backup_ceiling(report)
        if ceiling is None:
            continue
        rows.append(
            [
                items_cell(ceiling.items),
                f"{ceiling.baseline_seconds:.1f}",
                f"{ceiling.baseline_ms_per_page:.0f}",
                f"{ceiling.ours_seconds:.1f}",
                optional(ceiling.streams, lambda streams: f"{streams:.0f}"),
                f"{ceiling.client_cpu_seconds:.1f}",
                f"{ceiling.engine_cpu_seconds:.1f}",
                f"{ceiling.cpu_ms_per_page:.0f}",
                optional(ceiling.cpu_bound, lambda times: f"{times:.1f}x"),
                optional(ceiling.stream_bound, lambda times: f"{times:.1f}x"),
                optional(ceiling.measured, lambda times: f"{times:.1f}x"),
            ]
        )
    return markdown_table(headers, rows, "r" * len(headers))


def restore_time_table(reports: Sequence[SizeReport]) -> str:
    budgets = [
        budget for report in hex_only(reports) if (budget := restore_budget(report, RESTORE_SPEEDUP_TARGET))
    ]
    phases = [name for name in PHASE_ORDER if any(name in budget.phases for budget in budgets)]
    headers = [
        "items",
        "per-item ms/item",
        "per-item s (est.)",
        f"{RESTORE_SPEEDUP_TARGET:g}x budget s",
        "ours s",
        *(f"{name} s" for name in phases),
        "CPU s client",
        "CPU s engine",
        "client CPU ms/batch",
    ]
    rows = [
        [
            items_cell(budget.items),
            f"{budget.baseline_ms_per_item:.1f}",
            f"{budget.baseline_seconds:,.0f}",
            f"{budget.budget_seconds:,.1f}",
            f"{budget.ours_seconds:,.1f}",
            *(optional(budget.phases.get(name), lambda seconds: f"{seconds:,.1f}") for name in phases),
            f"{budget.client_cpu_seconds:,.1f}",
            f"{budget.engine_cpu_seconds:,.1f}",
            f"{budget.client_cpu_ms_per_batch:.1f}",
        ]
        for budget in budgets
    ]
    return markdown_table(headers, rows, "r" * len(headers))


def memory_table(reports: Sequence[SizeReport]) -> str:
    headers = [
        "run",
        "items",
        "after setup MB",
        "peak MB",
        "streams",
        "peak growth MB",
        "bytes per extra item",
    ]
    rows = [
        [
            operation,
            items_cell(use.items),
            f"{use.after_setup_mb:.0f}",
            f"{use.peak_mb:.0f}",
            optional(use.streams, lambda streams: f"{streams:.0f}"),
            optional(use.growth_mb, lambda megabytes: f"{megabytes:+.0f}"),
            optional(use.bytes_per_extra_item, lambda count: f"{count:,.0f}"),
        ]
        for operation in (BACKUP, RESTORE)
        for use in memory_use(hex_only(reports), operation)
    ]
    return markdown_table(headers, rows, "lrrrrrr")


# --- issue 12's scenarios ---------------------------------------------------------------------------------------


def throttling_table(reports: Sequence[SizeReport]) -> str:
    """Every run under a write or Select cap: the calls, the throttled ones, the accepted calls' rate over the
    lane's window, and the rate the controller had learned at the end."""
    headers = [
        "items",
        "run",
        "cap calls/s",
        "engine uncapped calls/s",
        "our uncapped calls/s",
        "calls",
        "throttled",
        "throttled share",
        "window s",
        "accepted calls/s",
        "of cap",
        "of allowance",
        "wall s",
        "learned rate /s",
    ]
    rows = []
    for report in hex_only(reports):
        engine = report.engine.get("write_calls_per_second")
        for use in cap_uses(report):
            result = report.jobs[use.key]
            rows.append(
                [
                    items_cell(report.profile.items),
                    run_label(report, use.key),
                    f"{use.cap:g}",
                    optional(engine if use.lane == "write" else None, lambda rate: f"{rate:.1f}"),
                    optional(use.uncapped_rate, lambda rate: f"{rate:.1f}"),
                    f"{use.calls:,}",
                    f"{use.throttled:,}",
                    share_cell(use.throttled_share),
                    "failed" if use.error else f"{use.seconds:.1f}",
                    optional(use.rate, lambda rate: f"{rate:.1f}"),
                    share_cell(use.share_of_cap),
                    share_cell(use.share_of_allowance),
                    NONE if use.error else f"{result.wall_seconds:.1f}",
                    optional(use.learned_rate, lambda rate: f"{rate:.1f}"),
                ]
            )
    return markdown_table(headers, rows, "rlrrrrrrrrrrrr")


def backup_cpu_table(reports: Sequence[SizeReport]) -> str:
    """The backup's CPU per MB of the Select XML it received, and where it went: ours against the sequential
    botocore loop and the library floor on the same domain's pages."""
    headers = [
        "items",
        "run",
        "Select pages",
        "Select XML MB",
        "client ms/MB",
        "Select calls ms/MB",
        "adapter's parser ms/MB",
        "rest ms/MB",
        "engine ms/MB",
    ]
    rows = []
    for report in hex_only(reports):
        for run in (OURS, BASELINE):
            key = f"{BACKUP}/{run}"
            cpu = select_cpu(report, key)
            if cpu is None:
                continue
            rows.append(
                [
                    items_cell(report.profile.items),
                    run_label(report, key),
                    f"{cpu.pages:,}",
                    f"{cpu.xml_mb:.1f}",
                    f"{cpu.client_ms:.1f}",
                    f"{cpu.calls_ms:.1f}",
                    f"{cpu.parse_ms:.1f}",
                    f"{cpu.rest_ms:.1f}",
                    f"{cpu.engine_ms:.1f}",
                ]
            )
        measured = floor(report)
        if measured is not None:
            rows.append(
                [
                    items_cell(report.profile.items),
                    "library floor: "
                    + ", ".join(f"{step} {measured.steps[step]:.1f}" for step in floor_steps(measured.steps)),
                    f"{measured.pages:,}",
                    f"{measured.xml_mb:.1f}",
                    f"{measured.total:.1f}",
                    NONE,
                    NONE,
                    NONE,
                    NONE,
                ]
            )
    return markdown_table(headers, rows, "rlrrrrrrr")


def slow_select_table(reports: Sequence[SizeReport]) -> str:
    """The backups at the slow Select latency against the sequential loop at it, with what bounds them."""
    headers = [
        "items",
        "names",
        "run",
        "wall s",
        "speed-up",
        "streams",
        "Select pages / min",
        "peak RSS MB",
        "CPU s client / engine",
        "CPU-bound cap",
        "cap without engine",
        "stream cap",
    ]
    rows = []
    for report in by_size(reports):
        runs = [RunName.parse(key.split("/", 1)[1]) for key in report.scenario_keys()]
        for latency in sorted({name.value for name in runs if name.condition == LATENCY}):
            baseline_run = scenario_run(BASELINE, LATENCY, latency)
            arms = [name.arm for name in runs if name.condition == LATENCY and name.value == latency]
            for arm in arms:
                run = scenario_run(arm, LATENCY, latency)
                result = report.job(BACKUP, run)
                if result is None:
                    continue
                ceiling = backup_ceiling(report, run, baseline_run) if arm != BASELINE else None
                rows.append(
                    [
                        items_cell(report.profile.items),
                        names_cell(report),
                        run_label(report, f"{BACKUP}/{run}"),
                        f"{result.wall_seconds:,.1f}",
                        optional(ceiling.measured if ceiling else None, lambda times: f"{times:.1f}x"),
                        optional(streams_used(result), lambda streams: f"{streams:.0f}"),
                        f"{result.calls.get('Select', 0):,} / {profile_min_pages(report.profile):,}",
                        f"{result.rss_peak_mb:.0f}",
                        f"{result.cpu_seconds:.1f} / {result.server_cpu_seconds:.1f}",
                        optional(ceiling.cpu_bound if ceiling else None, lambda times: f"{times:.1f}x"),
                        optional(
                            ceiling.client_cpu_bound if ceiling else None, lambda times: f"{times:.1f}x"
                        ),
                        optional(ceiling.stream_bound if ceiling else None, lambda times: f"{times:.1f}x"),
                    ]
                )
    return markdown_table(headers, rows, "rllrrrrrrrrr")


# --- issue 18: the peer, a restore's reads -------------------------------------------------------------------------


def peer_table(reports: Sequence[SizeReport]) -> str:
    """Our runs and repoman-cli's side by side, on the same domain in the same run."""
    headers = [
        "items",
        "what",
        "ours s",
        "repoman-cli s",
        "ours faster",
        "ours peak RSS MB",
        "repoman-cli peak RSS MB",
        "ours SimpleDB calls",
        "repoman-cli SimpleDB calls",
        "ours CPU s",
        "repoman-cli CPU s",
    ]
    rows = []
    for report in hex_only(reports):
        for row in peer_rows(report):
            rows.append(
                [
                    items_cell(report.profile.items),
                    row.what,
                    f"{row.ours.wall_seconds:,.1f}",
                    f"{row.peer.wall_seconds:,.1f}" + (SAME_RUN if row.peer_same_run else ""),
                    f"{row.ratio:.2f}x",
                    f"{row.ours.rss_peak_mb:.0f}",
                    f"{row.peer.rss_peak_mb:.0f}",
                    calls_cell(row.ours.calls),
                    calls_cell(row.peer.calls),
                    f"{row.ours.cpu_seconds:.1f}",
                    f"{row.peer.cpu_seconds:.1f}",
                ]
            )
    return markdown_table(headers, rows, "rlrrrrrllrr")


def calls_cell(calls: dict[str, int]) -> str:
    """The calls that matter for a backup or restore: Select pages and writes."""
    shown = {action: count for action, count in calls.items() if action in CALLS_SHOWN}
    return ", ".join(f"{count:,} {action}" for action, count in sorted(shown.items())) or NONE


CALLS_SHOWN = frozenset(
    {"Select", "BatchPutAttributes", "PutAttributes", "BatchDeleteAttributes", "DeleteAttributes"}
)


def restore_reads_table(reports: Sequence[SizeReport]) -> str:
    """Our exact restore into a damaged copy of the domain: what it read and wrote."""
    headers = [
        "items",
        "damaged items",
        "wall s",
        "Select pages",
        "target's min pages",
        "reads of the target",
        "write calls",
        "items written",
        "phases s",
        "verified",
    ]
    rows = [
        [
            items_cell(report.profile.items),
            f"{row.damaged}",
            f"{row.wall_seconds:,.1f}",
            f"{row.select_pages:,}",
            f"{row.target_min_pages:,}",
            f"{row.reads:.2f}x",
            f"{row.write_calls:,}",
            f"{row.item_writes:,}",
            ", ".join(f"{phase} {seconds:.1f}" for phase, seconds in row.phases.items()) or NONE,
            "yes" if row.verified else "no",
        ]
        for report in hex_only(reports)
        for row in damaged_restores(report)
    ]
    return markdown_table(headers, rows, "rrrrrrrrll")


# --- the capacity model against the measurements ----------------------------------------------------------------


def capacity_table(reports: Sequence[SizeReport]) -> str:
    """Every run the capacity model predicts: measured against predicted, and what bounds the prediction."""
    headers = [
        "run",
        "items",
        "names",
        "core share",
        "measured s",
        "predicted s",
        "miss",
        "bound",
        "Select pages measured / predicted",
        "streams measured / predicted",
    ]
    rows = []
    for point in modelcheck.points(reports):
        predicted = point.prediction
        rows.append(
            [
                point.label + (" (calibration)" if point.calibration else ""),
                items_cell(point.items),
                NAMES_CELLS.get(point.names, point.names),
                f"{point.case.costs.cpu_share:.2f}",
                f"{point.seconds:,.1f}",
                f"{predicted.seconds:,.1f}",
                f"{100 * point.error:+.0f} %",
                predicted.bound,
                f"{point.pages:,} / {predicted.pages:,}",
                f"{optional(point.streams, lambda streams: f'{streams:.0f}')} / "
                f"{optional(predicted.streams, lambda streams: f'{streams:.0f}')}",
            ]
        )
    return markdown_table(headers, rows, "lrlrrrrlrr")


#: The latencies at which SimpleDB's largest domain is simulated.
SIMULATED_LATENCIES_MS = (30.0, 250.0)


def largest_domain_table(reports: Sequence[SizeReport]) -> str:
    """SimpleDB's largest domain (10 GB), simulated by the model over the measured unit costs."""
    headers = [
        "where",
        "latency ms",
        "items",
        "backup",
        "Select pages",
        "streams",
        "restore (all items written)",
        "write calls",
        "Lambda cost backup / restore",
    ]
    rows = []
    for latency in SIMULATED_LATENCIES_MS:
        for row in modelcheck.simulated_largest(reports, latency):
            backup, restore = row.backup, row.restore
            rows.append(
                [
                    row.label,
                    f"{latency:g}",
                    items_cell(row.size.item_count),
                    f"{duration_cell(backup.seconds)} in {backup.invocations} invocation(s), {backup.bound}",
                    f"{backup.pages:,}",
                    optional(backup.streams, lambda streams: f"{streams:.0f}"),
                    f"{duration_cell(restore.seconds)} in {restore.invocations} invocation(s), {restore.bound}",
                    optional(restore.write_calls, lambda calls: f"{calls:,.0f}"),
                    f"${backup.cost_usd:.3f} / ${restore.cost_usd:.3f}",
                ]
            )
    return markdown_table(headers, rows, "lrrlrrlrl")


def duration_cell(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


#: Every table docs/PERFORMANCE.md shows, by the name of its marked region.
TABLES: dict[str, Callable[[Sequence[SizeReport]], str]] = {
    "targets": targets_table,
    "measurements": measurements_table,
    "domains": domains_table,
    "calls": calls_table,
    "growth": growth_table,
    "backup-ceiling": backup_ceiling_table,
    "restore-time": restore_time_table,
    "memory": memory_table,
    "throttling": throttling_table,
    "backup-cpu": backup_cpu_table,
    "slow-select": slow_select_table,
    "peer": peer_table,
    "restore-reads": restore_reads_table,
    "capacity": capacity_table,
    "largest-domain": largest_domain_table,
    "machine": machine_table,
}


def render_tables(reports: Sequence[SizeReport]) -> dict[str, str]:
    return {name: table(reports) for name, table in TABLES.items()}


def floor_steps(steps: dict[str, float]) -> list[str]:
    """The floor's steps in the order it runs them, then any other a stored result holds."""
    return [step for step in FLOOR_STEPS if step in steps] + sorted(set(steps) - set(FLOOR_STEPS))
