"""The capacity model's arithmetic (simpledb_backup.capacity): pages, write calls, streams, what bounds a run,
invocations and cost. Its fit to measured runs is tests/unit/localtools/test_capacity_points.py."""

import math
from dataclasses import replace

import pytest

from simpledb_backup.capacity import (
    BACKUP_STREAM_MB,
    MB_PER_VCPU,
    SELECT_PAGE_BYTES,
    STREAM_MEMORY_BUDGET_MB,
    USD_PER_GB_SECOND,
    USD_PER_REQUEST,
    Deployment,
    DomainSize,
    Latency,
    UnitCosts,
    estimate_backup,
    estimate_restore,
    extra_pages_allowed,
    min_select_pages,
    most_runs,
    write_calls,
)

#: 20,000 Repoman-shaped items, as DomainMetadata described the benchmark's domain.
REPOMAN = DomainSize(
    item_count=20_000,
    attribute_name_count=22,
    attribute_value_count=240_000,
    item_names_size_bytes=1_280_000,
    attribute_names_size_bytes=200,
    attribute_values_size_bytes=24_000_000,
)
DEPLOYED = Deployment(segments=8, restore_workers=8, memory_mb=1024)
#: Costs that make the arithmetic easy: 10 ms of CPU per MB of Select XML, 5 ms per batch, nothing else.
SIMPLE = UnitCosts(
    backup_ms_per_select_mb=10.0,
    scan_ms_per_select_mb=10.0,
    dump_ms_per_data_mb=0.0,
    client_ms_per_batch=5.0,
    cores=1.0,
    backup_fixed_seconds=0.0,
    restore_fixed_seconds=0.0,
    backup_setup_calls=0.0,
    restore_setup_calls=0.0,
    continuation_seconds=0.0,
)


def test_the_least_pages_are_set_by_the_items_or_by_the_xml() -> None:
    assert REPOMAN.select_xml_bytes == 1_280_000 + 24_000_000 + 240_000 * 65 + 20_000 * 30
    assert min_select_pages(REPOMAN) == math.ceil(REPOMAN.select_xml_bytes / SELECT_PAGE_BYTES) == 40
    tiny_items = DomainSize(10_000, 1, 10_000, 50_000, 1, 10_000)  # 10,000 items of ~100 bytes of XML
    assert min_select_pages(tiny_items) == 4  # 2,500 items a page
    assert min_select_pages(DomainSize(0, 0, 0, 0, 0, 0)) == 1


def test_write_calls_are_25_items_a_call_unless_the_request_would_pass_1_mb() -> None:
    assert write_calls(REPOMAN) == 800
    assert write_calls(REPOMAN, items=5) == 1
    # Items of ~60 KB: a request holds 1 MB of form-encoded data, three bytes to a byte at most.
    large = DomainSize(1000, 10, 10_000, 10_000, 100, 60_000_000)
    per_call = 1024 * 1024 // (3 * (10 + 60_000) + 10 * (3 * 10 + 96))
    assert write_calls(large) == math.ceil(1000 / per_call)
    assert write_calls(DomainSize(0, 0, 0, 0, 0, 0)) == 0


def test_a_backup_adds_streams_until_the_cpu_is_busy() -> None:
    # A page is ~1.05 MB: 10.5 ms of CPU against 100 ms of latency; one core keeps ~10 streams busy.
    backup = estimate_backup(REPOMAN, Latency(100.0, 100.0), DEPLOYED, SIMPLE)
    assert backup.streams == 6  # 3 extra pages pay for 5 more runs, half a page each
    assert backup.select_pages == 40 + 3
    assert backup.bound == "latency"
    page_ms = 100.0 + 10.0 * REPOMAN.select_xml_bytes / 40 / 1e6
    assert backup.seconds == pytest.approx(43 / (6 * 1000 / page_ms))
    larger = estimate_backup(REPOMAN.scaled(10), Latency(100.0, 100.0), DEPLOYED, SIMPLE)
    assert larger.streams == 8  # 20 extra pages of 398 would pay for 40 runs: the deployed ceiling binds
    slow_cpu = estimate_backup(
        REPOMAN, Latency(10.0, 10.0), DEPLOYED, replace(SIMPLE, backup_ms_per_select_mb=40.0)
    )
    assert slow_cpu.bound == "client CPU"
    assert slow_cpu.streams < 8


def test_the_extra_pages_and_the_memory_budget_bound_the_streams() -> None:
    assert [extra_pages_allowed(pages) for pages in (1, 99, 100, 400)] == [3, 3, 5, 20]
    assert [most_runs(pages) for pages in (1, 99, 100, 400)] == [6, 6, 10, 40]
    unbounded = Deployment(segments=64, restore_workers=8)
    huge = estimate_backup(REPOMAN.scaled(100), Latency(250.0, 250.0), unbounded, SIMPLE)
    assert huge.streams == STREAM_MEMORY_BUDGET_MB // BACKUP_STREAM_MB == 24


def test_streams_never_outnumber_the_pages() -> None:
    small = DomainSize(100, 5, 500, 1000, 50, 10_000)
    backup = estimate_backup(small, Latency(250.0, 250.0), DEPLOYED, SIMPLE)
    assert (backup.streams, backup.select_pages) == (1, 1)


def test_a_service_on_the_same_cores_shares_them() -> None:
    shared = replace(SIMPLE, service_ms_per_select_mb=30.0, service_shares_cores=True, cores=2.0)
    backup = estimate_backup(REPOMAN, Latency(0.0, 0.0), DEPLOYED, shared)
    assert backup.bound == "shared CPU"
    one_engine_core = replace(shared, service_cores=1.0)
    assert estimate_backup(REPOMAN, Latency(0.0, 0.0), DEPLOYED, one_engine_core).bound == "service"


def test_lambda_gives_a_vcpu_per_1769_mb() -> None:
    assert Deployment(4, 8, memory_mb=1769).vcpus == 1.0
    assert DEPLOYED.vcpus == pytest.approx(1024 / MB_PER_VCPU)
    on_lambda = replace(SIMPLE, cores=None, backup_ms_per_select_mb=100.0)
    backup = estimate_backup(REPOMAN, Latency(1.0, 1.0), DEPLOYED, on_lambda)
    assert backup.bound == "client CPU"
    page_ms = 100.0 * REPOMAN.select_xml_bytes / 40 / 1e6
    assert backup.seconds == pytest.approx(backup.select_pages * page_ms / 1000 / DEPLOYED.vcpus)


def test_a_long_run_continues_in_new_invocations_and_pays_for_each() -> None:
    huge = REPOMAN.scaled(400)  # 8 million items
    short = Deployment(segments=1, restore_workers=8, memory_mb=2048, timeout_seconds=300, margin_seconds=60)
    costs = replace(SIMPLE, continuation_seconds=2.0)
    backup = estimate_backup(huge, Latency(100.0, 100.0), short, costs)
    work = backup.select_pages * (100.0 + 10.0 * huge.select_xml_bytes / min_select_pages(huge) / 1e6) / 1000
    assert backup.invocations == math.ceil(work / 240)
    assert backup.seconds == pytest.approx(work + 2.0 * (backup.invocations - 1))
    assert backup.lambda_gb_seconds == pytest.approx(2 * backup.seconds)
    assert backup.cost_usd == pytest.approx(
        backup.lambda_gb_seconds * USD_PER_GB_SECOND + backup.invocations * USD_PER_REQUEST
    )


def test_a_restore_writes_at_the_workers_rate_or_the_cap() -> None:
    restore = estimate_restore(REPOMAN, Latency(30.0, 30.0), DEPLOYED, SIMPLE)
    assert restore.write_calls == 800
    # 8 workers over 35 ms a call would make 229 calls/s; one core at 5 ms a call makes 200.
    assert restore.bound == "client CPU"
    assert restore.phases["write"] == pytest.approx(800 / 200.0)
    slower = estimate_restore(REPOMAN, Latency(100.0, 100.0), DEPLOYED, SIMPLE)
    assert slower.bound == "latency"
    assert slower.phases["write"] == pytest.approx(800 / (8 * 1000 / 105.0))
    capped = estimate_restore(REPOMAN, Latency(30.0, 30.0), DEPLOYED, SIMPLE, write_cap=40.0)
    assert capped.bound == "cap"
    assert capped.phases["write"] == pytest.approx(20.0)


def test_a_restore_over_a_full_target_reads_it_twice_and_writes_what_differs() -> None:
    repair = estimate_restore(
        REPOMAN, Latency(30.0, 30.0), DEPLOYED, SIMPLE, items_to_write=5, target=REPOMAN
    )
    assert repair.write_calls == 1
    backup_pages = estimate_backup(REPOMAN, Latency(30.0, 30.0), DEPLOYED, SIMPLE).select_pages
    assert repair.select_pages == 2 * backup_pages  # before writing (plan and safety backup) and to verify
    into_new = estimate_restore(REPOMAN, Latency(30.0, 30.0), DEPLOYED, SIMPLE)
    assert into_new.select_pages == backup_pages + 1  # the new domain's one empty page, then the read-back


def test_scaling_a_domain_keeps_its_kind_of_items() -> None:
    tenfold = REPOMAN.scaled(10)
    assert tenfold.item_count == 200_000
    assert tenfold.attribute_names_size_bytes == REPOMAN.attribute_names_size_bytes
    assert tenfold.data_bytes == pytest.approx(10 * (REPOMAN.data_bytes - 200) + 200)


def test_setup_calls_wait_the_latency_and_a_busy_machine_slows_the_cpu() -> None:
    base = estimate_backup(REPOMAN, Latency(250.0, 250.0), DEPLOYED, SIMPLE)
    with_setup = estimate_backup(
        REPOMAN, Latency(250.0, 250.0), DEPLOYED, replace(SIMPLE, backup_setup_calls=3.0)
    )
    assert with_setup.seconds == pytest.approx(base.seconds + 0.75)
    cpu_bound = replace(SIMPLE, backup_ms_per_select_mb=100.0)
    quiet = estimate_backup(REPOMAN, Latency(1.0, 1.0), DEPLOYED, cpu_bound)
    busy = estimate_backup(REPOMAN, Latency(1.0, 1.0), DEPLOYED, replace(cpu_bound, cpu_share=0.5))
    assert busy.bound == quiet.bound == "client CPU"
    assert busy.seconds == pytest.approx(2 * quiet.seconds, rel=0.05)
