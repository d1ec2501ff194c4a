"""Test and benchmark controls of the engine: fault injection, added latency, per-operation call counts.

Process-wide: they apply to every SimpleDB call this process serves, in-process (``mock_aws()``) and
through a server started in it. Only SimpleDB calls are affected and counted. A server in another
process is driven over HTTP with :class:`sdblocal.RemoteControls`.

* ``fault_rate``: the probability that a call answers 503 ``ServiceUnavailable`` instead of running
  (decided before the engine is touched, so a faulted call changes nothing); ``seed`` makes the
  sequence of faults repeatable.
* ``latency_ms``: a sleep added to every call. ``time.sleep`` releases the GIL and no lock is held
  while sleeping, so concurrent clients overlap their latencies as they would against AWS.
* call counts: every SimpleDB call received, by action, including faulted ones (a retried call
  counts each attempt, as AWS would bill it).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Final


class _Unset:
    """Marks a keyword that was not given (``seed=None`` means "a fresh random seed")."""


UNSET: Final = _Unset()


class Controls:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault_rate = 0.0
        self._latency_s = 0.0
        self._rng = random.Random()
        self._counts: Counter[str] = Counter()

    def configure(
        self,
        fault_rate: float | None = None,
        seed: int | _Unset | None = UNSET,
        latency_ms: float | None = None,
    ) -> None:
        """Set any subset of the controls; the others keep their values."""
        if fault_rate is not None and not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, not {fault_rate}")
        if latency_ms is not None and latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, not {latency_ms}")
        with self._lock:
            if fault_rate is not None:
                self._fault_rate = float(fault_rate)
            if not isinstance(seed, _Unset):
                self._rng = random.Random(seed)
            if latency_ms is not None:
                self._latency_s = float(latency_ms) / 1000.0

    def reset(self) -> None:
        """Faults off, no latency, counts cleared."""
        with self._lock:
            self._fault_rate = 0.0
            self._latency_s = 0.0
            self._rng = random.Random()
            self._counts.clear()

    def settings(self) -> dict[str, float]:
        with self._lock:
            return {"fault_rate": self._fault_rate, "latency_ms": self._latency_s * 1000.0}

    def call_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()

    # -- used by the request handler

    def record_call(self, action: str) -> None:
        with self._lock:
            self._counts[action] += 1

    def apply_latency(self) -> None:
        with self._lock:
            delay = self._latency_s
        if delay > 0:
            time.sleep(delay)  # outside the lock: concurrent calls overlap

    def should_fault(self) -> bool:
        with self._lock:
            return self._fault_rate > 0.0 and self._rng.random() < self._fault_rate


_CONTROLS = Controls()

configure = _CONTROLS.configure
reset = _CONTROLS.reset
settings = _CONTROLS.settings
call_counts = _CONTROLS.call_counts
reset_counts = _CONTROLS.reset_counts
record_call = _CONTROLS.record_call
apply_latency = _CONTROLS.apply_latency
should_fault = _CONTROLS.should_fault
