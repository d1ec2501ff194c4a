"""Raw results: what was measured, as measured, and how it is stored (JSON) between runs.

Standard library only: a job's child process imports this module, and its footprint is part of what the
child measures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

BACKUP, RESTORE = "backup", "restore"
OURS, BASELINE = "ours", "baseline"
#: The four runs compared with each other, in the order the tables show them.
JOBS = ((BACKUP, OURS), (BACKUP, BASELINE), (RESTORE, OURS), (RESTORE, BASELINE))
#: Extra backup runs with another maximum segment count: ``segments-<n>`` (informative; the targets judge the
#: product default).
SWEEP_PREFIX = "segments-"
WRITE_ACTIONS = frozenset({"BatchPutAttributes", "PutAttributes"})
#: The restore's phases, timed by benchkit.phases.
PREPARE, SAFETY_BACKUP, WRITE, VERIFY = "prepare", "safety-backup", "write", "verify"
#: The phases in the order a restore runs them (``plan``: results stored before the restore had stages, when
#: the first phase also opened the source and took the lock).
PHASE_ORDER = ("plan", PREPARE, SAFETY_BACKUP, WRITE, VERIFY)


def job_key(operation: str, run: str) -> str:
    return f"{operation}/{run}"


def sweep_run(segments: int) -> str:
    return f"{SWEEP_PREFIX}{segments}"


@dataclass(frozen=True)
class DomainProfile:
    """What was written into the benchmark domain: the least number of calls is computed from it."""

    items: int
    #: UTF-8 bytes of item names, attribute names and values: the data, as DomainMetadata counts it.
    data_bytes: int
    #: Bytes of the items' ``<Item>`` XML in a Select response (what the 1 MB page cap measures).
    response_bytes: int


@dataclass(frozen=True)
class JobSpec:
    """One job for a child process: what to run against which engine, bucket and domain."""

    operation: str  # backup | restore
    run: str  # ours | baseline | segments-<n>
    url: str
    bucket: str
    domain: str
    domain_items: int
    segments: int = 8
    restore_workers: int | None = None
    target: str | None = None  # restore: the new domain written to
    version_id: str | None = None  # restore: the dump version read
    sample: int | None = None  # per-item restore: how many items

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> JobSpec:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in document.items() if key in known})


@dataclass
class JobResult:
    """One measured run, as its child process reports it, plus the engine's figures the parent adds."""

    operation: str  # backup | restore
    run: str  # ours | baseline | segments-<n>
    items: int  # items read (backup) or written (restore) in the measured run
    wall_seconds: float
    cpu_seconds: float  # the child's user + system CPU during the run
    rss_start_mb: float  # peak RSS after imports and client setup, before the run
    rss_peak_mb: float  # peak RSS of the whole child process
    output_bytes: int = 0  # compressed dump bytes (backup)
    server_cpu_seconds: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)  # SimpleDB calls by action (the engine's counts)
    #: Items in the domain; more than ``items`` when the run wrote a sample only (the per-item restore).
    domain_items: int = 0
    #: Job-specific facts: ``segments`` (streams used), ``phases`` (restore: wall seconds per stage),
    #: ``version_id``, ``verified``, ``retries``; ``wall_runs`` and ``rss_runs`` of repeated runs.
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> JobResult:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in document.items() if key in known})

    @classmethod
    def failure(cls, spec: JobSpec, message: str, calls: dict[str, int], stderr: str) -> JobResult:
        return cls(
            spec.operation,
            spec.run,
            items=0,
            wall_seconds=0.0,
            cpu_seconds=0.0,
            rss_start_mb=0.0,
            rss_peak_mb=0.0,
            calls=calls,
            domain_items=spec.domain_items,
            error=message,
            extra={"stderr": stderr},
        )


@dataclass(frozen=True)
class Machine:
    """What a size was measured on."""

    cores: int
    memory_gb: float
    load_average: float  # 1-minute load average when the run started
    system: str  # kernel name and release
    python: str

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Machine:
        return cls(
            cores=int(document["cores"]),
            memory_gb=float(document["memory_gb"]),
            load_average=float(document["load_average"]),
            system=str(document["system"]),
            python=str(document["python"]),
        )


@dataclass
class SizeReport:
    """Every job of one domain size, measured side by side in one run."""

    profile: DomainProfile
    latency_ms: float
    segments: int  # the backup's maximum segment count (BACKUP_SEGMENTS) of the judged runs
    restore_workers: int
    measured_on: str  # date (UTC) of the run
    jobs: dict[str, JobResult] = field(default_factory=dict)  # by job_key(operation, run)
    machine: Machine | None = None
    commit: str = ""  # the product code measured (see machine.code_version)

    @property
    def cores(self) -> int:
        """The machine's cores; 2, the benchmark machine's, for a result stored without its machine."""
        return self.machine.cores if self.machine is not None else 2

    def job(self, operation: str, run: str) -> JobResult | None:
        """The run's result, or None when it was not measured or failed."""
        result = self.jobs.get(job_key(operation, run))
        return result if result is not None and not result.failed else None

    def ordered_keys(self) -> list[str]:
        """The four compared runs in their fixed order, then the segment sweep by segment count."""
        keys = [job_key(operation, run) for operation, run in JOBS if job_key(operation, run) in self.jobs]
        sweep = [key for key in self.jobs if key.startswith(job_key(BACKUP, SWEEP_PREFIX))]
        return keys + sorted(sweep, key=lambda key: int(key.rsplit("-", 1)[1]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": asdict(self.profile),
            "latency_ms": self.latency_ms,
            "segments": self.segments,
            "restore_workers": self.restore_workers,
            "measured_on": self.measured_on,
            "machine": asdict(self.machine) if self.machine is not None else None,
            "commit": self.commit,
            "jobs": {key: result.to_dict() for key, result in sorted(self.jobs.items())},
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> SizeReport:
        machine = document.get("machine")
        return cls(
            profile=DomainProfile(**document["profile"]),
            latency_ms=float(document["latency_ms"]),
            segments=int(document["segments"]),
            restore_workers=int(document["restore_workers"]),
            measured_on=str(document["measured_on"]),
            machine=Machine.from_dict(machine) if machine else None,
            commit=str(document.get("commit", "")),
            jobs={key: JobResult.from_dict(value) for key, value in document["jobs"].items()},
        )
