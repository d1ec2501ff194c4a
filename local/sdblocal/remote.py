"""Controls of an engine served by another process, over its ``/_sdblocal/*`` HTTP endpoints."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from .controls import UNSET, _Unset


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

    def configure(
        self,
        fault_rate: float | None = None,
        seed: int | _Unset | None = UNSET,
        latency_ms: float | None = None,
    ) -> None:
        """Any subset of ``fault_rate``, ``seed``, ``latency_ms``; the others keep their values."""
        settings: dict[str, Any] = {}
        if fault_rate is not None:
            settings["fault_rate"] = fault_rate
        if not isinstance(seed, _Unset):
            settings["seed"] = seed
        if latency_ms is not None:
            settings["latency_ms"] = latency_ms
        self._call("POST", "controls", settings)

    def reset(self) -> None:
        self._call("POST", "reset")

    def call_counts(self) -> dict[str, int]:
        counts: dict[str, int] = self._call("GET", "calls")
        return counts

    def reset_counts(self) -> None:
        self._call("POST", "reset-counts")
