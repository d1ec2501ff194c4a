"""The rate controller's behaviour on a fake clock: ramp-up, back-off, recovery, time budgets, sharing."""

import math
import random
import threading
from collections.abc import Callable

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from faults import FakeClock
from simpledb_backup.aws.faultevidence import FaultEvidence, Verdict
from simpledb_backup.aws.ratecontrol import (
    Fault,
    OutOfTimeError,
    RateController,
    RateLane,
    RateSettings,
    RetriesExhaustedError,
    SendRateMeter,
    TokenBucket,
    classify_error,
)


def answer(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Select"
    )


def throttle() -> ClientError:
    return answer("ServiceUnavailable", 503)


class CappedService:
    """A service on the fake clock with a token bucket of ``cap`` calls/s and ``burst`` calls: an empty bucket
    answers 503 at once, as SimpleDB does when it throttles. ``cap`` 0 means no limit."""

    def __init__(self, clock: FakeClock, cap: float, burst: float = 1.0, latency: float = 0.0) -> None:
        self.clock, self.cap, self.burst, self.latency = clock, cap, burst, latency
        self._tokens, self._updated = burst, clock()
        self.served: list[float] = []
        self.throttled = 0

    def __call__(self) -> str:
        now = self.clock()
        if self.cap:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.cap)
            self._updated = now
            if self._tokens < 1:
                self.throttled += 1
                raise throttle()
            self._tokens -= 1
        self.served.append(now)
        self.clock.advance(self.latency)
        return "ok"

    def served_between(self, start: float, end: float) -> int:
        return sum(1 for sent in self.served if start <= sent < end)


def controller(clock: FakeClock, **settings: float) -> RateController:
    return RateController(RateSettings(**settings), clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


def run_for(clock: FakeClock, seconds: float, call: Callable[[], object]) -> None:
    end = clock() + seconds
    while clock() < end:
        call()


# --- what is retried ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ServiceUnavailable", 503),
        ("Throttling", 400),
        ("ThrottlingException", 400),
        ("RequestTimeout", 408),
        ("InternalError", 500),
        ("SomethingNew", 502),
    ],
)
def test_throttling_answers_and_any_5xx_are_throttles(code: str, status: int) -> None:
    assert classify_error(answer(code, status)) is Fault.THROTTLE


@pytest.mark.parametrize(
    "error",
    [
        ConnectionClosedError(endpoint_url="https://sdb.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://sdb.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://sdb.amazonaws.com"),
        EndpointConnectionError(endpoint_url="https://sdb.amazonaws.com"),
    ],
)
def test_the_exceptions_of_a_dropped_connection_are_network_faults(error: Exception) -> None:
    assert classify_error(error) is Fault.NETWORK


@pytest.mark.parametrize(
    "error",
    [answer("NoSuchDomain", 400), answer("InvalidQueryExpression", 400), ValueError("a bug"), KeyError("x")],
)
def test_other_errors_are_not_retryable(error: Exception) -> None:
    assert classify_error(error) is None


# --- ramp-up -----------------------------------------------------------------------------------------------


def test_a_lane_starts_at_its_initial_rate_and_doubles_while_calls_succeed() -> None:
    clock = FakeClock()
    rate_control = controller(clock, initial_rate=10.0, doubling_seconds=1.0, burst_seconds=0.0)
    service = CappedService(clock, cap=0)
    start = clock()
    run_for(clock, 6.0, lambda: rate_control.call("Select", service))
    per_second = [service.served_between(start + second, start + second + 1) for second in range(6)]
    # From the initial rate, doubling within the first second already: 10 / ln 2 = 14.4 calls, plus the one
    # token a lane starts with.
    assert 10 <= per_second[0] <= 10 / math.log(2) + 1
    for second in range(1, 6):
        # Slow start: about twice as many calls each second, never more than the doubling allows.
        assert 1.5 * per_second[second - 1] <= per_second[second] <= 2.5 * per_second[second - 1]
    assert service.throttled == 0
    assert rate_control.stats().rates["Select"] > 10 * 2**4


def test_a_lane_whose_workers_are_the_bottleneck_keeps_its_rate_near_what_they_send() -> None:
    clock = FakeClock()
    rate_control = controller(clock)
    service = CappedService(clock, cap=0, latency=0.02)  # one worker, 20 ms a call: 50 calls/s at most
    run_for(clock, 30.0, lambda: rate_control.call("Select", service))
    assert service.served_between(clock() - 1, clock()) >= 45  # not held back by the pacing
    assert rate_control.stats().rates["Select"] <= 2 * 50 * 1.05  # not the 5,000 calls/s of max_rate


# --- back-off ----------------------------------------------------------------------------------------------


def test_a_throttle_cuts_the_rate_to_beta_of_the_rate_it_happened_at() -> None:
    clock = FakeClock()
    rate_control = controller(clock, initial_rate=20.0, burst_seconds=0.0)
    run_for(clock, 3.0, lambda: rate_control.call("Select", lambda: None))
    before = rate_control.stats().rates["Select"]
    outcomes = iter([throttle(), None])

    def throttled_once() -> None:
        error = next(outcomes)
        if error:
            raise error

    rate_control.call("Select", throttled_once)
    after = rate_control.stats().rates["Select"]
    # The cut is from the smaller of the allowed and the measured send rate, which lags a ramp a little.
    assert 0.7 * 0.8 * before <= after <= 0.7 * before * 1.01
    assert rate_control.stats().throttles == rate_control.stats().retries == 1


def test_faults_of_calls_sent_before_a_cut_do_not_cut_again() -> None:
    clock = FakeClock()
    lane = RateLane(RateSettings(initial_rate=100.0, burst_seconds=0.0), clock, clock.sleep)
    sent = [lane.acquire() for _ in range(3)]  # three workers' calls in flight
    assert lane.on_fault(sent[0]) is True
    cut_once = lane.rate
    assert lane.on_fault(sent[1]) is False
    assert lane.on_fault(sent[2]) is False
    assert lane.rate == cut_once
    later = lane.acquire()  # sent at the new rate, and throttled too: the new rate is still too high
    assert lane.on_fault(later) is True
    assert lane.rate < cut_once


@pytest.mark.parametrize(("cap", "burst"), [(20.0, 1.0), (20.0, 20.0), (100.0, 1.0)])
def test_under_a_cap_the_lane_learns_it_and_throttles_rarely(cap: float, burst: float) -> None:
    clock = FakeClock()
    rate_control = controller(clock)
    service = CappedService(clock, cap=cap, burst=burst)
    start = clock()
    run_for(clock, 120.0, lambda: rate_control.call("Select", service))
    served = service.served_between(start + 20, start + 120)  # after the ramp-up
    assert served >= 0.9 * cap * 100
    assert service.throttled <= 0.05 * (len(service.served) + service.throttled)
    assert rate_control.stats().throttles == service.throttled


def test_the_rate_recovers_once_throttling_stops() -> None:
    clock = FakeClock()
    rate_control = controller(clock, max_rate=500.0)
    service = CappedService(clock, cap=20.0)
    start = clock()
    run_for(clock, 60.0, lambda: rate_control.call("Select", service))
    assert rate_control.stats().rates["Select"] <= 20 * 1.1
    service.cap = 0  # the limit is lifted
    run_for(clock, 15.0, lambda: rate_control.call("Select", service))
    assert service.served_between(start + 60 + 14, start + 60 + 15) > 10 * 20
    throttles = rate_control.stats().throttles
    run_for(clock, 5.0, lambda: rate_control.call("Select", service))
    assert rate_control.stats().throttles == throttles


def test_a_long_idle_time_does_not_overflow_the_slow_start() -> None:
    clock = FakeClock()
    rate_control = controller(clock, max_rate=500.0)
    rate_control.call("Select", lambda: None)
    clock.advance(24 * 3600.0)
    rate_control.call("Select", lambda: None)
    assert rate_control.stats().rates["Select"] <= 500.0


# --- random faults -----------------------------------------------------------------------------------------


class Flaky:
    """Answers a share of calls with 503 whatever the rate (as a flaky service does), the rest as ``service``."""

    def __init__(self, service: CappedService, share: float, seed: int = 7) -> None:
        self.service, self.share, self.random = service, share, random.Random(seed)

    def __call__(self) -> str:
        if self.random.random() < self.share:
            self.service.clock.advance(self.service.latency)
            raise throttle()
        return self.service()


@pytest.mark.parametrize("share", [0.2, 0.5])
def test_random_faults_do_not_drive_the_rate_to_a_crawl(share: float) -> None:
    clock = FakeClock()
    rate_control = controller(clock)
    service = CappedService(clock, cap=0, latency=0.004)  # one worker, 4 ms a call: 250 calls/s at most
    flaky = Flaky(service, share)
    start = clock()
    run_for(clock, 60.0, lambda: rate_control.call("Select", flaky))
    # After the first seconds (the lane learns that its faults come at any rate), most of what the worker can
    # send goes, and the faults' share is taken for background.
    assert service.served_between(start + 10, start + 60) >= 0.7 * (1 - share) * 250 * 50
    assert rate_control.lane("Select").background() == pytest.approx(share, abs=0.1)


def test_a_background_learned_from_random_faults_is_dropped_when_a_capacity_limit_appears() -> None:
    clock = FakeClock()
    rate_control = controller(clock)
    service = CappedService(clock, cap=0, latency=0.004)
    flaky = Flaky(service, 0.5)
    run_for(clock, 30.0, lambda: rate_control.call("Select", flaky))
    flaky.share, service.cap = 0.0, 20.0  # the random faults stop; a capacity limit of 20 calls/s appears
    run_for(clock, 60.0, lambda: rate_control.call("Select", flaky))
    start, throttled = clock(), service.throttled
    run_for(clock, 60.0, lambda: rate_control.call("Select", flaky))
    served = service.served_between(start, start + 60)
    assert served >= 0.9 * 20 * 60
    assert service.throttled - throttled <= 0.05 * served
    assert rate_control.lane("Select").background() == 0.0


def outcomes(
    evidence: FaultEvidence, rates: list[float], success: Callable[[float], float], seed: int
) -> None:
    draw = random.Random(seed)
    for index, rate in enumerate(rates):
        evidence.record(index * 0.01, rate, draw.random() >= success(rate))


@pytest.mark.parametrize("seed", range(5))
def test_the_evidence_tells_random_faults_from_a_capacity_limit(seed: int) -> None:
    descent = [80 * 0.7 ** (index // 20) for index in range(200)]  # ten cuts' worth of rates, 80 down to 3
    flat = FaultEvidence()
    outcomes(flat, descent, lambda rate: 0.5, seed)
    verdict, background = flat.verdict(2.0)
    assert verdict is Verdict.RANDOM
    assert background == pytest.approx(0.5, abs=0.15)
    capped = FaultEvidence()
    outcomes(capped, descent, lambda rate: min(1.0, 20 / rate), seed)
    assert capped.verdict(2.0) == (Verdict.RATE, 0.0)
    few = FaultEvidence()
    outcomes(few, descent[:8], lambda rate: 0.5, seed)
    assert few.verdict(2.0)[0] is Verdict.UNKNOWN


# --- time budgets ------------------------------------------------------------------------------------------


def test_a_long_throttle_slows_a_call_down_but_does_not_fail_it() -> None:
    clock = FakeClock()
    rate_control = controller(clock, give_up_after=180.0)
    start = clock()

    def throttled_for_100_seconds() -> str:
        if clock() - start < 100.0:
            raise throttle()
        return "done"

    assert rate_control.call("BatchPutAttributes", throttled_for_100_seconds) == "done"
    stats = rate_control.stats()
    assert clock() - start >= 100.0
    assert stats.throttles == stats.retries == stats.calls - 1 > 1
    assert stats.exhausted == 0


def test_a_call_that_keeps_failing_fails_after_the_time_budget_from_its_last_error() -> None:
    clock = FakeClock()
    rate_control = controller(clock, give_up_after=60.0, min_rate=0.5)
    start = clock()
    errors: list[Exception] = []

    def always_throttled() -> None:
        errors.append(throttle())
        raise errors[-1]

    with pytest.raises(RetriesExhaustedError) as raised:
        rate_control.call("Select", always_throttled)
    exhausted = raised.value
    assert exhausted.__cause__ is exhausted.last_error is errors[-1]
    assert exhausted.fault is Fault.THROTTLE
    assert exhausted.operation == "Select"
    assert exhausted.attempts == len(errors) == rate_control.stats().calls > 1
    # Given up at the first failure past the budget: at most one slot of the slowest rate later.
    assert 60.0 <= exhausted.failing_for <= 60.0 + 1 / 0.5 + 1e-6
    assert 60.0 <= clock() - start <= 60.0 + 2 / 0.5
    assert "Select kept failing for" in str(exhausted)
    assert rate_control.stats().exhausted == 1
    assert rate_control.stats().rates["Select"] == pytest.approx(0.5)  # cut down to the floor


def test_network_faults_are_retried_and_cut_the_rate_like_throttles() -> None:
    clock = FakeClock()
    rate_control = controller(clock, initial_rate=50.0)
    outcomes = iter([ConnectionClosedError(endpoint_url="https://sdb"), ReadTimeoutError(endpoint_url="x")])

    def dropped_twice() -> str:
        error = next(outcomes, None)
        if error:
            raise error
        return "page"

    assert rate_control.call("Select", dropped_twice) == "page"
    stats = rate_control.stats()
    assert (stats.calls, stats.network_faults, stats.throttles, stats.retries) == (3, 2, 0, 2)
    assert stats.rates["Select"] < 50.0


def test_a_network_outage_fails_with_the_network_fault() -> None:
    clock = FakeClock()
    rate_control = controller(clock, give_up_after=30.0)

    def unreachable() -> None:
        raise EndpointConnectionError(endpoint_url="https://sdb.amazonaws.com")

    with pytest.raises(RetriesExhaustedError) as raised:
        rate_control.call("DomainMetadata", unreachable)
    assert raised.value.fault is Fault.NETWORK
    assert isinstance(raised.value.__cause__, EndpointConnectionError)


@pytest.mark.parametrize("error", [answer("NoSuchDomain", 400), ValueError("a bug")])
def test_an_error_no_retry_can_help_is_raised_at_once(error: Exception) -> None:
    clock = FakeClock()
    rate_control = controller(clock)

    def fails() -> None:
        raise error

    with pytest.raises(type(error)) as raised:
        rate_control.call("Select", fails)
    assert raised.value is error
    stats = rate_control.stats()
    assert (stats.calls, stats.retries, stats.throttles) == (1, 0, 0)
    assert clock.slept == 0.0
    assert stats.rates["Select"] == RateSettings().initial_rate  # not a capacity signal


def test_a_call_does_not_wait_past_the_time_limit_its_job_set() -> None:
    clock = FakeClock()
    rate_control = controller(clock, initial_rate=1.0, min_rate=0.5, burst_seconds=0.0)
    deadline = clock() + 5.0

    def always_throttled() -> None:
        raise throttle()

    with rate_control.limited_to(lambda: deadline - clock()), pytest.raises(OutOfTimeError) as raised:
        rate_control.call("BatchPutAttributes", always_throttled)
    # It stopped waiting before the limit: a wait that would pass it is not begun.
    assert clock() <= deadline
    assert raised.value.attempts >= 1
    rate_control.call("Select", lambda: None)  # outside the context, no limit applies


# --- sharing -----------------------------------------------------------------------------------------------


def test_every_thread_takes_its_calls_from_one_bucket() -> None:
    clock = FakeClock()
    rate = 10.0
    rate_control = controller(clock, initial_rate=rate, min_rate=rate, max_rate=rate, burst_seconds=0.0)
    sends: list[float] = []

    def worker() -> None:
        for _ in range(25):
            rate_control.call("BatchPutAttributes", lambda: sends.append(clock()))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sends) == 100
    # One bucket for all four: its one starting token plus `rate` a second, wherever the time went.
    # (Four buckets would have let up to 4 + 4 * rate * span through.)
    assert len(sends) <= 1 + rate * (max(sends) - min(sends)) + 1e-6


def test_a_throttle_seen_by_one_worker_slows_every_worker_of_its_lane_only() -> None:
    clock = FakeClock()
    rate_control = controller(clock, initial_rate=40.0)
    for operation in ("BatchPutAttributes", "BatchDeleteAttributes", "Select"):
        rate_control.call(operation, lambda: None)
    before = rate_control.stats().rates
    outcomes = iter([throttle(), None])

    def throttled_once() -> None:
        error = next(outcomes)
        if error:
            raise error

    worker = threading.Thread(target=rate_control.call, args=("BatchDeleteAttributes", throttled_once))
    worker.start()
    worker.join()
    after = rate_control.stats().rates
    assert set(after) == {"write", "Select"}  # the writes share a lane
    assert after["write"] < before["write"]  # what BatchPutAttributes now waits for too
    assert after["Select"] == before["Select"]
    assert rate_control.lane("BatchPutAttributes") is rate_control.lane("BatchDeleteAttributes")


# --- the parts ---------------------------------------------------------------------------------------------


def test_the_bucket_saves_up_a_burst_after_a_pause_and_applies_a_new_rate_at_once() -> None:
    bucket = TokenBucket(rate=10.0, burst_seconds=0.5, now=0.0)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == pytest.approx(0.1)  # the next token is due in 1/rate
    taken = sum(1 for _ in range(20) if bucket.take(100.0) == 0.0)
    assert taken == 5  # half a second's worth, however long the pause
    bucket.set_rate(2.0, 100.0)
    assert bucket.take(100.0) == pytest.approx(0.5)


def test_the_meter_measures_the_recent_send_rate() -> None:
    meter = SendRateMeter(samples=5)
    assert meter.rate == 0.0
    for index in range(10):
        meter.record(index * 0.25)
    assert meter.rate == pytest.approx(4.0)
    for _ in range(5):
        meter.record(10.0)
    assert meter.rate == float("inf")


@pytest.mark.parametrize(
    "settings",
    [
        {"initial_rate": 0.1, "min_rate": 0.5},
        {"initial_rate": 10.0, "max_rate": 5.0},
        {"min_rate": 0.0},
        {"beta": 1.0},
        {"doubling_seconds": 0.0},
        {"measured_sends": 1},
        {"give_up_after": -1.0},
    ],
)
def test_settings_that_make_no_sense_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RateSettings(**settings)  # type: ignore[arg-type]
