"""The capacity model against recorded measurements: every run of a recorded benchmark run
(fixtures/capacity_points.json, written by ``scripts/bench.py --record-points``; its header says which run)
predicted from the calibration run's unit costs, within the stated tolerance; and how points are made."""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from benchkit import modelcheck
from benchkit.results import DomainProfile, JobResult, Machine, SizeReport
from simpledb_backup.capacity import DomainSize

POINTS = Path(__file__).with_name("fixtures") / "capacity_points.json"
#: Missing, it has no points, and the coverage test below says so.
RECORDED: dict[str, Any] = json.loads(POINTS.read_text()) if POINTS.exists() else {"points": [], "runs": []}


def recorded() -> list[modelcheck.Point]:
    return [modelcheck.Point.from_dict(point) for point in RECORDED["points"]]


def test_the_recorded_points_cover_each_kind_of_run() -> None:
    assert POINTS.exists(), f"record them: scripts/bench.py --record-points {POINTS}"
    assert RECORDED["runs"], "the runs the points come from"
    labels = {point.label for point in recorded()}
    assert sum(point.calibration for point in recorded()) >= 1
    for kind in ("backup, 30 ms", "backup, 250 ms", "restore, 30 ms", "restore, write cap", "damaged"):
        assert any(kind in label for label in labels), kind


@pytest.mark.parametrize(
    "point", recorded(), ids=lambda point: f"{point.label}, {point.items:,} {point.names}"
)
def test_the_model_predicts_each_recorded_run_within_the_tolerance(point: modelcheck.Point) -> None:
    assert abs(point.error) <= RECORDED["time_tolerance"], (point.seconds, point.prediction)
    assert modelcheck.pages_within(point), (point.pages, point.prediction.pages)


# --- how the points are made --------------------------------------------------------------------------------------

METADATA = {
    "item_count": 20_000,
    "attribute_name_count": 22,
    "attribute_value_count": 240_000,
    "item_names_size_bytes": 1_280_000,
    "attribute_names_size_bytes": 200,
    "attribute_values_size_bytes": 24_000_000,
}
XML = DomainSize(**METADATA).select_xml_bytes


def result(operation: str, run: str, wall: float, **fields: Any) -> JobResult:
    return JobResult(operation, run, 20_000, wall, fields.pop("cpu_seconds", 2.0), 80.0, 120.0, **fields)


def calibration_report() -> SizeReport:
    profile = DomainProfile(20_000, 25_280_200, 41_000_000, METADATA)
    jobs = {
        "backup/ours": result(
            "backup",
            "ours",
            4.0,
            server_cpu_seconds=2.0,
            calls={"Select": 42},
            extra={"segments": 3, "lanes": {"Select": {"ok_bytes": XML, "call_cpu": 1.0}}},
        ),
        "restore/ours": result(
            "restore",
            "ours",
            12.0,
            cpu_seconds=9.0,
            server_cpu_seconds=6.0,
            calls={"BatchPutAttributes": 800, "Select": 41},
            extra={
                "phases": {"prepare": 1.0, "write": 8.0, "verify": 3.0},
                "lanes": {"Select": {"ok_bytes": XML, "call_cpu": 2.0}},
            },
        ),
    }
    machine = Machine(cores=2, memory_gb=24.0, load_average=1.0, system="Linux", python="3.13.0")
    return SizeReport(profile, 30.0, 4, 8, "2026-12-01", jobs, machine, "abc1234")


def test_the_unit_costs_come_from_the_calibration_run() -> None:
    calibration = modelcheck.bench_costs(calibration_report())
    assert calibration is not None
    costs = calibration.costs
    megabytes = XML / 1e6
    assert costs.backup_ms_per_select_mb == pytest.approx(2000 / megabytes)  # 2 s of client CPU
    assert costs.service_ms_per_select_mb == pytest.approx(2000 / megabytes)  # 2 s of the engine's
    assert costs.scan_ms_per_select_mb == pytest.approx(2000 / megabytes)  # the restore's Select calls: 2 s
    assert costs.dump_ms_per_data_mb == pytest.approx(1000 / 25.2802)  # the prepare phase over the data
    assert costs.client_ms_per_batch == pytest.approx(1000 * (9.0 - 1.0 - 2.0) / 800)
    assert costs.service_ms_per_batch == pytest.approx(1000 * (6.0 - 2.0) / 800)
    assert (costs.cores, costs.service_shares_cores, costs.service_cores) == (2.0, True, 1.0)


def test_each_measured_run_becomes_a_point_the_calibration_first() -> None:
    report = calibration_report()
    report.jobs["backup/ours@latency=250"] = replace(
        report.jobs["backup/ours"], run="ours@latency=250", wall_seconds=9.0
    )
    report.jobs["restore/ours@write=40"] = replace(report.jobs["restore/ours"], run="ours@write=40")
    found = modelcheck.points([report])
    assert [(point.label, point.calibration) for point in found] == [
        ("backup, 30 ms", True),
        ("restore, 30 ms", True),
        ("restore, write cap 40/s", False),
        ("backup, 250 ms", False),
    ]
    slow = found[3]
    assert slow.case.latency.select_ms == 250.0
    assert found[2].case.write_cap == 40.0
    assert modelcheck.Point.from_dict(json.loads(json.dumps(slow.to_dict()))) == slow
    assert modelcheck.points([replace(report, profile=replace(report.profile, metadata={}))]) == []


def test_the_largest_domain_is_simulated_from_the_measured_costs() -> None:
    rows = modelcheck.simulated_largest([calibration_report()], 30.0)
    assert [row.label for row in rows] == ["benchmark machine", "Lambda, 1024 MB"]
    size = rows[0].size
    assert size.data_bytes == pytest.approx(10 * 1024**3, rel=1e-3)
    assert size.item_count == pytest.approx(20_000 * 10 * 1024**3 / 25_280_200, rel=1e-3)
    on_lambda = rows[1]
    assert on_lambda.backup.invocations > 1  # 10 GB do not fit one 15-minute invocation
    assert on_lambda.backup.cost_usd > 0
    assert on_lambda.restore.write_calls == pytest.approx(size.item_count / 25, abs=1)
