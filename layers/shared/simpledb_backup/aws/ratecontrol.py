"""Adaptive rate control shared by the workers of one job: learn the rate SimpleDB sustains, pace every worker
to it, and retry throttles and network faults for a budget of time.

Why
---
SimpleDB limits each domain's request rate and answers ``503 ServiceUnavailable`` when a client exceeds it;
its guidance is to ramp up slowly and back off. botocore's own adaptive retry mode (``retries/adaptive.py``)
paces a client with a token bucket and a CUBIC rate, but its throttling detector knows only codes such as
``Throttling`` and ``SlowDown`` and HTTP 429: SimpleDB's 503 ``ServiceUnavailable`` counts there as a
*success* for the rate, so that mode never slows down for SimpleDB. botocore's retries are therefore off for
SimpleDB (``total_max_attempts: 1``) and this module owns them. Per-worker backoff would not do either:
eight workers each backing off on its own schedule keep hammering a throttled domain.

The algorithm
-------------
* **One token bucket per lane, shared by every thread** (:class:`TokenBucket`). Before each attempt a worker
  takes a token; if none is there it sleeps until one is due and asks again, so a rate cut applies at once to
  every worker still waiting. After a pause at most ``burst_seconds`` of calls go at once. A lane is what
  SimpleDB throttles together: the four write operations share the ``write`` lane (SimpleDB limits a
  domain's writes together); every other operation (``Select``, ``GetAttributes``...) has a lane of its
  own, so a throttled restore's writes do not slow its reads, nor a backup's Selects its metadata calls.
* **Slow start** (:class:`CubicRate`). A lane starts at ``initial_rate`` and, until its first fault,
  doubles its rate every ``doubling_seconds`` while calls succeed, as TCP's slow start does.
* **CUBIC after a fault** (botocore's ``CubicCalculator``; RFC 8312). A throttle or a network fault takes
  the rate it happened at as ``w_max`` and cuts the rate to ``beta * w_max``. Successes then follow
  ``rate(t) = scale * (t - K)^3 + w_max``, ``K = cbrt(w_max * (1 - beta) / scale)`` seconds after the cut: a
  quick climb back towards ``w_max``, a long plateau just under it (where most calls are sent, so a job runs
  close to the limit it learned), then a probe above it that finds capacity freed since. ``K`` is at least
  ``min_recovery_seconds`` (``scale`` shrinks for low rates): each probe past the limit costs a throttled
  call or two, and at 10 calls/s botocore's constant would probe every two seconds, throttling one call in
  twenty. Once the probe reaches twice ``w_max`` the old limit is gone and the lane returns to slow start.
* **One cut per round.** A fault of an attempt sent *before* the last cut was sent at the old rate and says
  nothing new: it is counted but does not cut again. Without this guard the eight workers in flight when the
  limit is hit would cut the rate eight times (0.7^8, a twentieth).
* **The rate stays near what is really sent.** ``w_max`` is the smaller of the allowed rate and the send
  rate measured over the last ``measured_sends`` sends, and the allowed rate never exceeds twice the measured
  one (as botocore does): a job whose workers, not SimpleDB, are the bottleneck does not build up an
  allowance it would spend in one burst. The rate stays within ``[min_rate, max_rate]``.
* **Faults that come at any rate do not cut it** (faultevidence.py). SimpleDB also answers 503 now and then
  for no reason a client can act on, and then every other call cutting the rate would drive a job to a crawl
  (under 50 % random 503s a restore's reads ran at 0.6 calls/s). After each cut, a lane weighs its recent
  outcomes with the rate each was sent at: when the faults do not fall as the rate falls, their share is the
  lane's *background*, the cuts they caused are undone, and from then on a fault cuts only when the faults since
  the last cut clearly exceed that share (``background_z`` standard deviations). When the evidence shows
  faults falling with the rate again (a capacity limit), every fault counts as before; a cut every
  ``background_probe_seconds`` keeps that evidence coming, and the background never stays clearly above the
  share of faults seen lately.
* **Time budgets, not attempt counts.** A throttle or a fault is retried, at the lane's pace, for as long as
  the call has kept failing for less than ``give_up_after`` seconds: a long throttle slows a job down; only
  one longer than that fails it, with :class:`RetriesExhaustedError` naming the operation, the attempts and
  how long it kept failing (the SimpleDB adapter turns it into the error taxonomy, naming the domain).
* **No wait past the job's time limit.** A job that must hand over at a deadline sets it
  (``limited_to``); a call then neither waits for a token nor for a retry past it, and raises
  :class:`OutOfTimeError` instead, so throttling cannot make an invocation outlive its deadline.
* **What is retried**: throttling answers (``ServiceUnavailable``, ``Throttling``, ``ThrottlingException``,
  ``RequestTimeout``, ``InternalError`` and any HTTP 5xx) and network faults, the exceptions botocore's HTTP
  layer raises when no answer came back (``botocore.exceptions.ConnectionError``: endpoint connection errors,
  connect timeouts; ``HTTPClientError``: a connection reset or closed, read timeouts), the two classes
  botocore's standard retry mode retries. A network fault cuts the rate as a throttle does: an overloaded
  endpoint often shows first as dropped connections. Anything else is raised at once, unretried.

Defaults, and why
-----------------
``initial_rate`` 25 calls/s is modest (practitioners report about 70 PutAttributes/s per domain, and about
twenty times as many items with batch puts) and, doubling every 0.5 s, reaches 266 calls/s (eight workers at
30 ms a call) in 1.7 s. ``beta`` 0.7 and ``scale`` 0.4 calls/s per s^3 are botocore's; ``min_rate`` 0.5
calls/s is botocore's floor. ``min_recovery_seconds`` 4 keeps throttled calls near 2 % of all calls at 10
calls/s. ``burst_seconds`` 0.1 keeps the workers spread out rather than in step. ``give_up_after`` 180 s lets a
job ride out minutes of throttling yet fail well within a 15-minute Lambda invocation, with time to report.

Simulated (eight workers, 30 ms a call, a token-bucket server answering 503 at once when empty, 800 calls
after a cold start): at caps of 10, 40 and 80 calls/s with a one-second server burst, 100-104 % of the cap
with 1-2.4 % of calls throttled; with a server burst of a single call, 83-91 % (91 % in steady state) with
at most 2.4 % throttled. Without a cap the slow start costs about 1.1 s against unpaced workers.
The benchmark (``make bench``) measures it against the engine's throttling.

The clock and the sleep are injected, so the tests drive all of this with a fake clock.
"""

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from simpledb_backup.aws.faultevidence import FaultEvidence, Verdict
from simpledb_backup.observability import logger

T = TypeVar("T")

THROTTLE_CODES = frozenset(
    {"ServiceUnavailable", "RequestTimeout", "InternalError", "Throttling", "ThrottlingException", "SlowDown"}
)
# What botocore's HTTP layer raises when no answer came back (botocore/httpsession.py): EndpointConnectionError
# and ConnectTimeoutError derive from ConnectionError; ConnectionClosedError (a reset or closed connection),
# ReadTimeoutError and the catch-all of the HTTP layer from HTTPClientError.
NETWORK_ERRORS: tuple[type[Exception], ...] = (BotocoreConnectionError, HTTPClientError)
# SimpleDB throttles a domain's writes together (its documented per-domain write limits).
WRITE_OPERATIONS = frozenset(
    {"PutAttributes", "BatchPutAttributes", "DeleteAttributes", "BatchDeleteAttributes"}
)
_EPSILON = 1e-9
_MAX_DOUBLINGS = 64.0  # 2.0 ** (hours idle / 0.5 s) would overflow; the rate is bounded long before


class Fault(Enum):
    THROTTLE = "throttle"
    NETWORK = "network"


def is_throttle(error: ClientError) -> bool:
    """Whether an error answer means "too much, try again later" (a 503, a throttling code, any 5xx)."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in THROTTLE_CODES or status >= 500


def classify_error(error: BaseException) -> Fault | None:
    """The fault an exception reports, or None when retrying it cannot help."""
    if isinstance(error, ClientError):
        return Fault.THROTTLE if is_throttle(error) else None
    if isinstance(error, NETWORK_ERRORS):
        return Fault.NETWORK
    return None


def default_lane(operation: str) -> str:
    """The lane an operation is paced in: every write shares one, any other operation has its own."""
    return "write" if operation in WRITE_OPERATIONS else operation


@dataclass(frozen=True)
class RetryStats:
    """Counters of a retry policy since it was created."""

    calls: int = 0  # attempts sent
    throttles: int = 0  # attempts answered with a throttling error
    network_faults: int = 0  # attempts that failed in the network
    retries: int = 0  # failed attempts that were tried again
    exhausted: int = 0  # calls that failed because their time budget ran out
    rates: dict[str, float] = field(default_factory=dict)  # each lane's current rate (calls/s), if paced


class RetryPolicy(Protocol):
    """How the SimpleDB adapter sends a call: pacing, retries, and when to give up."""

    def call(self, operation: str, function: Callable[[], T]) -> T: ...

    def stats(self) -> RetryStats: ...


class OutOfTimeError(Exception):
    """The job's time ran out while a call waited for its turn or for its retry: it is not sent (again).

    Raised instead of waiting past the time limit a job set (``RateController.limited_to``), so that an
    invocation stops at its hand-over point however throttled its calls are. Not part of the error taxonomy:
    the job that set the limit stops at a safe point and continues in its next invocation.
    """

    def __init__(self, operation: str, attempts: int) -> None:
        super().__init__(f"{operation}: the invocation's time ran out after {attempts} attempt(s)")
        self.operation = operation
        self.attempts = attempts


class RetriesExhaustedError(Exception):
    """A call kept failing with throttles or network faults for longer than the time budget.

    Not part of the error taxonomy: the adapter that knows the domain turns it into one, ``from``
    ``last_error``.
    """

    def __init__(self, operation: str, attempts: int, failing_for: float, last_error: Exception) -> None:
        super().__init__(
            f"{operation} kept failing for {failing_for:.0f} s over {attempts} attempts: {last_error}"
        )
        self.operation = operation
        self.attempts = attempts
        self.failing_for = failing_for
        self.last_error = last_error
        self.fault = classify_error(last_error)


@dataclass(frozen=True)
class RateSettings:
    initial_rate: float = 25.0  # calls/s of a lane before it has learned anything
    doubling_seconds: float = 0.5  # slow start: the rate doubles this often until the first fault
    beta: float = 0.7  # a fault cuts the rate to beta * the rate it happened at
    scale: float = 0.4  # CUBIC's constant, calls/s per s^3
    min_recovery_seconds: float = 4.0  # K is at least this: a low rate is probed no faster
    min_rate: float = 0.5  # calls/s
    max_rate: float = 5000.0  # calls/s
    burst_seconds: float = 0.1  # after a pause, up to this many seconds' worth of calls go at once
    measured_sends: int = 20  # the send rate is measured over this many recent sends
    give_up_after: float = 180.0  # seconds a call may keep failing before it fails the job
    background_z: float = 3.0  # faults within this many standard deviations of the background do not cut
    background_probe_seconds: float = 30.0  # a fault within the background still cuts this long after a cut

    def __post_init__(self) -> None:
        if not 0 < self.min_rate <= self.initial_rate <= self.max_rate:
            raise ValueError("rates must satisfy 0 < min_rate <= initial_rate <= max_rate")
        if not 0 < self.beta < 1:
            raise ValueError("beta must be between 0 and 1")
        if min(self.doubling_seconds, self.scale, self.min_recovery_seconds) <= 0 or self.measured_sends < 2:
            raise ValueError(
                "doubling_seconds, scale and min_recovery_seconds must be positive, measured_sends > 1"
            )
        if self.burst_seconds < 0 or self.give_up_after < 0:
            raise ValueError("burst_seconds and give_up_after must not be negative")


class TokenBucket:
    """Tokens at ``rate`` per second, at most ``rate * burst_seconds`` (and at least one) saved up.

    A caller that finds no token sleeps until one is due and asks again, so a change of rate applies at once
    to every caller still waiting (reserved future slots would keep the old rate for a whole queue of them).
    Not thread-safe by itself; times are passed in.
    """

    def __init__(self, rate: float, burst_seconds: float, now: float) -> None:
        self.rate = rate
        self.burst_seconds = burst_seconds
        self._tokens = 1.0
        self._updated = now

    def take(self, now: float) -> float:
        """Take a token and return 0.0, or return how many seconds until the next one is due."""
        self._refill(now)
        if self._tokens >= 1.0 - _EPSILON:  # a sleeper woken exactly when due may find 0.9999999 tokens
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def set_rate(self, rate: float, now: float) -> None:
        self._refill(now)  # tokens earned so far were earned at the old rate
        self.rate = rate
        self._tokens = min(self._tokens, self._capacity())

    def _capacity(self) -> float:
        return max(1.0, self.rate * self.burst_seconds)

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self._capacity(), self._tokens + (now - self._updated) * self.rate)
            self._updated = now


class SendRateMeter:
    """The recent send rate: calls per second over the last ``samples`` sends.

    A count of sends rather than a time window, so the estimate is as fresh at 5 calls/s as at 500, with no
    smoothing lag while the rate ramps up. Not thread-safe by itself; ``record`` takes non-decreasing times.
    """

    def __init__(self, samples: int) -> None:
        self._sends: deque[float] = deque(maxlen=samples)

    @property
    def rate(self) -> float:
        """Calls per second, 0.0 before two sends, infinite for a burst sent at one instant."""
        if len(self._sends) < 2:
            return 0.0
        span = self._sends[-1] - self._sends[0]
        return (len(self._sends) - 1) / span if span > 0 else math.inf

    def record(self, sent_at: float) -> None:
        self._sends.append(sent_at)


class CubicRate:
    """The allowed rate of a lane: slow start until the first fault, then CUBIC. Pure: times are passed in."""

    def __init__(self, settings: RateSettings, now: float) -> None:
        self.settings = settings
        self.rate = settings.initial_rate
        self.slow_start = True
        self.decreased_at: float | None = None  # when the rate was last cut
        self._updated = now
        self._w_max = self._k = 0.0
        self._scale = settings.scale

    def on_success(self, now: float, measured: float) -> None:
        settings = self.settings
        if self.slow_start or self.decreased_at is None:
            doublings = min(_MAX_DOUBLINGS, max(0.0, now - self._updated) / settings.doubling_seconds)
            target = self.rate * 2.0**doublings
        else:
            target = self._scale * (now - self.decreased_at - self._k) ** 3 + self._w_max
            if target >= 2 * self._w_max:
                self.slow_start = True  # far beyond the limit it learned: that limit is gone, explore again
        self._updated = now
        # Never far above what is really sent: an allowance the workers cannot use would be spent in a burst.
        self.rate = self._bounded(min(target, max(2.0 * measured, settings.initial_rate)))

    def on_fault(self, now: float, measured: float, sent_at: float) -> bool:
        """Cut the rate for a fault of an attempt sent at ``sent_at``; False if it was already cut after that
        attempt was sent (the fault belongs to the round that caused the last cut)."""
        if self.decreased_at is not None and sent_at <= self.decreased_at:
            return False
        settings = self.settings
        self._w_max = min(self.rate, measured) if measured > 0 else self.rate
        self._scale = min(
            settings.scale, self._w_max * (1 - settings.beta) / settings.min_recovery_seconds**3
        )
        self._k = (self._w_max * (1 - settings.beta) / self._scale) ** (1 / 3)
        self.rate = self._bounded(settings.beta * self._w_max)
        self.decreased_at = self._updated = now
        self.slow_start = False
        return True

    def restore(self, rate: float, now: float) -> None:
        """Undo cuts that were for nothing (the faults were not the rate's): back to ``rate`` and to slow start,
        keeping the time of the last cut (faults of attempts sent before it still do not cut)."""
        self.rate = self._bounded(max(self.rate, rate))
        self.slow_start = True
        self._updated = now

    def _bounded(self, rate: float) -> float:
        return min(self.settings.max_rate, max(self.settings.min_rate, rate))


class RateLane:
    """One lane: a token bucket at the rate its CubicRate learns from the outcomes of its calls, and the
    evidence of which of its faults are the rate's (faultevidence.py). Thread-safe."""

    def __init__(
        self, settings: RateSettings, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.settings = settings
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        now = clock()
        self._rate = CubicRate(settings, now)
        self._bucket = TokenBucket(settings.initial_rate, settings.burst_seconds, now)
        self._meter = SendRateMeter(settings.measured_sends)
        self._evidence = FaultEvidence()
        #: Recent sends and the rate each was sent at (an outcome is judged at the rate it was sent at).
        self._sends: deque[tuple[float, float]] = deque(maxlen=1024)
        #: The share of faults that come at any rate, learned from the evidence, and when it was last weighed.
        self._background, self._learned_at = 0.0, now
        #: Attempts sent since the last cut whose outcome is known, and how many of them faulted.
        self._round_attempts = self._round_faults = 0

    @property
    def rate(self) -> float:
        with self._lock:
            return self._rate.rate

    def background(self) -> float:
        """The share of faults currently taken for background (they do not cut the rate)."""
        with self._lock:
            return self._current_background(self._clock())

    def acquire(self, time_left: Callable[[], float] | None = None) -> float | None:
        """Wait for a token of this lane; returns the time it was taken (when the call may be sent), or None
        when the wait would outlast ``time_left()`` seconds (the caller's time limit)."""
        while True:
            with self._lock:
                now = self._clock()
                wait = self._bucket.take(now)
                if not wait:
                    self._meter.record(now)
                    self._sends.append((now, self._rate.rate))
                    return now
            if time_left is not None and wait >= time_left():
                return None
            self._sleep(wait)  # outside the lock; then ask again, at whatever the rate is by then

    def on_success(self, sent_at: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            if sent_at is not None:
                self._record(sent_at, fault=False)
            self._rate.on_success(now, self._meter.rate)
            self._bucket.set_rate(self._rate.rate, now)

    def on_fault(self, sent_at: float) -> bool:
        """Feed a fault of a call sent at ``sent_at``; True if it cut the rate. A fault within the lane's
        background share (faults that come at any rate) does not cut."""
        with self._lock:
            now = self._clock()
            self._record(sent_at, fault=True)
            if self._background and now - self._learned_at >= 1.0:
                self._learn(now)  # at most once a second: does the evidence still say the faults are random?
            if self._within_background(now) and not self._probe_due(now):
                return False
            cut = self._rate.on_fault(now, self._meter.rate, sent_at)
            if cut:
                self._round_attempts = self._round_faults = 0
                self._learn(now)
            self._bucket.set_rate(self._rate.rate, now)
            return cut

    def _record(self, sent_at: float, fault: bool) -> None:
        rate = next((rate for sent, rate in reversed(self._sends) if sent == sent_at), self._rate.rate)
        self._evidence.record(sent_at, rate, fault)
        decreased_at = self._rate.decreased_at
        if decreased_at is None or sent_at > decreased_at:
            self._round_attempts += 1
            self._round_faults += fault

    def _current_background(self, now: float) -> float:
        # Never clearly above the share of faults seen lately: when the random faults stop, so does their
        # allowance.
        share, outcomes = self._evidence.fault_share(now)
        if outcomes:
            spread = math.sqrt(max(share * (1 - share), 0.01) / outcomes)
            if share + 3 * spread < self._background:
                self._background = share + 2 * spread
        return self._background

    def _within_background(self, now: float) -> bool:
        """The faults since the last cut are no more than the background share explains."""
        background = self._current_background(now)
        if background <= 0 or not self._round_attempts:
            return False
        share = self._round_faults / self._round_attempts
        spread = math.sqrt(background * (1 - background) / self._round_attempts)
        return share <= background + self.settings.background_z * spread

    def _probe_due(self, now: float) -> bool:
        """Faults taken for background still cut once in a while: how the faults change at the lower rate
        shows whether they are still random (when they stop and a capacity limit appears instead, the lane must
        learn that)."""
        decreased_at = self._rate.decreased_at
        return decreased_at is not None and now - decreased_at >= self.settings.background_probe_seconds

    def _learn(self, now: float) -> None:
        """After a cut: if the evidence says the faults come at any rate, take their share for background (and,
        the first time, undo the cuts they caused); if it says they are the rate's, every fault counts."""
        self._learned_at = now
        verdict, background = self._evidence.verdict(now)
        if verdict is Verdict.UNKNOWN:
            return
        self._background = background
        if verdict is Verdict.RANDOM:
            self._rate.restore(self._evidence.typical_rate(now), now)
            logger.info(
                "faults come at any rate: taken for background",
                extra={"background": round(background, 3), "rate": round(self._rate.rate, 2)},
            )


class RateController:
    """The retry policy of one job: every worker's calls go through :meth:`call` of one instance."""

    def __init__(
        self,
        settings: RateSettings | None = None,
        *,
        lane_of: Callable[[str], str] = default_lane,
        classify: Callable[[BaseException], Fault | None] = classify_error,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or RateSettings()
        self._lane_of, self._classify = lane_of, classify
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._lanes: dict[str, RateLane] = {}
        self._counts = {"calls": 0, "throttles": 0, "network_faults": 0, "retries": 0, "exhausted": 0}
        #: Seconds the job may still wait in calls (None: no limit): see limited_to.
        self._time_left: Callable[[], float] | None = None

    @contextmanager
    def limited_to(self, time_left: Callable[[], float]) -> Iterator[None]:
        """While the context lasts, no call waits for a token or a retry once ``time_left()`` seconds are
        gone: it raises OutOfTimeError instead (a call already sent finishes, within its own timeout). A job
        sets its invocation's hand-over point here, so that throttling cannot make it outlive its deadline."""
        self._time_left = time_left
        try:
            yield
        finally:
            self._time_left = None

    def lane(self, operation: str) -> RateLane:
        name = self._lane_of(operation)
        with self._lock:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = RateLane(self.settings, self._clock, self._sleep)
            return lane

    def call(self, operation: str, function: Callable[[], T]) -> T:
        """Run ``function`` (one attempt of ``operation``) at the lane's pace until it succeeds, fails with an
        error no retry can help (raised at once), or has kept failing for ``give_up_after`` seconds."""
        lane = self.lane(operation)
        failing_since: float | None = None
        attempts = 0
        time_left = self._time_left
        while True:
            # The time limit is read only before a wait (for a token, or after a fault), never on the way of a
            # call that goes at once.
            if attempts and time_left is not None and time_left() <= 0:
                raise OutOfTimeError(operation, attempts)
            sent_at = lane.acquire(time_left)
            if sent_at is None:
                raise OutOfTimeError(operation, attempts)
            attempts += 1
            self._count("calls")
            try:
                result = function()
            except Exception as error:
                fault = self._classify(error)
                if fault is None:
                    raise
                self._count("throttles" if fault is Fault.THROTTLE else "network_faults")
                cut = lane.on_fault(sent_at)
                failing_since = sent_at if failing_since is None else failing_since
                failing_for = self._clock() - failing_since
                if failing_for >= self.settings.give_up_after:
                    self._count("exhausted")
                    raise RetriesExhaustedError(operation, attempts, failing_for, error) from error
                self._count("retries")
                logger.debug(
                    "call retried",
                    extra={
                        "operation": operation,
                        "fault": fault.value,
                        "attempt": attempts,
                        "rate_cut": cut,
                        "rate": round(lane.rate, 2),
                    },
                )
                continue
            lane.on_success(sent_at)
            return result

    def stats(self) -> RetryStats:
        with self._lock:
            counts = dict(self._counts)
            lanes = dict(self._lanes)
        return RetryStats(**counts, rates={name: lane.rate for name, lane in lanes.items()})

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1
