"""The engine's own capacity, measured in the same run as the write caps it must stay above.

Issue 18 asks the engine to serve at least 1.5x the highest write cap measured, uncapped, in the same run:
otherwise a cap the restore misses may be the engine's limit, not the product's. The measurement is the
engine's own entry point (local/sdblocal, docs/ENGINE.md) when it has one; until then, nothing is stored and
the tables fall back to our uncapped restore's write rate (a lower bound: the restore's own CPU shares it).
"""

import importlib
from collections.abc import Callable
from typing import Any

from benchkit.engine import EngineProcess
from benchkit.results import SizeReport


def _entry_point() -> Callable[..., dict[str, Any]] | None:
    try:
        module = importlib.import_module("sdblocal.capacity")
    except ImportError:
        return None
    measure = getattr(module, "measure_write_capacity", None)
    return measure if callable(measure) else None


def measure_engine_capacity(engine: EngineProcess, report: SizeReport, log: Callable[[str], None]) -> None:
    """Store the engine's uncapped write rate in ``report.engine``, if the engine can measure it."""
    measure = _entry_point()
    if measure is None:
        log("  the engine has no capacity entry point: the uncapped restore's write rate stands in for it")
        return
    engine.controls.configure(
        latency_ms=report.latency_ms, write_calls_per_second=0, select_calls_per_second=0
    )
    measured = measure(engine.url)
    report.engine = {**measured, "method": "sdblocal.capacity.measure_write_capacity"}
    log(f"  engine: {measured}")
