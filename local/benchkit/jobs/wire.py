"""What a job's SimpleDB client sent and got back, per lane, seen from inside the child: botocore event hooks.

Two figures the engine's call counts cannot give:

* the **window** of a lane: from its first request sent to its last answer received, the time a rate of calls
  is measured over (a restore's writes, a backup's Selects), without the job's setup and wind-down around it;
* the **bytes of the Select responses** that came back whole (HTTP 200): the Select XML the client received,
  what the backup's CPU per MB is divided by.

The hooks are registered per operation with ``register_first``, so the recorder sees a Select body before the
adapter's own before-parse hook (simpledb_backup.simpledb) hands botocore an empty page in its place. A lane is what the
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
    __slots__ = ("answered_ok", "first_sent", "last_answered", "ok_bytes", "sent")

    def __init__(self) -> None:
        self.sent = self.answered_ok = self.ok_bytes = 0
        self.first_sent: float | None = None
        self.last_answered: float | None = None


class WireRecorder:
    """Counts and times every SimpleDB call of the clients it is attached to. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._lanes: dict[str, _Lane] = {}

    def attach(self, client: Any) -> "WireRecorder":
        # botocore calls the handlers of a more specific event name first, whatever was registered first: the
        # hooks are registered per operation, as the adapter's own is, to run before it.
        events = client.meta.events
        for operation in client.meta.service_model.operation_names:
            events.register_first(
                f"before-send.simpledb.{operation}", self.sent, unique_id=f"benchkit-wire-sent-{operation}"
            )
            events.register_first(
                f"before-parse.simpledb.{operation}",
                self.answered,
                unique_id=f"benchkit-wire-answered-{operation}",
            )
        return self

    def _lane(self, operation: str) -> _Lane:
        name = lane_of(operation)
        lane = self._lanes.get(name)
        if lane is None:
            lane = self._lanes[name] = _Lane()
        return lane

    def sent(self, event_name: str, **_: Any) -> None:
        """before-send: a request is about to go out. Returns None, so botocore sends it."""
        now = self._clock()
        with self._lock:
            lane = self._lane(event_name.rsplit(".", 1)[-1])
            lane.sent += 1
            if lane.first_sent is None:
                lane.first_sent = now

    def answered(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        """before-parse: an answer came back (any status)."""
        now = self._clock()
        body = response_dict.get("body") or b""
        with self._lock:
            lane = self._lane(str(operation_model.name))
            lane.last_answered = now
            if response_dict.get("status_code") == 200:
                lane.answered_ok += 1
                lane.ok_bytes += len(body) if isinstance(body, bytes | bytearray) else 0

    def summary(self) -> dict[str, dict[str, float]]:
        """Per lane: requests ``sent``, answers ``ok`` (HTTP 200), their body bytes ``ok_bytes``, and the
        ``seconds`` from the first request to the last answer."""
        with self._lock:
            return {
                name: {
                    "sent": lane.sent,
                    "ok": lane.answered_ok,
                    "ok_bytes": lane.ok_bytes,
                    "seconds": round((lane.last_answered or 0.0) - (lane.first_sent or 0.0), 3)
                    if lane.first_sent is not None and lane.last_answered is not None
                    else 0.0,
                }
                for name, lane in sorted(self._lanes.items())
            }
