"""Records every AWS API call the functions make, attributed to the function that made it.

Hooks: botocore's ``before-parameter-build`` (the API parameters, once per call whatever the retries) and
``after-call`` (its HTTP status), registered in ``botocore.handlers.BUILTIN_HANDLERS`` so that every session,
and so every client the layer's ``aws.clients`` creates, carries them. Nothing in the product changes.

Attribution: a call belongs to the function whose handler (``functions/<name>/<name>_handler.py``) is on the
calling thread's stack, as Lambda runs one handler per process. The layer's worker threads (parallel Select
streams, batch writers) do not have it on their stacks, so a thread started while a handler runs inherits its
function (the ``_thread.start_joinable_thread`` audit event fires in the starting thread). Calls outside any
handler (the tests' own setup and assertions) are not recorded.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from botocore import handlers

from iamcheck.requests import CallParameters, CallRequests, iam_requests

FUNCTIONS = ("backup", "restore", "drill")
#: The function settings that decide which template parameters a call is evaluated under (deployment.py).
ENVIRONMENT = (
    "BACKUP_BUCKET",
    "DOMAIN_NAMES",
    "RESTORE_TARGET_PATTERN",
    "DUMP_RETENTION_DAYS",
    "DUMP_RETENTION_MODE",
    "DRILL_SCRATCH_PREFIX",
    "STATE_KEY_ID",
)
_HANDLER_FILES = {f"{name}_handler.py": name for name in FUNCTIONS}


@dataclass(frozen=True)
class RecordedCall:
    """One API call of one function, with the IAM requests it needs and the settings it ran with."""

    function: str
    operation: str  # "s3.PutObject"
    requests: CallRequests
    environment: tuple[tuple[str, str], ...]


def _handler_function(frame: FrameType | None) -> str | None:
    while frame is not None:
        filename = frame.f_code.co_filename
        name = _HANDLER_FILES.get(os.path.basename(filename))
        if name is not None and Path(filename).parent.name == name:
            return name
        frame = frame.f_back
    return None


class Recorder:
    """Collects the attributed calls; ``calls()`` returns them in order, ``clear()`` starts afresh."""

    def __init__(self) -> None:
        self._calls: list[RecordedCall] = []
        self._lock = threading.Lock()
        self._inherited: weakref.WeakKeyDictionary[threading.Thread, str] = weakref.WeakKeyDictionary()
        self.errors: list[str] = []

    # ---------------------------------------------------------------- attribution
    def function_of_this_thread(self) -> str | None:
        return _handler_function(sys._getframe(1)) or self._inherited.get(threading.current_thread())

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if event not in ("_thread.start_joinable_thread", "_thread.start_new_thread"):
            return
        thread = getattr(args[0], "__self__", None)
        if isinstance(thread, threading.Thread):
            function = self.function_of_this_thread()
            if function is not None:
                self._inherited[thread] = function

    # ---------------------------------------------------------------- botocore hooks
    def _before_parameter_build(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        function = self.function_of_this_thread()
        if function is None:
            return
        call = CallParameters(model.service_model.service_name, model.name, dict(params))
        environment = tuple((name, os.environ.get(name, "")) for name in ENVIRONMENT)
        # Recorded now, before any hook of a test can raise instead of sending it: it is a call all the same.
        self._add(function, call, environment)
        if call.service == "s3" and call.operation in ("GetObject", "HeadObject"):
            context["iamcheck"] = (function, call, environment)

    def _after_call(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        """A missing key: S3 answers 404 (not 403) only to a caller that may list the bucket."""
        pending = context.pop("iamcheck", None)
        if pending is None or getattr(http_response, "status_code", None) != 404:
            return
        function, call, environment = pending
        missing = CallParameters(call.service, call.operation, call.params, status=404)
        self._add(function, missing, environment)

    def _add(self, function: str, call: CallParameters, environment: tuple[tuple[str, str], ...]) -> None:
        try:
            requests = iam_requests(call, datetime.now(UTC))
        except Exception as error:
            with self._lock:
                self.errors.append(f"{function}: {call.service}.{call.operation}: {error!r}")
            return
        operation = f"{call.service}.{call.operation}" + (" (404)" if call.status == 404 else "")
        with self._lock:
            self._calls.append(RecordedCall(function, operation, requests, environment))

    # ---------------------------------------------------------------- results
    def calls(self) -> list[RecordedCall]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self.errors.clear()

    def install(self) -> None:
        """Register the hooks for every botocore session created from now on (call before the first client)."""
        sys.addaudithook(self._audit)
        handlers.BUILTIN_HANDLERS.append(("before-parameter-build", self._before_parameter_build))
        handlers.BUILTIN_HANDLERS.append(("after-call", self._after_call))

    @contextmanager
    def recording(self) -> Iterator[list[RecordedCall]]:
        """The calls made inside the block (appended when it ends)."""
        start = len(self.calls())
        seen: list[RecordedCall] = []
        try:
            yield seen
        finally:
            seen.extend(self.calls()[start:])


RECORDER = Recorder()
