"""CreateDomain, DeleteDomain, ListDomains and DomainMetadata."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.helpers import error_of


def test_create_list_delete(sdb: Any) -> None:
    for name in ("b-domain", "a.domain", "c_domain"):
        sdb.create_domain(DomainName=name)
    sdb.create_domain(DomainName="a.domain")  # idempotent
    assert sdb.list_domains()["DomainNames"] == ["a.domain", "b-domain", "c_domain"]
    sdb.delete_domain(DomainName="b-domain")
    sdb.delete_domain(DomainName="b-domain")  # deleting an unknown domain succeeds
    assert sdb.list_domains()["DomainNames"] == ["a.domain", "c_domain"]


def test_responses_carry_box_usage(sdb: Any) -> None:
    response = sdb.create_domain(DomainName="dom")
    assert float(response["ResponseMetadata"]["BoxUsage"]) > 0
    assert float(sdb.list_domains()["ResponseMetadata"]["BoxUsage"]) > 0


@pytest.mark.parametrize("name", ["abc", "A-Z_a.z-0_9", "x" * 255])
def test_valid_domain_names(sdb: Any, name: str) -> None:
    sdb.create_domain(DomainName=name)
    assert name in sdb.list_domains()["DomainNames"]


@pytest.mark.parametrize("name", ["ab", "x" * 256, "has space", "semi;colon", "dom/ain", "émoji"])
def test_invalid_domain_names(sdb: Any, name: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        sdb.create_domain(DomainName=name)
    assert error_of(excinfo) == ("InvalidParameterValue", 400)


def test_list_domains_paging(sdb: Any) -> None:
    names = [f"dom{n:03d}" for n in range(7)]
    for name in names:
        sdb.create_domain(DomainName=name)
    seen: list[str] = []
    pages = 0
    kwargs: dict[str, Any] = {"MaxNumberOfDomains": 3}
    while True:
        page = sdb.list_domains(**kwargs)
        pages += 1
        seen += page["DomainNames"]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert seen == names
    assert pages == 3


@pytest.mark.parametrize("value", [0, 101])
def test_list_domains_max_number_range(sdb: Any, value: int) -> None:
    with pytest.raises(ClientError) as excinfo:
        sdb.list_domains(MaxNumberOfDomains=value)
    assert error_of(excinfo) == ("InvalidParameterValue", 400)


def test_list_domains_invalid_token(sdb: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        sdb.list_domains(NextToken="not a token!")
    assert error_of(excinfo) == ("InvalidNextToken", 400)


def test_domain_limit_is_250(sdb: Any) -> None:
    for n in range(250):
        sdb.create_domain(DomainName=f"d{n:03d}")
    with pytest.raises(ClientError) as excinfo:
        sdb.create_domain(DomainName="one-too-many")
    assert error_of(excinfo) == ("NumberDomainsExceeded", 409)


def test_domain_metadata(sdb: Any) -> None:
    sdb.create_domain(DomainName="meta")
    sdb.put_attributes(
        DomainName="meta",
        ItemName="item1",
        Attributes=[
            {"Name": "color", "Value": "red"},
            {"Name": "color", "Value": "blue"},
            {"Name": "size", "Value": "L"},
        ],
    )
    sdb.put_attributes(DomainName="meta", ItemName="i2", Attributes=[{"Name": "color", "Value": "red"}])
    metadata = sdb.domain_metadata(DomainName="meta")
    assert metadata["ItemCount"] == 2
    assert metadata["ItemNamesSizeBytes"] == len("item1") + len("i2")
    assert metadata["AttributeNameCount"] == 2
    assert metadata["AttributeNamesSizeBytes"] == len("color") + len("size")
    assert metadata["AttributeValueCount"] == 4
    assert metadata["AttributeValuesSizeBytes"] == len("red") + len("blue") + len("L") + len("red")
    assert metadata["Timestamp"] > 1_600_000_000
    sdb.delete_attributes(DomainName="meta", ItemName="item1")
    assert sdb.domain_metadata(DomainName="meta")["ItemCount"] == 1


def test_unknown_domain(sdb: Any) -> None:
    calls = [
        lambda: sdb.domain_metadata(DomainName="nowhere"),
        lambda: sdb.put_attributes(
            DomainName="nowhere", ItemName="i", Attributes=[{"Name": "a", "Value": "1"}]
        ),
        lambda: sdb.get_attributes(DomainName="nowhere", ItemName="i"),
        lambda: sdb.delete_attributes(DomainName="nowhere", ItemName="i"),
        lambda: sdb.batch_put_attributes(
            DomainName="nowhere", Items=[{"Name": "i", "Attributes": [{"Name": "a", "Value": "1"}]}]
        ),
        lambda: sdb.batch_delete_attributes(DomainName="nowhere", Items=[{"Name": "i"}]),
        lambda: sdb.select(SelectExpression="select * from nowhere"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("NoSuchDomain", 400)
