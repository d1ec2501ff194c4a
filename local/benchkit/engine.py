"""The engine the benchmark measures against, in a process of its own, and clients of it.

``python -m sdblocal.server`` (moto with the project's SimpleDB engine, S3 included) on a free loopback port:
its CPU never shares the GIL of the process being measured, and its CPU time is read per job.
"""

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config

from sdblocal import RemoteControls

ROOT = Path(__file__).resolve().parent.parent.parent
#: The import path of every process the benchmark starts: the layer and the local tooling.
PYTHONPATH = os.pathsep.join(str(ROOT / folder) for folder in ("layers/shared", "local"))
REGION = "us-east-1"

#: The environment of a job's child process: fake credentials, quiet Powertools, no traces or metrics sent.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_SERVICE_NAME": "simpledb-backup",
    "POWERTOOLS_METRICS_NAMESPACE": "SimpleDBBackup",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_DISABLED": "1",
}


class EngineProcess:
    """``python -m sdblocal.server`` on a free loopback port, with its controls and its CPU time."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "sdblocal.server"),
                *("--host", "127.0.0.1", "--port", "0", "--latency-ms", str(latency_ms)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": PYTHONPATH},
            text=True,
        )
        if self.process.stdout is None:
            raise RuntimeError("the engine's output is not piped")
        line = self.process.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"the engine did not start: {line!r}")
        self.url = match.group(1)
        # Nothing more is printed, but never let a full pipe block the server.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        self.controls = RemoteControls(self.url, timeout=60.0)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """CPU time of the engine: its process and any worker processes it runs (those alive now, and those it
        has waited for)."""
        process = psutil.Process(self.process.pid)
        times = process.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in process.children(recursive=True):
            try:
                child_times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += child_times.user + child_times.system
        return float(total)

    def rss_mb(self) -> float:
        """Resident memory of the engine's process and its worker processes."""
        process = psutil.Process(self.process.pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return float(total) / 1e6

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "EngineProcess":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def job_environment(url: str) -> dict[str, str]:
    """This process's environment without its AWS settings, pointed at the engine."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return {**environment, **FAKE_AWS, "AWS_ENDPOINT_URL": url, "PYTHONPATH": PYTHONPATH}


def _endpoint(url: str, max_pool_connections: int) -> dict[str, Any]:
    return {
        "endpoint_url": url,
        "region_name": REGION,
        "aws_access_key_id": "bench",
        "aws_secret_access_key": "bench",
        "config": Config(retries={"total_max_attempts": 1}, max_pool_connections=max_pool_connections),
    }


# Clients of the engine for the orchestrating process (fill, counts, clean-up); Any, as the project's adapters
# take them.
def sdb_client(url: str, max_pool_connections: int = 10) -> Any:
    return boto3.client("sdb", **_endpoint(url, max_pool_connections))


def s3_client(url: str) -> Any:
    return boto3.client("s3", **_endpoint(url, 10))


def kms_client(url: str) -> Any:
    """For the state key the functions seal their restore states and locks with (local/statekey.py)."""
    return boto3.client("kms", **_endpoint(url, 10))
