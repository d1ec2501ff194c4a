"""The harness of a job's child process: read the spec, set the job up, measure its run, write the result.

Standard library only (and benchkit.results, which is too): what a job imports is the job's own footprint.
"""

import json
import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit.results import JobResult, JobSpec
from statekey import LOCAL_STATE_KEY_ALIAS

MB = 1_000_000


@dataclass(frozen=True)
class JobOutcome:
    """What a measured run reports about itself."""

    items: int  # items read (backup) or written (restore)
    output_bytes: int = 0  # compressed dump bytes (backup)
    extra: dict[str, Any] = field(default_factory=dict)


#: A job: set up (clients, services) from the spec, and return the run to measure.
Job = Callable[[JobSpec], Callable[[], JobOutcome]]


def peak_rss_mb() -> float:
    """Peak resident set of this process so far: VmHWM, the high-water mark of this process image.

    Not ``ru_maxrss``: on Linux it also keeps the peak of the image that ``exec`` replaced, which for a child
    started with fork/vfork + exec is the benchmark process's own peak, not the job's.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / MB  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB  # KiB on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def set_function_environment(spec: JobSpec) -> None:
    """The environment template.yaml gives the functions, for the benchmark's bucket and domain."""
    os.environ.update(
        {
            "BACKUP_BUCKET": spec.bucket,
            "DOMAIN_NAMES": spec.domain,
            "BACKUP_SEGMENTS": str(spec.segments),
            "RESTORE_TARGET_PATTERN": "bench-*",
            "CONTINUATION_MARGIN_SECONDS": "90",
            "STATE_KEY_ID": LOCAL_STATE_KEY_ALIAS,
        }
    )
    if spec.restore_workers:
        os.environ["RESTORE_WORKERS"] = str(spec.restore_workers)


def run_child(job: Job, argv: Sequence[str]) -> int:
    """Entry point of a job module: ``<spec.json> <result.json>``."""
    spec_path, result_path = (Path(argument) for argument in argv)
    spec = JobSpec.from_dict(json.loads(spec_path.read_text()))
    run = job(spec)
    rss_start = peak_rss_mb()
    cpu_start = cpu_seconds()
    started = time.perf_counter()
    outcome = run()
    wall = time.perf_counter() - started
    result = JobResult(
        operation=spec.operation,
        run=spec.run,
        items=outcome.items,
        wall_seconds=round(wall, 3),
        cpu_seconds=round(cpu_seconds() - cpu_start, 2),
        rss_start_mb=round(rss_start, 1),
        rss_peak_mb=round(peak_rss_mb(), 1),
        output_bytes=outcome.output_bytes,
        domain_items=spec.domain_items,
        extra=outcome.extra,
    )
    result_path.write_text(json.dumps(result.to_dict()))
    return 0
