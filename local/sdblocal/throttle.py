"""Per-domain token buckets: the engine's model of SimpleDB throttling a domain's write or Select calls.

SimpleDB limits the request rate per domain and answers ``503 ServiceUnavailable`` when a domain is
asked for more ("Amazon SimpleDB Developer Guide", API error codes: ServiceUnavailable; its guidance is
to back off and retry). The documentation gives no figures; practitioners report about 70 single-item
puts a second per domain. Here each kind of call (writes, selects) has a rate and a burst, and every
domain its own bucket of that kind, so one domain's load never slows another.

Pure logic: the caller passes the time in (``now``, seconds on a monotonic clock), so tests drive it
with a fake clock. Not thread-safe on its own; :mod:`sdblocal.controls` holds a lock around it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["write", "select"]

#: The calls each kind of bucket meters. Reads other than Select and domain calls are never throttled.
KIND_OF_ACTION: dict[str, Kind] = {
    "PutAttributes": "write",
    "DeleteAttributes": "write",
    "BatchPutAttributes": "write",
    "BatchDeleteAttributes": "write",
    "Select": "select",
}

# Float slack: a bucket refilled by many small steps may sit a hair under a whole token.
_EPSILON = 1e-9


class Clock(Protocol):
    """The time the controls see: a monotonic reading and a sleep (the injected latency)."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Cap:
    """``calls_per_second`` refill; ``burst`` calls may be made at once from a full bucket."""

    calls_per_second: float
    burst: float

    @classmethod
    def of(cls, calls_per_second: float, burst: float | None) -> Cap | None:
        """The cap for a rate (0: none) and a burst (None or 0: one second of calls, at least 1)."""
        if not math.isfinite(calls_per_second) or calls_per_second < 0:
            raise ValueError(f"a call rate must not be negative, not {calls_per_second}")
        if burst is not None and not (burst == 0 or (math.isfinite(burst) and burst >= 1)):
            raise ValueError(f"a burst must be at least 1 call (or 0 for the default), not {burst}")
        if calls_per_second == 0:
            return None
        return cls(float(calls_per_second), float(burst) if burst else max(1.0, float(calls_per_second)))


class TokenBucket:
    """Starts full; each admitted call takes one token; tokens come back at the cap's rate up to its burst."""

    __slots__ = ("_cap", "_tokens", "_updated")

    def __init__(self, cap: Cap, now: float) -> None:
        self._cap = cap
        self._tokens = cap.burst
        self._updated = now

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._cap.burst, self._tokens + elapsed * self._cap.calls_per_second)
        self._updated = max(self._updated, now)
        if self._tokens + _EPSILON >= 1.0:
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False  # an empty bucket takes nothing: a refused call does not delay the next one


class Throttle:
    """One kind's cap and a bucket per domain (keyed by whatever names a domain: account, region, name)."""

    def __init__(self) -> None:
        self._cap: Cap | None = None
        self._buckets: dict[Hashable, TokenBucket] = {}

    @property
    def cap(self) -> Cap | None:
        return self._cap

    def set_cap(self, cap: Cap | None) -> None:
        """A new cap starts every domain with a full bucket."""
        self._cap = cap
        self._buckets.clear()

    def admit(self, domain: Hashable, now: float) -> bool:
        if self._cap is None:
            return True
        bucket = self._buckets.get(domain)
        if bucket is None:
            bucket = self._buckets[domain] = TokenBucket(self._cap, now)
        return bucket.take(now)
