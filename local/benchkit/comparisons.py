"""Issue 18's comparisons from raw results: the peer side by side, the library floor, the damaged copy's restore,
the engine's capacity beside the caps, the Select pages rule. Pure.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from benchkit.arithmetic import (
    MB,
    cap_uses,
    cpu_ms_per_select_mb,
    lane_rate,
    profile_min_pages,
    select_xml_bytes,
    write_calls,
)
from benchkit.results import (
    BACKUP,
    DAMAGE,
    FLOOR,
    HEX,
    OURS,
    PEER,
    RESTORE,
    THROTTLED_WRITE_ACTIONS,
    JobResult,
    RunName,
    SizeReport,
    job_key,
)

#: Select pages against their least number: within this share from this many pages on, else this many extra.
PAGES_PERCENT, PAGES_FROM, PAGES_EXTRA = 5.0, 100, 3


def of_names(reports: Sequence[SizeReport], names: str = HEX) -> list[SizeReport]:
    """The reports of one kind of names, smallest first."""
    return sorted((report for report in reports if report.names == names), key=lambda report: report.key)


def pages_allowed(minimum: int) -> int:
    """The most Select pages a scan may take: +5 % for 100 pages or more, +3 below (issue 18)."""
    if minimum >= PAGES_FROM:
        return int(minimum * (1 + PAGES_PERCENT / 100))
    return minimum + PAGES_EXTRA


# --- the library floor ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    """The library floor's CPU per MB of Select XML (ms/MB), in total and by step, on ``pages`` pages."""

    pages: int
    xml_mb: float
    steps: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.steps.values())


def floor(report: SizeReport) -> Floor | None:
    result = report.job(BACKUP, FLOOR)
    if result is None or not result.extra.get("xml_bytes"):
        return None
    megabytes = float(result.extra["xml_bytes"]) / MB
    cpu = result.extra.get("cpu") or {}
    return Floor(
        pages=int(result.extra.get("pages", 0)),
        xml_mb=megabytes,
        steps={str(step): 1000 * float(seconds) / megabytes for step, seconds in cpu.items()},
    )


@dataclass(frozen=True)
class CpuAgainstFloor:
    ms: float  # our backup's client CPU per MB of Select XML
    floor_ms: float

    @property
    def ratio(self) -> float:
        return self.ms / self.floor_ms if self.floor_ms > 0 else float("inf")


def cpu_against_floor(report: SizeReport) -> CpuAgainstFloor | None:
    ours, measured = report.job(BACKUP, OURS), floor(report)
    ms = cpu_ms_per_select_mb(ours) if ours is not None else None
    if ms is None or measured is None:
        return None
    return CpuAgainstFloor(ms, measured.total)


def engine_ms_per_select_mb(result: JobResult) -> float | None:
    """The engine's CPU per MB of the Select XML a backup received (its rendering, mostly)."""
    received = select_xml_bytes(result)
    return 1000 * result.server_cpu_seconds / (received / MB) if received else None


# --- the engine's capacity beside the caps ---------------------------------------------------------------------


@dataclass(frozen=True)
class EngineCapacity:
    rate: float  # uncapped write calls per second
    measured_by: str  # the engine's own probe, or our uncapped restore (a lower bound)
    highest_cap: float | None

    @property
    def over_highest_cap(self) -> float | None:
        return self.rate / self.highest_cap if self.highest_cap else None


def engine_capacity(report: SizeReport) -> EngineCapacity | None:
    caps = [use.cap for use in cap_uses(report) if use.lane == "write"]
    highest = max(caps) if caps else None
    probed = report.engine.get("write_calls_per_second")
    if probed:
        return EngineCapacity(float(probed), "engine", highest)
    restore = report.job(RESTORE, OURS)
    rate = lane_rate(restore, "write", THROTTLED_WRITE_ACTIONS) if restore is not None else None
    return EngineCapacity(rate, "our uncapped restore", highest) if rate else None


# --- the damaged copy -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DamagedRestore:
    key: str
    damaged: int
    wall_seconds: float
    select_pages: int
    target_min_pages: int
    write_calls: int
    item_writes: int
    phases: dict[str, float]
    verified: bool

    @property
    def reads(self) -> float:
        """The Select pages over the target's least: how many times the restore read its target."""
        return self.select_pages / self.target_min_pages if self.target_min_pages else 0.0


def damaged_restores(report: SizeReport) -> list[DamagedRestore]:
    rows = []
    for key in report.scenario_keys():
        operation, run = key.split("/", 1)
        name = RunName.parse(run)
        result = report.job(operation, run)
        if operation != RESTORE or name.condition != DAMAGE or result is None:
            continue
        rows.append(
            DamagedRestore(
                key=key,
                damaged=int(name.value),
                wall_seconds=result.wall_seconds,
                select_pages=result.calls.get("Select", 0),
                # The copy holds the domain less what was deleted plus what was added: the same pages.
                target_min_pages=profile_min_pages(report.profile),
                write_calls=write_calls(result) + result.calls.get("BatchDeleteAttributes", 0),
                item_writes=result.items,
                phases={
                    str(phase): float(seconds)
                    for phase, seconds in (result.extra.get("phases") or {}).items()
                },
                verified=bool(result.extra.get("verified")),
            )
        )
    return rows


# --- the peer side by side ----------------------------------------------------------------------------------------

#: The rows of the side-by-side table: what is compared, our run, the peer's run.
PEER_ROWS = (
    ("backup", job_key(BACKUP, OURS), job_key(BACKUP, PEER)),
    ("restore into a new domain", job_key(RESTORE, OURS), job_key(RESTORE, PEER)),
    ("restore of a damaged copy", None, job_key(RESTORE, PEER)),
)


@dataclass(frozen=True)
class PeerRow:
    what: str
    ours: JobResult
    peer: JobResult
    #: The peer's run stands for this row by construction (repoman-cli restore writes every item whatever the
    #: target holds), not a run of its own.
    peer_same_run: bool = False

    @property
    def ratio(self) -> float:
        """The peer's wall time over ours: how many times faster we are."""
        return self.peer.wall_seconds / self.ours.wall_seconds if self.ours.wall_seconds > 0 else 0.0


def _job(report: SizeReport, key: str) -> JobResult | None:
    operation, run = key.split("/", 1)
    return report.job(operation, run)


def peer_rows(report: SizeReport) -> list[PeerRow]:
    rows = []
    damaged = [row.key for row in damaged_restores(report)]
    for what, ours_key, peer_key in PEER_ROWS:
        key = ours_key or (damaged[0] if damaged else None)
        ours = _job(report, key) if key else None
        peer = _job(report, peer_key)
        if ours is not None and peer is not None:
            rows.append(PeerRow(what, ours, peer, peer_same_run=ours_key is None))
    return rows
