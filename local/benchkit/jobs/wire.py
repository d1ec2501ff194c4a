"""What a job's SimpleDB client sent and got back, per lane, seen from inside the child: botocore event hooks.

Figures the engine's call counts cannot give:

* the **window** of a lane: from its first request sent to its last answer received, the time a rate of calls
  is measured over (a restore's writes, a backup's Selects), without the job's setup and wind-down around it;
* the **bytes of the Select responses** that came back whole (HTTP 200): the Select XML the client received,
  what the backup's CPU per MB is divided by;
* the **CPU of the calls**, in the threads that made them (``time.thread_time``): of each whole call
  (building, signing and sending the request, reading and parsing the answer) from botocore's ``before-call``
  to its ``after-call``, and of the before-parse hooks alone (the adapter's own Select parser, which hands
  botocore an empty page: simpledb_backup.aws.simpledb).

The hooks are registered per operation, the recorder's first (``register_first``) and last around the
before-parse hooks of the adapter: botocore calls the handlers of a more specific event name first, whatever
was registered first, so a hook for the whole service would run after the adapter's. A lane is what the
engine throttles together: the four write actions share ``write``; every other action is a lane of its own.

Standard library only: a job's child imports it, and its footprint is part of what the child measures.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

#: The calls the engine's write throttle meters together (sdblocal.throttle.KIND_OF_ACTION).
WRITE_ACTIONS = frozenset(
    {"PutAttributes", "DeleteAttributes", "BatchPutAttributes", "BatchDeleteAttributes"}
)
WRITE_LANE = "write"


def lane_of(operation: str) -> str:
    return WRITE_LANE if operation in WRITE_ACTIONS else operation


class _Lane:
    __slots__ = ("answered_ok", "call_cpu", "first_sent", "last_answered", "ok_bytes", "parse_cpu", "sent")

    def __init__(self) -> None:
        self.sent = self.answered_ok = self.ok_bytes = 0
        self.call_cpu = self.parse_cpu = 0.0
        self.first_sent: float | None = None
        self.last_answered: float | None = None


class WireRecorder:
    """Counts, times and weighs every SimpleDB call of the clients it is attached to. Thread-safe."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        thread_cpu: Callable[[], float] = time.thread_time,
    ) -> None:
        self._clock, self._thread_cpu = clock, thread_cpu
        self._lock = threading.Lock()
        self._lanes: dict[str, _Lane] = {}
        self._started = threading.local()  # this thread's call and parse start, in its CPU seconds

    def attach(self, client: Any) -> "WireRecorder":
        events = client.meta.events
        for operation in client.meta.service_model.operation_names:
            for event, handler, first in (
                ("before-call", self.call_started, True),
                ("before-send", self.sent, True),
                ("before-parse", self.answered, True),
                ("before-parse", self.parsed, False),
                ("after-call", self.call_ended, False),
            ):
                name = f"{event}.simpledb.{operation}"
                unique_id = f"benchkit-wire-{handler.__name__}-{operation}"
                if first:
                    events.register_first(name, handler, unique_id=unique_id)
                else:
                    events.register_last(name, handler, unique_id=unique_id)
        return self

    def _lane(self, operation: str) -> _Lane:
        name = lane_of(operation)
        lane = self._lanes.get(name)
        if lane is None:
            lane = self._lanes[name] = _Lane()
        return lane

    @staticmethod
    def _operation(event_name: str) -> str:
        return event_name.rsplit(".", 1)[-1]

    def call_started(self, **_: Any) -> None:
        self._started.call = self._thread_cpu()

    def sent(self, event_name: str, **_: Any) -> None:
        """before-send: a request is about to go out. Returns None, so botocore sends it."""
        now = self._clock()
        with self._lock:
            lane = self._lane(self._operation(event_name))
            lane.sent += 1
            if lane.first_sent is None:
                lane.first_sent = now

    def answered(self, event_name: str, response_dict: dict[str, Any], **_: Any) -> None:
        """before-parse, first: an answer came back (any status), not yet parsed."""
        now = self._clock()
        body = response_dict.get("body") or b""
        with self._lock:
            lane = self._lane(self._operation(event_name))
            lane.last_answered = now
            if response_dict.get("status_code") == 200:
                lane.answered_ok += 1
                lane.ok_bytes += len(body) if isinstance(body, bytes | bytearray) else 0
        self._started.parse = self._thread_cpu()

    def parsed(self, event_name: str, **_: Any) -> None:
        """before-parse, last: every other before-parse hook (the adapter's parser) has run."""
        started = getattr(self._started, "parse", None)
        if started is None:
            return
        spent = self._thread_cpu() - started
        self._started.parse = None
        with self._lock:
            self._lane(self._operation(event_name)).parse_cpu += spent

    def call_ended(self, event_name: str, **_: Any) -> None:
        started = getattr(self._started, "call", None)
        if started is None:
            return
        spent = self._thread_cpu() - started
        self._started.call = None
        with self._lock:
            self._lane(self._operation(event_name)).call_cpu += spent

    def summary(self) -> dict[str, dict[str, float]]:
        """Per lane: requests ``sent``, answers ``ok`` (HTTP 200), their body bytes ``ok_bytes``, the
        ``seconds`` from the first request to the last answer, and the CPU seconds of the whole calls
        (``call_cpu``) and of the before-parse hooks within them (``parse_cpu``)."""
        with self._lock:
            return {
                name: {
                    "sent": lane.sent,
                    "ok": lane.answered_ok,
                    "ok_bytes": lane.ok_bytes,
                    "seconds": round((lane.last_answered or 0.0) - (lane.first_sent or 0.0), 3)
                    if lane.first_sent is not None and lane.last_answered is not None
                    else 0.0,
                    "call_cpu": round(lane.call_cpu, 4),
                    "parse_cpu": round(lane.parse_cpu, 4),
                }
                for name, lane in sorted(self._lanes.items())
            }
