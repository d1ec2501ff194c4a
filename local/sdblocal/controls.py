"""Test and benchmark controls of the engine: throttling, fault injection, added latency, call counts.

Process-wide: they apply to every SimpleDB call this process serves, in-process (``mock_aws()``) and
through a server started in it. Only SimpleDB calls are affected and counted. A server in another
process is driven over HTTP with :class:`sdblocal.RemoteControls`.

* ``write_calls_per_second`` / ``select_calls_per_second``: per-domain token buckets (see
  :mod:`sdblocal.throttle`) for PutAttributes, DeleteAttributes, BatchPutAttributes and
  BatchDeleteAttributes, and for Select. A call that finds its domain's bucket empty answers 503
  ``ServiceUnavailable`` at once: no latency, no fault draw, the engine untouched. 0 means no cap.
  ``write_calls_burst`` / ``select_calls_burst``: calls a full bucket allows at once (0: one second
  of calls, at least 1). Changing a rate or a burst refills every bucket of that kind.
* ``fault_rate``: the probability that a call answers 503 ``ServiceUnavailable`` instead of running
  (decided before the engine is touched, so a faulted call changes nothing); ``seed`` makes the
  sequence of faults repeatable.
* ``latency_ms``: a sleep added to every call that is not throttled. ``time.sleep`` releases the GIL
  and no lock is held while sleeping, so concurrent clients overlap their latencies as they would
  against AWS.
* call counts: every SimpleDB call received, by action, including faulted and throttled ones (a
  retried call counts each attempt, as AWS would bill it); throttled calls are also counted apart.
* the clock (:class:`sdblocal.throttle.Clock`) the buckets read and the latency sleeps on; tests
  pass a fake one to :meth:`Controls.use_clock`, ``reset()`` puts the real one back.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Hashable
from typing import Final

from .throttle import KIND_OF_ACTION, Cap, Clock, Kind, SystemClock, Throttle


class _Unset:
    """Marks a keyword that was not given (``seed=None`` means "a fresh random seed")."""


UNSET: Final = _Unset()

#: Every key of :meth:`Controls.settings`, and of the server's ``POST /_sdblocal/controls`` (with ``seed``).
SETTING_NAMES: Final = (
    "fault_rate",
    "latency_ms",
    "write_calls_per_second",
    "write_calls_burst",
    "select_calls_per_second",
    "select_calls_burst",
)
KINDS: Final[tuple[Kind, ...]] = ("write", "select")


class Controls:
    def __init__(self, clock: Clock | None = None) -> None:
        self._lock = threading.Lock()
        self._default_clock: Clock = clock or SystemClock()
        self._clock = self._default_clock
        self._fault_rate = 0.0
        self._latency_s = 0.0
        self._rng = random.Random()
        self._counts: Counter[str] = Counter()
        self._throttled: Counter[str] = Counter()
        # Per kind: the configured rate and burst (0: default) and the buckets built from them.
        self._rates: dict[Kind, float] = dict.fromkeys(KINDS, 0.0)
        self._bursts: dict[Kind, float] = dict.fromkeys(KINDS, 0.0)
        self._throttles: dict[Kind, Throttle] = {kind: Throttle() for kind in KINDS}

    def configure(
        self,
        fault_rate: float | None = None,
        seed: int | _Unset | None = UNSET,
        latency_ms: float | None = None,
        write_calls_per_second: float | None = None,
        write_calls_burst: float | None = None,
        select_calls_per_second: float | None = None,
        select_calls_burst: float | None = None,
    ) -> None:
        """Set any subset of the controls; the others keep their values. Nothing changes on a ValueError."""
        if fault_rate is not None and not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, not {fault_rate}")
        if latency_ms is not None and latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, not {latency_ms}")
        with self._lock:
            rates, bursts = dict(self._rates), dict(self._bursts)
            given: dict[Kind, tuple[float | None, float | None]] = {
                "write": (write_calls_per_second, write_calls_burst),
                "select": (select_calls_per_second, select_calls_burst),
            }
            for kind, (rate, burst) in given.items():
                rates[kind] = float(rate) if rate is not None else rates[kind]
                bursts[kind] = float(burst) if burst is not None else bursts[kind]
            caps = {kind: Cap.of(rates[kind], bursts[kind]) for kind in KINDS}  # validates
            if fault_rate is not None:
                self._fault_rate = float(fault_rate)
            if not isinstance(seed, _Unset):
                self._rng = random.Random(seed)
            if latency_ms is not None:
                self._latency_s = float(latency_ms) / 1000.0
            for kind in KINDS:
                if (rates[kind], bursts[kind]) != (self._rates[kind], self._bursts[kind]):
                    self._rates[kind], self._bursts[kind] = rates[kind], bursts[kind]
                    self._throttles[kind].set_cap(caps[kind])

    def reset(self) -> None:
        """No caps, faults off, no latency, counts cleared, the clock given at construction."""
        with self._lock:
            self._fault_rate = 0.0
            self._latency_s = 0.0
            self._rng = random.Random()
            self._counts.clear()
            self._throttled.clear()
            self._clock = self._default_clock
            for kind in KINDS:
                self._rates[kind] = self._bursts[kind] = 0.0
                self._throttles[kind].set_cap(None)

    def settings(self) -> dict[str, float]:
        with self._lock:
            return {
                "fault_rate": self._fault_rate,
                "latency_ms": self._latency_s * 1000.0,
                "write_calls_per_second": self._rates["write"],
                "write_calls_burst": self._bursts["write"],
                "select_calls_per_second": self._rates["select"],
                "select_calls_burst": self._bursts["select"],
            }

    def call_counts(self) -> dict[str, int]:
        """Every SimpleDB call received, by action (throttled and faulted ones included)."""
        with self._lock:
            return dict(self._counts)

    def throttled_counts(self) -> dict[str, int]:
        """The calls answered 503 by a throttle, by action (they are in :meth:`call_counts` too)."""
        with self._lock:
            return dict(self._throttled)

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._throttled.clear()

    def use_clock(self, clock: Clock) -> None:
        """The clock the buckets read and the latency sleeps on (tests pass a fake one)."""
        with self._lock:
            self._clock = clock
            for kind in KINDS:  # buckets filled at another clock's times would be meaningless
                self._throttles[kind].set_cap(self._throttles[kind].cap)

    # -- used by the request handler

    def record_call(self, action: str) -> None:
        with self._lock:
            self._counts[action] += 1

    def is_capped(self, action: str) -> bool:
        """Whether calls of ``action`` are metered now (the handler then finds their domain)."""
        kind = KIND_OF_ACTION.get(action)
        with self._lock:
            return kind is not None and self._throttles[kind].cap is not None

    def admit(self, action: str, domain: Hashable) -> bool:
        """Take a token from ``domain``'s bucket for ``action``; False (and counted) when it is empty."""
        kind = KIND_OF_ACTION.get(action)
        if kind is None:
            return True
        with self._lock:
            if self._throttles[kind].admit(domain, self._clock.monotonic()):
                return True
            self._throttled[action] += 1
            return False

    def apply_latency(self) -> None:
        with self._lock:
            delay, clock = self._latency_s, self._clock
        if delay > 0:
            clock.sleep(delay)  # outside the lock: concurrent calls overlap

    def should_fault(self) -> bool:
        with self._lock:
            return self._fault_rate > 0.0 and self._rng.random() < self._fault_rate


_CONTROLS = Controls()

configure = _CONTROLS.configure
reset = _CONTROLS.reset
settings = _CONTROLS.settings
call_counts = _CONTROLS.call_counts
throttled_counts = _CONTROLS.throttled_counts
reset_counts = _CONTROLS.reset_counts
use_clock = _CONTROLS.use_clock
record_call = _CONTROLS.record_call
is_capped = _CONTROLS.is_capped
admit = _CONTROLS.admit
apply_latency = _CONTROLS.apply_latency
should_fault = _CONTROLS.should_fault
