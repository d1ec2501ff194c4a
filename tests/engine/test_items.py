"""PutAttributes, GetAttributes and DeleteAttributes: item semantics and conditional writes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.conftest import Transport
from engine.helpers import error_of, get, put


def test_an_item_is_a_set_of_pairs(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("a", "1"), ("a", "1"), ("a", "2"))
    put(sdb, domain, "i", ("a", "1"), ("b", "x"))
    assert get(sdb, domain, "i") == {("a", "1"), ("a", "2"), ("b", "x")}
    assert sdb.domain_metadata(DomainName=domain)["AttributeValueCount"] == 3


def test_replace_keeps_every_value_of_the_request(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("a", "old1"), ("a", "old2"), ("b", "keep"))
    put(sdb, domain, "i", ("a", "new1"), ("a", "new2"), ("a", "new3"), replace=True)
    assert get(sdb, domain, "i") == {("a", "new1"), ("a", "new2"), ("a", "new3"), ("b", "keep")}


def test_replace_mixed_with_add_in_one_request(sdb: Any, domain: str) -> None:
    # The documented example: replacing one value of a name and adding another keeps both new values.
    put(sdb, domain, "i", ("a", "old"))
    sdb.put_attributes(
        DomainName=domain,
        ItemName="i",
        Attributes=[{"Name": "a", "Value": "x", "Replace": True}, {"Name": "a", "Value": "y"}],
    )
    assert get(sdb, domain, "i") == {("a", "x"), ("a", "y")}


def test_get_attributes_with_names(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("a", "1"), ("b", "2"), ("c", "3"))
    assert get(sdb, domain, "i", "a", "c", "missing") == {("a", "1"), ("c", "3")}


def test_get_of_a_missing_item_does_not_create_it(sdb: Any, domain: str) -> None:
    assert sdb.get_attributes(DomainName=domain, ItemName="ghost").get("Attributes", []) == []
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 0
    assert (
        sdb.select(SelectExpression=f"select count(*) from {domain}")["Items"][0]["Attributes"][0]["Value"]
        == "0"
    )


def test_delete_named_values_names_and_items(transport: Transport, sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("a", "1"), ("a", "2"), ("b", "x"), ("c", "y"))
    sdb.delete_attributes(DomainName=domain, ItemName="i", Attributes=[{"Name": "a", "Value": "1"}])
    assert get(sdb, domain, "i") == {("a", "2"), ("b", "x"), ("c", "y")}
    # A name without a value deletes every value of the name (botocore's model insists on a Value).
    unchecked = transport.client(parameter_validation=False)
    unchecked.delete_attributes(DomainName=domain, ItemName="i", Attributes=[{"Name": "b"}])
    assert get(sdb, domain, "i") == {("a", "2"), ("c", "y")}
    sdb.delete_attributes(DomainName=domain, ItemName="i", Attributes=[{"Name": "a", "Value": "not there"}])
    assert get(sdb, domain, "i") == {("a", "2"), ("c", "y")}
    sdb.delete_attributes(DomainName=domain, ItemName="i")
    assert get(sdb, domain, "i") == set()
    sdb.delete_attributes(DomainName=domain, ItemName="never-existed")  # no error


def test_an_item_without_attributes_does_not_exist(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("a", "1"))
    sdb.delete_attributes(DomainName=domain, ItemName="i", Attributes=[{"Name": "a", "Value": "1"}])
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 0
    assert sdb.select(SelectExpression=f"select * from {domain}").get("Items", []) == []


# --- conditional put and delete ------------------------------------------------------------------


def test_conditional_put_on_value(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("version", "1"))
    sdb.put_attributes(
        DomainName=domain,
        ItemName="i",
        Attributes=[{"Name": "version", "Value": "2", "Replace": True}],
        Expected={"Name": "version", "Value": "1"},
    )
    assert get(sdb, domain, "i") == {("version", "2")}
    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(
            DomainName=domain,
            ItemName="i",
            Attributes=[{"Name": "version", "Value": "3", "Replace": True}],
            Expected={"Name": "version", "Value": "1", "Exists": True},
        )
    assert error_of(excinfo) == ("ConditionalCheckFailed", 409)
    assert get(sdb, domain, "i") == {("version", "2")}


def test_conditional_put_exists_false(sdb: Any, domain: str) -> None:
    expected = {"Name": "lock", "Exists": False}
    sdb.put_attributes(
        DomainName=domain, ItemName="i", Attributes=[{"Name": "lock", "Value": "me"}], Expected=expected
    )
    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(
            DomainName=domain, ItemName="i", Attributes=[{"Name": "lock", "Value": "you"}], Expected=expected
        )
    assert error_of(excinfo) == ("ConditionalCheckFailed", 409)


def test_conditional_check_on_missing_and_multi_valued_attributes(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("multi", "1"), ("multi", "2"))
    attributes = [{"Name": "x", "Value": "1"}]
    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(
            DomainName=domain, ItemName="i", Attributes=attributes, Expected={"Name": "nope", "Value": "1"}
        )
    assert error_of(excinfo) == ("AttributeDoesNotExist", 404)
    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(
            DomainName=domain, ItemName="i", Attributes=attributes, Expected={"Name": "multi", "Value": "1"}
        )
    assert error_of(excinfo) == ("MultiValuedAttribute", 409)
    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(
            DomainName=domain, ItemName="new", Attributes=attributes, Expected={"Name": "a", "Value": "1"}
        )
    assert error_of(excinfo) == ("AttributeDoesNotExist", 404)
    assert get(sdb, domain, "new") == set()


def test_expected_parameter_combinations(sdb: Any, domain: str) -> None:
    attributes = [{"Name": "x", "Value": "1"}]
    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(
            DomainName=domain,
            ItemName="i",
            Attributes=attributes,
            Expected={"Name": "a", "Value": "1", "Exists": False},
        )
    assert error_of(excinfo) == ("ExistsAndExpectedValue", 400)
    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(
            DomainName=domain, ItemName="i", Attributes=attributes, Expected={"Name": "a", "Exists": True}
        )
    assert error_of(excinfo) == ("IncompleteExpectedExpression", 400)


def test_conditional_delete(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("state", "done"), ("data", "x"))
    with pytest.raises(ClientError) as excinfo:
        sdb.delete_attributes(DomainName=domain, ItemName="i", Expected={"Name": "state", "Value": "running"})
    assert error_of(excinfo) == ("ConditionalCheckFailed", 409)
    assert get(sdb, domain, "i") == {("state", "done"), ("data", "x")}
    sdb.delete_attributes(DomainName=domain, ItemName="i", Expected={"Name": "state", "Value": "done"})
    assert get(sdb, domain, "i") == set()
