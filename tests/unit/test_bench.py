"""The benchmark's untimed parts: its arithmetic, its targets, its tables, docs/PERFORMANCE.md, and the timed
composition of the restore (run with a counting clock, so no assertion depends on how long anything took)."""

import importlib.util
import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from benchkit import arithmetic, document, tables
from benchkit.phases import PhaseClock, timed_restore_service
from benchkit.results import (
    JOBS,
    PREPARE,
    SAFETY_BACKUP,
    VERIFY,
    WRITE,
    DomainProfile,
    JobResult,
    JobSpec,
    Machine,
    SizeReport,
    sweep_run,
)
from benchkit.runs import job_module
from benchkit.targets import Calls, PeakRss, RssGrowth, Speedup, verdicts
from simpledb_backup.backup import BackupService
from simpledb_backup.config import Settings
from simpledb_backup.events import RestoreRunRequest
from simpledb_backup.items import MAX_BATCH_ITEMS, MAX_SELECT_LIMIT, make_item
from simpledb_backup.restore import compose_restore_service
from simpledb_backup.runtime import Deadline
from simpledb_backup.s3store import BucketStore
from simpledb_backup.simpledb import SimpleDB

PERFORMANCE = Path(__file__).resolve().parents[2] / "docs" / "PERFORMANCE.md"
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


@pytest.mark.parametrize(("operation", "run"), [*JOBS, ("backup", sweep_run(2))], ids=lambda part: str(part))
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
    assert set(judged([report(20_000), report(200_000)]).values()) == {True}


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
    service = compose_restore_service(SimpleDB(sdb_client), BucketStore(s3_client, bucket), settings)
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
