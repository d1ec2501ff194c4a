"""`make demo` runs the main job end to end and exits 0 (it starts its own local AWS on a loopback port)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_backs_up_restores_and_verifies() -> None:
    finished = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    output = finished.stdout
    assert "[8/8]" in output
    assert output.count("trigger=schedule") == 2  # two nightly dump versions listed
    assert "restore without confirm: refused" in output
    assert "'verified': True" in output
    assert ": True" in output.split("[8/8]")[1]  # the domain equals the chosen dump again
