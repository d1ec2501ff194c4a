"""Runs the real ``repoman-cli`` against the benchmark's engine and measures it, in the peer's own venv.

    <peer venv>/bin/python -m benchkit.peerlaunch <spec.json> <result.json>

apt-repoman 1.0.6 pins boto3 1.4.4 (2017), which knows no endpoint setting: every client it makes goes to AWS.
This launcher gives each client and resource boto3 makes the engine's URL (``AWS_ENDPOINT_URL``, set by
benchkit.engine.job_environment) and then calls ``apt_repoman.cli.main()`` with the command line a user would
type, unchanged otherwise: ``repoman-cli --simpledb-domain D --s3-bucket B --skip-checkup backup`` (its output,
the backup file, written where the spec says) or ``... restore FILE``. ``--skip-checkup``: the health check
writes the domain's ``meta`` item (docs/SOURCES.md), which would change the domain the other runs read.

Measured as benchkit.jobs.child measures our jobs, after the imports: wall time, the process's CPU, its peak
RSS (VmHWM). The result is the JSON of a benchkit.results.JobResult.

Runs under the peer's interpreter (Python 3.9: apt-repoman's pinned dependencies do not import on 3.10 and
later), so: standard library only, nothing from the project, syntax Python 3.9 reads.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

MB = 1_000_000


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / MB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def point_boto3_at(endpoint_url: str) -> None:
    """Every client and resource boto3 makes goes to ``endpoint_url`` unless its caller names one."""
    session_class: Any = importlib.import_module("boto3.session").Session
    make_client, make_resource = session_class.client, session_class.resource

    def client(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", endpoint_url)
        return make_client(self, *args, **kwargs)

    def resource_(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", endpoint_url)
        return make_resource(self, *args, **kwargs)

    session_class.client, session_class.resource = client, resource_


def backup_items(document: dict[str, Any]) -> int:
    """Items in a repoman-cli backup file: ``meta`` and every package entry of the nested ``packages``."""
    count = 1 if document.get("metadata") else 0
    for distributions in document.get("packages", {}).values():
        for components in distributions.values():
            for architectures in components.values():
                for entries in architectures.values():
                    count += len(entries)
    return count


def command_line(spec: dict[str, Any]) -> list[str]:
    common = ["repoman-cli", "--simpledb-domain", "", "--s3-bucket", spec["bucket"], "--skip-checkup"]
    if spec["operation"] == "backup":
        common[2] = spec["domain"]
        return [*common, "backup"]
    common[2] = spec["target"]
    return [*common, "restore", spec["source_path"]]


def versions() -> dict[str, str]:
    found = {"python": ".".join(str(part) for part in sys.version_info[:3])}
    metadata: Any = importlib.import_module("importlib.metadata")
    for package in ("apt-repoman", "boto3", "botocore"):
        found[package] = metadata.version(package)
    return found


def main(argv: list[str]) -> int:
    spec_path, result_path = (Path(argument) for argument in argv)
    spec: dict[str, Any] = json.loads(spec_path.read_text())
    point_boto3_at(os.environ["AWS_ENDPOINT_URL"])
    cli: Any = importlib.import_module("apt_repoman.cli")
    output = Path(spec["source_path"])
    sys.argv = command_line(spec)
    rss_start, cpu_start = peak_rss_mb(), cpu_seconds()
    started = time.perf_counter()
    if spec["operation"] == "backup":
        with output.open("w") as sink, contextlib.redirect_stdout(sink):
            status = cli.main()
    else:
        status = cli.main()
    wall = time.perf_counter() - started
    cpu, rss_peak = cpu_seconds() - cpu_start, peak_rss_mb()
    if status:
        raise SystemExit(f"repoman-cli {sys.argv[-1]} ended with status {status}")
    items = backup_items(json.loads(output.read_text()))
    result = {
        "operation": spec["operation"],
        "run": spec["run"],
        "items": items,
        "wall_seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 2),
        "rss_start_mb": round(rss_start, 1),
        "rss_peak_mb": round(rss_peak, 1),
        "output_bytes": output.stat().st_size if spec["operation"] == "backup" else 0,
        "domain_items": spec["domain_items"],
        "extra": {"versions": versions(), "command": " ".join(sys.argv)},
    }
    result_path.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
