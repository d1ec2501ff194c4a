"""The engine's own capacity, measured in the same run as the write caps it must stay above.

Issue 18 asks the engine to serve at least 1.5x the highest write cap measured, uncapped, in the same run (else a
cap the restore misses may be the engine's limit, not the product's), and to spend under 20 ms of CPU per MB of
Select page. The engine measures itself (``sdblocal.capacity.measure_engine``, docs/ENGINE.md): batch writes of
Repoman items posted by a few connections at once with no latency and no cap, and its CPU per MB of the
backup's own Select pages, read from the server. The result goes into the report (``SizeReport.engine``).
"""

from collections.abc import Callable
from typing import Any

from benchkit.engine import EngineProcess
from benchkit.results import SizeReport
from sdblocal.capacity import measure_engine, repoman_items

#: Items the probe writes, reads and deletes (a domain of its own): 200 write calls each way.
PROBE_ITEMS = 5000
PROBE_CLIENTS = 4

Measure = Callable[..., Any]


def measure_engine_capacity(
    engine: EngineProcess,
    report: SizeReport,
    log: Callable[[str], None],
    measure: Measure = measure_engine,
    items: int = PROBE_ITEMS,
) -> None:
    """Store the engine's uncapped write rate and Select CPU in ``report.engine`` (the probe needs the engine
    without latency or caps; the runs after it set their own)."""
    engine.controls.configure(latency_ms=0, write_calls_per_second=0, select_calls_per_second=0)
    measured = measure(engine.url, repoman_items(items), PROBE_CLIENTS)
    report.engine = {key: round(float(value), 2) for key, value in measured.as_dict().items()}
    log(
        f"  engine: {report.engine['write_calls_per_second']:.0f} write calls/s uncapped, "
        f"{report.engine['select_cpu_ms_per_mb']:.1f} ms CPU per MB of Select pages"
    )
