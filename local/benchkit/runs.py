"""Running measured jobs: each in a fresh child process, several runs interleaved, the engine's share added."""

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from benchkit.arithmetic import best_of
from benchkit.engine import EngineProcess, job_environment
from benchkit.results import OURS, SWEEP_PREFIX, JobResult, JobSpec

#: A job that has not finished in an hour is stuck, not slow.
JOB_TIMEOUT_SECONDS = 3600.0


def job_module(spec: JobSpec) -> str:
    """The module that runs ``spec`` (benchkit.jobs); the segment sweep runs our backup."""
    run = OURS if spec.run.startswith(SWEEP_PREFIX) else spec.run
    return f"benchkit.jobs.{spec.operation}_{run}"


def run_job(spec: JobSpec, engine: EngineProcess, timeout: float = JOB_TIMEOUT_SECONDS) -> JobResult:
    """Run one job in a fresh child process; add the engine's CPU time and call counts of that run."""
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        spec_path, result_path = Path(folder) / "spec.json", Path(folder) / "result.json"
        spec_path.write_text(json.dumps(spec.to_dict()))
        engine.controls.reset_counts()
        server_cpu = engine.cpu_seconds()
        completed = subprocess.run(
            [sys.executable, "-m", job_module(spec), str(spec_path), str(result_path)],
            env=job_environment(spec.url),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        server_cpu = engine.cpu_seconds() - server_cpu
        calls = dict(sorted(engine.controls.call_counts().items()))
        if completed.returncode != 0 or not result_path.exists():
            message = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            return JobResult.failure(spec, message, calls, completed.stderr[-4000:])
        result = JobResult.from_dict(json.loads(result_path.read_text()))
    return replace(result, server_cpu_seconds=round(server_cpu, 2), calls=calls)


@dataclass(frozen=True)
class Planned:
    """A job to measure ``repeat`` times: a fresh spec per run, and what to do after each run."""

    key: str
    make_spec: Callable[[], JobSpec]
    repeat: int = 1
    after: Callable[[JobSpec], None] | None = None


def run_interleaved(
    planned: Sequence[Planned],
    engine: EngineProcess,
    on_result: Callable[[str, JobResult], None] | None = None,
) -> dict[str, JobResult]:
    """Run the jobs in rounds (A, B, A, B...) so that each job's runs meet the same spells of load from the
    machine's other users as the job it is compared with; return the best run of each (``best_of``)."""
    runs: dict[str, list[JobResult]] = {job.key: [] for job in planned}
    for round_number in range(max((job.repeat for job in planned), default=0)):
        for job in planned:
            done = runs[job.key]
            if round_number >= job.repeat or any(result.failed for result in done):
                continue
            spec = job.make_spec()
            result = run_job(spec, engine)
            if job.after is not None:
                job.after(spec)
            done.append(result)
            if on_result is not None:
                on_result(job.key, result)
    return {key: best_of(results) for key, results in runs.items() if results}
