"""The ``estimate`` action: how long a backup and a restore of a domain would take, and what they would cost.

Reads only: the domain's DomainMetadata, and (unless the request gives a latency) a few small Select calls, timed,
whose median stands for a call's latency. The prediction is the capacity model's (simpledb_backup.capacity)
for the deployed settings: the Select streams ceiling and the restore's workers (config.Settings), the functions'
memory (Lambda's ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``) and timeout, the continuation margin. docs/PERFORMANCE.md
("Capacity model") checks the model against measurements and says where it breaks.
"""

import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from simpledb_backup.aws.simpledb import SimpleDB, quote_name
from simpledb_backup.capacity import (
    Deployment,
    DomainSize,
    Latency,
    UnitCosts,
    estimate_backup,
    estimate_restore,
)
from simpledb_backup.config import Settings
from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.events import EstimateRequest
from simpledb_backup.restore.nextsteps import backup_step, list_dumps_step

#: template.yaml's Limits.Function.TimeoutSeconds: every function of the stack has this timeout.
FUNCTION_TIMEOUT_SECONDS = 900.0
DEFAULT_MEMORY_MB = 1024
#: Small Select calls timed to measure the latency (their median is kept: one slow call does not skew it).
LATENCY_PROBES = 3


@dataclass(frozen=True)
class FunctionLimits:
    """The memory and timeout the functions run with."""

    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_seconds: float = FUNCTION_TIMEOUT_SECONDS

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "FunctionLimits":
        """Lambda sets AWS_LAMBDA_FUNCTION_MEMORY_SIZE; the functions share template.yaml's memory and timeout."""
        env = os.environ if environ is None else environ
        memory = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        return cls(memory_mb=int(memory) if memory.isdigit() else DEFAULT_MEMORY_MB)


ASSUMPTIONS = (
    "the Select latency is the median of a few small Select calls; a 1 MB page takes that latency plus the "
    "client's CPU for it, and SimpleDB's own time to assemble a page is not known here (where it is large, the "
    "backup takes longer)",
    "a write call's latency is taken to be the Select latency: measuring it would need a write",
    "unit CPU costs are those make bench measured (docs/PERFORMANCE.md), taken to be the same per vCPU on "
    "Lambda's arm64; Lambda gives one vCPU per 1,769 MB, and Python keeps at most one busy",
    "the restore rewrites every item (the domain lost or emptied) and reads the new domain back to verify it; a "
    "restore over a domain that still holds its items reads it twice and writes only what differs",
    "SimpleDB may throttle writes below this rate (it publishes no write limit); the restore then slows to what "
    "it accepts",
    "cost is Lambda's alone (arm64 GB-seconds and requests); SimpleDB machine hours, S3 requests and storage "
    "are not included",
)


class CapacityEstimator:
    """Answers ``estimate``: the domain's size and latency, measured, through the capacity model."""

    def __init__(
        self,
        sdb: SimpleDB,
        settings: Settings,
        limits: FunctionLimits | None = None,
        costs: UnitCosts | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.sdb, self.settings = sdb, settings
        self.limits = limits or FunctionLimits()
        self.costs = costs or UnitCosts()
        self.clock = clock

    def measure_latency(self, domain: str) -> float:
        """Milliseconds of a small Select call (one item name), the median of a few."""
        expression = f"select itemName() from {quote_name(domain)} limit 1"  # noqa: S608 - a quoted name
        samples = []
        for _ in range(LATENCY_PROBES):
            started = self.clock()
            self.sdb.select_page(domain, expression, None)
            samples.append(1000 * (self.clock() - started))
        return statistics.median(samples)

    def deployment(self) -> Deployment:
        return Deployment(
            segments=self.settings.segments,
            restore_workers=self.settings.restore_workers,
            memory_mb=self.limits.memory_mb,
            timeout_seconds=self.limits.timeout_seconds,
            margin_seconds=self.settings.continuation_margin_seconds,
        )

    def estimate(self, request: EstimateRequest) -> dict[str, Any]:
        if request.domain not in self.settings.domain_names:
            raise InvalidRequestError(
                f"domain: {request.domain!r} is not a configured domain ({', '.join(self.settings.domain_names)})"
            )
        metadata = self.sdb.domain_metadata(request.domain)
        measured = request.latency_ms is None
        select_ms = self.measure_latency(request.domain) if request.latency_ms is None else request.latency_ms
        latency = Latency(select_ms, select_ms, measured)
        return estimate_answer(request.domain, metadata, latency, self.deployment(), self.costs)


def estimate_answer(
    domain: str, metadata: DomainSize, latency: Latency, deployment: Deployment, costs: UnitCosts
) -> dict[str, Any]:
    backup = estimate_backup(metadata, latency, deployment, costs)
    restore = estimate_restore(metadata, latency, deployment, costs)
    return {
        "action": "estimate",
        "status": "ok",
        "domain": domain,
        "metadata": asdict(metadata),
        "latency_ms": {
            "select": round(latency.select_ms, 1),
            "write": round(latency.write_ms, 1),
            "measured": latency.measured,
        },
        "backup": {
            "seconds": round(backup.seconds, 1),
            "invocations": backup.invocations,
            "select_pages": backup.select_pages,
            "streams": backup.streams,
            "lambda_gb_seconds": round(backup.lambda_gb_seconds, 1),
            "cost_usd": round(backup.cost_usd, 6),
            "bound": backup.bound,
        },
        "restore": {
            "seconds": round(restore.seconds, 1),
            "invocations": restore.invocations,
            "write_calls": restore.write_calls,
            "select_pages": restore.select_pages,
            "lambda_gb_seconds": round(restore.lambda_gb_seconds, 1),
            "cost_usd": round(restore.cost_usd, 6),
            "bound": restore.bound,
        },
        "settings": {
            "segments": deployment.segments,
            "restore_workers": deployment.restore_workers,
            "memory_mb": deployment.memory_mb,
            "timeout_seconds": deployment.timeout_seconds,
            "continuation_margin_seconds": deployment.margin_seconds,
        },
        "assumptions": list(ASSUMPTIONS),
        "next": [backup_step(domain), list_dumps_step(domain)],
    }
