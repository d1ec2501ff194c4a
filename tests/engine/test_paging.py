"""NextToken paging: the item limit, the 1 MB response cap, stability under writes, count(*) tokens."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.helpers import error_of, item_names, select_all
from sdblocal import select as select_module
from sdblocal.engine import SimpleDBEngine
from sdblocal.model import Domain, PutAttribute
from sdblocal.select import name_range, parse


def fill(sdb: Any, domain: str, count: int, value_bytes: int = 10, attributes: int = 1) -> None:
    value = "v" * value_bytes
    for start in range(0, count, 25):
        sdb.batch_put_attributes(
            DomainName=domain,
            Items=[
                {
                    "Name": f"item{n:05d}",
                    "Attributes": [{"Name": f"a{k}", "Value": value} for k in range(attributes)],
                }
                for n in range(start, min(start + 25, count))
            ],
        )


def test_default_limit_is_100(sdb: Any, domain: str) -> None:
    fill(sdb, domain, 130)
    first = sdb.select(SelectExpression=f"select * from {domain}")
    assert len(first["Items"]) == 100
    second = sdb.select(SelectExpression=f"select * from {domain}", NextToken=first["NextToken"])
    assert len(second["Items"]) == 30
    assert "NextToken" not in second


def test_one_megabyte_response_cap(transport: Any, sdb: Any, domain: str) -> None:
    # 1100 items of ~2 KB: ~2.2 MB, so limit 2500 still takes three pages.
    fill(sdb, domain, 1100, value_bytes=1000, attributes=2)
    transport.controls.reset_counts()
    items, pages = select_all(
        sdb, f"select * from {domain} where itemName() >= 'item' order by itemName() limit 2500"
    )
    assert pages == 3
    assert item_names({"Items": items}) == [f"item{n:05d}" for n in range(1100)]
    assert transport.controls.call_counts() == {"Select": 3}
    first = sdb.select(SelectExpression=f"select * from {domain} limit 2500")
    payload = sum(
        len(i["Name"]) + sum(len(a["Name"]) + len(a["Value"]) for a in i["Attributes"])
        for i in first["Items"]
    )
    assert 900_000 < payload < 1024 * 1024


def test_token_survives_writes_between_pages(sdb: Any, domain: str) -> None:
    fill(sdb, domain, 30)
    expression = f"select * from {domain} where itemName() < 'item99999' order by itemName() limit 10"
    first = sdb.select(SelectExpression=expression)
    assert item_names(first)[-1] == "item00009"
    sdb.delete_attributes(DomainName=domain, ItemName="item00010")
    sdb.put_attributes(DomainName=domain, ItemName="item00009b", Attributes=[{"Name": "a0", "Value": "v"}])
    sdb.put_attributes(DomainName=domain, ItemName="item00000a", Attributes=[{"Name": "a0", "Value": "v"}])
    second = sdb.select(SelectExpression=expression, NextToken=first["NextToken"])
    assert item_names(second)[:3] == ["item00009b", "item00011", "item00012"]


def test_descending_paging(sdb: Any, domain: str) -> None:
    fill(sdb, domain, 12)
    items, pages = select_all(
        sdb, f"select itemName() from {domain} where itemName() > '' order by itemName() desc limit 5"
    )
    assert item_names({"Items": items}) == [f"item{n:05d}" for n in reversed(range(12))]
    assert pages == 3


def test_attribute_order_paging(sdb: Any, domain: str) -> None:
    for n in range(9):
        sdb.put_attributes(
            DomainName=domain, ItemName=f"i{n}", Attributes=[{"Name": "score", "Value": str(9 - n)}]
        )
    sdb.put_attributes(DomainName=domain, ItemName="tie", Attributes=[{"Name": "score", "Value": "5"}])
    items, pages = select_all(sdb, f"select * from {domain} where score > '0' order by score limit 4")
    assert item_names({"Items": items}) == ["i8", "i7", "i6", "i5", "i4", "tie", "i3", "i2", "i1", "i0"]
    assert pages == 3


def test_token_is_bound_to_its_query(sdb: Any, domain: str) -> None:
    fill(sdb, domain, 5, value_bytes=1)
    token = sdb.select(SelectExpression=f"select * from {domain} where a0 = 'v' limit 2")["NextToken"]
    # Another limit or output list is fine: the position belongs to the where and order by clauses.
    assert item_names(
        sdb.select(
            SelectExpression=f"select itemName() from {domain} where a0 = 'v' limit 1", NextToken=token
        )
    ) == ["item00002"]
    for other, bad_token in [
        (f"select * from {domain} where a0 != 'v'", token),
        (f"select * from {domain}", token),
        (f"select * from {domain}", "garbage!"),
    ]:
        with pytest.raises(ClientError) as excinfo:
            sdb.select(SelectExpression=other, NextToken=bad_token)
        assert error_of(excinfo) == ("InvalidNextToken", 400)


def test_count_token_is_interchangeable_with_select(sdb: Any, domain: str) -> None:
    # "Count": count(*) with limit 10,000 then select with its token returns the items after the first 10,000.
    fill(sdb, domain, 40, value_bytes=1)
    counted = sdb.select(SelectExpression=f"select count(*) from {domain} where a0 = 'v' limit 25")
    assert counted["Items"][0]["Attributes"] == [{"Name": "Count", "Value": "25"}]
    after = sdb.select(
        SelectExpression=f"select * from {domain} where a0 = 'v' limit 5", NextToken=counted["NextToken"]
    )
    assert item_names(after) == [f"item{n:05d}" for n in range(25, 30)]
    rest = sdb.select(
        SelectExpression=f"select count(*) from {domain} where a0 = 'v'", NextToken=counted["NextToken"]
    )
    assert rest["Items"][0]["Attributes"] == [{"Name": "Count", "Value": "15"}]


# --- the range reads of the backup must not scan the whole domain ---------------------------------


@pytest.mark.parametrize(
    ("where", "bounds"),
    [
        ("itemName() >= 'a' and itemName() < 'b'", ("a", True, "b", False)),
        ("itemName() > 'x' and itemName() < 'y' and k = '1'", ("x", False, "y", False)),
        ("itemName() between 'c' and 'd' intersection k is not null", ("c", True, "d", True)),
        ("itemName() like 'abc%'", ("abc", True, "abd", False)),
        ("itemName() = 'q' or itemName() in ('r', 's')", ("q", True, "s", True)),
        ("k = '1'", (None, True, None, True)),
        ("not itemName() < 'm'", (None, True, None, True)),
    ],
)
def test_item_name_ranges_are_planned(where: str, bounds: tuple[str | None, bool, str | None, bool]) -> None:
    planned = name_range(parse(f"select * from d where {where}").where)
    assert (planned.low, planned.low_inclusive, planned.high, planned.high_inclusive) == bounds


def test_range_read_of_a_large_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = SimpleDBEngine()
    backend.create_domain("big")
    value = "x" * 1000
    for start in range(0, 200_000, 25):
        backend.batch_put_attributes(
            "big",
            [
                (f"{n:07d}", [PutAttribute("payload", value), PutAttribute("n", str(n))])
                for n in range(start, start + 25)
            ],
        )
    visited = 0
    original = Domain.scan

    def counting_scan(self: Domain, *args: Any, **kwargs: Any) -> Any:
        nonlocal visited
        for item in original(self, *args, **kwargs):
            visited += 1
            yield item

    monkeypatch.setattr(Domain, "scan", counting_scan)
    started = time.perf_counter()
    outcome = backend.select(
        "select * from `big` where itemName() >= '0100000' and itemName() < '0200000' order by itemName() limit 2500"
    )
    elapsed = time.perf_counter() - started
    assert outcome.names[0] == "0100000"
    assert len(outcome.names) < 2500  # the 1 MB cap ends the page first
    assert visited <= len(outcome.names) + 1
    assert elapsed < 1.0
    assert backend.domain_metadata("big")["ItemCount"] == 200_000


def test_time_limit_gives_partial_pages_and_counts(
    sdb: Any, domain: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "If the count request takes more than five seconds, Amazon SimpleDB returns the number of items
    # that it could count and a next token"; Select likewise returns a partial or empty page.
    for start in range(0, 1000, 25):
        sdb.batch_put_attributes(
            DomainName=domain,
            Items=[
                {
                    "Name": f"item{n:05d}",
                    "Attributes": [{"Name": "flag", "Value": "y" if n % 10 == 0 else "n"}],
                }
                for n in range(start, start + 25)
            ],
        )
    monkeypatch.setattr(select_module, "QUERY_TIME_LIMIT_S", 0.0)  # every page runs out of time
    total, pages, kwargs = 0, 0, {"SelectExpression": f"select count(*) from {domain} where flag = 'y'"}
    while True:
        page = sdb.select(**kwargs)
        total += int(page["Items"][0]["Attributes"][0]["Value"])
        pages += 1
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert total == 100
    assert pages >= 4
    items, pages = select_all(sdb, f"select itemName() from {domain} where flag = 'y'")
    assert item_names({"Items": items}) == [f"item{n:05d}" for n in range(0, 1000, 10)]
    assert pages >= 4
