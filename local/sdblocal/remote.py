"""Controls of an engine served by another process, over its ``/_sdblocal/*`` HTTP endpoints."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


class RemoteControls:
    """The ``sdblocal.controls`` API for a server at ``url`` (e.g. ``http://127.0.0.1:5000``)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode("utf-8") if payload is not None else b""
        request = urllib.request.Request(
            f"{self.url}/_sdblocal/{path}",
            data=data if method == "POST" else None,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def configure(self, **settings: float | int | None) -> None:
        """Any of ``fault_rate``, ``seed``, ``latency_ms``; the others keep their values."""
        unknown = set(settings) - {"fault_rate", "seed", "latency_ms"}
        if unknown:
            raise TypeError(f"unknown controls: {', '.join(sorted(unknown))}")
        self._call("POST", "controls", dict(settings))

    def reset(self) -> None:
        self._call("POST", "reset")

    def call_counts(self) -> dict[str, int]:
        counts: dict[str, int] = self._call("GET", "calls")
        return counts

    def reset_counts(self) -> None:
        self._call("POST", "reset-counts")
