"""Running measured jobs: each in a fresh child process, several runs interleaved, the engine's share added."""

import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from benchkit.arithmetic import best_of
from benchkit.engine import EngineProcess, job_environment
from benchkit.results import BASELINE, FLOOR, OURS, PEER, JobResult, JobSpec, RunName

#: A job that has not finished in an hour is stuck, not slow.
JOB_TIMEOUT_SECONDS = 3600.0


#: How long the machine is probed before each job, while nothing of the benchmark runs.
CORE_SHARE_SECONDS = 0.3


def measure_core_share(seconds: float = CORE_SHARE_SECONDS, work: bytes = bytes(256 * 1024)) -> float:
    """The share of a core the machine's other work leaves a busy task, probed just before a job starts (its
    engine idle): for ``seconds``, SHA-256 over and over (C work), this thread's CPU time over the wall time. A task
    that keeps the CPU busy, as the job's do, not one that mostly sleeps (the scheduler favours a sleeper); 1 on a
    machine of its own. The capacity model's check slows the job's CPU by it (benchkit.modelcheck)."""
    wall, cpu = time.perf_counter(), time.thread_time()
    while time.perf_counter() - wall < seconds:
        hashlib.sha256(work).digest()
    return round(min(1.0, (time.thread_time() - cpu) / (time.perf_counter() - wall)), 3)


def job_module(spec: JobSpec) -> str:
    """The module that runs ``spec`` (benchkit.jobs): the baselines, the floor and the peer have their own;
    every other arm (ours with either retry policy, the segment sweep) runs our backup or restore, under
    whatever condition."""
    arm = RunName.parse(spec.run).arm
    if arm == PEER:
        return "benchkit.peerlaunch"
    return f"benchkit.jobs.{spec.operation}_{arm if arm in (BASELINE, FLOOR) else OURS}"


def job_command(spec: JobSpec, module: str) -> list[str]:
    """The child's command line: the peer in its own venv's Python (``spec.python``), the rest in ours."""
    return [spec.python or sys.executable, "-m", module]


def set_conditions(spec: JobSpec, engine: EngineProcess) -> None:
    """The engine's latency and caps for ``spec``'s run, every bucket full: the caps are set to none first,
    because setting a cap to the value it has leaves its buckets as they are."""
    engine.controls.configure(latency_ms=spec.latency_ms, write_calls_per_second=0, select_calls_per_second=0)
    if spec.write_calls_per_second or spec.select_calls_per_second:
        engine.controls.configure(
            write_calls_per_second=spec.write_calls_per_second,
            select_calls_per_second=spec.select_calls_per_second,
        )


def run_job(spec: JobSpec, engine: EngineProcess, timeout: float = JOB_TIMEOUT_SECONDS) -> JobResult:
    """Run one job in a fresh child process under its conditions; add the engine's CPU time, call counts and
    throttled calls of that run."""
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        spec_path, result_path = Path(folder) / "spec.json", Path(folder) / "result.json"
        stderr_path = Path(folder) / "stderr.txt"
        spec_path.write_text(json.dumps(spec.to_dict()))
        set_conditions(spec, engine)
        engine.controls.reset_counts()
        server_cpu = engine.cpu_seconds()
        # The child's stderr goes to a file: the peer logs every item it restores.
        share = measure_core_share()
        with stderr_path.open("wb") as stderr:
            returncode = subprocess.run(
                [*job_command(spec, job_module(spec)), str(spec_path), str(result_path)],
                env=job_environment(spec.url),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                timeout=timeout,
                check=False,
            ).returncode
        server_cpu = engine.cpu_seconds() - server_cpu
        calls = dict(sorted(engine.controls.call_counts().items()))
        throttled = dict(sorted(engine.controls.throttled_counts().items()))
        if returncode != 0 or not result_path.exists():
            tail = _tail(stderr_path)
            message = (tail.strip().splitlines() or ["no output"])[-1]
            failed = JobResult.failure(spec, message, calls, tail)
            return replace(failed, server_cpu_seconds=round(server_cpu, 2), throttled=throttled)
        result = JobResult.from_dict(json.loads(result_path.read_text()))
    extra = {**result.extra, "core_share": share}
    return replace(
        result, server_cpu_seconds=round(server_cpu, 2), calls=calls, throttled=throttled, extra=extra
    )


def _tail(path: Path, size: int = 4000) -> str:
    with path.open("rb") as stream:
        stream.seek(max(0, path.stat().st_size - size))
        return stream.read().decode("utf-8", "replace")


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
