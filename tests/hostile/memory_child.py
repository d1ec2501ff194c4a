"""Run restores in child processes, against an embedded local AWS, and report each one's peak memory.

``python memory_child.py`` (tests/integration/test_memory_bounds.py starts it once per test worker) imports
the restore function, starts moto in-process with the SimpleDB engine, fills the target domain, and then
serves cases: for each JSON line on stdin (the files to upload, S3 key → local path, and the restore event) it
forks a process that uploads the files (streamed from disk), resets its peak resident set size
(``/proc/self/clear_refs``, value 5), invokes the handler, and reports ``VmHWM`` from ``/proc/self/status``.
That peak is the restore's alone, on top of what the process already held (Python, boto3, moto and the
uploads' bookkeeping). Each case runs in a fresh copy of the prepared process, so imports are paid once and
no case sees another's objects. One ``RESULT {json}`` line answers each case: the handler's answers, the
peak and the baseline in kB, and the SimpleDB write calls.
"""

import contextlib
import ctypes
import gc
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / folder) for folder in ("layers/shared", "local", "tests", "tests/integration")]

ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "simpledb-backup",
    "POWERTOOLS_METRICS_NAMESPACE": "SimpleDBBackup",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "BACKUP_BUCKET": "simpledb-backup-memory",
    "DOMAIN_NAMES": "packages",
    "BACKUP_SEGMENTS": "4",
    "RESTORE_WORKERS": "4",
    "RESTORE_TARGET_PATTERN": "restored-*",
    "CONTINUATION_MARGIN_SECONDS": "30",
    "STATE_KEY_ID": "alias/simpledb-backup-state-local",
}
BUCKET = ENVIRONMENT["BACKUP_BUCKET"]
LATEST_UPLOAD = "@version-of-the-upload"
RESULT_PREFIX = "RESULT "


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def release_free_memory() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, so the baseline is what is in use


def run_case(spec: dict[str, Any], s3: Any) -> dict[str, Any]:
    from restore_helpers import WRITE_OPERATIONS

    import sdblocal
    from localrun import invoke

    version_id = None
    for key, path in spec["files"].items():
        s3.upload_file(path, BUCKET, key)
        version_id = s3.head_object(Bucket=BUCKET, Key=key)["VersionId"]
    event = {name: version_id if value == LATEST_UPLOAD else value for name, value in spec["event"].items()}
    release_free_memory()
    baseline = status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS: the peak from here on
    sdblocal.controls.reset_counts()
    answers = invoke("restore", event)
    peak = status_kb("VmHWM")
    counts = sdblocal.controls.call_counts()
    return {
        "answers": answers,
        "peak_kb": peak,
        "baseline_kb": baseline,
        "writes": {operation: counts[operation] for operation in WRITE_OPERATIONS if counts.get(operation)},
    }


def serve() -> None:
    os.environ.update(ENVIRONMENT)
    for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(variable, None)
    import boto3
    import moto
    from botocore.config import Config
    from restore_helpers import fill, package

    import sdblocal
    from localrun import load_handler

    load_handler("restore")  # imported once here, shared by every case
    sdblocal.activate()
    moto.mock_aws().start()
    sdb = boto3.client("sdb", config=Config(retries={"total_max_attempts": 1}))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    from statekey import create_state_key

    create_state_key(
        boto3.client("kms"), ENVIRONMENT["STATE_KEY_ID"], Path(__file__).parents[2] / "template.yaml"
    )
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    fill(sdb, "packages", [package("a1", name="alpha", version="1"), package("b1", name="beta", version="2")])
    print("READY", flush=True)
    for line in sys.stdin:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the case's own process: a copy of this prepared one
            os.close(read_end)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)  # the function's logs and metrics; the result goes through the pipe
            try:
                result: dict[str, Any] = run_case(json.loads(line), s3)
            except BaseException:  # reported to the test, which fails with it
                result = {"error": traceback.format_exc()}
            with os.fdopen(write_end, "w") as pipe:
                pipe.write(json.dumps(result))
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            reported = pipe.read()
        os.waitpid(pid, 0)
        print(RESULT_PREFIX + (reported or json.dumps({"error": "the case's process died"})), flush=True)


if __name__ == "__main__":
    serve()
