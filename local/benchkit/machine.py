"""What a run was made on: the machine, and the commit of the product code it measured."""

import os
import platform
import subprocess

from benchkit.engine import ROOT
from benchkit.results import Machine

#: The product code: a change here during a run makes its figures mixed (see code_version).
PRODUCT_PATHS = ("layers", "functions", "local/sdblocal")


def machine_facts() -> Machine:
    try:
        with open("/proc/meminfo") as meminfo:
            memory_gb = int(meminfo.readline().split()[1]) / 1024 / 1024  # kB
    except (OSError, ValueError, IndexError):
        memory_gb = 0.0
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return Machine(
        cores=os.cpu_count() or 1,
        memory_gb=round(memory_gb, 1),
        load_average=round(load, 1),
        system=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
    )


def code_version() -> str:
    """The checkout's commit, with ``+changes`` when the product code has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", *PRODUCT_PATHS],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f"{commit}+changes" if changed else commit
