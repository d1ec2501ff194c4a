"""The shared backoff the SimpleDB adapter used before the adaptive rate controller, kept as the benchmark's
baseline (local/ is never deployed). It implements ``simpledb_backup.aws.ratecontrol.RetryPolicy``.

When any worker sees a 503 the shared delay doubles, and every worker waits it before its next call;
successes halve it again. It neither learns a sustainable rate nor ramps up, gives up after a number of
attempts rather than a time, and retries only error answers: a network fault is raised at once.
"""

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

from simpledb_backup.aws.ratecontrol import RetryStats, is_throttle

T = TypeVar("T")


class SharedBackoff:
    """Backoff shared by every worker of one job (the adapter's policy until the rate controller)."""

    def __init__(self, base_delay: float = 0.05, max_delay: float = 5.0, max_attempts: int = 12) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_attempts = max_attempts
        self._delay = 0.0
        self._lock = threading.Lock()
        self.calls = 0
        self.retries = 0

    def wait(self) -> None:
        with self._lock:
            delay = self._delay
        if delay:
            time.sleep(delay * (0.5 + random.random()))  # jitter spreads the workers' retries

    def on_throttle(self) -> None:
        with self._lock:
            self.retries += 1
            self._delay = min(self.max_delay, max(self.base_delay, self._delay * 2))

    def on_success(self) -> None:
        if self._delay:
            with self._lock:
                self._delay = self._delay / 2 if self._delay > self.base_delay else 0.0

    def call(self, operation: str, function: Callable[[], T]) -> T:
        for attempt in range(1, self.max_attempts + 1):
            self.wait()
            with self._lock:
                self.calls += 1
            try:
                result = function()
            except ClientError as error:
                if not is_throttle(error) or attempt == self.max_attempts:
                    raise
                self.on_throttle()
                continue
            self.on_success()
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def stats(self) -> RetryStats:
        with self._lock:
            # Every retry followed a throttle; the last throttle of a call that gave up is not counted.
            return RetryStats(calls=self.calls, throttles=self.retries, retries=self.retries)
