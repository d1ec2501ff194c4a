"""Select quirks: freedoms the service takes within its contract, as test controls (docs/ENGINE.md).

Empty pages that carry a NextToken, short pages, a NextToken refused as expired, and pages collated in
UTF-16 code units; in-process and over the server's control endpoints.
"""

from __future__ import annotations

import urllib.error
from typing import Any

import pytest
from botocore.exceptions import ClientError

import sdblocal
from engine.conftest import Transport
from engine.helpers import error_of, item_names

ALL_BY_NAME = "select itemName() from `{domain}` where itemName() > '' order by itemName() limit {limit}"


def fill(sdb: Any, domain: str, names: list[str], attribute: str = "a") -> None:
    for start in range(0, len(names), 25):
        sdb.batch_put_attributes(
            DomainName=domain,
            Items=[
                {"Name": name, "Attributes": [{"Name": attribute, "Value": name}]}
                for name in names[start : start + 25]
            ],
        )


def numbered(count: int) -> list[str]:
    return [f"item{n:03d}" for n in range(count)]


def pages_of(sdb: Any, expression: str, first_token: str | None = None) -> list[dict[str, Any]]:
    """Every page of a select, following NextToken (at most 100 pages)."""
    pages: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"SelectExpression": expression}
    if first_token is not None:
        kwargs["NextToken"] = first_token
    while len(pages) < 100:
        page = sdb.select(**kwargs)
        pages.append(page)
        if "NextToken" not in page:
            return pages
        kwargs["NextToken"] = page["NextToken"]
    raise AssertionError("the select did not end")


def names_of(pages: list[dict[str, Any]]) -> list[str]:
    return [name for page in pages for name in item_names(page)]


# --- empty pages ---------------------------------------------------------------------------------


def test_empty_pages_carry_a_token_that_resumes_where_they_started(
    transport: Transport, sdb: Any, domain: str
) -> None:
    fill(sdb, domain, numbered(30))
    expression = ALL_BY_NAME.format(domain=domain, limit=10)
    transport.controls.configure(empty_select_pages=2)
    pages = pages_of(sdb, expression)
    assert [len(page.get("Items", [])) for page in pages] == [0, 0, 10, 10, 10]
    assert "NextToken" in pages[0]
    assert "NextToken" in pages[1]
    assert pages[0]["NextToken"] != pages[1]["NextToken"]  # tokens differ from call to call
    assert names_of(pages) == numbered(30)
    assert transport.controls.settings()["empty_select_pages"] == 0

    # Mid-scan: an empty page after the first resumes after that first page's last item.
    first = sdb.select(SelectExpression=expression)
    transport.controls.configure(empty_select_pages=1)
    empty = sdb.select(SelectExpression=expression, NextToken=first["NextToken"])
    assert item_names(empty) == []
    assert "NextToken" in empty
    rest = pages_of(sdb, expression, empty["NextToken"])
    assert item_names(first) + names_of(rest) == numbered(30)


def test_empty_pages_of_count_and_of_an_empty_result(transport: Transport, sdb: Any, domain: str) -> None:
    fill(sdb, domain, numbered(12))
    transport.controls.configure(empty_select_pages=1)
    counted = sdb.select(SelectExpression=f"select count(*) from {domain}")
    assert counted["Items"][0]["Attributes"] == [{"Name": "Count", "Value": "0"}]
    rest = sdb.select(SelectExpression=f"select count(*) from {domain}", NextToken=counted["NextToken"])
    assert rest["Items"][0]["Attributes"] == [{"Name": "Count", "Value": "12"}]
    assert "NextToken" not in rest
    # A query that matches nothing may still answer an empty page with a token first.
    transport.controls.configure(empty_select_pages=1)
    nothing = pages_of(sdb, f"select * from {domain} where a = 'none'")
    assert len(nothing) == 2
    assert names_of(nothing) == []


def test_empty_page_rate_is_repeatable_with_its_seed(transport: Transport, sdb: Any, domain: str) -> None:
    fill(sdb, domain, numbered(40))
    expression = ALL_BY_NAME.format(domain=domain, limit=5)
    sizes = []
    for _ in range(2):
        transport.controls.configure(empty_select_page_rate=0.5, seed=11)
        pages = pages_of(sdb, expression)
        assert names_of(pages) == numbered(40)
        sizes.append([len(page.get("Items", [])) for page in pages])
    assert sizes[0] == sizes[1]
    last_empty = max(index for index, size in enumerate(sizes[0]) if size == 0)
    assert sizes[0].index(5) < last_empty  # an empty page mid-scan, after items


# --- short pages ---------------------------------------------------------------------------------


def test_short_pages(transport: Transport, sdb: Any, domain: str) -> None:
    fill(sdb, domain, numbered(30))
    transport.controls.configure(select_page_items=7)
    pages = pages_of(sdb, ALL_BY_NAME.format(domain=domain, limit=2500))
    assert [len(page["Items"]) for page in pages] == [7, 7, 7, 7, 2]
    assert names_of(pages) == numbered(30)
    # A smaller limit still wins; count(*) pages are partial counts that add up.
    assert [len(p["Items"]) for p in pages_of(sdb, ALL_BY_NAME.format(domain=domain, limit=5))] == [5] * 6
    counts = pages_of(sdb, f"select count(*) from {domain}")
    assert [page["Items"][0]["Attributes"][0]["Value"] for page in counts] == ["7", "7", "7", "7", "2"]
    # An exact multiple ends without an empty last page, as an unshaped query would.
    transport.controls.configure(select_page_items=10)
    assert len(pages_of(sdb, ALL_BY_NAME.format(domain=domain, limit=2500))) == 3
    transport.controls.configure(select_page_items=0)
    assert len(pages_of(sdb, ALL_BY_NAME.format(domain=domain, limit=2500))) == 1


# --- expired tokens ------------------------------------------------------------------------------


def test_a_token_refused_once_stays_refused_and_the_query_restarts(
    transport: Transport, sdb: Any, domain: str
) -> None:
    fill(sdb, domain, numbered(25))
    expression = ALL_BY_NAME.format(domain=domain, limit=10)
    transport.controls.configure(expire_next_tokens=1)
    first = sdb.select(SelectExpression=expression)  # a call without a token is never refused
    for _ in range(2):  # an expired token stays expired
        with pytest.raises(ClientError) as excinfo:
            sdb.select(SelectExpression=expression, NextToken=first["NextToken"])
        assert error_of(excinfo) == ("InvalidNextToken", 400)
    assert transport.controls.settings()["expire_next_tokens"] == 0
    # The client restarts its query after the last item it has; those tokens are honoured.
    cursor = item_names(first)[-1]
    rest = pages_of(
        sdb,
        f"select itemName() from `{domain}` where itemName() > '{cursor}' order by itemName() limit 10",
    )
    assert item_names(first) + names_of(rest) == numbered(25)
    counts = transport.controls.call_counts()
    assert counts["Select"] == 1 + 2 + len(rest)  # refused calls are counted like any other
    transport.controls.reset()
    assert item_names(sdb.select(SelectExpression=expression, NextToken=first["NextToken"]))[0] == "item010"


def test_quirks_wait_for_a_call_that_reaches_the_engine(transport: Transport, sdb: Any, domain: str) -> None:
    fill(sdb, domain, numbered(3))
    first = sdb.select(SelectExpression=ALL_BY_NAME.format(domain=domain, limit=1))
    transport.controls.configure(fault_rate=1.0, expire_next_tokens=1, empty_select_pages=1)
    with pytest.raises(ClientError) as excinfo:
        sdb.select(SelectExpression=ALL_BY_NAME.format(domain=domain, limit=1), NextToken=first["NextToken"])
    assert error_of(excinfo) == ("ServiceUnavailable", 503)
    transport.controls.configure(fault_rate=0.0)
    with pytest.raises(ClientError) as excinfo:  # a malformed expression does not use one either
        sdb.select(SelectExpression=f"select from {domain}", NextToken=first["NextToken"])
    assert error_of(excinfo) == ("InvalidQueryExpression", 400)
    settings = transport.controls.settings()
    assert (settings["expire_next_tokens"], settings["empty_select_pages"]) == (1, 1)


# --- UTF-16 order --------------------------------------------------------------------------------

# Code point order: za < z\ue000 < z\ufffd < z\U00010000 < z\U0010fffd.
# UTF-16 order: a character above U+FFFF is a surrogate pair (D800-DBFF first): after U+D7FF, before U+E000.
NAMES = ["za", "z\ue000", "z\ufffd", "z\U00010000", "z\U0010fffd"]
UTF16_ORDER = ["za", "z\U00010000", "z\U0010fffd", "z\ue000", "z\ufffd"]


def test_utf16_order_of_pages_ranges_and_tokens(transport: Transport, sdb: Any, domain: str) -> None:
    fill(sdb, domain, NAMES)
    expression = ALL_BY_NAME.format(domain=domain, limit=2)
    assert names_of(pages_of(sdb, expression)) == NAMES
    transport.controls.configure(utf16_order=True)
    assert transport.controls.settings()["utf16_order"] is True
    pages = pages_of(sdb, expression)
    assert names_of(pages) == UTF16_ORDER
    assert len(pages) == 3
    descending = f"select itemName() from `{domain}` where itemName() > '' order by itemName() desc limit 2"
    assert names_of(pages_of(sdb, descending)) == UTF16_ORDER[::-1]
    # Comparisons collate alike, so a cursor or a segment bound means the same in both.
    after = f"select itemName() from `{domain}` where itemName() > 'z\U0010fffd' order by itemName()"
    assert names_of(pages_of(sdb, after)) == ["z\ue000", "z\ufffd"]
    segment = (
        f"select * from `{domain}` where itemName() >= 'z\U00010000' and itemName() < 'z\ue000' "
        "order by itemName() limit 2500"
    )
    assert names_of(pages_of(sdb, segment)) == ["z\U00010000", "z\U0010fffd"]
    by_value = f"select itemName() from `{domain}` where a >= 'z' order by a desc"
    assert names_of(pages_of(sdb, by_value)) == UTF16_ORDER[::-1]
    # No order by: item-name order, in UTF-16 too.
    assert names_of(pages_of(sdb, f"select itemName() from `{domain}` limit 3")) == UTF16_ORDER
    transport.controls.configure(utf16_order=False)
    assert names_of(pages_of(sdb, expression)) == NAMES


def test_utf16_order_follows_writes_between_pages(transport: Transport, sdb: Any, domain: str) -> None:
    fill(sdb, domain, NAMES)
    transport.controls.configure(utf16_order=True)
    expression = ALL_BY_NAME.format(domain=domain, limit=2)
    first = sdb.select(SelectExpression=expression)
    assert item_names(first) == ["za", "z\U00010000"]
    fill(sdb, domain, ["z\U00020000", "z\ud7ff"])  # one after the cursor, one before it
    sdb.delete_attributes(DomainName=domain, ItemName="z\ue000")
    rest = pages_of(sdb, expression, first["NextToken"])
    # U+20000 is D840 DC00, U+10FFFD DBFF DFFD: both after U+10000 (D800 DC00), before U+FFFD.
    assert names_of(rest) == ["z\U00020000", "z\U0010fffd", "z\ufffd"]
    assert names_of(pages_of(sdb, expression)) == ["za", "z\ud7ff", "z\U00010000", *names_of(rest)]


# --- the controls themselves ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting",
    [
        {"select_page_items": -1},
        {"select_page_items": 2.5},
        {"expire_next_tokens": True},
        {"empty_select_page_rate": 1.5},
        {"expire_next_tokens": -2},
        {"utf16_order": 1},
    ],
)
def test_bad_quirk_settings_change_nothing(setting: dict[str, Any]) -> None:
    sdblocal.controls.reset()
    sdblocal.controls.configure(select_page_items=3)
    with pytest.raises(ValueError, match=next(iter(setting))):
        sdblocal.controls.configure(empty_select_pages=4, **setting)
    assert sdblocal.controls.settings()["select_page_items"] == 3
    assert sdblocal.controls.settings()["empty_select_pages"] == 0  # the valid setting beside it neither
    sdblocal.controls.reset()


def test_quirks_over_http_and_reset(engine_server: Any) -> None:
    remote = sdblocal.RemoteControls(engine_server.url)
    remote.configure(select_page_items=4, empty_select_pages=2, expire_next_tokens=1, utf16_order=True)
    settings = remote.settings()
    assert {name: settings[name] for name in ("select_page_items", "empty_select_pages", "utf16_order")} == {
        "select_page_items": 4,
        "empty_select_pages": 2,
        "utf16_order": True,
    }
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        remote.configure(select_page_items=-1)
    assert excinfo.value.code == 400
    remote.reset()
    settings = remote.settings()
    assert (settings["select_page_items"], settings["expire_next_tokens"], settings["utf16_order"]) == (
        0,
        0,
        False,
    )
