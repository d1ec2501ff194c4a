"""Kill a function mid-work in a child process: the child runs a handler (and the continuations it asks for)
against a local AWS server in the parent, and SIGKILLs itself right before its Nth AWS call, as a Lambda
timeout or an out-of-memory kill would: no ``finally``, no cleanup.

    python tests/crashkit.py '{"function": "restore", "event": {...}, "environment": {...}, "kill_before_call": 17}'

``"kill_before_operation": ["BatchPutAttributes", 40]`` kills before the 40th call of that operation instead.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KILLED = -signal.SIGKILL


def run_child(
    spec: dict[str, Any], endpoint: str, timeout: float = 180.0
) -> subprocess.CompletedProcess[str]:
    """Run the spec in a child process against ``endpoint``; its returncode is KILLED when the kill fired."""
    environment = {
        **os.environ,
        **spec.get("environment", {}),
        "AWS_ENDPOINT_URL": endpoint,
        "PYTHONPATH": os.pathsep.join(str(ROOT / folder) for folder in ("layers/shared", "local", "tests")),
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    return subprocess.run(
        [sys.executable, __file__, json.dumps(spec)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _kill_before_call(limit: int) -> None:
    """Every client of boto3's default session counts its API calls; the ``limit``-th never leaves."""
    import boto3

    seen = [0]

    def count(**_: Any) -> None:
        seen[0] += 1
        if seen[0] >= limit:
            os.kill(os.getpid(), signal.SIGKILL)

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION._session.register("before-call", count)  # type: ignore[union-attr]


def _kill_before_operation(operation: str, limit: int) -> None:
    """The ``limit``-th call of ``operation`` (e.g. BatchPutAttributes) never leaves."""
    import boto3

    seen = [0]

    def count(**_: Any) -> None:
        seen[0] += 1
        if seen[0] >= limit:
            os.kill(os.getpid(), signal.SIGKILL)

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION._session.register(f"before-call.*.{operation}", count)  # type: ignore[union-attr]


def main(spec: dict[str, Any]) -> None:
    from localrun import LocalContext, invoke

    if spec.get("kill_before_call"):
        _kill_before_call(int(spec["kill_before_call"]))
    if spec.get("kill_before_operation"):
        operation, limit = spec["kill_before_operation"]
        _kill_before_operation(str(operation), int(limit))
    ticks = iter(range(10**9))
    timeout = float(spec.get("timeout_seconds", 900))
    stepping = spec.get("stepping_clock", False)

    def context() -> LocalContext:
        if stepping:  # each reading of the clock takes a second: invocations run short and continue
            return LocalContext(f"simpledb-backup-{spec['function']}", timeout, clock=lambda: next(ticks))
        return LocalContext(f"simpledb-backup-{spec['function']}", timeout)

    answers = invoke(spec["function"], spec["event"], context_factory=context)
    print(json.dumps(answers[-1], default=str))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
