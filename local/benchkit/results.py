"""Raw results: what was measured, as measured, and how it is stored (JSON) between runs.

Standard library only: a job's child process imports this module, and its footprint is part of what the
child measures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

BACKUP, RESTORE = "backup", "restore"
#: The arms of a run: ours (the product, with its adaptive rate controller), the sequential or per-item
#: baseline, ours with today's shared backoff (local/legacy_backoff.py) in place of the rate controller, and
#: the peer: the real ``repoman-cli`` (apt-repoman from PyPI, in a venv of its own: benchkit.peer).
OURS, BASELINE, LEGACY, PEER = "ours", "baseline", "legacy", "repoman"
#: Not a backup: the least CPU the libraries the backup uses (lxml, orjson, hashlib, isal) need for the work
#: of a backup on the same Select pages (benchkit.jobs.backup_floor), what the backup's CPU is judged against.
FLOOR = "floor"
#: The four runs compared with each other, in the order the tables show them.
JOBS = ((BACKUP, OURS), (BACKUP, BASELINE), (RESTORE, OURS), (RESTORE, BASELINE))
#: Extra runs compared with the four, at the same latency and without a cap: the restore with the shared
#: backoff, and the peer's backup and restore.
EXTRA_JOBS = ((RESTORE, LEGACY), (BACKUP, PEER), (RESTORE, PEER))
#: How the benchmark domain's items are named: by hex SHA-256 digest, as Repoman names them, or ordinary names
#: (``user-000123``), the same items renamed in order. The backup splits its streams by the names it finds.
HEX, ORDINARY = "hex", "ordinary"
NAME_KINDS = (HEX, ORDINARY)
#: Extra backup runs with another maximum segment count: ``segments-<n>`` (informative; the targets judge the
#: product default).
SWEEP_PREFIX = "segments-"
WRITE_ACTIONS = frozenset({"BatchPutAttributes", "PutAttributes"})
#: The calls the engine's write throttle meters (sdblocal.throttle.KIND_OF_ACTION).
THROTTLED_WRITE_ACTIONS = frozenset(
    {"BatchPutAttributes", "PutAttributes", "BatchDeleteAttributes", "DeleteAttributes"}
)
#: The retry policies a job's SimpleDB adapter can be given.
CONTROLLER, SHARED_BACKOFF = "controller", "shared-backoff"
#: The conditions a scenario runs under, other than the benchmark's latency and no cap, into a new domain: the
#: engine's write cap (calls/s per domain), its Select cap, another injected latency (ms per call), or a
#: restore into a copy of the domain with that many items damaged (``damage``: an exact restore that has little
#: to write but its whole target to read). A scenario's run is ``<arm>@<condition>=<value>``, e.g.
#: ``ours@write=10``.
WRITE_CAP, SELECT_CAP, LATENCY, DAMAGE = "write", "select", "latency", "damage"
CONDITIONS = (WRITE_CAP, SELECT_CAP, LATENCY, DAMAGE)
#: The restore's phases, timed by benchkit.phases.
PREPARE, SAFETY_BACKUP, WRITE, VERIFY = "prepare", "safety-backup", "write", "verify"
#: The phases in the order a restore runs them (``plan``: results stored before the restore had stages, when
#: the first phase also opened the source and took the lock).
PHASE_ORDER = ("plan", PREPARE, SAFETY_BACKUP, WRITE, VERIFY)
#: The library floor's steps in the order it runs them (and its table shows them, however the stored results
#: order their keys).
FLOOR_STEPS = ("parse", "lines", "digest", "compress")


def job_key(operation: str, run: str) -> str:
    return f"{operation}/{run}"


def sweep_run(segments: int) -> str:
    return f"{SWEEP_PREFIX}{segments}"


def scenario_run(arm: str, condition: str, value: float) -> str:
    """The run of ``arm`` (ours, legacy, baseline, segments-<n>) under one condition (WRITE_CAP, ...)."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}")
    return f"{arm}@{condition}={value:g}"


@dataclass(frozen=True)
class RunName:
    """A run's name read back: its arm, and the condition it ran under (None: the benchmark's own)."""

    arm: str
    condition: str | None = None
    value: float = 0.0

    @classmethod
    def parse(cls, run: str) -> RunName:
        arm, _, scenario = run.partition("@")
        if not scenario:
            return cls(arm)
        condition, _, value = scenario.partition("=")
        return cls(arm, condition, float(value))


@dataclass(frozen=True)
class DomainProfile:
    """What was written into the benchmark domain: the least number of calls is computed from it."""

    items: int
    #: UTF-8 bytes of item names, attribute names and values: the data, as DomainMetadata counts it.
    data_bytes: int
    #: Bytes of the items' ``<Item>`` XML in a Select response (what the 1 MB page cap measures).
    response_bytes: int
    #: What DomainMetadata answered for the filled domain (``ItemCount``, ``AttributeValueCount``, ... in
    #: snake case, as simpledb_backup.capacity.DomainSize names them): what the capacity model is given.
    metadata: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class JobSpec:
    """One job for a child process: what to run against which engine, bucket and domain."""

    operation: str  # backup | restore
    run: str  # ours | baseline | repoman | floor | segments-<n>, with @<condition>=<value> for a scenario
    url: str
    bucket: str
    domain: str
    domain_items: int
    segments: int = 8
    restore_workers: int | None = None
    target: str | None = None  # restore: the new domain written to
    version_id: str | None = None  # restore: the dump version read
    sample: int | None = None  # per-item restore: how many items
    names: str = HEX  # how the domain's items are named
    #: The peer: its backup file (the backup writes it, the restore reads it), and its venv's interpreter.
    source_path: str | None = None
    python: str = ""  # the child's interpreter; "": the benchmark's own
    floor_pages: int = 0  # the floor: the most Select pages it measures (0: all)
    policy: str = CONTROLLER  # the SimpleDB adapter's retry policy: CONTROLLER or SHARED_BACKOFF
    #: The engine's settings during the run (the runner sets them before starting the child).
    latency_ms: float = 0.0
    write_calls_per_second: float = 0.0  # 0: no cap
    select_calls_per_second: float = 0.0  # 0: no cap

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
    #: ``version_id``, ``verified``, ``retries``, ``policy`` (the retry policy's own counters), ``lanes``
    #: (the calls seen on the wire, per lane: see benchkit.jobs.wire); ``wall_runs`` and ``rss_runs`` of
    #: repeated runs; the floor's ``xml_bytes`` and CPU seconds per step; the damaged restore's ``damage``.
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: The calls the engine answered 503 because a cap's bucket was empty, by action (also in ``calls``).
    throttled: dict[str, int] = field(default_factory=dict)

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


def _arm_order(arm: str) -> tuple[int, int]:
    if arm.startswith(SWEEP_PREFIX):
        return (3, int(arm.removeprefix(SWEEP_PREFIX)))
    arms = (OURS, LEGACY, BASELINE, PEER)
    return (arms.index(arm) if arm in arms else 4, 0)


def _scenario_order(key: str) -> tuple[int, float, str, tuple[int, int]]:
    operation, run = key.split("/", 1)
    name = RunName.parse(run)
    rank = CONDITIONS.index(name.condition) if name.condition in CONDITIONS else len(CONDITIONS)
    return (rank, name.value, operation, _arm_order(name.arm))


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
    names: str = HEX  # how the domain's items are named (HEX or ORDINARY)
    #: The engine's own capacity, measured in the same run beside the write caps (benchkit.probe):
    #: ``write_calls_per_second`` (uncapped BatchPutAttributes), ``method``.
    engine: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, int, str]:
        """What a report stands for, in the order the tables show reports: its size, then its names."""
        return (
            self.profile.items,
            NAME_KINDS.index(self.names) if self.names in NAME_KINDS else 9,
            self.names,
        )

    @property
    def cores(self) -> int:
        """The machine's cores; 2, the benchmark machine's, for a result stored without its machine."""
        return self.machine.cores if self.machine is not None else 2

    def job(self, operation: str, run: str) -> JobResult | None:
        """The run's result, or None when it was not measured or failed."""
        result = self.jobs.get(job_key(operation, run))
        return result if result is not None and not result.failed else None

    def ordered_keys(self) -> list[str]:
        """Every run: those at the benchmark's own conditions (``base_keys``), then the scenarios'."""
        return self.base_keys() + self.scenario_keys()

    def base_keys(self) -> list[str]:
        """The four compared runs in their fixed order, the extra runs, then the segment sweep by segment
        count: every run at the benchmark's latency and without a cap."""
        keys = [
            job_key(operation, run)
            for operation, run in (*JOBS, *EXTRA_JOBS)
            if job_key(operation, run) in self.jobs
        ]
        sweep = [key for key in self.jobs if key.startswith(job_key(BACKUP, SWEEP_PREFIX)) and "@" not in key]
        # The floor is not a run of the backup: its own table shows it (benchkit.tables.backup_cpu_table).
        return keys + sorted(sweep, key=lambda key: int(key.rsplit("-", 1)[1]))

    def scenario_keys(self) -> list[str]:
        """The scenarios' runs, by condition, then its value, then the operation, ours first."""
        return sorted((key for key in self.jobs if "@" in key), key=_scenario_order)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": asdict(self.profile),
            "latency_ms": self.latency_ms,
            "segments": self.segments,
            "restore_workers": self.restore_workers,
            "measured_on": self.measured_on,
            "machine": asdict(self.machine) if self.machine is not None else None,
            "commit": self.commit,
            "names": self.names,
            "engine": self.engine,
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
            names=str(document.get("names", HEX)),
            engine=dict(document.get("engine") or {}),
            jobs={key: JobResult.from_dict(value) for key, value in document["jobs"].items()},
        )
