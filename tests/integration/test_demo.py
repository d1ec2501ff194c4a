"""`make demo` runs the main job end to end (it starts its own local AWS on a loopback port), its operator steps
with `simpledb-backup --local`: the diff of last night, the list, the plan, the restore with a wrong and then
the right name, and an independent check that the domain equals the dump."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: A package described in Repoman's terms: name, version, distribution/component/architecture.
PACKAGE_LINE = re.compile(r"^\s+[+~-] [a-z0-9][a-z0-9.+-]+ \S+ [a-z]+/[a-z-]+/[a-z0-9]+$", re.MULTILINE)


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def step(output: str, number: int) -> str:
    """The output of step ``number`` of the demo's ten."""
    return output.split(f"[{number}/10]")[1].split(f"[{number + 1}/10]")[0]


def test_the_demo_backs_up_restores_and_verifies(demo: subprocess.CompletedProcess[str]) -> None:
    output = demo.stdout
    assert "[10/10]" in output, output + demo.stderr
    failures = [line for line in demo.stderr.splitlines() if line.startswith("FAILED: ")]
    assert failures == [], demo.stderr
    assert demo.returncode == 0

    listed = step(output, 6)
    assert "$ simpledb-backup --local list packages" in listed
    assert (
        len(re.findall(r"^\s+\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+296 .* schedule", listed, re.M)) == 2
    )

    planned = step(output, 7)
    assert "$ simpledb-backup --local plan packages --mode exact" in planned
    assert "25 to create, 1 to update, 0 to delete, 270 unchanged" in planned

    restored = step(output, 8)
    assert restored.count("Type the name of the domain to restore into (packages)") == 2
    assert "cancels: pakages\n" in restored
    assert "refused: you typed 'pakages', not 'packages'; nothing was written" in demo.stderr
    assert "complete: restored packages: 26 items written" in restored
    assert "verification: the target matches the source" in restored

    assert re.search(r"domain == dump \S+: True", step(output, 9))
    drill = output.split("[10/10]")[1]
    assert "$ simpledb-backup --local drill packages" in drill
    assert "drill of packages into simpledb-backup-drill-packages: passed" in drill
    assert "verification: the scratch domain matches the dump" in drill
    assert "scratch domain simpledb-backup-drill-packages deleted: True" in drill


def test_the_demo_shows_last_night_and_the_plan_in_package_terms(
    demo: subprocess.CompletedProcess[str],
) -> None:
    diff = step(demo.stdout, 5)
    assert "$ simpledb-backup --local diff packages --from previous --to latest" in diff
    assert "to:   dump" in diff
    assert len(PACKAGE_LINE.findall(diff)) >= 5  # the new builds, by name and version
    plan = step(demo.stdout, 7)
    assert "Create (25)" in plan
    assert len(PACKAGE_LINE.findall(plan)) >= 5
