"""The capacity model (simpledb_backup.capacity) against the benchmark's measurements. Pure.

The model's unit costs are taken from one run (the calibration: our backup and our restore at the smallest
size with hex names, at the benchmark's latency); every other measured run is predicted from them and compared:
other sizes, ordinary names, the slow Select latency, the write caps, the damaged copy. The benchmark machine
is not Lambda: client and engine share its cores, and the engine renders each page on one core (its Python), so
the predictions here use those facts (``bench_costs``), and the estimate the restore function answers uses
Lambda's (docs/PERFORMANCE.md, "Capacity model").

Each prediction is a ``Case``: the model's inputs, kept with what was measured, so that the recorded points
(tests/unit/localtools/fixtures/capacity_points.json) can be predicted again by the tests.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from benchkit.arithmetic import MB, lane_summary
from benchkit.comparisons import damaged_restores, of_names
from benchkit.results import (
    BACKUP,
    HEX,
    LATENCY,
    OURS,
    PREPARE,
    RESTORE,
    VERIFY,
    WRITE,
    WRITE_CAP,
    JobResult,
    RunName,
    SizeReport,
    job_key,
)
from simpledb_backup.capacity import (
    Deployment,
    DomainSize,
    Latency,
    UnitCosts,
    estimate_backup,
    estimate_restore,
    extra_pages_allowed,
)

#: SimpleDB's largest domain (Developer Guide, "Limits"): 10 GB.
LARGEST_DOMAIN_BYTES = 10 * 1024**3
#: How far a prediction of a run's time may miss, as a share of the measured time (tests hold the recorded points
#: to it; docs/PERFORMANCE.md shows every error).
TIME_TOLERANCE = 0.35


@dataclass(frozen=True)
class Case:
    """The model's inputs for one run."""

    kind: str  # BACKUP or RESTORE
    size: DomainSize
    latency: Latency
    deployment: Deployment
    costs: UnitCosts
    items_to_write: int | None = None  # restore: None, every item
    target: DomainSize | None = None  # restore: the target before it (None: a new domain)
    write_cap: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> "Case":
        target = document.get("target")
        return cls(
            kind=str(document["kind"]),
            size=DomainSize(**document["size"]),
            latency=Latency(**document["latency"]),
            deployment=Deployment(**document["deployment"]),
            costs=UnitCosts(**document["costs"]),
            items_to_write=document.get("items_to_write"),
            target=DomainSize(**target) if target else None,
            write_cap=document.get("write_cap"),
        )


@dataclass(frozen=True)
class Prediction:
    seconds: float
    pages: int  # Select pages
    streams: int | None  # backup
    write_calls: int | None  # restore
    bound: str
    invocations: int = 1
    cost_usd: float = 0.0


def predict(case: Case) -> Prediction:
    if case.kind == BACKUP:
        backup = estimate_backup(case.size, case.latency, case.deployment, case.costs)
        return Prediction(
            backup.seconds,
            backup.select_pages,
            backup.streams,
            None,
            backup.bound,
            backup.invocations,
            backup.cost_usd,
        )
    restore = estimate_restore(
        case.size,
        case.latency,
        case.deployment,
        case.costs,
        items_to_write=case.items_to_write,
        target=case.target,
        write_cap=case.write_cap,
    )
    return Prediction(
        restore.seconds,
        restore.select_pages,
        None,
        restore.write_calls,
        restore.bound,
        restore.invocations,
        restore.cost_usd,
    )


@dataclass(frozen=True)
class Point:
    """One measured run, the model's inputs for it, and what was measured."""

    label: str
    items: int
    names: str
    case: Case
    seconds: float
    pages: int
    streams: int | None = None
    calibration: bool = False  # the run the unit costs were taken from

    @property
    def prediction(self) -> Prediction:
        return predict(self.case)

    @property
    def error(self) -> float:
        """The prediction's miss as a share of the measured time (+: predicted slower)."""
        return self.prediction.seconds / self.seconds - 1 if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "case": self.case.to_dict()}

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> "Point":
        return cls(**{**document, "case": Case.from_dict(document["case"])})


def domain_size(report: SizeReport) -> DomainSize | None:
    metadata = report.profile.metadata
    return DomainSize(**metadata) if metadata else None


def _mb(result: JobResult) -> float:
    return lane_summary(result, "Select").get("ok_bytes", 0.0) / MB


@dataclass(frozen=True)
class Calibration:
    costs: UnitCosts
    items: int
    notes: dict[str, float] = field(default_factory=dict)


#: What a backup's wall time holds besides its calls, here: its S3 calls (no latency on the engine's S3), the
#: publication, the threads started and joined.
BENCH_BACKUP_FIXED_SECONDS = 0.2


def cpu_share(result: JobResult) -> float:
    """The share of a core the run's threads got when runnable (jobs.child.CoreShareProbe); 1 when not
    recorded."""
    share = result.extra.get("core_share")
    return 1.0 if share is None else float(share)


def _phase(result: JobResult, name: str, key: str = "phases") -> float:
    return float((result.extra.get(key) or {}).get(name, 0.0))


def bench_costs(report: SizeReport) -> Calibration | None:
    """The unit costs of the benchmark machine, from our backup and our restore at this size: CPU per MB and per
    batch from the client's and the engine's CPU (the restore's per stage), and each run's fixed seconds, what
    its wall time holds besides the model's pages and writes."""
    backup, restore, size = report.job(BACKUP, OURS), report.job(RESTORE, OURS), domain_size(report)
    if backup is None or restore is None or size is None or not _mb(backup):
        return None
    backup_mb, scan_mb = _mb(backup), _mb(restore)
    service_per_mb = 1000 * backup.server_cpu_seconds / backup_mb
    batches = max(1, restore.calls.get("BatchPutAttributes", 0))
    if restore.extra.get("phase_cpu"):
        dump_cpu, write_cpu = _phase(restore, PREPARE, "phase_cpu"), _phase(restore, WRITE, "phase_cpu")
        scan_cpu = _phase(restore, VERIFY, "phase_cpu")
    else:  # stored before the stages' CPU was: the calls' CPU stands for the verification's
        scan_cpu = lane_summary(restore, "Select").get("call_cpu", 0.0)
        dump_cpu = _phase(restore, PREPARE)
        write_cpu = max(0.0, restore.cpu_seconds - dump_cpu - scan_cpu)
    costs = UnitCosts(
        backup_ms_per_select_mb=1000 * backup.cpu_seconds / backup_mb,
        scan_ms_per_select_mb=1000 * scan_cpu / scan_mb if scan_mb else 1000 * backup.cpu_seconds / backup_mb,
        dump_ms_per_data_mb=1000 * dump_cpu / (size.data_bytes / MB),
        client_ms_per_batch=1000 * write_cpu / batches,
        service_ms_per_select_mb=service_per_mb,
        service_ms_per_batch=1000
        * max(0.0, restore.server_cpu_seconds - service_per_mb * scan_mb / 1000)
        / batches,
        service_shares_cores=True,
        service_cores=1.0,
        cores=float(report.cores),
        python_cores=1.0,
        backup_fixed_seconds=BENCH_BACKUP_FIXED_SECONDS,
        restore_fixed_seconds=0.0,
        continuation_seconds=0.0,
    )
    deployment, latency = bench_deployment(report), Latency(report.latency_ms, report.latency_ms)
    backup_costs = replace(costs, cpu_share=cpu_share(backup), backup_fixed_seconds=0.0)
    restore_costs = replace(costs, cpu_share=cpu_share(restore))
    variable_backup = estimate_backup(size, latency, deployment, backup_costs).seconds
    variable_restore = estimate_restore(size, latency, deployment, restore_costs).seconds
    costs = replace(
        costs,
        backup_fixed_seconds=max(BENCH_BACKUP_FIXED_SECONDS, backup.wall_seconds - variable_backup),
        restore_fixed_seconds=max(0.0, restore.wall_seconds - variable_restore),
    )
    return Calibration(costs, report.profile.items)


def bench_deployment(report: SizeReport) -> Deployment:
    """The settings the benchmark ran with; one invocation without a deadline (no continuations)."""
    return Deployment(
        segments=report.segments,
        restore_workers=report.restore_workers,
        memory_mb=1024,
        timeout_seconds=1e9,
        margin_seconds=0.0,
    )


def _backup_point(
    report: SizeReport, run: str, latency_ms: float, label: str, calibration: Calibration
) -> Point | None:
    result, size = report.job(BACKUP, run), domain_size(report)
    if result is None or size is None:
        return None
    costs = replace(calibration.costs, cpu_share=cpu_share(result))
    case = Case(BACKUP, size, Latency(latency_ms, latency_ms), bench_deployment(report), costs)
    return Point(
        label=label,
        items=report.profile.items,
        names=report.names,
        case=case,
        seconds=result.wall_seconds,
        pages=result.calls.get("Select", 0),
        streams=int(result.extra["segments"]) if "segments" in result.extra else None,
        calibration=run == OURS and report.profile.items == calibration.items and report.names == HEX,
    )


def _restore_point(
    report: SizeReport, key: str, label: str, calibration: Calibration, **inputs: Any
) -> Point | None:
    operation, run = key.split("/", 1)
    result, size = report.job(operation, run), domain_size(report)
    if result is None or size is None:
        return None
    latency = Latency(report.latency_ms, report.latency_ms)
    costs = replace(calibration.costs, cpu_share=cpu_share(result))
    case = Case(RESTORE, size, latency, bench_deployment(report), costs, **inputs)
    return Point(
        label=label,
        items=report.profile.items,
        names=report.names,
        case=case,
        seconds=result.wall_seconds,
        pages=result.calls.get("Select", 0),
        calibration=run == OURS and report.profile.items == calibration.items,
    )


def calibration_of(reports: Sequence[SizeReport]) -> Calibration | None:
    for report in of_names(reports, HEX):
        calibration = bench_costs(report)
        if calibration is not None:
            return calibration
    return None


def points(reports: Sequence[SizeReport]) -> list[Point]:
    """Every measured run the model predicts, the calibration run first."""
    calibration = calibration_of(reports)
    if calibration is None:
        return []
    found: list[Point | None] = []
    for report in sorted(reports, key=lambda report: report.key):
        found.append(
            _backup_point(report, OURS, report.latency_ms, f"backup, {report.latency_ms:g} ms", calibration)
        )
        found.append(
            _restore_point(report, job_key(RESTORE, OURS), f"restore, {report.latency_ms:g} ms", calibration)
        )
        for key in report.scenario_keys():
            operation, run = key.split("/", 1)
            name = RunName.parse(run)
            if name.arm != OURS:
                continue
            if operation == BACKUP and name.condition == LATENCY:
                found.append(
                    _backup_point(report, run, name.value, f"backup, {name.value:g} ms", calibration)
                )
            elif operation == RESTORE and name.condition == WRITE_CAP:
                label = f"restore, write cap {name.value:g}/s"
                found.append(_restore_point(report, key, label, calibration, write_cap=name.value))
        size = domain_size(report)
        for row in damaged_restores(report):
            label = f"restore of a copy with {row.damaged} items damaged"
            found.append(
                _restore_point(report, row.key, label, calibration, items_to_write=row.damaged, target=size)
            )
    kept = [point for point in found if point is not None]
    return sorted(kept, key=lambda point: not point.calibration)


@dataclass(frozen=True)
class Simulated:
    """A domain of SimpleDB's largest size, predicted by arithmetic over the measured unit costs."""

    label: str
    size: DomainSize
    backup: Prediction
    restore: Prediction


def simulated_largest(
    reports: Sequence[SizeReport], latency_ms: float, lambda_memory_mb: int = 1024
) -> list[Simulated]:
    """The benchmark's domain scaled to 10 GB of data: on the benchmark machine, and on Lambda (the measured
    client costs, Lambda's vCPUs, the service's own time unknown and left out, 15-minute invocations)."""
    calibration = calibration_of(reports)
    base = next((report for report in of_names(reports, HEX) if domain_size(report) is not None), None)
    if calibration is None or base is None:
        return []
    measured = domain_size(base)
    assert measured is not None
    size = measured.scaled(LARGEST_DOMAIN_BYTES / measured.data_bytes)
    latency = Latency(latency_ms, latency_ms)
    on_lambda = Deployment(
        segments=base.segments, restore_workers=base.restore_workers, memory_mb=lambda_memory_mb
    )
    lambda_costs = UnitCosts(
        backup_ms_per_select_mb=calibration.costs.backup_ms_per_select_mb,
        scan_ms_per_select_mb=calibration.costs.scan_ms_per_select_mb,
        dump_ms_per_data_mb=calibration.costs.dump_ms_per_data_mb,
        client_ms_per_batch=calibration.costs.client_ms_per_batch,
    )
    rows = []
    for label, deployment, costs in (
        ("benchmark machine", bench_deployment(base), calibration.costs),
        (f"Lambda, {lambda_memory_mb} MB", on_lambda, lambda_costs),
    ):
        rows.append(
            Simulated(
                label,
                size,
                predict(Case(BACKUP, size, latency, deployment, costs)),
                predict(Case(RESTORE, size, latency, deployment, costs)),
            )
        )
    return rows


def pages_within(point: Point) -> bool:
    """The predicted Select pages miss the measured ones by no more than a scan may spend beyond the least (3
    pages below 100, 5 % from 100 on: capacity.extra_pages_allowed)."""
    return abs(point.prediction.pages - point.pages) <= extra_pages_allowed(point.pages)


def recorded_points(reports: Sequence[SizeReport]) -> dict[str, Any]:
    """The points as the tests keep them (tests/unit/localtools/fixtures/capacity_points.json), with the runs
    they come from: each domain's size, names, commit, date and the machine's load when it started."""
    return {
        "runs": [
            {
                "items": report.profile.items,
                "names": report.names,
                "commit": report.commit,
                "measured_on": report.measured_on,
                "load_average": report.machine.load_average if report.machine else None,
            }
            for report in sorted(reports, key=lambda report: report.key)
        ],
        "time_tolerance": TIME_TOLERANCE,
        "pages_tolerance": "capacity.extra_pages_allowed(measured pages)",
        "points": [point.to_dict() for point in points(reports)],
    }
