"""Network faults for tests: the real botocore exceptions of a dropped connection, raised on chosen calls of
one client through its public event hooks (no private method is patched), and a fake clock for time budgets.

``NetworkFaults(client)`` registers two handlers on that client only (any service: SimpleDB, S3):

* on ``before-send.<service>``: the request never reaches the service (refused, reset before it was read);
* on ``response-received.<service>`` (``after_response=True``): the service received the request, ran it and
  answered, and the answer is lost on the way back. This is the case that makes replays dangerous, so it is
  the one that shows a replay is safe.

Calls are numbered per operation from 1, counting every attempt the client sends while the injector is on.
"""

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

ErrorFactory = Callable[[str], Exception]


def connection_reset(url: str) -> Exception:
    """What botocore raises when the connection is reset or closed before a whole answer arrived."""
    return ConnectionClosedError(
        endpoint_url=url, error=ConnectionResetError(104, "Connection reset by peer")
    )


def read_timeout(url: str) -> Exception:
    return ReadTimeoutError(endpoint_url=url, error=TimeoutError("The read operation timed out"))


def connect_timeout(url: str) -> Exception:
    return ConnectTimeoutError(endpoint_url=url, error=TimeoutError("timed out"))


def endpoint_unreachable(url: str) -> Exception:
    """What botocore raises when no connection can be made (DNS failure, connection refused)."""
    return EndpointConnectionError(endpoint_url=url, error=ConnectionRefusedError(111, "Connection refused"))


@dataclass
class _Rule:
    operation: str | None  # None: every operation
    calls: frozenset[int] | None  # None: every call
    error: ErrorFactory
    after_response: bool
    until: Callable[[], bool] | None  # the rule stops applying once this returns True

    def applies(self, operation: str, number: int, after_response: bool) -> bool:
        return (
            self.after_response == after_response
            and self.operation in (None, operation)
            and (self.calls is None or number in self.calls)
            and not (self.until is not None and self.until())
        )


class NetworkFaults:
    """Raises connection exceptions on the calls of one botocore client that the rules choose."""

    def __init__(self, client: Any) -> None:
        service = client.meta.service_model.service_id.hyphenize()
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._current = threading.local()  # botocore sends and receives an attempt in the calling thread
        self.attempts: Counter[str] = Counter()  # attempts the client sent, per operation
        self.injected: list[tuple[str, int, str]] = []  # (operation, call number, exception class name)
        client.meta.events.register(f"before-send.{service}", self._before_send)
        client.meta.events.register(f"response-received.{service}", self._response_received)

    def fail(
        self,
        operation: str | None = None,
        *,
        calls: Iterable[int] | None = None,
        error: ErrorFactory = connection_reset,
        after_response: bool = False,
        until: Callable[[], bool] | None = None,
    ) -> None:
        """Fail the given calls (1-based, per operation; all if None) of an operation (all if None)."""
        rule = _Rule(operation, None if calls is None else frozenset(calls), error, after_response, until)
        with self._lock:
            self._rules.append(rule)

    def stop(self) -> None:
        """No more faults (the count of attempts goes on)."""
        with self._lock:
            self._rules.clear()

    def _before_send(self, request: Any, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.attempts[operation] += 1
            number = self.attempts[operation]
        self._current.attempt = (operation, number, request.url)
        self._maybe_fail(operation, number, request.url, after_response=False)

    def _response_received(self, exception: Exception | None = None, **_: Any) -> None:
        if exception is not None:  # no answer came: nothing to lose
            return
        operation, number, url = self._current.attempt
        self._maybe_fail(operation, number, url, after_response=True)

    def _maybe_fail(self, operation: str, number: int, url: str, after_response: bool) -> None:
        with self._lock:
            rule = next((r for r in self._rules if r.applies(operation, number, after_response)), None)
            if rule is None:
                return
            error = rule.error(url)
            self.injected.append((operation, number, type(error).__name__))
        raise error


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it (or ``advance`` is called). Thread-safe:
    with several threads sleeping, time moves by the sum of their sleeps, which keeps every rate bound."""

    def __init__(self, start: float = 1000.0) -> None:
        self._lock = threading.Lock()
        self._now = start
        self.slept = 0.0

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, seconds
        with self._lock:
            self._now += seconds
            self.slept += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
