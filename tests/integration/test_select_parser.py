"""The adapter's own Select parser gives exactly what botocore's parser gives, and steps aside otherwise."""

from typing import Any

import boto3
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simpledb_backup.aws.simpledb import (
    SimpleDB,
    _adapter_select,
    _parse_select_quickly,
    item_from_wire,
    parse_select_response,
)
from simpledb_backup.items import Item, make_item

text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20)
names = text.filter(lambda value: 0 < len(value.encode()) <= 1024)


def raw_select(sdb_client: Any, expression: str) -> bytes:
    """The body of a Select response as it came over the wire, before any parser saw it."""
    plain = boto3.client("sdb", config=Config(retries={"total_max_attempts": 1}))
    captured: dict[str, bytes] = {}
    plain.meta.events.register(
        "before-parse.simpledb.Select", lambda response_dict, **_: captured.update(body=response_dict["body"])
    )
    plain.select(SelectExpression=expression, ConsistentRead=True)
    return captured["body"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(names, names, text), min_size=1, max_size=8))
def test_fast_parse_equals_botocore_parse(sdb_client: Any, triples: list[tuple[str, str, str]]) -> None:
    sdb_client.create_domain(DomainName="parsing")
    items = [make_item(name, [(attribute, value)]) for name, attribute, value in triples]
    merged: dict[str, Item] = {}
    for item in items:
        previous = merged.get(item.name)
        pairs = [(a, v) for a, values in item.attributes.items() for v in values]
        if previous:
            pairs += [(a, v) for a, values in previous.attributes.items() for v in values]
        merged[item.name] = make_item(item.name, pairs)
    SimpleDB(sdb_client).write_items("parsing", merged.values())
    body = raw_select(sdb_client, "select * from `parsing` limit 2500")
    fast_items, fast_token = parse_select_response(body)
    plain = boto3.client("sdb").select(
        SelectExpression="select * from `parsing` limit 2500", ConsistentRead=True
    )
    assert fast_items == [item_from_wire(wire) for wire in plain["Items"]]
    assert fast_token == plain.get("NextToken")
    sdb_client.delete_domain(DomainName="parsing")


def test_paging_tokens_come_through(sdb_client: Any) -> None:
    sdb_client.create_domain(DomainName="paging")
    SimpleDB(sdb_client).write_items(
        "paging", [make_item(f"i{index:03d}", [("a", "1")]) for index in range(30)]
    )
    items, token = SimpleDB(sdb_client).select_page("paging", "select * from `paging` limit 7", None)
    assert [item.name for item in items] == [f"i{index:03d}" for index in range(7)]
    assert token


def test_a_select_made_outside_the_adapter_is_parsed_by_botocore(sdb_client: Any) -> None:
    sdb_client.create_domain(DomainName="shared")
    database = SimpleDB(sdb_client)  # registers the hook on this very client
    database.write_items("shared", [make_item("i", [("a", "1")])])
    answer = sdb_client.select(SelectExpression="select * from `shared`")
    assert answer["Items"] == [{"Name": "i", "Attributes": [{"Name": "a", "Value": "1"}]}]
    assert database.select_page("shared", "select * from `shared`", None) == (
        [make_item("i", [("a", "1")])],
        None,
    )


def test_anything_unexpected_is_left_to_botocore() -> None:
    _adapter_select.active = True
    for response in (
        {"status_code": 400, "body": b"<Response><Errors/></Response>"},
        {"status_code": 200, "body": b"not xml"},
        {
            "status_code": 200,
            "body": b"<SelectResponse><SelectResult><Item/></SelectResult></SelectResponse>",
        },
    ):
        body = response["body"]
        customized: dict[str, Any] = {}
        _parse_select_quickly(response, customized)
        assert customized == {}
        assert response["body"] == body
    _adapter_select.active = False
