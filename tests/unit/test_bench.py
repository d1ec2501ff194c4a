"""The benchmark's pure parts: minimum-call arithmetic, targets, tables and docs/PERFORMANCE.md (no timing)."""

import pytest

import benchkit
from benchkit import DomainProfile, JobResult, SizeReport
from simpledb_backup.items import MAX_BATCH_ITEMS, MAX_SELECT_LIMIT


def job(operation: str, run: str, items: int, wall: float, **fields: object) -> JobResult:
    values: dict[str, object] = {
        "cpu_seconds": 1.0,
        "rss_start_mb": 80.0,
        "rss_peak_mb": 100.0,
        "domain_items": items,
    }
    values.update(fields)
    return JobResult(operation, run, items, wall, **values)  # type: ignore[arg-type]


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
    minimum_pages = profile.min_select_pages
    writes = profile.min_batch_writes
    jobs = {
        "backup/ours": job(
            "backup",
            "ours",
            items,
            backup,
            calls={"DomainMetadata": 1, "Select": pages or minimum_pages},
            rss_peak_mb=rss,
        ),
        "backup/baseline": job("backup", "baseline", items, baseline_backup, calls={"Select": minimum_pages}),
        "restore/ours": job(
            "restore",
            "ours",
            items,
            restore,
            calls={"BatchPutAttributes": writes, "Select": minimum_pages, "CreateDomain": 1},
            rss_peak_mb=rss,
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
    return SizeReport(profile, 30.0, 8, 8, "2026-01-02", jobs)


# --- minimum calls ---------------------------------------------------------------------------------------------


def test_the_limits_are_the_engines_and_the_products() -> None:
    from sdblocal.select import MAX_PAGE_BYTES

    assert benchkit.SELECT_PAGE_BYTES == MAX_PAGE_BYTES
    assert benchkit.SELECT_PAGE_ITEMS == MAX_SELECT_LIMIT
    assert benchkit.BATCH_ITEMS == MAX_BATCH_ITEMS


@pytest.mark.parametrize(
    ("items", "response_bytes", "pages"),
    [
        (0, 0, 1),  # an empty domain still takes one page to find out
        (1, 100, 1),
        (2500, 2500 * 100, 1),  # small items: the 2,500-item limit binds
        (2501, 2501 * 100, 2),
        (10_000, 10_000 * 100, 4),
        (1000, benchkit.SELECT_PAGE_BYTES, 1),  # large items: the byte cap binds
        (1000, benchkit.SELECT_PAGE_BYTES + 1, 2),
        (20_000, 41_556_836, 40),  # the 20,000-item Repoman domain: ~2 KB of XML an item
    ],
)
def test_minimum_select_pages(items: int, response_bytes: int, pages: int) -> None:
    assert benchkit.min_select_pages(items, response_bytes) == pages


@pytest.mark.parametrize(
    ("items", "writes"), [(0, 0), (1, 1), (25, 1), (26, 2), (20_000, 800), (200_001, 8001)]
)
def test_minimum_batch_writes(items: int, writes: int) -> None:
    assert benchkit.min_batch_writes(items) == writes


def test_percent_over_and_the_segment_bound() -> None:
    assert benchkit.percent_over(44, 40) == pytest.approx(10.0)
    assert benchkit.percent_over(40, 40) == 0.0
    assert benchkit.segment_page_overshoot_bound(8) == 7
    assert benchkit.segment_page_overshoot_bound(1) == 0


def test_a_sampled_baseline_is_extrapolated_linearly() -> None:
    sampled = job("restore", "baseline", 1000, 36.0, domain_items=20_000, calls={"PutAttributes": 1000})
    assert sampled.sampled
    assert sampled.projected_wall_seconds == pytest.approx(720.0)
    assert sampled.projected_calls == 20_000
    whole = job("backup", "baseline", 20_000, 10.0)
    assert not whole.sampled
    assert whole.projected_wall_seconds == 10.0


# --- targets ---------------------------------------------------------------------------------------------------


def marks(reports: list[SizeReport]) -> dict[str, str]:
    return {verdict.target: verdict.mark for verdict in benchkit.verdicts(reports)}


def test_targets_met() -> None:
    result = marks([report(20_000), report(200_000)])
    assert set(result.values()) == {"✓"}


def test_targets_missed() -> None:
    slow = report(20_000, backup=4.0, restore=20.0, pages=44, rss=170.0)
    large = report(200_000, backup=40.0, restore=200.0, rss=230.0)
    result = marks([slow, large])
    assert result["backup wall time vs sequential Select loop"] == "✗"  # 10 / 4 = 2.5x
    assert result["restore wall time vs one PutAttributes per item"] == "✗"  # 800 / 20 = 40x
    assert result["backup Select pages vs theoretical minimum"] == "✗"  # 44 / 40 = +10 %
    assert result["restore item writes vs theoretical minimum"] == "✓"
    assert result["backup peak RSS"] == "✗"
    assert result["backup peak RSS growth with domain size"] == "✗"  # +60 MB


def test_rss_is_judged_at_200000_items_only_and_growth_needs_two_sizes() -> None:
    result = marks([report(20_000, rss=170.0)])
    assert result["backup peak RSS"] == "-"
    assert result["backup peak RSS growth with domain size"] == "-"


def test_the_notes_explain_exactly_the_targets_missed() -> None:
    assert benchkit.shortfall_notes([report(20_000), report(200_000)]) == []
    notes = benchkit.shortfall_notes([report(20_000, pages=44)])
    assert len(notes) == 1
    assert "44 pages for a minimum of 40" in notes[0]


# --- tables and the document ----------------------------------------------------------------------------------


def test_markdown_table_pads_columns_and_aligns() -> None:
    table = benchkit.markdown_table(["a", "number"], [["long cell", "1"], ["b", "1,000"]], "lr")
    assert table.splitlines() == [
        "| a         | number |",
        "| --------- | -----: |",
        "| long cell |      1 |",
        "| b         |  1,000 |",
    ]


def test_the_measurement_table_marks_the_estimated_baseline() -> None:
    table = benchkit.measurement_table([report(20_000)])
    rows = {line.split("|")[2].strip(): line for line in table.splitlines()[2:]}
    assert "est.¹ from 100" in rows["restore, 1 PutAttributes/item"]
    assert "20,001¹" in rows["restore, 1 PutAttributes/item"]
    assert "40 / 40" in rows["backup (8 segments)"]


def test_the_document_round_trips_and_keeps_sizes_not_rerun() -> None:
    first = [report(20_000), report(200_000)]
    text = benchkit.render_performance(first, "2 cores", "Bottleneck notes.")
    assert benchkit.render_performance(benchkit.load_reports(text), "2 cores", "Bottleneck notes.") == text
    rerun = report(20_000, backup=1.5)
    merged = benchkit.merge_reports(benchkit.load_reports(text), [rerun])
    assert [item.profile.items for item in merged] == [20_000, 200_000]
    assert merged[0].jobs["backup/ours"].wall_seconds == 1.5
    assert merged[1].jobs["backup/ours"].wall_seconds == 1.0
    updated = benchkit.render_performance(merged, "2 cores", "Bottleneck notes.")
    headings = [line for line in updated.splitlines() if line.startswith("#")]
    assert headings == [line for line in text.splitlines() if line.startswith("#")]
    assert "## Growth with domain size" in updated
    assert "20,000 → 200,000" in updated


def test_an_unreadable_results_block_is_ignored() -> None:
    assert benchkit.load_reports("# Performance\n") == []
    assert benchkit.load_reports("<!-- bench-results\n{not json\n-->") == []


def test_best_of_keeps_the_fastest_run_and_the_highest_peak() -> None:
    runs = [
        job("backup", "ours", 10, 5.0, rss_peak_mb=150.0),
        job("backup", "ours", 10, 4.0, rss_peak_mb=140.0),
    ]
    best = benchkit.best_of(runs)
    assert best.wall_seconds == 4.0
    assert best.rss_peak_mb == 150.0
    assert best.extra["wall_runs"] == [5.0, 4.0]
    assert best.extra["rss_runs"] == [150.0, 140.0]
    failed = job("backup", "ours", 0, 0.0, error="boom")
    assert benchkit.best_of([runs[0], failed]).error == "boom"
