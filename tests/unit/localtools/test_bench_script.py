"""scripts/bench.py's plan from its arguments: what `make bench` and `make bench-large` measure."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from benchkit.results import HEX, ORDINARY

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "bench.py"
MAKEFILE = Path(__file__).resolve().parents[3] / "Makefile"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_script"] = module
    spec.loader.exec_module(module)
    return module


def make_arguments(target: str) -> list[str]:
    """The arguments a make target gives scripts/bench.py, with the Makefile's defaults filled in."""
    lines = MAKEFILE.read_text().replace("\\\n", " ").splitlines()
    start = lines.index(f"{target}: $(VENV)/.installed")
    command = lines[start + 1].split("scripts/bench.py", 1)[1]
    return command.replace("$(ITEMS)", "20000").replace("$(LATENCY_MS)", "30").split()


def test_make_bench_measures_every_scenario_at_20000_and_50000_items(bench: ModuleType) -> None:
    options = bench.options_from(bench.parse_arguments(make_arguments("bench")), "/peer/python")
    assert options.domains() == [(HEX, 20_000), (HEX, 50_000), (ORDINARY, 50_000)]
    assert list(options.write_caps) == [10.0, 40.0, 80.0, 120.0]
    assert (options.slow_latency_ms, list(options.slow_items)) == (250.0, [50_000])
    assert list(options.peer_items) == list(options.damage_items) == list(options.floor_items) == [20_000]
    assert options.damage == 5
    assert not options.legacy
    assert options.select_cap == 0.0


def test_make_bench_large_adds_200000_items(bench: ModuleType) -> None:
    options = bench.options_from(bench.parse_arguments(make_arguments("bench-large")), "/peer/python")
    assert options.domains() == [
        (HEX, 20_000),
        (HEX, 50_000),
        (HEX, 200_000),
        (ORDINARY, 50_000),
        (ORDINARY, 200_000),
    ]
    assert list(options.base_items) == list(options.floor_items) == [20_000, 200_000]
    assert list(options.peer_items) == [20_000]


def test_without_peer_sizes_no_venv_is_made(bench: ModuleType) -> None:
    assert bench.peer_interpreter(bench.parse_arguments(["--peer-items", ""])) == ""
    assert bench.peer_interpreter(bench.parse_arguments(["--only", "slow-select"])) == ""
