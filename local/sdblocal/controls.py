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
from dataclasses import dataclass
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
    "select_page_items",
    "empty_select_pages",
    "empty_select_page_rate",
    "expire_next_tokens",
    "utf16_order",
)
KINDS: Final[tuple[Kind, ...]] = ("write", "select")


def _quirk_rng(seed: int | None) -> random.Random:
    """The quirks' own random sequence, so that turning them on never shifts the sequence of faults."""
    return random.Random(None if seed is None else f"sdblocal-quirks-{seed}")


@dataclass(frozen=True, slots=True)
class SelectQuirks:
    """How one Select call that reaches the engine is to be answered (:meth:`Controls.select_quirks`)."""

    refuse_token: bool = False
    empty: bool = False
    max_items: int = 0  # 0: no cap
    utf16_order: bool = False


NO_QUIRKS: Final = SelectQuirks()


def _count(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of at least 0, not {value!r}")
    return value


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
        self._clear_quirks()

    def _clear_quirks(self) -> None:
        self._quirk_rng = _quirk_rng(None)
        self._page_items = 0
        self._empty_pages = 0
        self._empty_rate = 0.0
        self._expire_tokens = 0
        self._expired: set[str] = set()
        self._utf16_order = False

    def configure(
        self,
        fault_rate: float | None = None,
        seed: int | _Unset | None = UNSET,
        latency_ms: float | None = None,
        write_calls_per_second: float | None = None,
        write_calls_burst: float | None = None,
        select_calls_per_second: float | None = None,
        select_calls_burst: float | None = None,
        select_page_items: int | None = None,
        empty_select_pages: int | None = None,
        empty_select_page_rate: float | None = None,
        expire_next_tokens: int | None = None,
        utf16_order: bool | None = None,
    ) -> None:
        """Set any subset of the controls; the others keep their values. Nothing changes on a ValueError."""
        for name, rate in (("fault_rate", fault_rate), ("empty_select_page_rate", empty_select_page_rate)):
            if rate is not None and not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        if latency_ms is not None and latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, not {latency_ms}")
        page_items = _count(select_page_items, "select_page_items")
        empty_pages = _count(empty_select_pages, "empty_select_pages")
        expire_tokens = _count(expire_next_tokens, "expire_next_tokens")
        if utf16_order is not None and not isinstance(utf16_order, bool):
            raise ValueError(f"utf16_order must be true or false, not {utf16_order!r}")
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
                self._quirk_rng = _quirk_rng(seed)
            if page_items is not None:
                self._page_items = page_items
            if empty_pages is not None:
                self._empty_pages = empty_pages
            if empty_select_page_rate is not None:
                self._empty_rate = float(empty_select_page_rate)
            if expire_tokens is not None:
                self._expire_tokens = expire_tokens
            if utf16_order is not None:
                self._utf16_order = utf16_order
            if latency_ms is not None:
                self._latency_s = float(latency_ms) / 1000.0
            for kind in KINDS:
                if (rates[kind], bursts[kind]) != (self._rates[kind], self._bursts[kind]):
                    self._rates[kind], self._bursts[kind] = rates[kind], bursts[kind]
                    self._throttles[kind].set_cap(caps[kind])

    def reset(self) -> None:
        """No caps, faults off, no latency, no Select quirks (expired tokens forgotten), counts cleared,
        the clock given at construction."""
        with self._lock:
            self._clear_quirks()
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
                "select_page_items": self._page_items,
                "empty_select_pages": self._empty_pages,  # how many are left
                "empty_select_page_rate": self._empty_rate,
                "expire_next_tokens": self._expire_tokens,  # how many are left
                "utf16_order": self._utf16_order,
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

    def select_quirks(self, next_token: str | None) -> SelectQuirks:
        """The quirks of a Select call that reaches the engine (throttled and faulted calls never do);
        takes one from the counts of empty pages and expiring tokens when it uses one."""
        with self._lock:
            if next_token is not None and (next_token in self._expired or self._expire_tokens > 0):
                if next_token not in self._expired:
                    self._expire_tokens -= 1
                    self._expired.add(next_token)
                return SelectQuirks(refuse_token=True)
            empty = self._empty_pages > 0
            if empty:
                self._empty_pages -= 1
            elif self._empty_rate > 0.0:
                empty = self._quirk_rng.random() < self._empty_rate
            if not (empty or self._page_items or self._utf16_order):
                return NO_QUIRKS
            return SelectQuirks(False, empty, self._page_items, self._utf16_order)


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
select_quirks = _CONTROLS.select_quirks
