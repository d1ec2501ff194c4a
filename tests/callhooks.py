"""Intercept a client's API calls through botocore's public event hooks (no patching): answer them without
sending (a lost write), or raise on the Nth call (a crash, a dropped connection)."""

from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse


class Interception:
    """One registered hook: how many calls it saw, and how to remove it."""

    def __init__(self, client: Any, operation: str, hook: Callable[..., Any]) -> None:
        service = client.meta.service_model.service_id.hyphenize()
        self.client, self.event, self.hook, self.calls = client, f"before-call.{service}.{operation}", hook, 0
        client.meta.events.register(self.event, self._seen)

    def _seen(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.hook(self.calls, **kwargs)

    def remove(self) -> None:
        self.client.meta.events.unregister(self.event, self._seen)


def answer_calls(client: Any, operation: str, parsed: dict[str, Any] | None = None) -> Interception:
    """Every ``operation`` call of ``client`` answers 200 with ``parsed`` and never reaches the service."""

    def short_circuit(_: int, **__: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("http://intercepted", 200, {}, None), dict(parsed or {})  # type: ignore[arg-type]

    return Interception(client, operation, short_circuit)


def fail_calls_after(
    client: Any, operation: str, calls: int, error: Callable[[], BaseException]
) -> Interception:
    """The first ``calls`` calls of ``operation`` go through; every later one raises ``error()`` before it is
    sent."""

    def count_then_fail(seen: int, **_: Any) -> None:
        if seen > calls:
            raise error()

    return Interception(client, operation, count_then_fail)
