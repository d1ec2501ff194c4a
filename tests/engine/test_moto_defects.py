"""Each defect of moto 5.2.5's SimpleDB listed in the issue, shown fixed."""

from __future__ import annotations

from typing import Any

from engine.conftest import Transport
from engine.helpers import get, item_names, put


def test_all_ten_operations_are_implemented(sdb: Any) -> None:
    # moto answered "has not been implemented" for the last five.
    sdb.create_domain(DomainName="ops")
    put(sdb, "ops", "i", ("a", "1"))
    assert get(sdb, "ops", "i") == {("a", "1")}
    assert sdb.list_domains()["DomainNames"] == ["ops"]
    sdb.batch_put_attributes(
        DomainName="ops", Items=[{"Name": "j", "Attributes": [{"Name": "a", "Value": "2"}]}]
    )
    assert item_names(sdb.select(SelectExpression="select * from ops")) == ["i", "j"]
    assert sdb.domain_metadata(DomainName="ops")["ItemCount"] == 2
    sdb.delete_attributes(DomainName="ops", ItemName="i")
    sdb.batch_delete_attributes(DomainName="ops", Items=[{"Name": "j"}])
    assert sdb.domain_metadata(DomainName="ops")["ItemCount"] == 0
    sdb.delete_domain(DomainName="ops")
    assert sdb.list_domains().get("DomainNames", []) == []


def test_us_east_1_endpoint_works(transport: Transport) -> None:
    # moto's URL pattern only matched sdb.<region>.amazonaws.com; us-east-1 is sdb.amazonaws.com.
    sdb = transport.client("us-east-1")
    if transport.name == "inprocess":
        assert sdb.meta.endpoint_url == "https://sdb.amazonaws.com"
    sdb.create_domain(DomainName="east")
    put(sdb, "east", "i", ("a", "1"))
    assert get(sdb, "east", "i") == {("a", "1")}


def test_the_same_pair_twice_is_stored_once(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("a", "1"), ("a", "1"))
    put(sdb, domain, "i", ("a", "1"))
    attributes = sdb.get_attributes(DomainName=domain, ItemName="i")["Attributes"]
    assert attributes == [{"Name": "a", "Value": "1"}]


def test_multi_value_replace_keeps_every_value(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("a", "0"))
    put(sdb, domain, "i", ("a", "1"), ("a", "2"), ("a", "3"), replace=True)
    assert get(sdb, domain, "i") == {("a", "1"), ("a", "2"), ("a", "3")}


def test_get_attributes_does_not_create_the_item(sdb: Any, domain: str) -> None:
    sdb.get_attributes(DomainName=domain, ItemName="phantom")
    assert sdb.select(SelectExpression=f"select itemName() from {domain}").get("Items", []) == []
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 0
