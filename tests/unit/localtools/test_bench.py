"""The benchmark's untimed parts: its arithmetic, its targets, its tables, docs/PERFORMANCE.md, and the timed
composition of the restore (run with a counting clock, so no assertion depends on how long anything took)."""

import importlib.util
import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from benchkit import arithmetic, document, tables
from benchkit.jobs.wire import WireRecorder
from benchkit.phases import PhaseClock, timed_restore_service
from benchkit.results import (
    JOBS,
    LATENCY,
    PREPARE,
    SAFETY_BACKUP,
    SELECT_CAP,
    SHARED_BACKOFF,
    VERIFY,
    WRITE,
    WRITE_CAP,
    DomainProfile,
    JobResult,
    JobSpec,
    Machine,
    RunName,
    SizeReport,
    scenario_run,
    sweep_run,
)
from benchkit.runs import job_module, set_conditions
from benchkit.session import Options, conditions_for
from benchkit.targets import Calls, CapShare, CpuPerMb, PeakRss, RssGrowth, Speedup, WallRatio, verdicts
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.aws.statemac import StateMac
from simpledb_backup.backup.service import BackupService
from simpledb_backup.config import Settings
from simpledb_backup.events import RestoreRunRequest
from simpledb_backup.items import MAX_BATCH_ITEMS, MAX_SELECT_LIMIT, make_item
from simpledb_backup.restore import compose_restore_service
from simpledb_backup.runtime import Deadline
from statekey import LOCAL_STATE_KEY_ALIAS

PERFORMANCE = Path(__file__).resolve().parents[3] / "docs" / "PERFORMANCE.md"
MACHINE = Machine(cores=2, memory_gb=24.0, load_average=1.0, system="Linux 6", python="3.13.0")


def job(operation: str, run: str, items: int, wall: float, **fields: Any) -> JobResult:
    values: dict[str, Any] = {
        "cpu_seconds": 1.0,
        "rss_start_mb": 80.0,
        "rss_peak_mb": 100.0,
        "domain_items": items,
    }
    values.update(fields)
    return JobResult(operation, run, items, wall, **values)


def report(
    items: int,
    backup: float = 1.0,
    baseline_backup: float = 10.0,
    restore: float = 1.0,
    per_item_seconds: float = 0.04,
    sample: int = 100,
    pages: int | None = None,
    rss: float = 100.0,
) -> SizeReport:
    profile = DomainProfile(items=items, data_bytes=items * 1300, response_bytes=items * 2078)
    minimum_pages = arithmetic.profile_min_pages(profile)
    writes = arithmetic.profile_min_writes(profile)
    jobs = {
        "backup/ours": job(
            "backup",
            "ours",
            items,
            backup,
            calls={"DomainMetadata": 1, "Select": pages or minimum_pages},
            rss_peak_mb=rss,
            extra={"segments": 3},
        ),
        "backup/baseline": job("backup", "baseline", items, baseline_backup, calls={"Select": minimum_pages}),
        "restore/ours": job(
            "restore",
            "ours",
            items,
            restore,
            calls={"BatchPutAttributes": writes, "Select": minimum_pages, "CreateDomain": 1},
            rss_peak_mb=rss,
            extra={"phases": {PREPARE: 0.25, WRITE: 0.5, VERIFY: 0.25}},
        ),
        "restore/baseline": job(
            "restore",
            "baseline",
            sample,
            per_item_seconds * sample,
            domain_items=items,
            calls={"CreateDomain": 1, "PutAttributes": sample},
        ),
    }
    return SizeReport(profile, 30.0, 4, 8, "2026-01-02", jobs, MACHINE, "abc1234")


#: The Select XML the scenarios' backups received: 100 MB, so that 1 s of CPU is 10 ms/MB.
SELECT_XML = 100_000_000


def lanes(lane: str, seconds: float, ok_bytes: int = 0, call_cpu: float = 0.0, parse_cpu: float = 0.0) -> Any:
    return {lane: {"seconds": seconds, "ok_bytes": ok_bytes, "call_cpu": call_cpu, "parse_cpu": parse_cpu}}


def with_scenarios(measured: SizeReport, cap_seconds: float = 84.0, slow_backup: float = 2.0) -> SizeReport:
    """``measured`` with issue 12's runs added, every target met unless told otherwise: the restore under a
    write cap of 10 calls/s (800 writes accepted of 810 over ``cap_seconds``), the backup under a Select cap of 5,
    the uncapped restore with the shared backoff, and the backups at 250 ms per Select."""
    items = measured.profile.items
    ours, baseline = measured.jobs["backup/ours"], measured.jobs["backup/baseline"]
    measured.jobs["backup/ours"] = replace(
        ours, extra={**ours.extra, "lanes": lanes("Select", 1.0, SELECT_XML, 0.3, 0.2)}
    )
    measured.jobs["backup/baseline"] = replace(
        baseline, cpu_seconds=9.0, extra={"lanes": lanes("Select", 8.0, SELECT_XML, 7.0)}
    )
    restore = measured.jobs["restore/ours"] = replace(
        measured.jobs["restore/ours"],
        extra={**measured.jobs["restore/ours"].extra, "lanes": lanes("write", 8.0)},
    )
    measured.jobs["restore/legacy"] = replace(restore, run="legacy", wall_seconds=restore.wall_seconds * 1.1)
    capped = {
        scenario_run("ours", WRITE_CAP, 10): ({"BatchPutAttributes": 810}, {"BatchPutAttributes": 10}, 5.0),
        scenario_run("legacy", WRITE_CAP, 10): (
            {"BatchPutAttributes": 1500},
            {"BatchPutAttributes": 700},
            None,
        ),
    }
    for run, (calls, throttled, learned) in capped.items():
        policy = {"rates": {"write": learned}} if learned else {}
        measured.jobs[f"restore/{run}"] = replace(
            restore,
            run=run,
            calls=calls,
            throttled=throttled,
            extra={**restore.extra, "lanes": lanes("write", cap_seconds), "policy": policy, "verified": True},
        )
    for arm, calls, throttled, seconds in (("ours", 43, 1, 8.4), ("legacy", 60, 18, 9.0)):
        run = scenario_run(arm, SELECT_CAP, 5)
        measured.jobs[f"backup/{run}"] = job(
            "backup",
            run,
            items,
            seconds + 0.5,
            calls={"Select": calls},
            throttled={"Select": throttled},
            extra={"lanes": lanes("Select", seconds), "segments": 3},
        )
    for arm, wall, segments in (("ours", slow_backup, 4), ("baseline", 25.0, None)):
        run = scenario_run(arm, LATENCY, 250)
        measured.jobs[f"backup/{run}"] = job(
            "backup",
            run,
            items,
            wall,
            cpu_seconds=1.0,
            server_cpu_seconds=1.2,
            calls={"Select": arithmetic.profile_min_pages(measured.profile)},
            extra={"segments": segments} if segments else {},
        )
    return measured


def rows(table: str) -> list[list[str]]:
    """A Markdown table's body rows, as stripped cells."""
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]


# --- least calls ------------------------------------------------------------------------------------------------


def test_the_limits_are_the_engines_and_the_products() -> None:
    from sdblocal.select import MAX_PAGE_BYTES

    assert arithmetic.SELECT_PAGE_BYTES == MAX_PAGE_BYTES
    assert arithmetic.SELECT_PAGE_ITEMS == MAX_SELECT_LIMIT
    assert arithmetic.BATCH_ITEMS == MAX_BATCH_ITEMS


@pytest.mark.parametrize(
    ("items", "response_bytes", "pages"),
    [
        (0, 0, 1),  # an empty domain still takes one page to find out
        (1, 100, 1),
        (2500, 2500 * 100, 1),  # small items: the 2,500-item limit binds
        (2501, 2501 * 100, 2),
        (10_000, 10_000 * 100, 4),
        (1000, arithmetic.SELECT_PAGE_BYTES, 1),  # large items: the byte cap binds
        (1000, arithmetic.SELECT_PAGE_BYTES + 1, 2),
        (20_000, 41_556_836, 40),  # the 20,000-item Repoman domain: ~2 KB of XML an item
    ],
)
def test_minimum_select_pages(items: int, response_bytes: int, pages: int) -> None:
    assert arithmetic.min_select_pages(items, response_bytes) == pages


@pytest.mark.parametrize(
    ("items", "writes"), [(0, 0), (1, 1), (25, 1), (26, 2), (20_000, 800), (200_001, 8001)]
)
def test_minimum_batch_writes(items: int, writes: int) -> None:
    assert arithmetic.min_batch_writes(items) == writes


def test_percent_over_and_the_segment_bound() -> None:
    assert arithmetic.percent_over(44, 40) == pytest.approx(10.0)
    assert arithmetic.percent_over(40, 40) == 0.0
    assert arithmetic.segment_page_overshoot_bound(8) == 7
    assert arithmetic.segment_page_overshoot_bound(1) == 0


def test_a_sampled_baseline_is_extrapolated_linearly() -> None:
    sampled = job("restore", "baseline", 1000, 36.0, domain_items=20_000, calls={"PutAttributes": 1000})
    assert arithmetic.is_sampled(sampled)
    assert arithmetic.projected_wall_seconds(sampled) == pytest.approx(720.0)
    assert arithmetic.projected_calls(sampled) == 20_000
    whole = job("backup", "baseline", 20_000, 10.0, calls={"Select": 40})
    assert not arithmetic.is_sampled(whole)
    assert arithmetic.projected_wall_seconds(whole) == 10.0
    assert arithmetic.projected_calls(whole) == 40


@pytest.mark.parametrize(
    ("operation", "run"),
    [
        *JOBS,
        ("backup", sweep_run(2)),
        ("restore", "legacy"),
        ("restore", scenario_run("legacy", WRITE_CAP, 10)),
        ("backup", scenario_run("baseline", LATENCY, 250)),
        ("backup", scenario_run(sweep_run(16), LATENCY, 250)),
    ],
    ids=lambda part: str(part),
)
def test_every_job_has_a_module_to_run_it(operation: str, run: str) -> None:
    spec = JobSpec(operation, run, url="http://127.0.0.1:1", bucket="b", domain="d", domain_items=1)
    module = job_module(spec)
    assert module.startswith("benchkit.jobs.")
    assert importlib.util.find_spec(module) is not None


# --- ratios and ceilings ------------------------------------------------------------------------------------------


def test_speedups_compare_with_the_projected_baseline() -> None:
    measured = report(20_000, backup=2.0, restore=4.0)
    assert arithmetic.speedup(measured, "backup") == pytest.approx(5.0)  # 10 / 2
    assert arithmetic.speedup(measured, "restore") == pytest.approx(200.0)  # 0.04 x 20,000 / 4
    measured.jobs["backup/ours"] = replace(measured.jobs["backup/ours"], error="boom")
    assert arithmetic.speedup(measured, "backup") is None


def test_the_backup_ceiling_is_the_cpu_and_the_streams() -> None:
    measured = report(20_000, baseline_backup=10.0, pages=42)
    measured.jobs["backup/ours"] = replace(
        measured.jobs["backup/ours"], cpu_seconds=1.5, server_cpu_seconds=1.0, wall_seconds=4.0
    )
    ceiling = arithmetic.backup_ceiling(measured)
    assert ceiling is not None
    assert ceiling.baseline_ms_per_page == pytest.approx(250.0)  # 10 s over 40 pages
    assert ceiling.cpu_ms_per_page == pytest.approx(2500 / 42)
    # The largest of 1.5 s client, 1.0 s engine and 2.5 s over 2 cores: 1.5 s.
    assert ceiling.cpu_bound == pytest.approx(10.0 / 1.5)
    # 3 streams over 42 pages: the longest reads 14 of them one after the other.
    assert ceiling.stream_bound == pytest.approx(40 / 14)
    assert ceiling.measured == pytest.approx(2.5)


def test_the_restore_budget_and_its_phases() -> None:
    budget = arithmetic.restore_budget(report(20_000, per_item_seconds=0.05), 50.0)
    assert budget is not None
    assert budget.baseline_ms_per_item == pytest.approx(50.0)
    assert budget.baseline_seconds == pytest.approx(1000.0)
    assert budget.budget_seconds == pytest.approx(20.0)
    assert budget.phases == {PREPARE: 0.25, WRITE: 0.5, VERIFY: 0.25}
    assert budget.client_cpu_ms_per_batch == pytest.approx(1000 * 1.0 / 800)


def test_memory_growth_is_measured_from_the_smallest_size() -> None:
    uses = arithmetic.memory_use([report(200_000, rss=130.0), report(20_000, rss=112.0)], "backup")
    assert [(use.items, use.growth_mb) for use in uses] == [(20_000, None), (200_000, pytest.approx(18.0))]
    assert uses[1].bytes_per_extra_item == pytest.approx(18.0 * 1e6 / 180_000)
    assert uses[1].streams == 3


def test_best_of_keeps_the_fastest_run_and_the_highest_peak_without_changing_the_runs() -> None:
    runs = [
        job("backup", "ours", 10, 5.0, rss_peak_mb=150.0),
        job("backup", "ours", 10, 4.0, rss_peak_mb=140.0),
    ]
    best = arithmetic.best_of(runs)
    assert best.wall_seconds == 4.0
    assert best.rss_peak_mb == 150.0
    assert best.extra["wall_runs"] == [5.0, 4.0]
    assert best.extra["rss_runs"] == [150.0, 140.0]
    assert runs[1].rss_peak_mb == 140.0
    assert runs[1].extra == {}
    failed = job("backup", "ours", 0, 0.0, error="boom")
    assert arithmetic.best_of([runs[0], failed]).error == "boom"


# --- targets ---------------------------------------------------------------------------------------------------


def judged(reports: list[SizeReport]) -> dict[str, bool | None]:
    return {verdict.target: verdict.met for verdict in verdicts(reports)}


def test_targets_met() -> None:
    assert set(judged([with_scenarios(report(20_000)), with_scenarios(report(200_000))]).values()) == {True}


def test_targets_missed() -> None:
    slow = report(20_000, backup=4.0, restore=20.0, pages=44, rss=170.0)
    large = report(200_000, backup=40.0, restore=200.0, rss=230.0)
    result = judged([slow, large])
    assert result["backup wall time vs sequential Select loop"] is False  # 10 / 4 = 2.5x
    assert result["restore wall time vs one PutAttributes per item"] is False  # 800 / 20 = 40x
    assert result["backup Select pages vs theoretical minimum"] is False  # 44 / 40 = +10 %
    assert result["restore item writes vs theoretical minimum"] is True
    assert result["backup peak RSS"] is False
    assert result["backup peak RSS growth with domain size"] is False  # +60 MB


def test_rss_is_judged_at_200000_items_only_and_growth_needs_two_sizes() -> None:
    result = judged([report(20_000, rss=170.0)])
    assert result["backup peak RSS"] is None
    assert result["backup peak RSS growth with domain size"] is None


def test_verdicts_carry_their_figures_as_numbers() -> None:
    by_target = {verdict.target: verdict for verdict in verdicts([report(20_000, pages=42), report(200_000)])}
    assert by_target["backup wall time vs sequential Select loop"].figures[20_000] == Speedup(10.0)
    assert by_target["backup Select pages vs theoretical minimum"].figures[20_000] == Calls(42, 40)
    assert by_target["restore, all SimpleDB calls vs writes + one read-back"].figures[20_000] == Calls(
        841, 840
    )
    assert by_target["restore peak RSS"].figures[200_000] == PeakRss(100.0)
    assert by_target["restore peak RSS growth with domain size"].figures == {200_000: RssGrowth(0.0, 20_000)}


# --- tables ----------------------------------------------------------------------------------------------------


def test_markdown_table_pads_columns_aligns_and_keeps_cells_as_given() -> None:
    table = tables.markdown_table(["a", "number"], [["long cell", "1"], ["b", "1,000.50"]], "lr")
    assert table.splitlines() == [
        "| a         |   number |",
        "|:----------|---------:|",
        "| long cell |        1 |",
        "| b         | 1,000.50 |",
    ]


def test_figures_are_formatted_for_the_targets_table() -> None:
    assert tables.figure_cell(Speedup(54.87)) == "54.9x"
    assert tables.figure_cell(Calls(42, 40)) == "42 / 40 (+5.0 %)"
    assert tables.figure_cell(PeakRss(141.4)) == "141 MB"
    assert tables.figure_cell(RssGrowth(18.2, 20_000)) == "+18 MB vs 20,000"
    assert tables.figure_cell(None) == ""
    targets = rows(tables.targets_table([report(20_000, pages=44), report(200_000)]))
    pages = next(row for row in targets if row[0] == "backup Select pages vs theoretical minimum")
    assert pages == [
        "backup Select pages vs theoretical minimum",
        "≤ +5 %",
        "44 / 40 (+10.0 %)",
        "398 / 398 (+0.0 %)",
        "✗",
    ]


def test_the_measurement_table_marks_the_estimated_baseline() -> None:
    by_run = {row[1]: row for row in rows(tables.measurements_table([report(20_000)]))}
    assert by_run["restore, 1 PutAttributes/item"][2] == "800.0 (est.¹ from 100)"
    assert by_run["restore, 1 PutAttributes/item"][5] == "20,001¹"
    assert by_run["backup (3 of max 4 segments)"][6] == "40 / 40"


def test_a_failed_run_shows_as_failed() -> None:
    measured = report(20_000)
    measured.jobs["restore/ours"] = replace(measured.jobs["restore/ours"], error="boom")
    by_run = {row[1]: row for row in rows(tables.measurements_table([measured]))}
    assert by_run["restore (8 workers)"][2] == "failed"
    assert "restore (8 workers)" not in {row[1] for row in rows(tables.calls_table([measured]))}


def test_the_phase_columns_are_the_phases_measured_in_the_restores_order() -> None:
    table = tables.restore_time_table([report(20_000)])
    header = [cell.strip() for cell in table.splitlines()[0].strip("|").split("|")]
    assert header[5:8] == ["prepare s", "write s", "verify s"]


def test_growth_needs_two_sizes() -> None:
    assert rows(tables.growth_table([report(20_000)])) == []
    grown = tables.growth_table([report(20_000), report(200_000, backup=8.0)])
    assert "wall s 20,000 → 200,000" in grown
    assert "wall x (items x10)" in grown
    by_run = {row[0]: row for row in rows(grown)}
    assert by_run["backup (3 of max 4 segments)"][1:3] == ["1.0 → 8.0", "8.0"]


# --- issue 12's scenarios -------------------------------------------------------------------------------------


def test_a_scenario_run_names_its_arm_and_condition() -> None:
    assert scenario_run("ours", WRITE_CAP, 10) == "ours@write=10"
    assert scenario_run(sweep_run(16), LATENCY, 250) == "segments-16@latency=250"
    assert RunName.parse("legacy@select=2.5") == RunName("legacy", SELECT_CAP, 2.5)
    assert RunName.parse("segments-16") == RunName("segments-16")
    with pytest.raises(ValueError, match="unknown condition"):
        scenario_run("ours", "bandwidth", 1)


def test_runs_are_ordered_the_benchmarks_own_first_then_by_condition_and_value() -> None:
    measured = with_scenarios(report(20_000))
    measured.jobs["restore/ours@write=80"] = measured.jobs["restore/ours@write=10"]
    measured.jobs["backup/segments-16@latency=250"] = measured.jobs["backup/ours@latency=250"]
    assert measured.base_keys() == [
        "backup/ours",
        "backup/baseline",
        "restore/ours",
        "restore/baseline",
        "restore/legacy",
    ]
    assert measured.scenario_keys() == [
        "restore/ours@write=10",
        "restore/legacy@write=10",
        "restore/ours@write=80",
        "backup/ours@select=5",
        "backup/legacy@select=5",
        "backup/ours@latency=250",
        "backup/baseline@latency=250",
        "backup/segments-16@latency=250",
    ]
    assert measured.ordered_keys() == measured.base_keys() + measured.scenario_keys()


OPTIONS = Options(latency_ms=30.0, segments=4, restore_workers=8, baseline_sample=1000, repeat=3)


@pytest.mark.parametrize(
    ("run", "conditions"),
    [
        ("ours", {"latency_ms": 30.0, "segments": 4}),
        ("baseline", {"latency_ms": 30.0}),
        ("legacy", {"latency_ms": 30.0, "segments": 4, "policy": SHARED_BACKOFF}),
        (
            "legacy@write=10",
            {"latency_ms": 30.0, "segments": 4, "policy": SHARED_BACKOFF, "write_calls_per_second": 10.0},
        ),
        ("ours@select=5", {"latency_ms": 30.0, "segments": 4, "select_calls_per_second": 5.0}),
        ("baseline@latency=250", {"latency_ms": 250.0}),
        ("segments-16@latency=250", {"latency_ms": 250.0}),
    ],
)
def test_a_run_sets_the_conditions_its_name_says(run: str, conditions: dict[str, Any]) -> None:
    assert conditions_for(run, OPTIONS) == conditions
    spec = JobSpec("restore", run, url="u", bucket="b", domain="d", domain_items=1, **conditions)
    assert JobSpec.from_dict(spec.to_dict()) == spec


class RecordedControls:
    def __init__(self) -> None:
        self.configured: list[dict[str, Any]] = []

    def configure(self, **settings: Any) -> None:
        self.configured.append(settings)


class FakeEngine:
    def __init__(self) -> None:
        self.controls = RecordedControls()


def test_a_capped_job_starts_with_full_buckets_and_an_uncapped_one_lifts_the_caps() -> None:
    engine = FakeEngine()
    capped = JobSpec(
        "restore", "ours@write=10", "u", "b", "d", 1, latency_ms=30.0, write_calls_per_second=10.0
    )
    set_conditions(capped, engine)
    # Setting a cap to the value it has keeps its buckets: none first, then the cap, refills every bucket.
    assert engine.controls.configured == [
        {"latency_ms": 30.0, "write_calls_per_second": 0, "select_calls_per_second": 0},
        {"write_calls_per_second": 10.0, "select_calls_per_second": 0.0},
    ]
    engine = FakeEngine()
    set_conditions(JobSpec("backup", "ours@latency=250", "u", "b", "d", 1, latency_ms=250.0), engine)
    assert engine.controls.configured == [
        {"latency_ms": 250.0, "write_calls_per_second": 0, "select_calls_per_second": 0}
    ]


def test_cap_use_counts_the_engines_calls_over_the_jobs_window() -> None:
    measured = with_scenarios(report(20_000))
    use = arithmetic.cap_use(measured, "restore/ours@write=10")
    assert use is not None
    assert (use.lane, use.cap, use.burst, use.calls, use.throttled, use.accepted) == (
        "write",
        10.0,
        10.0,
        810,
        10,
        800,
    )
    assert use.rate == pytest.approx(800 / 84)
    assert use.share_of_cap == pytest.approx(800 / 84 / 10)
    assert use.share_of_allowance == pytest.approx(800 / (10 * 84 + 10))  # the burst is in the allowance
    assert use.throttled_share == pytest.approx(10 / 810)
    assert use.learned_rate == 5.0
    select = arithmetic.cap_use(measured, "backup/legacy@select=5")
    assert select is not None
    assert (select.lane, select.calls, select.throttled, select.learned_rate) == ("Select", 60, 18, None)
    assert select.share_of_cap == pytest.approx(42 / 9.0 / 5)
    assert arithmetic.cap_use(measured, "backup/ours@latency=250") is None
    assert arithmetic.cap_use(measured, "restore/ours") is None
    assert [use.key for use in arithmetic.cap_uses(measured)] == [
        "restore/ours@write=10",
        "restore/legacy@write=10",
        "backup/ours@select=5",
        "backup/legacy@select=5",
    ]


def test_a_failed_capped_run_has_no_rate_but_keeps_its_throttled_share() -> None:
    measured = with_scenarios(report(20_000))
    key = "restore/legacy@write=10"
    measured.jobs[key] = replace(measured.jobs[key], error="ThrottledError: SimpleDB kept refusing")
    use = arithmetic.cap_use(measured, key)
    assert use is not None
    assert use.rate is None
    assert use.share_of_cap is None
    assert use.share_of_allowance is None
    assert use.throttled_share == pytest.approx(700 / 1500)


def test_the_cap_targets_are_judged_with_todays_figure_beside_ours() -> None:
    by_target = {verdict.target: verdict for verdict in verdicts([with_scenarios(report(20_000))])}
    throughput = by_target["restore at a write cap of 10 calls/s: throughput / cap"]
    assert throughput.goal == "≥ 90 %"
    assert throughput.figures == {20_000: CapShare(pytest.approx(800 / 840), pytest.approx(800 / 840))}
    assert throughput.met is True
    throttled = by_target["restore at a write cap of 10 calls/s: throttled / all write calls"]
    assert throttled.figures == {20_000: CapShare(pytest.approx(10 / 810), pytest.approx(700 / 1500))}
    assert throttled.met is True
    assert by_target["backup at a Select cap of 5 calls/s: throughput / cap"].met is True
    assert by_target["backup at a Select cap of 5 calls/s: throttled / all Select calls"].met is True
    slow = with_scenarios(report(20_000), cap_seconds=100.0)  # 8 calls/s: 80 % of the cap
    slow.jobs["restore/legacy@write=10"] = replace(slow.jobs["restore/legacy@write=10"], error="boom")
    missed = {verdict.target: verdict for verdict in verdicts([slow])}
    throughput = missed["restore at a write cap of 10 calls/s: throughput / cap"]
    assert throughput.met is False
    assert throughput.figures[20_000] == CapShare(pytest.approx(0.8), None, today_failed=True)


def test_the_uncapped_restore_is_judged_against_todays_shared_backoff() -> None:
    measured = with_scenarios(report(20_000, restore=10.0))
    verdict = next(
        v for v in verdicts([measured]) if v.target == "restore without a cap vs today's shared backoff"
    )
    assert verdict.figures == {20_000: WallRatio(10.0, pytest.approx(11.0))}
    assert verdict.met is True
    measured.jobs["restore/legacy"] = replace(measured.jobs["restore/legacy"], wall_seconds=9.5)
    verdict = next(
        v for v in verdicts([measured]) if v.target == "restore without a cap vs today's shared backoff"
    )
    assert verdict.met is False


def test_cpu_per_mb_of_select_xml_and_where_it_went() -> None:
    measured = with_scenarios(report(20_000))
    cpu = arithmetic.select_cpu(measured, "backup/ours")
    assert cpu is not None
    assert cpu.xml_mb == 100.0
    assert cpu.client_ms == pytest.approx(10.0)  # 1 s over 100 MB
    assert cpu.calls_ms == pytest.approx(1.0)  # 0.3 s in the calls, 0.2 s of it in the adapter's parser
    assert cpu.parse_ms == pytest.approx(2.0)
    assert cpu.rest_ms == pytest.approx(7.0)
    verdict = next(v for v in verdicts([measured]) if v.target == "backup client CPU per MB of Select XML")
    assert verdict.figures == {20_000: CpuPerMb(pytest.approx(10.0), pytest.approx(90.0))}
    assert verdict.met is True
    measured.jobs["backup/ours"] = replace(measured.jobs["backup/ours"], cpu_seconds=1.6)
    assert next(v for v in verdicts([measured]) if v.target.startswith("backup client CPU")).met is False
    assert (
        arithmetic.select_cpu(report(20_000), "backup/ours") is None
    )  # not recorded: stored before issue 12


def test_the_slow_select_backup_is_judged_on_its_speedup_and_its_peak_at_200000_items() -> None:
    small, large = with_scenarios(report(20_000)), with_scenarios(report(200_000), slow_backup=5.0)
    by_target = {verdict.target: verdict for verdict in verdicts([small, large])}
    speed = by_target["backup at 250 ms per Select vs sequential Select loop"]
    assert speed.figures == {20_000: Speedup(12.5, 4), 200_000: Speedup(5.0, 4)}
    assert speed.met is False
    peak = by_target["backup at 250 ms per Select, peak RSS"]
    assert peak.figures[200_000] == PeakRss(100.0)
    assert peak.met is True
    assert by_target["backup at 250 ms per Select vs sequential Select loop"].goal == "≥ 10x faster"


def test_the_issue_12_figures_are_formatted_for_the_targets_table() -> None:
    assert tables.figure_cell(CapShare(0.9712, 0.634)) == "97.1 % (today: 63.4 %)"
    assert tables.figure_cell(CapShare(0.012, None, today_failed=True)) == "1.2 % (today: failed)"
    assert tables.figure_cell(CapShare(0.012)) == "1.2 %"
    assert tables.figure_cell(WallRatio(12.6, 12.0)) == "12.6 s vs 12.0 s (1.05x)"
    assert tables.figure_cell(CpuPerMb(14.25, 95.4)) == "14.2 ms (sequential botocore: 95)"
    assert tables.figure_cell(Speedup(3.71, 4)) == "3.7x (4 streams)"


def test_scenario_runs_are_labelled_with_their_policy_and_condition() -> None:
    measured = with_scenarios(report(20_000))
    labels = {key: tables.run_label(measured, key) for key in measured.ordered_keys()}
    assert labels["restore/legacy"] == "restore (8 workers), shared backoff"
    assert labels["restore/ours@write=10"] == "restore (8 workers), write cap 10/s"
    assert labels["restore/legacy@write=10"] == "restore (8 workers), shared backoff, write cap 10/s"
    assert labels["backup/legacy@select=5"] == "backup (3 of max 4 segments), shared backoff, Select cap 5/s"
    assert labels["backup/baseline@latency=250"] == "backup, sequential Select, 250 ms"
    assert labels["backup/ours@latency=250"] == "backup (4 of max 4 segments), 250 ms"


def test_the_throttling_table_shows_each_capped_run() -> None:
    measured = with_scenarios(report(20_000))
    key = "restore/legacy@write=10"
    measured.jobs[key] = replace(measured.jobs[key], error="boom")
    by_run = {row[1]: row for row in rows(tables.throttling_table([measured]))}
    assert by_run["restore (8 workers), write cap 10/s"] == [
        "20,000",
        "restore (8 workers), write cap 10/s",
        "10",
        "100.0",  # our restore without a cap: its 800 writes in 8 s
        "810",
        "10",
        "1.2 %",
        "84.0",
        "9.5",
        "95.2 %",
        "94.1 %",
        "1.0",
        "5.0",
    ]
    failed = by_run["restore (8 workers), shared backoff, write cap 10/s"]
    assert failed[3:11] == ["100.0", "1,500", "700", "46.7 %", "failed", "-", "-", "-"]


def test_the_backup_cpu_table_breaks_the_cpu_down_per_mb() -> None:
    table = rows(tables.backup_cpu_table([with_scenarios(report(20_000)), report(200_000)]))
    assert table == [
        ["20,000", "backup (3 of max 4 segments)", "40", "100.0", "10.0", "1.0", "2.0", "7.0", "0.0"],
        ["20,000", "backup, sequential Select", "40", "100.0", "90.0", "70.0", "0.0", "20.0", "0.0"],
    ]


def test_the_slow_select_table_compares_with_the_sequential_loop_at_that_latency() -> None:
    measured = with_scenarios(report(20_000))
    by_run = {row[1]: row for row in rows(tables.slow_select_table([measured]))}
    ours = by_run["backup (4 of max 4 segments), 250 ms"]
    # 25 s against 2 s; CPU 1.0 s client, 1.2 s engine: capped by the engine's 1.2 s, by 1.0 s without it; 40
    # pages over 4 streams: 10 a stream.
    assert ours[2:] == ["2.0", "12.5x", "4", "40 / 40", "100", "1.0 / 1.2", "20.8x", "25.0x", "4.0x"]
    baseline = by_run["backup, sequential Select, 250 ms"]
    assert baseline[2:] == ["25.0", "-", "-", "40 / 40", "100", "1.0 / 1.2", "-", "-", "-"]


def test_growth_compares_only_the_runs_at_the_benchmarks_own_conditions() -> None:
    grown = tables.growth_table([with_scenarios(report(20_000)), with_scenarios(report(200_000))])
    assert {row[0] for row in rows(grown)} == {
        "backup (3 of max 4 segments)",
        "backup, sequential Select",
        "restore (8 workers)",
        "restore, 1 PutAttributes/item",
        "restore (8 workers), shared backoff",
    }


class Ticks:
    """A clock that reads one more on every reading."""

    def __init__(self) -> None:
        self.now = -1.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_the_wire_recorder_times_a_lanes_calls_and_their_cpu() -> None:
    recorder = WireRecorder(clock=Ticks(), thread_cpu=Ticks())
    select = type("Model", (), {"name": "Select"})()
    # Two Select calls, answered 200 and 503. The clock reads 0 and 1 for the first call (sent, answered), 2
    # and 3 for the second; the thread's CPU clock 0-3 for the first (call started, answered, parsed, call
    # ended) and 4-7 for the second.
    for status, body in ((200, b"<page/>"), (503, b"<Error/>")):
        recorder.call_started()
        recorder.sent(event_name="before-send.simpledb.Select")
        recorder.answered(
            event_name="before-parse.simpledb.Select",
            operation_model=select,
            response_dict={"status_code": status, "body": body},
        )
        recorder.parsed(event_name="before-parse.simpledb.Select")
        recorder.call_ended(event_name="after-call.simpledb.Select")
    recorder.sent(event_name="before-send.simpledb.BatchPutAttributes")
    summary = recorder.summary()
    assert summary["Select"]["sent"] == 2
    assert summary["Select"]["ok"] == 1
    assert summary["Select"]["ok_bytes"] == len(b"<page/>")
    assert summary["Select"]["seconds"] == 3.0  # the first request at 0, the last answer at 3
    assert (
        summary["Select"]["parse_cpu"] == 2.0
    )  # one tick between the first and last before-parse hooks, twice
    assert summary["Select"]["call_cpu"] == 6.0  # three ticks from before-call to after-call, twice
    assert summary["write"] == {
        "sent": 1,
        "ok": 0,
        "ok_bytes": 0,
        "seconds": 0.0,
        "call_cpu": 0.0,
        "parse_cpu": 0.0,
    }


def test_the_wire_recorder_sees_the_select_body_before_the_adapter_parses_it(sdb_client: Any) -> None:
    """The adapter's hook hands botocore an empty page; the recorder, hooked first, weighs the real one."""
    import boto3
    from botocore.config import Config

    sdb_client.create_domain(DomainName="bench-wire")
    items = [make_item(f"p{index:03d}", [("name", f"package {index}" * 20)]) for index in range(40)]
    SimpleDB(sdb_client).put_items("bench-wire", items[:25])
    SimpleDB(sdb_client).put_items("bench-wire", items[25:])
    plain = boto3.client("sdb", config=Config(retries={"total_max_attempts": 1}))
    plain_wire = WireRecorder().attach(plain)
    plain.select(SelectExpression="select * from `bench-wire`", ConsistentRead=True)
    adapter = SimpleDB(boto3.client("sdb", config=Config(retries={"total_max_attempts": 1})))
    ours_wire = WireRecorder().attach(adapter.client)
    pages = list(adapter.select_all("bench-wire", "select * from `bench-wire`"))
    assert [len(page) for page in pages] == [40]
    received = plain_wire.summary()["Select"]["ok_bytes"]
    assert received > 40 * 20 * len("package 0")
    assert ours_wire.summary()["Select"]["ok_bytes"] == received
    assert ours_wire.summary()["Select"]["parse_cpu"] > 0  # the adapter's parser ran between the two hooks


# --- docs/PERFORMANCE.md ----------------------------------------------------------------------------------------

HAND_WRITTEN = """# Performance

Words written by hand, with a `|` in them.

<!-- bench:targets -->
old table
<!-- /bench:targets -->

More words.

<!-- bench:measurements -->
<!-- /bench:measurements -->
"""


def test_only_the_marked_regions_are_rewritten() -> None:
    filled = document.fill_regions(HAND_WRITTEN, {"targets": "| t |", "measurements": "| m |"})
    assert filled == HAND_WRITTEN.replace("old table\n", "\n| t |\n\n").replace(
        "<!-- bench:measurements -->\n", "<!-- bench:measurements -->\n\n| m |\n\n"
    )
    assert document.fill_regions(filled, {"targets": "| t |", "measurements": "| m |"}) == filled


def test_regions_and_tables_must_match() -> None:
    with pytest.raises(document.DocumentError, match=r"missing \['calls'\]"):
        document.fill_regions(HAND_WRITTEN, {"targets": "", "measurements": "", "calls": ""})
    with pytest.raises(document.DocumentError, match=r"unknown \['measurements'\]"):
        document.fill_regions(HAND_WRITTEN, {"targets": ""})
    with pytest.raises(document.DocumentError, match=r"repeated \['targets'\]"):
        document.check_regions(
            HAND_WRITTEN + "<!-- bench:targets -->\n<!-- /bench:targets -->\n", ["targets"]
        )


def every_region(text: str = "# Performance\n") -> str:
    return text + "".join(f"\n<!-- bench:{name} -->\n<!-- /bench:{name} -->\n" for name in tables.TABLES)


def test_the_results_round_trip_and_a_rerun_keeps_the_sizes_it_did_not_measure() -> None:
    first = [report(20_000), report(200_000)]
    text = document.update_document(every_region(), first)
    assert document.update_document(text, document.load_reports(text)) == text
    rerun = report(20_000, backup=1.5)
    merged = document.merge_reports(document.load_reports(text), [rerun])
    assert [item.profile.items for item in merged] == [20_000, 200_000]
    assert merged[0].jobs["backup/ours"].wall_seconds == 1.5
    assert merged[1].jobs["backup/ours"].wall_seconds == 1.0
    assert merged[1].machine == MACHINE
    updated = document.update_document(text, merged)
    assert updated.count(f"<!-- {document.RESULTS_MARKER}") == 1
    assert "20,000 → 200,000" in updated


def test_an_unreadable_results_block_is_ignored() -> None:
    assert document.load_reports("# Performance\n") == []
    assert document.load_reports("<!-- bench-results\n{not json\n-->") == []


def test_the_committed_document_is_what_its_stored_results_render() -> None:
    """docs/PERFORMANCE.md has a region for every table, and its tables are those of the results it keeps."""
    text = PERFORMANCE.read_text()
    document.check_regions(text)
    reports = document.load_reports(text)
    assert reports
    assert document.update_document(text, reports) == text


# --- the restore's phases, timed through its collaborators ---------------------------------------------------

TARGET = "bench-restored"


@pytest.fixture
def dumped(sdb_client: Any, s3_client: Any, bucket: str) -> str:
    """A domain of 60 items, backed up; returns the dump version."""
    sdb_client.create_domain(DomainName="bench-packages")
    items = [make_item(f"p{index:03d}", [("name", f"pkg{index}"), ("version", "1")]) for index in range(60)]
    SimpleDB(sdb_client).put_items("bench-packages", items[:25])
    SimpleDB(sdb_client).put_items("bench-packages", items[25:50])
    SimpleDB(sdb_client).put_items("bench-packages", items[50:])
    result = BackupService(SimpleDB(sdb_client), BucketStore(s3_client, bucket), 4).backup(
        "bench-packages", "manual", PLENTY
    )
    assert result.version_id is not None
    return result.version_id


PLENTY = Deadline(lambda: 900.0, 30.0)


def timed_restore(
    sdb_client: Any, s3_client: Any, bucket: str, **fields: Any
) -> tuple[dict[str, Any], PhaseClock]:
    settings = Settings(
        backup_bucket=bucket,
        domain_names=("bench-packages",),
        segments=4,
        restore_workers=4,
        restore_target_pattern="bench-*",
        continuation_margin_seconds=30.0,
    )
    mac = StateMac(boto3.client("kms"), LOCAL_STATE_KEY_ALIAS)  # the bucket fixture made the state key
    service = compose_restore_service(SimpleDB(sdb_client), BucketStore(s3_client, bucket), settings, mac=mac)
    ticks = itertools.count()
    clock = PhaseClock(lambda: float(next(ticks)))  # each reading one second after the last
    request = RestoreRunRequest(action="restore", domain="bench-packages", **fields)
    return timed_restore_service(service, clock).handle(request, PLENTY), clock


def test_a_timed_restore_into_a_new_domain_times_each_stage_it_runs(
    dumped: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    answer, clock = timed_restore(sdb_client, s3_client, bucket, target_domain=TARGET, version_id=dumped)
    assert answer["status"] == "complete"
    assert answer["verification"]["verified"] is True
    assert answer["written"]["items_written"] == 60
    # Each phase ran once, between two readings of the clock; a new target needs no safety backup.
    assert clock.seconds == {PREPARE: 1.0, WRITE: 1.0, VERIFY: 1.0}


def test_a_timed_restore_over_an_existing_domain_times_its_safety_backup(
    dumped: str, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    sdb_client.create_domain(DomainName=TARGET)
    SimpleDB(sdb_client).put_items(TARGET, [make_item("other", [("name", "other")])])
    answer, clock = timed_restore(
        sdb_client, s3_client, bucket, target_domain=TARGET, version_id=dumped, confirm=TARGET
    )
    assert answer["status"] == "complete"
    assert answer["safety_backup"]["items"] == 1
    assert clock.seconds == {PREPARE: 1.0, SAFETY_BACKUP: 1.0, WRITE: 1.0, VERIFY: 1.0}
