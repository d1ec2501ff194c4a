"""The benchmark's untimed parts: its arithmetic, its targets, its tables, docs/PERFORMANCE.md, and the timed
composition of the restore (run with a counting clock, so no assertion depends on how long anything took)."""

import importlib.util
import itertools
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from benchkit import arithmetic, comparisons, document, filling, peer, peerlaunch, probe, runs, tables
from benchkit.jobs import backup_floor
from benchkit.jobs.wire import WireRecorder
from benchkit.phases import PhaseClock, timed_restore_service
from benchkit.results import (
    DAMAGE,
    HEX,
    LATENCY,
    ORDINARY,
    PREPARE,
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
from benchkit.runs import job_command, job_module, set_conditions
from benchkit.session import Options, conditions_for
from benchkit.targets import (
    Calls,
    CapShare,
    EngineRate,
    FloorRatio,
    MsPerMb,
    PeakRss,
    PeerRatio,
    Reads,
    RssGrowth,
    Speedup,
    Verdict,
    WallRatio,
    verdicts,
)
from repomandata import put_items
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.aws.statemac import StateMac
from simpledb_backup.backup.service import BackupService
from simpledb_backup.config import Settings
from simpledb_backup.events import RestoreRunRequest
from simpledb_backup.formats.dumpformat import line_digest
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


#: The write caps issue 18 measures, and the engine's uncapped rate beside them.
CAPS = (10, 40, 80, 120)
ENGINE_RATE = 200.0


def capped_restore(
    restore: JobResult, run: str, cap: float, calls: int = 810, throttled: int = 10
) -> JobResult:
    """A restore under a write cap: ``calls - throttled`` accepted at 95 % of the cap."""
    seconds = (calls - throttled) / (0.95 * cap)
    return replace(
        restore,
        run=run,
        calls={"BatchPutAttributes": calls},
        throttled={"BatchPutAttributes": throttled},
        extra={
            **restore.extra,
            "lanes": lanes("write", seconds),
            "policy": {"rates": {"write": cap}},
            "verified": True,
        },
    )


def with_scenarios(measured: SizeReport, engine_rate: float = ENGINE_RATE) -> SizeReport:
    """``measured`` with issue 18's runs added, every target met unless told otherwise: the restore under write
    caps of 10, 40, 80 and 120 calls/s (95 % of the cap, 10 of 810 throttled) with the engine's uncapped rate,
    the library floor (8.5 ms/MB against our 10), repoman-cli's backup and restore, and our exact restore into a
    copy with 5 items damaged (twice the target's pages)."""
    items = measured.profile.items
    pages = arithmetic.profile_min_pages(measured.profile)
    ours, baseline = measured.jobs["backup/ours"], measured.jobs["backup/baseline"]
    measured.jobs["backup/ours"] = replace(
        ours,
        server_cpu_seconds=1.5,
        extra={**ours.extra, "lanes": lanes("Select", 1.0, SELECT_XML, 0.3, 0.2)},
    )
    measured.jobs["backup/baseline"] = replace(
        baseline, cpu_seconds=9.0, extra={"lanes": lanes("Select", 8.0, SELECT_XML, 7.0)}
    )
    restore = measured.jobs["restore/ours"] = replace(
        measured.jobs["restore/ours"],
        extra={**measured.jobs["restore/ours"].extra, "lanes": lanes("write", 8.0), "verified": True},
    )
    for cap in CAPS:
        run = scenario_run("ours", WRITE_CAP, cap)
        measured.jobs[f"restore/{run}"] = capped_restore(restore, run, cap)
    measured.engine = {"write_calls_per_second": engine_rate}
    measured.jobs["backup/floor"] = job(
        "backup",
        "floor",
        0,
        2.0,
        extra={"pages": 100, "xml_bytes": SELECT_XML, "cpu": {"parse": 0.55, "lines": 0.3}},
    )
    measured.jobs["backup/repoman"] = job("backup", "repoman", items, 3.0, calls={"Select": 10 * pages})
    measured.jobs["restore/repoman"] = job("restore", "repoman", items, 600.0, calls={"PutAttributes": items})
    damaged = scenario_run("ours", DAMAGE, 5)
    measured.jobs[f"restore/{damaged}"] = job(
        "restore",
        damaged,
        5,
        2.5,
        calls={"Select": 2 * pages, "BatchPutAttributes": 1, "BatchDeleteAttributes": 1},
        extra={"verified": True, "phases": {PREPARE: 1.0, WRITE: 0.5, VERIFY: 1.0}},
    )
    return measured


def slow_report(
    items: int,
    names: str = HEX,
    ours: float = 2.0,
    baseline: float = 25.0,
    rss: float = 120.0,
    pages: int | None = None,
) -> SizeReport:
    """A domain measured only at 250 ms per Select: our backup (16 streams) and the sequential loop."""
    profile = DomainProfile(items=items, data_bytes=items * 1300, response_bytes=items * 2078)
    least = arithmetic.profile_min_pages(profile)
    ours_run, baseline_run = scenario_run("ours", LATENCY, 250), scenario_run("baseline", LATENCY, 250)
    jobs = {
        f"backup/{ours_run}": job(
            "backup",
            ours_run,
            items,
            ours,
            calls={"Select": pages or least},
            rss_peak_mb=rss,
            extra={"segments": 16},
        ),
        f"backup/{baseline_run}": job("backup", baseline_run, items, baseline, calls={"Select": least}),
    }
    return SizeReport(profile, 30.0, 4, 8, "2026-01-02", jobs, MACHINE, "abc1234", names=names)


def all_reports() -> list[SizeReport]:
    """Every domain issue 18 measures: the benchmark's own runs at 20,000 and 200,000 items, and the slow Select
    latency at 50,000 and 200,000 for both kinds of names (10x at both: 2.5 s against 25 s)."""
    return [
        with_scenarios(report(20_000)),
        with_scenarios(report(200_000)),
        *(slow_report(items, names, ours=2.5) for names in (HEX, ORDINARY) for items in (50_000, 200_000)),
    ]


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


def by_target(reports: list[SizeReport]) -> dict[str, Verdict]:
    return {verdict.target: verdict for verdict in verdicts(reports)}


def test_targets_met() -> None:
    assert set(judged(all_reports()).values()) == {True}


def test_the_retired_goal_and_the_unmeasured_comparisons_are_not_shown() -> None:
    targets = set(judged(all_reports()))
    assert "backup wall time vs sequential Select loop" not in targets  # the retired 6x goal at 30 ms
    assert "restore without a cap vs today's shared backoff" not in targets  # --legacy was not run
    assert not any("Select cap" in target for target in targets)
    assert "restore without a cap vs today's shared backoff" in judged([with_legacy(report(20_000))])


def test_targets_missed() -> None:
    slow = report(20_000, backup=4.0, restore=20.0, pages=44, rss=170.0)
    large = report(200_000, backup=40.0, restore=200.0, rss=230.0)
    result = judged([slow, large])
    assert result["restore wall time vs one PutAttributes per item"] is False  # 800 / 20 = 40x
    assert result["backup Select pages vs minimum"] is False  # 44 against 40 + 3
    assert result["restore item writes vs theoretical minimum"] is True
    assert result["backup peak RSS (30 ms)"] is False
    assert result["backup peak RSS growth with domain size (30 ms)"] is False  # +60 MB


def test_select_pages_may_be_5_percent_over_from_100_pages_and_3_pages_below() -> None:
    assert [comparisons.pages_allowed(pages) for pages in (1, 40, 99, 100, 398)] == [4, 43, 102, 105, 417]
    assert judged([report(20_000, pages=43)])["backup Select pages vs minimum"] is True
    assert judged([report(200_000, pages=418)])["backup Select pages vs minimum"] is False


def test_rss_is_judged_at_200000_items_only_and_growth_needs_two_sizes() -> None:
    result = judged([report(20_000, rss=170.0)])
    assert result["backup peak RSS (30 ms)"] is None
    assert result["backup peak RSS growth with domain size (30 ms)"] is None


def test_verdicts_carry_their_figures_as_numbers() -> None:
    found = by_target([report(20_000, pages=42), report(200_000)])
    assert found["backup Select pages vs minimum"].figures[20_000] == Calls(42, 40)
    assert found["restore, all SimpleDB calls vs writes + one read-back"].figures[20_000] == Calls(841, 840)
    assert found["restore peak RSS (30 ms)"].figures[200_000] == PeakRss(100.0)
    assert found["restore peak RSS growth with domain size (30 ms)"].figures == {
        200_000: RssGrowth(0.0, 20_000)
    }


HEX_SLOW = "backup at 250 ms per Select, hex names"
ORDINARY_SLOW = "backup at 250 ms per Select, ordinary names (user-000123)"


def test_the_slow_select_backup_is_judged_per_size_and_per_kind_of_names() -> None:
    found = by_target(
        [
            slow_report(50_000, HEX, ours=3.0),
            slow_report(200_000, HEX, ours=2.6, rss=135.0),
            slow_report(50_000, ORDINARY, ours=25.0),
            slow_report(200_000, ORDINARY, ours=2.0),
        ]
    )
    speed = found[f"{HEX_SLOW}: vs sequential Select loop"]
    assert speed.goal == "≥ 8x at 50,000, ≥ 10x at 200,000"
    assert speed.figures == {
        50_000: Speedup(pytest.approx(25 / 3.0), 16),
        200_000: Speedup(pytest.approx(25 / 2.6), 16),
    }
    assert speed.met is False  # 9.6x at 200,000
    assert found[f"{ORDINARY_SLOW}: vs sequential Select loop"].met is False  # 1x at 50,000
    growth = found[f"{HEX_SLOW}: peak RSS growth with domain size"]
    assert growth.figures == {200_000: RssGrowth(15.0, 50_000)}
    assert growth.met is False
    assert found[f"{ORDINARY_SLOW}: peak RSS growth with domain size"].met is True
    assert found[f"{HEX_SLOW}: peak RSS"].met is True  # 135 MB < 200
    assert found[f"{HEX_SLOW}: Select pages vs minimum"].figures[50_000] == Calls(100, 100)


def test_a_size_without_a_goal_is_shown_but_not_judged() -> None:
    speed = by_target([slow_report(20_000, ours=10.0)])[f"{HEX_SLOW}: vs sequential Select loop"]
    assert speed.figures == {20_000: Speedup(2.5, 16)}
    assert speed.met is None


def test_the_caps_are_judged_with_the_engines_uncapped_rate_beside_them() -> None:
    found = by_target([with_scenarios(report(20_000))])
    for cap in CAPS:
        throughput = found[f"restore at a write cap of {cap} calls/s: throughput / cap"]
        assert throughput.goal == "≥ 90 %"
        assert throughput.figures == {20_000: CapShare(pytest.approx(0.95), None, False, ENGINE_RATE)}
        assert throughput.met is True
        throttled = found[f"restore at a write cap of {cap} calls/s: throttled / all write calls"]
        assert throttled.figures == {20_000: CapShare(pytest.approx(10 / 810))}
        assert throttled.met is True
    engine = found["engine: uncapped write rate vs the highest cap, same run"]
    assert engine.figures == {20_000: EngineRate(ENGINE_RATE, 120.0)}
    assert engine.met is True
    rendering = found["engine: CPU per MB of Select XML it serves"]
    assert rendering.figures == {20_000: MsPerMb(pytest.approx(15.0))}  # 1.5 s over 100 MB
    slower = by_target([with_scenarios(report(20_000), engine_rate=150.0)])
    assert slower["engine: uncapped write rate vs the highest cap, same run"].met is False  # 1.25x


def test_without_the_engines_probe_our_uncapped_restore_stands_for_its_rate() -> None:
    measured = with_scenarios(report(20_000))
    measured.engine = {}
    capacity = comparisons.engine_capacity(measured)
    assert capacity is not None
    # 800 writes in the restore's 8 s write window.
    assert (capacity.rate, capacity.measured_by, capacity.highest_cap) == (
        100.0,
        "our uncapped restore",
        120.0,
    )
    assert capacity.over_highest_cap == pytest.approx(100 / 120)


def test_the_backup_cpu_is_judged_against_the_library_floor_on_the_same_pages() -> None:
    measured = with_scenarios(report(20_000))
    assert comparisons.floor(measured) == comparisons.Floor(
        100, 100.0, {"parse": pytest.approx(5.5), "lines": pytest.approx(3.0)}
    )
    target = "backup client CPU per MB of Select XML vs the library floor, same pages"
    verdict = by_target([measured])[target]
    assert verdict.figures == {20_000: FloorRatio(pytest.approx(10.0), pytest.approx(8.5))}
    assert verdict.met is True  # 1.18x
    measured.jobs["backup/ours"] = replace(measured.jobs["backup/ours"], cpu_seconds=1.1)
    assert by_target([measured])[target].met is False  # 1.29x
    assert comparisons.floor(report(20_000)) is None


def test_the_peer_is_compared_row_by_row() -> None:
    measured = with_scenarios(report(20_000))
    found = comparisons.peer_rows(measured)
    assert [(row.what, row.ours.run, row.peer.run, row.peer_same_run) for row in found] == [
        ("backup", "ours", "repoman", False),
        ("restore into a new domain", "ours", "repoman", False),
        ("restore of a damaged copy", "ours@damage=5", "repoman", True),
    ]
    assert [row.ratio for row in found] == [3.0, 600.0, 240.0]
    verdict = by_target([measured])["vs repoman-cli, backup: wall time"]
    assert verdict.figures == {20_000: PeerRatio(1.0, 3.0)}
    assert verdict.met is True
    measured.jobs["backup/repoman"] = replace(measured.jobs["backup/repoman"], wall_seconds=0.5)
    assert by_target([measured])["vs repoman-cli, backup: wall time"].met is False


def test_a_restore_of_a_damaged_copy_reads_its_target_at_most_twice() -> None:
    measured = with_scenarios(report(20_000))
    [row] = comparisons.damaged_restores(measured)
    assert (row.damaged, row.select_pages, row.target_min_pages, row.write_calls, row.item_writes) == (
        5,
        80,
        40,
        2,
        5,
    )
    assert row.verified is True
    assert row.reads == 2.0
    target = "restore of a damaged copy: Select pages vs the target's minimum"
    verdict = by_target([measured])[target]
    assert verdict.figures == {20_000: Reads(80, 40)}
    assert verdict.met is True
    key = "restore/ours@damage=5"
    measured.jobs[key] = replace(measured.jobs[key], calls={"Select": 168, "BatchPutAttributes": 1})
    assert by_target([measured])[target].met is False  # 4.2 reads


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
    assert tables.figure_cell(Speedup(3.71, 4)) == "3.7x (4 streams)"
    assert tables.figure_cell(Calls(42, 40)) == "42 / 40 (+5.0 %)"
    assert tables.figure_cell(PeakRss(141.4)) == "141 MB"
    assert tables.figure_cell(RssGrowth(18.2, 20_000)) == "+18 MB vs 20,000"
    assert tables.figure_cell(CapShare(0.9712, 0.634)) == "97.1 % (today: 63.4 %)"
    assert tables.figure_cell(CapShare(0.012, None, today_failed=True)) == "1.2 % (today: failed)"
    assert tables.figure_cell(CapShare(0.955, engine_rate=183.4)) == "95.5 % (engine uncapped: 183/s)"
    assert tables.figure_cell(WallRatio(12.6, 12.0)) == "12.6 s vs 12.0 s (1.05x)"
    assert tables.figure_cell(FloorRatio(24.5, 19.8)) == "24.5 ms vs 19.8 (1.24x)"
    assert tables.figure_cell(PeerRatio(4.3, 6.15)) == "4.3 s vs 6.2 s (1.43x)"
    assert tables.figure_cell(Reads(84, 42)) == "84 / 42 (2.00x)"
    assert tables.figure_cell(EngineRate(183.0, 120.0)) == "183/s vs 120/s (1.52x)"
    assert tables.figure_cell(MsPerMb(18.25)) == "18.2 ms"
    assert tables.figure_cell(None) == ""
    targets = rows(tables.targets_table([report(20_000, pages=44), report(200_000)]))
    pages = next(row for row in targets if row[0] == "backup Select pages vs minimum")
    assert pages == [
        "backup Select pages vs minimum",
        "≤ +5 % from 100 pages, ≤ +3 below",
        "44 / 40 (+10.0 %)",
        "398 / 398 (+0.0 %)",
        "✗",
    ]


def test_the_targets_table_has_a_column_per_size_whatever_the_names() -> None:
    header = tables.targets_table(all_reports()).splitlines()[0]
    assert [cell.strip() for cell in header.strip("|").split("|")][2:] == [
        "20,000 items",
        "50,000 items",
        "200,000 items",
        "met",
    ]


def test_the_measurement_table_marks_the_estimated_baseline_and_names_the_names() -> None:
    by_run = {row[2]: row for row in rows(tables.measurements_table([report(20_000)]))}
    assert by_run["restore, 1 PutAttributes/item"][3] == "800.0 (est.¹ from 100)"
    assert by_run["restore, 1 PutAttributes/item"][6] == "20,001¹"
    assert by_run["backup (3 of max 4 segments)"][1] == "hex"
    assert by_run["backup (3 of max 4 segments)"][7] == "40 / 40"
    ordinary = rows(tables.measurements_table([slow_report(50_000, ORDINARY)]))
    assert {row[1] for row in ordinary} == {"user-000123"}


def test_a_damaged_restore_is_measured_by_its_reads_not_sampled() -> None:
    measured = with_scenarios(report(20_000))
    damaged = measured.jobs["restore/ours@damage=5"]
    assert not arithmetic.is_sampled(damaged)
    by_run = {row[2]: row for row in rows(tables.measurements_table([measured]))}
    row = by_run["restore (8 workers), exact, into a copy with 5 items damaged"]
    assert row[3] == "2.5"
    assert row[7:9] == ["80 / 40", "+100.0 %"]


def test_a_failed_run_shows_as_failed() -> None:
    measured = report(20_000)
    measured.jobs["restore/ours"] = replace(measured.jobs["restore/ours"], error="boom")
    by_run = {row[2]: row for row in rows(tables.measurements_table([measured]))}
    assert by_run["restore (8 workers)"][3] == "failed"
    assert "restore (8 workers)" not in {row[2] for row in rows(tables.calls_table([measured]))}


def test_the_phase_columns_are_the_phases_measured_in_the_restores_order() -> None:
    table = tables.restore_time_table([report(20_000)])
    header = [cell.strip() for cell in table.splitlines()[0].strip("|").split("|")]
    assert header[5:8] == ["prepare s", "write s", "verify s"]


def test_growth_needs_two_sizes_of_hex_names() -> None:
    assert rows(tables.growth_table([report(20_000)])) == []
    assert rows(tables.growth_table([report(20_000), slow_report(200_000, ORDINARY)])) == []
    grown = tables.growth_table([report(20_000), report(200_000, backup=8.0)])
    assert "wall s 20,000 → 200,000" in grown
    assert "wall x (items x10)" in grown
    by_run = {row[0]: row for row in rows(grown)}
    assert by_run["backup (3 of max 4 segments)"][1:3] == ["1.0 → 8.0", "8.0"]


def test_the_peer_table_shows_each_row_side_by_side() -> None:
    table = rows(tables.peer_table([with_scenarios(report(20_000))]))
    assert [row[1:5] for row in table] == [
        ["backup", "1.0", "3.0", "3.00x"],
        ["restore into a new domain", "1.0", "600.0", "600.00x"],
        ["restore of a damaged copy", "2.5", "600.0²", "240.00x"],
    ]
    assert table[0][7:9] == ["40 Select", "400 Select"]
    assert table[1][7:9] == ["800 BatchPutAttributes, 40 Select", "20,000 PutAttributes"]


def test_the_restore_reads_table_shows_the_damaged_copys_restore() -> None:
    assert rows(tables.restore_reads_table([with_scenarios(report(20_000))])) == [
        ["20,000", "5", "2.5", "80", "40", "2.00x", "2", "5", "prepare 1.0, write 0.5, verify 1.0", "yes"]
    ]


# --- scenarios and their runs -----------------------------------------------------------------------------------


def with_legacy(measured: SizeReport, cap_seconds: float = 84.0) -> SizeReport:
    """``measured`` with issue 12's comparisons (``--legacy``, ``--select-cap``): the restore under a write cap of
    10 calls/s (800 writes accepted of 810 over ``cap_seconds``) with both policies, the backup under a Select
    cap of 5 with both, and the uncapped restore with the shared backoff."""
    items = measured.profile.items
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
    return measured


def test_a_scenario_run_names_its_arm_and_condition() -> None:
    assert scenario_run("ours", WRITE_CAP, 10) == "ours@write=10"
    assert scenario_run(sweep_run(16), LATENCY, 250) == "segments-16@latency=250"
    assert scenario_run("ours", DAMAGE, 5) == "ours@damage=5"
    assert RunName.parse("legacy@select=2.5") == RunName("legacy", SELECT_CAP, 2.5)
    assert RunName.parse("segments-16") == RunName("segments-16")
    with pytest.raises(ValueError, match="unknown condition"):
        scenario_run("ours", "bandwidth", 1)


def test_runs_are_ordered_the_benchmarks_own_first_then_by_condition_and_value() -> None:
    measured = with_legacy(with_scenarios(report(20_000)))
    assert measured.base_keys() == [
        "backup/ours",
        "backup/baseline",
        "restore/ours",
        "restore/baseline",
        "restore/legacy",
        "backup/repoman",
        "restore/repoman",
    ]
    assert measured.scenario_keys() == [
        "restore/ours@write=10",
        "restore/legacy@write=10",
        "restore/ours@write=40",
        "restore/ours@write=80",
        "restore/ours@write=120",
        "backup/ours@select=5",
        "backup/legacy@select=5",
        "restore/ours@damage=5",
    ]
    assert measured.ordered_keys() == measured.base_keys() + measured.scenario_keys()
    assert "backup/floor" not in measured.ordered_keys()  # not a backup: the CPU table shows it


def test_reports_are_keyed_by_size_then_names() -> None:
    reports = [slow_report(50_000, ORDINARY), slow_report(200_000), slow_report(50_000)]
    assert [(item.profile.items, item.names) for item in tables.by_size(reports)] == [
        (50_000, HEX),
        (50_000, ORDINARY),
        (200_000, HEX),
    ]
    merged = document.merge_reports(reports, [slow_report(50_000, ORDINARY, ours=3.0)])
    assert len(merged) == 3
    assert merged[1].jobs["backup/ours@latency=250"].wall_seconds == 3.0


OPTIONS = Options(
    latency_ms=30.0, segments=4, restore_workers=8, baseline_sample=1000, repeat=3, peer_python="/peer"
)


@pytest.mark.parametrize(
    ("run", "conditions"),
    [
        ("ours", {"latency_ms": 30.0, "segments": 4}),
        ("baseline", {"latency_ms": 30.0}),
        ("repoman", {"latency_ms": 30.0, "python": "/peer"}),
        ("floor", {"latency_ms": 30.0}),
        ("legacy", {"latency_ms": 30.0, "segments": 4, "policy": SHARED_BACKOFF}),
        (
            "legacy@write=10",
            {"latency_ms": 30.0, "segments": 4, "policy": SHARED_BACKOFF, "write_calls_per_second": 10.0},
        ),
        ("ours@select=5", {"latency_ms": 30.0, "segments": 4, "select_calls_per_second": 5.0}),
        ("ours@damage=5", {"latency_ms": 30.0, "segments": 4}),
        ("baseline@latency=250", {"latency_ms": 250.0}),
        ("segments-16@latency=250", {"latency_ms": 250.0}),
    ],
)
def test_a_run_sets_the_conditions_its_name_says(run: str, conditions: dict[str, Any]) -> None:
    assert conditions_for(run, OPTIONS) == conditions
    spec = JobSpec("restore", run, url="u", bucket="b", domain="d", domain_items=1, **conditions)
    assert JobSpec.from_dict(spec.to_dict()) == spec


PLAN = Options(
    latency_ms=30.0,
    segments=4,
    restore_workers=8,
    baseline_sample=1000,
    repeat=3,
    base_items=(20_000,),
    write_caps=(10.0,),
    cap_items=(20_000,),
    slow_latency_ms=250.0,
    slow_items=(50_000, 200_000),
    damage=5,
    damage_items=(20_000,),
    peer_items=(20_000,),
    peer_python="/peer",
    floor_items=(20_000,),
)


def test_the_plan_fills_hex_names_first_then_ordinary_ones_each_by_size() -> None:
    assert PLAN.domains() == [
        (HEX, 20_000),
        (HEX, 50_000),
        (HEX, 200_000),
        (ORDINARY, 50_000),
        (ORDINARY, 200_000),
    ]
    slow_only = replace(PLAN, only=("slow-select",))
    assert slow_only.domains() == [(HEX, 50_000), (HEX, 200_000), (ORDINARY, 50_000), (ORDINARY, 200_000)]
    assert replace(PLAN, only=("peer",), peer_python="").domains() == []  # no peer venv: nothing to run
    assert replace(PLAN, only=("damage",)).domains() == [(HEX, 20_000)]
    assert replace(PLAN, slow_names=(HEX,), base_items=(20_000, 200_000)).domains() == [
        (HEX, 20_000),
        (HEX, 50_000),
        (HEX, 200_000),
    ]


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
    measured = with_legacy(report(20_000))
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
    assert arithmetic.cap_use(measured, "restore/ours") is None
    assert [use.key for use in arithmetic.cap_uses(measured)] == [
        "restore/ours@write=10",
        "restore/legacy@write=10",
        "backup/ours@select=5",
        "backup/legacy@select=5",
    ]


def test_a_failed_capped_run_has_no_rate_but_keeps_its_throttled_share() -> None:
    measured = with_legacy(report(20_000))
    key = "restore/legacy@write=10"
    measured.jobs[key] = replace(measured.jobs[key], error="ThrottledError: SimpleDB kept refusing")
    use = arithmetic.cap_use(measured, key)
    assert use is not None
    assert use.rate is None
    assert use.share_of_cap is None
    assert use.share_of_allowance is None
    assert use.throttled_share == pytest.approx(700 / 1500)


def test_todays_shared_backoff_is_shown_beside_ours_when_measured() -> None:
    found = by_target([with_legacy(report(20_000))])
    throughput = found["restore at a write cap of 10 calls/s: throughput / cap"]
    assert throughput.figures == {
        20_000: CapShare(pytest.approx(800 / 840), pytest.approx(800 / 840), False, pytest.approx(100.0))
    }
    throttled = found["restore at a write cap of 10 calls/s: throttled / all write calls"]
    assert throttled.figures == {20_000: CapShare(pytest.approx(10 / 810), pytest.approx(700 / 1500))}
    assert found["backup at a Select cap of 5 calls/s: throughput / cap"].met is True
    uncapped = found["restore without a cap vs today's shared backoff"]
    assert uncapped.figures == {20_000: WallRatio(1.0, pytest.approx(1.1))}
    assert uncapped.met is True
    slow = with_legacy(report(20_000), cap_seconds=100.0)  # 8 calls/s: 80 % of the cap
    slow.jobs["restore/legacy@write=10"] = replace(slow.jobs["restore/legacy@write=10"], error="boom")
    throughput = by_target([slow])["restore at a write cap of 10 calls/s: throughput / cap"]
    assert throughput.met is False
    assert throughput.figures[20_000] == CapShare(pytest.approx(0.8), None, True, pytest.approx(100.0))


def test_cpu_per_mb_of_select_xml_and_where_it_went() -> None:
    measured = with_scenarios(report(20_000))
    cpu = arithmetic.select_cpu(measured, "backup/ours")
    assert cpu is not None
    assert cpu.xml_mb == 100.0
    assert cpu.client_ms == pytest.approx(10.0)  # 1 s over 100 MB
    assert cpu.calls_ms == pytest.approx(1.0)  # 0.3 s in the calls, 0.2 s of it in the adapter's parser
    assert cpu.parse_ms == pytest.approx(2.0)
    assert cpu.rest_ms == pytest.approx(7.0)
    assert (
        arithmetic.select_cpu(report(20_000), "backup/ours") is None
    )  # not recorded: stored before issue 12


def test_scenario_runs_are_labelled_with_their_arm_policy_and_condition() -> None:
    measured = with_legacy(with_scenarios(report(20_000)))
    labels = {key: tables.run_label(measured, key) for key in measured.ordered_keys()}
    assert labels["restore/legacy"] == "restore (8 workers), shared backoff"
    assert labels["restore/ours@write=10"] == "restore (8 workers), write cap 10/s"
    assert labels["restore/legacy@write=10"] == "restore (8 workers), shared backoff, write cap 10/s"
    assert labels["backup/legacy@select=5"] == "backup (3 of max 4 segments), shared backoff, Select cap 5/s"
    assert labels["backup/repoman"] == "backup, repoman-cli"
    assert labels["restore/repoman"] == "restore, repoman-cli"
    assert labels["restore/ours@damage=5"] == "restore (8 workers), exact, into a copy with 5 items damaged"
    slow = slow_report(50_000)
    assert tables.run_label(slow, "backup/ours@latency=250") == "backup (16 of max 4 segments), 250 ms"
    assert tables.run_label(slow, "backup/baseline@latency=250") == "backup, sequential Select, 250 ms"


def test_the_throttling_table_shows_each_capped_run_and_the_engines_rate() -> None:
    measured = with_scenarios(report(20_000))
    by_run = {row[1]: row for row in rows(tables.throttling_table([measured]))}
    assert by_run["restore (8 workers), write cap 40/s"] == [
        "20,000",
        "restore (8 workers), write cap 40/s",
        "40",
        "200.0",  # the engine's uncapped rate
        "100.0",  # our restore without a cap: its 800 writes in 8 s
        "810",
        "10",
        "1.2 %",
        "21.1",
        "38.0",
        "95.0 %",
        "90.7 %",  # 800 of 40 x 21.05 s + the burst of 40
        "1.0",
        "40.0",
    ]
    failed = with_legacy(report(20_000))
    key = "restore/legacy@write=10"
    failed.jobs[key] = replace(failed.jobs[key], error="boom")
    row = {row[1]: row for row in rows(tables.throttling_table([failed]))}[
        "restore (8 workers), shared backoff, write cap 10/s"
    ]
    assert row[3:12] == ["-", "100.0", "1,500", "700", "46.7 %", "failed", "-", "-", "-"]


def test_the_backup_cpu_table_breaks_the_cpu_down_per_mb_beside_the_floor() -> None:
    table = rows(tables.backup_cpu_table([with_scenarios(report(20_000)), report(200_000)]))
    assert table == [
        ["20,000", "backup (3 of max 4 segments)", "40", "100.0", "10.0", "1.0", "2.0", "7.0", "15.0"],
        ["20,000", "backup, sequential Select", "40", "100.0", "90.0", "70.0", "0.0", "20.0", "0.0"],
        ["20,000", "library floor: parse 5.5, lines 3.0", "100", "100.0", "8.5", "-", "-", "-", "-"],
    ]


def test_the_slow_select_table_compares_with_the_sequential_loop_at_that_latency() -> None:
    measured = slow_report(50_000, ORDINARY)
    ours_key = "backup/ours@latency=250"
    measured.jobs[ours_key] = replace(measured.jobs[ours_key], cpu_seconds=1.0, server_cpu_seconds=1.2)
    by_run = {row[2]: row for row in rows(tables.slow_select_table([measured]))}
    ours = by_run["backup (16 of max 4 segments), 250 ms"]
    # 25 s against 2 s; CPU 1.0 s client, 1.2 s engine: capped by the engine's 1.2 s, by 1.0 s without it; 100
    # pages over 16 streams: 7 a stream.
    assert ours[:2] == ["50,000", "user-000123"]
    assert ours[3:] == ["2.0", "12.5x", "16", "100 / 100", "120", "1.0 / 1.2", "20.8x", "25.0x", "14.3x"]
    baseline = by_run["backup, sequential Select, 250 ms"]
    assert baseline[3:] == ["25.0", "-", "-", "100 / 100", "100", "1.0 / 0.0", "-", "-", "-"]


def test_growth_compares_only_the_runs_at_the_benchmarks_own_conditions() -> None:
    grown = tables.growth_table([with_scenarios(report(20_000)), with_scenarios(report(200_000))])
    assert {row[0] for row in rows(grown)} == {
        "backup (3 of max 4 segments)",
        "backup, sequential Select",
        "restore (8 workers)",
        "restore, 1 PutAttributes/item",
        "backup, repoman-cli",
        "restore, repoman-cli",
    }


@pytest.mark.parametrize(
    ("operation", "run", "module"),
    [
        ("backup", "ours", "benchkit.jobs.backup_ours"),
        ("backup", "baseline", "benchkit.jobs.backup_baseline"),
        ("backup", "floor", "benchkit.jobs.backup_floor"),
        ("backup", sweep_run(2), "benchkit.jobs.backup_ours"),
        ("backup", scenario_run("baseline", LATENCY, 250), "benchkit.jobs.backup_baseline"),
        ("backup", scenario_run(sweep_run(16), LATENCY, 250), "benchkit.jobs.backup_ours"),
        ("restore", "ours", "benchkit.jobs.restore_ours"),
        ("restore", "baseline", "benchkit.jobs.restore_baseline"),
        ("restore", "legacy", "benchkit.jobs.restore_ours"),
        ("restore", scenario_run("legacy", WRITE_CAP, 10), "benchkit.jobs.restore_ours"),
        ("restore", scenario_run("ours", DAMAGE, 5), "benchkit.jobs.restore_ours"),
        ("backup", "repoman", "benchkit.peerlaunch"),
        ("restore", "repoman", "benchkit.peerlaunch"),
    ],
    ids=str,
)
def test_every_job_has_a_module_to_run_it(operation: str, run: str, module: str) -> None:
    spec = JobSpec(operation, run, url="http://127.0.0.1:1", bucket="b", domain="d", domain_items=1)
    assert job_module(spec) == module
    assert importlib.util.find_spec(module) is not None
    assert job_command(spec, module) == [sys.executable, "-m", module]
    assert job_command(replace(spec, python="/peer/bin/python"), module)[0] == "/peer/bin/python"


# --- the domains: names, a damaged copy ---------------------------------------------------------------------------


def test_ordinary_names_rename_the_same_items_in_order() -> None:
    hexed = list(filling.generated_items(5))
    ordinary = list(filling.generated_items(5, ORDINARY))
    assert [item.name for item in ordinary] == [f"user-{index:06d}" for index in range(5)]
    assert [item.attributes for item in ordinary] == [item.attributes for item in hexed]
    assert list(filling.generated_items(5, ORDINARY, start=3)) == ordinary[3:]  # a larger size adds the rest
    assert sorted(item.name for item in ordinary) == [item.name for item in ordinary]
    with pytest.raises(ValueError, match="unknown kind of names"):
        list(filling.named(hexed, "digits"))


def test_damage_splits_into_deleted_changed_and_added() -> None:
    assert filling.damage_plan(5) == {"deleted": 2, "changed": 2, "added": 1}
    assert filling.damage_plan(2) == {"deleted": 1, "changed": 1, "added": 0}
    assert sum(filling.damage_plan(8).values()) == 8


def test_a_damaged_copy_differs_from_the_domain_by_the_damage(sdb_client: Any) -> None:
    sdb_client.create_domain(DomainName="bench-copy")
    generated = list(filling.generated_items(60, ORDINARY))
    put_items(sdb_client, "bench-copy", generated)
    plan = filling.damage_copy(sdb_client, "bench-copy", 60, 5, ORDINARY)
    held = {
        item.name: item
        for page in SimpleDB(sdb_client).select_all("bench-copy", "select * from `bench-copy`")
        for item in page
    }
    expected = {item.name: item for item in generated}
    assert sorted(set(expected) - set(held)) == ["user-000012", "user-000024"]  # spread over the names
    assert sorted(set(held) - set(expected)) == [filling.EXTRA_ITEM]
    changed = sorted(name for name in set(held) & set(expected) if held[name] != expected[name])
    assert changed == ["user-000036", "user-000048"]
    assert plan == {"deleted": 2, "changed": 2, "added": 1}


# --- the library floor and the peer -------------------------------------------------------------------------------


def engine_pages(items: list[Any]) -> list[bytes]:
    """``select * limit 2500`` pages over ``items``, as the engine answers them."""
    from sdblocal.engine import SimpleDBEngine
    from sdblocal.model import PutAttribute
    from sdblocal.responses import OPERATIONS, success_document

    backend = SimpleDBEngine()
    backend.create_domain("floor")
    for item in items:
        pairs = [PutAttribute(name, value) for name, values in item.attributes.items() for value in values]
        backend.put_attributes("floor", item.name, pairs)
    result = OPERATIONS["Select"](backend, {"SelectExpression": "select * from `floor` limit 2500"}, 0)
    assert result is not None
    return [success_document("Select", result, "floor").encode("utf-8")]


def test_the_floor_does_the_products_work_on_the_same_pages() -> None:
    from simpledb_backup.aws.selectparse import parse_select_response
    from simpledb_backup.formats.dumpformat import encode_item_line

    items = [
        *filling.generated_items(200),
        make_item("empty", [("origin", ""), ("b", "x"), ("a", "2"), ("a", "1")]),
    ]
    [page] = engine_pages(items)
    product = [encode_item_line(item) for item in parse_select_response(page)[0]]
    assert backup_floor.item_lines(backup_floor.parse_page(page)) == product
    lines = backup_floor.item_lines(backup_floor.parse_page(page))
    assert backup_floor.digest(lines) == sum(line_digest(line) for line in lines) % 2**256


def test_a_floor_round_times_each_step_per_page() -> None:
    pages = engine_pages(list(filling.generated_items(30))) * 3
    spent = backup_floor.one_round(pages, clock=Ticks())
    # Five readings a page (one per step boundary), two around the final flush.
    assert spent == {"parse": 3.0, "lines": 3.0, "digest": 3.0, "compress": 4.0}


def test_the_peer_is_pinned_and_needs_python_3_9() -> None:
    pins = peer.REQUIREMENTS.read_text()
    assert peer.pinned_version(pins) == "1.0.6"
    requirements = [line for line in pins.splitlines() if line and not line.startswith("#")]
    assert all("==" in line for line in requirements)
    assert peer.candidates({"PEER_PYTHON": "/opt/python3.9"}, which=lambda name: None) == [["/opt/python3.9"]]
    assert peer.candidates({}, which=lambda name: f"/usr/bin/{name}" if name == "python3.9" else None) == [
        ["python3.9"]
    ]
    with pytest.raises(peer.PeerUnavailableError, match=r"no Python 3\.9"):
        peer.find_interpreter([[sys.executable]])  # this one is 3.13


def test_the_peer_launcher_counts_a_backup_files_items_and_types_the_command() -> None:
    backup_file = {
        "metadata": {"dists": ["bookworm"]},
        "packages": {"zlib1g": {"bookworm": {"main": {"amd64": [{}, {}], "arm64": [{}]}}}},
    }
    assert peerlaunch.backup_items(backup_file) == 4  # meta and three package entries
    spec = {"operation": "backup", "domain": "d", "bucket": "b", "target": None, "source_path": "/f.json"}
    assert peerlaunch.command_line(spec) == [
        "repoman-cli",
        "--simpledb-domain",
        "d",
        "--s3-bucket",
        "b",
        "--skip-checkup",
        "backup",
    ]
    restore = {**spec, "operation": "restore", "target": "t"}
    assert peerlaunch.command_line(restore)[2] == "t"
    assert peerlaunch.command_line(restore)[-2:] == ["restore", "/f.json"]


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
    # The safety backup is taken in the preparation's read of the target (one read for the plan and the backup),
    # so its time is the preparation's; the safety-backup stage runs only for runs saved by earlier releases.
    assert clock.seconds == {PREPARE: 1.0, WRITE: 1.0, VERIFY: 1.0}


class ProbeAnswer:
    def as_dict(self) -> dict[str, float]:
        return {"write_calls_per_second": 183.456, "select_cpu_ms_per_mb": 12.345, "items": 5000}


def test_the_engines_probe_runs_without_latency_or_caps_and_is_kept_in_the_report() -> None:
    engine = FakeEngine()
    engine.url = "http://engine"
    probed: list[tuple[str, int, int]] = []

    def measure(url: str, items: list[Any], clients: int) -> ProbeAnswer:
        probed.append((url, len(items), clients))
        return ProbeAnswer()

    measured = report(20_000)
    probe.measure_engine_capacity(engine, measured, lambda line: None, measure=measure, items=30)
    assert engine.controls.configured == [
        {"latency_ms": 0, "write_calls_per_second": 0, "select_calls_per_second": 0}
    ]
    assert probed == [("http://engine", 30, 4)]
    assert measured.engine == {
        "write_calls_per_second": 183.46,
        "select_cpu_ms_per_mb": 12.35,
        "items": 5000.0,
    }
    assert SizeReport.from_dict(measured.to_dict()).engine == measured.engine
    rendering = by_target([measured])["engine: CPU per MB of Select XML it serves"]
    assert rendering.figures == {20_000: MsPerMb(12.35)}  # the probe's, not our backup's share


def test_a_runs_share_of_a_core_is_what_its_probe_measured() -> None:
    from benchkit import modelcheck

    assert modelcheck.cpu_share(job("backup", "ours", 10, 1.0, extra={"core_share": 0.4})) == 0.4
    assert modelcheck.cpu_share(job("backup", "ours", 10, 1.0)) == 1.0  # not recorded
    share = runs.measure_core_share(seconds=0.05)
    assert 0.0 < share <= 1.0
