"""Which faults are the rate's: a lane's recent outcomes with the rate each attempt was sent at, and the test
that tells faults a lower rate would avoid (throttling) from faults that come at any rate (a flaky service or
network answering 503 now and then).

Why
---
SimpleDB answers ``503 ServiceUnavailable`` both when a domain's request rate is exceeded and, now and then,
for no reason a client can act on; the two answers are the same. Cutting the rate for every 503 is right for
the first and ruinous for the second: under 50 % random 503s every other call would cut the rate, and a
restore's reads crawled at 0.6 calls/s. The difference shows in how faults depend on the rate: a capacity
limit C lets through about C calls a second whatever is sent, so the share of calls that succeed falls as
C / rate above it; random faults take the same share at every rate.

The test
--------
Over the lane's recent outcomes (the last ``max_outcomes``, within ``window_seconds``: a busy lane's last
seconds, a quiet lane's last few scans) it compares two
explanations by their likelihood: *flat*, every attempt succeeds with one probability q; and *capacity*, an
attempt sent at rate r succeeds with probability q * min(1, G / r) for some capacity G. The capacity model
always fits at least as well (with G above every rate it is the flat one); when it does not fit better by at
least ``min_gain`` (a log-likelihood ratio), the faults are not the rate's, and q's complement is the lane's
*background* fault share. It decides only on enough evidence: at least ``min_outcomes`` outcomes, with at least
``min_success`` of them successes (in a heavy overshoot almost every attempt fails, at any rate); faults are
taken for random only over rates at least ``min_range`` apart (a few cuts' worth: throttling near one rate never
passes for random), and for the rate's over rates ``rate_range`` apart (one cut shows it).
Pure; times are passed in.
"""

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    RATE = "rate"  # the faults fall as the rate falls: throttling
    RANDOM = "random"  # the faults come at any rate
    UNKNOWN = "unknown"  # not enough evidence either way


@dataclass(frozen=True)
class Outcome:
    at: float
    rate: float
    fault: bool


#: Rates closer than this factor are one group (the likelihoods are computed per group).
_GROUP_FACTOR = 1.4
#: Capacities tried, from an eighth of the slowest rate seen (a capacity below every rate sent) to the fastest.
_CAPACITY_STEPS = 16
_GOLDEN = (math.sqrt(5) - 1) / 2
_SEARCH_STEPS = 14


def _group(outcomes: list[Outcome]) -> list[tuple[float, int, int]]:
    """(rate, attempts, successes) per group of nearby rates."""
    groups: dict[int, list[float]] = {}
    for outcome in outcomes:
        key = int(math.log(max(outcome.rate, 1e-9)) / math.log(_GROUP_FACTOR))
        entry = groups.setdefault(key, [0.0, 0.0, 0.0])
        entry[0] += outcome.rate
        entry[1] += 1
        entry[2] += not outcome.fault
    return [(total / count, int(count), int(successes)) for total, count, successes in groups.values()]


def _log_likelihood(terms: list[tuple[float, int, int]], q: float) -> float:
    """Of outcomes whose success probability is ``q`` times each term's factor."""
    total = 0.0
    for factor, successes, faults in terms:
        success = min(max(q * factor, 1e-12), 1.0 - 1e-12)
        total += successes * math.log(success) + faults * math.log(1.0 - success)
    return total


def _best_fit(groups: list[tuple[float, int, int]], capacity: float | None) -> tuple[float, float]:
    """The log-likelihood of the groups under the capacity model with ``capacity`` (None: flat) at its best q,
    and that q (the likelihood is concave in q: a golden-section search finds it)."""
    terms = [
        (1.0 if capacity is None else min(1.0, capacity / rate), successes, attempts - successes)
        for rate, attempts, successes in groups
    ]
    low, high = 0.0, 1.0
    left, right = high - _GOLDEN * (high - low), low + _GOLDEN * (high - low)
    at_left, at_right = _log_likelihood(terms, left), _log_likelihood(terms, right)
    for _ in range(_SEARCH_STEPS):
        if at_left < at_right:
            low, left, at_left = left, right, at_right
            right = low + _GOLDEN * (high - low)
            at_right = _log_likelihood(terms, right)
        else:
            high, right, at_right = right, left, at_left
            left = high - _GOLDEN * (high - low)
            at_left = _log_likelihood(terms, left)
    q = (low + high) / 2
    return _log_likelihood(terms, q), q


class FaultEvidence:
    def __init__(
        self,
        window_seconds: float = 300.0,
        max_outcomes: int = 200,
        min_outcomes: int = 12,
        min_range: float = 4.0,
        min_gain: float = 1.0,
        min_success: float = 0.3,
        min_background: float = 0.1,
        rate_range: float = 1.4,
    ) -> None:
        self.window_seconds, self.min_outcomes = window_seconds, min_outcomes
        self.min_range, self.min_gain, self.min_success = min_range, min_gain, min_success
        self.min_background, self.rate_range = min_background, rate_range
        self._outcomes: deque[Outcome] = deque(maxlen=max_outcomes)

    def record(self, at: float, rate: float, fault: bool) -> None:
        self._outcomes.append(Outcome(at, rate, fault))

    def typical_rate(self, now: float) -> float:
        """The median rate of the outcomes the verdict weighs (0.0 when there are none): where a lane goes back
        to when its cuts were for nothing."""
        rates = sorted(outcome.rate for outcome in self._recent(now))
        return rates[len(rates) // 2] if rates else 0.0

    def fault_share(self, now: float) -> tuple[float, int]:
        """The share of the window's outcomes that faulted (0.0 when there are none), and their number."""
        recent = [outcome for outcome in self._outcomes if now - outcome.at <= self.window_seconds]
        return (sum(outcome.fault for outcome in recent) / len(recent) if recent else 0.0), len(recent)

    def _recent(self, now: float) -> list[Outcome]:
        """The outcomes within the window, from its first fault on (the successes of a slow start before any
        fault say nothing about how faults depend on the rate, and a service's saved-up burst makes them
        look better than the rate it sustains)."""
        recent = [outcome for outcome in self._outcomes if now - outcome.at <= self.window_seconds]
        first_fault = next((index for index, outcome in enumerate(recent) if outcome.fault), len(recent))
        return recent[first_fault:]

    def verdict(self, now: float) -> tuple[Verdict, float]:
        """Whether the recent faults are the rate's, and the share of faults that come at any rate: all of them
        (RANDOM), or those the capacity model puts below the capacity (RATE, when that share is notable)."""
        recent = self._recent(now)
        if len(recent) < self.min_outcomes:
            return Verdict.UNKNOWN, 0.0
        rates = [outcome.rate for outcome in recent]
        spread = max(rates) / min(rates)
        successes = sum(not outcome.fault for outcome in recent) / len(recent)
        if spread < self.rate_range:
            return Verdict.UNKNOWN, 0.0
        groups = _group(recent)
        flat, _ = _best_fit(groups, None)
        low, high = min(rates) / 8, max(rates)
        capacities = [low * (high / low) ** (step / (_CAPACITY_STEPS - 1)) for step in range(_CAPACITY_STEPS)]
        capacity, q = max(_best_fit(groups, candidate) for candidate in capacities)
        if capacity - flat < self.min_gain:
            if spread < self.min_range or successes < self.min_success:
                return Verdict.UNKNOWN, 0.0
            # The share among the slower half of the outcomes (faults the rate adds, if any, are among the
            # faster half), from a few hundred outcomes at most: taken on the high side (two standard
            # deviations), so that the faults' own noise does not read as an excess.
            typical = self.typical_rate(now)
            slower = [outcome for outcome in recent if outcome.rate <= typical]
            share = sum(outcome.fault for outcome in slower) / len(slower)
            return Verdict.RANDOM, min(1.0, share + 2 * math.sqrt(share * (1 - share) / len(slower)))
        return Verdict.RATE, (1.0 - q if q <= 1.0 - self.min_background else 0.0)
