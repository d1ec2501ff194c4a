"""Small helpers shared by the engine tests."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def decoded(text: str, encoding: str | None) -> str:
    return base64.b64decode(text).decode("utf-8") if encoding == "base64" else text


def attribute_set(attributes: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Name/value pairs of a GetAttributes or Select answer, Base64 decoded."""
    return {
        (
            decoded(a["Name"], a.get("AlternateNameEncoding")),
            decoded(a["Value"], a.get("AlternateValueEncoding")),
        )
        for a in attributes
    }


def item_names(response: dict[str, Any]) -> list[str]:
    return [decoded(item["Name"], item.get("AlternateNameEncoding")) for item in response.get("Items", [])]


def select_all(sdb: Any, expression: str) -> tuple[list[dict[str, Any]], int]:
    """Every item of a select, following NextToken; and the number of pages."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"SelectExpression": expression}
    pages = 0
    while True:
        page = sdb.select(**kwargs)
        pages += 1
        items += page.get("Items", [])
        if "NextToken" not in page:
            return items, pages
        kwargs["NextToken"] = page["NextToken"]


def put(sdb: Any, domain: str, item: str, *pairs: tuple[str, str], replace: bool = False) -> None:
    sdb.put_attributes(
        DomainName=domain,
        ItemName=item,
        Attributes=[{"Name": n, "Value": v, "Replace": replace} for n, v in pairs],
    )


def get(sdb: Any, domain: str, item: str, *names: str) -> set[tuple[str, str]]:
    kwargs: dict[str, Any] = {"DomainName": domain, "ItemName": item, "ConsistentRead": True}
    if names:
        kwargs["AttributeNames"] = list(names)
    return attribute_set(sdb.get_attributes(**kwargs).get("Attributes", []))


#: The Select quirks' settings when none is on (``sdblocal.controls.settings()``).
QUIRKS_OFF = {
    "select_page_items": 0,
    "empty_select_pages": 0,
    "empty_select_page_rate": 0.0,
    "expire_next_tokens": 0,
    "utf16_order": False,
}


class FakeClock:
    """A clock for ``sdblocal.controls.use_clock``: time moves only when told to, or by a sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds
