"""The documented limits, each refused with AWS's error code and HTTP status ("Limits", "API Error Codes")."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.conftest import Transport
from engine.helpers import error_of, get, put


def pairs(count: int, prefix: str = "a") -> list[dict[str, str]]:
    return [{"Name": f"{prefix}{n}", "Value": "v"} for n in range(count)]


def test_256_pairs_per_item(sdb: Any, domain: str) -> None:
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=pairs(200))
    sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=pairs(56, "b"))
    assert len(get(sdb, domain, "i")) == 256
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, "i", ("one", "more"))
    assert error_of(excinfo) == ("NumberItemAttributesExceeded", 409)
    assert len(get(sdb, domain, "i")) == 256
    # Re-putting stored pairs adds nothing, so it stays within the limit.
    put(sdb, domain, "i", ("a0", "v"))


def test_256_attributes_per_put_call(sdb: Any, domain: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        sdb.put_attributes(DomainName=domain, ItemName="i", Attributes=pairs(257))
    assert error_of(excinfo) == ("NumberSubmittedAttributesExceeded", 409)
    assert get(sdb, domain, "i") == set()


@pytest.mark.parametrize("field", ["item", "name", "value"])
def test_1024_bytes_per_name_and_value(sdb: Any, domain: str, field: str) -> None:
    fits, too_long = "é" * 512, "é" * 512 + "x"  # 1024 and 1025 UTF-8 bytes
    for text, ok in ((fits, True), (too_long, False)):
        item, name, value = (
            (text if field == "item" else "i"),
            (text if field == "name" else "n"),
            (text if field == "value" else "v"),
        )
        call = lambda: put(sdb, domain, item, (name, value))  # noqa: B023, E731
        if ok:
            call()
            assert (name, value) in get(sdb, domain, item)
        else:
            with pytest.raises(ClientError) as excinfo:
                call()
            assert error_of(excinfo) == ("InvalidParameterValue", 400)


def test_empty_names_are_refused_but_empty_values_are_not(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("a", ""))
    assert get(sdb, domain, "i") == {("a", "")}
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, "i", ("", "x"))
    assert error_of(excinfo) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as excinfo:
        put(sdb, domain, "", ("a", "x"))
    assert error_of(excinfo) == ("InvalidParameterValue", 400)


def batch(count: int, name: str = "item{n}") -> list[dict[str, Any]]:
    return [{"Name": name.format(n=n), "Attributes": [{"Name": "a", "Value": str(n)}]} for n in range(count)]


def test_batch_put_and_delete(sdb: Any, domain: str) -> None:
    sdb.batch_put_attributes(DomainName=domain, Items=batch(25))
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 25
    sdb.batch_put_attributes(
        DomainName=domain,
        Items=[
            {
                "Name": "item0",
                "Attributes": [{"Name": "a", "Value": "new", "Replace": True}, {"Name": "b", "Value": "1"}],
            }
        ],
    )
    assert get(sdb, domain, "item0") == {("a", "new"), ("b", "1")}
    sdb.batch_delete_attributes(
        DomainName=domain,
        Items=[
            {"Name": "item0", "Attributes": [{"Name": "b", "Value": "1"}]},
            {"Name": "item1"},
            {"Name": "ghost"},
        ],
    )
    assert get(sdb, domain, "item0") == {("a", "new")}
    assert get(sdb, domain, "item1") == set()
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 24


@pytest.mark.parametrize("operation", ["batch_put_attributes", "batch_delete_attributes"])
def test_25_items_per_batch(sdb: Any, domain: str, operation: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        getattr(sdb, operation)(DomainName=domain, Items=batch(26))
    assert error_of(excinfo) == ("NumberSubmittedItemsExceeded", 409)
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 0


@pytest.mark.parametrize("operation", ["batch_put_attributes", "batch_delete_attributes"])
def test_duplicate_item_name_in_a_batch(sdb: Any, domain: str, operation: str) -> None:
    items = batch(3) + batch(1)
    with pytest.raises(ClientError) as excinfo:
        getattr(sdb, operation)(DomainName=domain, Items=items)
    assert error_of(excinfo) == ("DuplicateItemName", 400)
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 0


def test_batch_is_all_or_nothing(sdb: Any, domain: str) -> None:
    sdb.put_attributes(DomainName=domain, ItemName="full", Attributes=pairs(256))
    items = [*batch(2), {"Name": "full", "Attributes": [{"Name": "extra", "Value": "x"}]}]
    with pytest.raises(ClientError) as excinfo:
        sdb.batch_put_attributes(DomainName=domain, Items=items)
    assert error_of(excinfo) == ("NumberItemAttributesExceeded", 409)
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 1


def test_batch_request_of_more_than_1_mb(sdb: Any, domain: str) -> None:
    value = "v" * 1000
    big = [
        {"Name": f"item{n}", "Attributes": [{"Name": f"a{k}", "Value": value} for k in range(60)]}
        for n in range(20)
    ]  # ~1.2 MB of names and values
    with pytest.raises(ClientError) as excinfo:
        sdb.batch_put_attributes(DomainName=domain, Items=big)
    assert error_of(excinfo) == ("InvalidParameterValue", 400)
    sdb.batch_put_attributes(DomainName=domain, Items=big[:10])  # ~0.6 MB is fine
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 10


def test_batch_put_attributes_per_item(sdb: Any, domain: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        sdb.batch_put_attributes(DomainName=domain, Items=[{"Name": "i", "Attributes": pairs(257)}])
    assert error_of(excinfo) == ("NumberSubmittedAttributesExceeded", 409)


# --- missing and invalid parameters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        ("create_domain", {}),
        ("delete_domain", {}),
        ("domain_metadata", {}),
        ("get_attributes", {"DomainName": "books"}),
        ("put_attributes", {"DomainName": "books", "Attributes": [{"Name": "a", "Value": "1"}]}),
        ("put_attributes", {"DomainName": "books", "ItemName": "i", "Attributes": [{"Name": "a"}]}),
        ("put_attributes", {"DomainName": "books", "ItemName": "i", "Attributes": [{"Value": "1"}]}),
        ("put_attributes", {"DomainName": "books", "ItemName": "i", "Attributes": []}),
        ("delete_attributes", {"ItemName": "i"}),
        ("batch_put_attributes", {"DomainName": "books", "Items": []}),
        ("select", {}),
    ],
)
def test_missing_parameters(
    transport: Transport, domain: str, operation: str, kwargs: dict[str, Any]
) -> None:
    unchecked = transport.client(parameter_validation=False)
    with pytest.raises(ClientError) as excinfo:
        getattr(unchecked, operation)(**kwargs)
    assert error_of(excinfo) == ("MissingParameter", 400)


@pytest.mark.parametrize(
    "params",
    [
        {
            "Action": "PutAttributes",
            "ItemName": "i",
            "Attribute.1.Name": "a",
            "Attribute.1.Value": "1",
            "Attribute.1.Replace": "maybe",
        },
        {"Action": "GetAttributes", "ItemName": "i", "ConsistentRead": "perhaps"},
        {
            "Action": "PutAttributes",
            "ItemName": "i",
            "Attribute.1.Name": "a",
            "Attribute.1.Value": "1",
            "Expected.Name": "a",
            "Expected.Exists": "yes",
        },
    ],
)
def test_invalid_boolean_flags(transport: Transport, domain: str, params: dict[str, str]) -> None:
    status, body = transport.raw({"DomainName": domain, **params})
    assert status == 400
    assert "<Code>InvalidParameterValue</Code>" in body


def test_unknown_action(transport: Transport) -> None:
    status, body = transport.raw({"Action": "Query", "DomainName": "books"})
    assert status == 400
    assert "<Code>InvalidAction</Code>" in body
    assert "<BoxUsage>" in body
