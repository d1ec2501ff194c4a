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
        write_calls_per_second: float | None = None,
        write_calls_burst: float | None = None,
        select_calls_per_second: float | None = None,
        select_calls_burst: float | None = None,
        select_page_items: int | None = None,
        empty_select_pages: int | None = None,
        empty_select_page_rate: float | None = None,
        expire_next_tokens: int | None = None,
        utf16_order: bool | None = None,
    ) -> None:
        """Any subset of the settings of :meth:`sdblocal.controls.Controls.configure`; the others keep theirs."""
        given: dict[str, Any] = {
            "fault_rate": fault_rate,
            "latency_ms": latency_ms,
            "write_calls_per_second": write_calls_per_second,
            "write_calls_burst": write_calls_burst,
            "select_calls_per_second": select_calls_per_second,
            "select_calls_burst": select_calls_burst,
            "select_page_items": select_page_items,
            "empty_select_pages": empty_select_pages,
            "empty_select_page_rate": empty_select_page_rate,
            "expire_next_tokens": expire_next_tokens,
            "utf16_order": utf16_order,
        }
        settings = {name: value for name, value in given.items() if value is not None}
        if not isinstance(seed, _Unset):
            settings["seed"] = seed
        self._call("POST", "controls", settings)

    def settings(self) -> dict[str, float]:
        current: dict[str, float] = self._call("GET", "controls")
        return current

    def reset(self) -> None:
        self._call("POST", "reset")

    def call_counts(self) -> dict[str, int]:
        counts: dict[str, int] = self._call("GET", "calls")
        return counts

    def throttled_counts(self) -> dict[str, int]:
        counts: dict[str, int] = self._call("GET", "throttled")
        return counts

    def reset_counts(self) -> None:
        self._call("POST", "reset-counts")

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server's process has used (``GET /_sdblocal/cpu``)."""
        answer: dict[str, float] = self._call("GET", "cpu")
        return float(answer["cpu_seconds"])
