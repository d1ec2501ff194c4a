"""The engine's fast rendering of Select pages answers exactly what the element-by-element rendering does,
and what a Select keeps rendered never outlives the item it was rendered from."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.helpers import attribute_set, item_names, put
from sdblocal.xmltext import attribute_xml, element, item_xml


def element_by_element(name: str, pairs: list[tuple[str, str]]) -> str:
    attributes = "".join(attribute_xml(n, v) for n, v in pairs)
    return f"<Item>{element('Name', name, 'AlternateNameEncoding')}{attributes}</Item>"


# The characters every path of item_xml treats differently: its placeholders (NUL, 0x01, 0x02), other
# control characters, what XML escapes, tab/LF/CR, non-ASCII, astral, surrogates and noncharacters.
SPECIAL = "\x00\x01\x02\x03\x1f\x7f\x85\x9f\t\n\r&<>'\"a Z~\u00a0\u00e9\u200b\ud800\ufdd0\ufffe\ufffd\U00010000\U0010fffd"
texts = st.text(alphabet=st.sampled_from(SPECIAL), max_size=6) | st.text(max_size=6)


@settings(max_examples=600, deadline=None)
@given(texts, st.lists(st.tuples(texts, texts), max_size=5))
def test_item_xml_is_the_element_by_element_rendering(name: str, pairs: list[tuple[str, str]]) -> None:
    assert item_xml(name, pairs) == element_by_element(name, pairs)


def test_plain_items_take_one_path_per_kind() -> None:
    ascii_pairs = [("a", "x <y> & z\r\n"), ("b", "\t")]
    unicode_pairs = [("a", "é\U00010000"), ("b", "\u00a0")]
    for pairs in (ascii_pairs, unicode_pairs, []):
        assert item_xml("n", pairs) == element_by_element("n", pairs)


# --- what a Select renders once, it renders again after a write -------------------------------------


def test_a_write_between_pages_is_seen(sdb: Any, domain: str) -> None:
    for n in range(6):
        put(sdb, domain, f"i{n}", ("a", "old"), ("b", "kept"))
    expression = f"select * from `{domain}` where itemName() > '' order by itemName() limit 3"
    whole = sdb.select(SelectExpression=expression)  # renders i0-i2 (and keeps them)
    first = sdb.select(SelectExpression=expression)
    assert item_names(first) == ["i0", "i1", "i2"]
    put(sdb, domain, "i1", ("a", "new"), replace=True)  # before the token, then after it
    put(sdb, domain, "i4", ("a", "new"), replace=True)
    second = sdb.select(SelectExpression=expression, NextToken=first["NextToken"])
    assert {(i["Name"], a) for i in second["Items"] for a in attribute_set(i["Attributes"])} >= {
        ("i4", ("a", "new")),
        ("i4", ("b", "kept")),
    }
    again = sdb.select(SelectExpression=expression, ConsistentRead=False)
    by_name = {item["Name"]: attribute_set(item["Attributes"]) for item in again["Items"]}
    assert by_name["i1"] == {("a", "new"), ("b", "kept")}  # the engine's reads are always consistent
    assert whole["Items"][1]["Attributes"] != again["Items"][1]["Attributes"]


def test_other_output_lists_of_the_same_items(sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("a", "1"), ("b", "2"), ("c", "<3>"))
    everything = sdb.select(SelectExpression=f"select * from `{domain}`", ConsistentRead=True)
    assert attribute_set(everything["Items"][0]["Attributes"]) == {("a", "1"), ("b", "2"), ("c", "<3>")}
    some = sdb.select(SelectExpression=f"select a, c from `{domain}`")
    assert attribute_set(some["Items"][0]["Attributes"]) == {("a", "1"), ("c", "<3>")}
    names = sdb.select(SelectExpression=f"select itemName() from `{domain}`")
    assert names["Items"] == [{"Name": "i"}]
    sdb.delete_attributes(DomainName=domain, ItemName="i", Attributes=[{"Name": "c", "Value": "<3>"}])
    after = sdb.select(SelectExpression=f"select * from `{domain}`")
    assert attribute_set(after["Items"][0]["Attributes"]) == {("a", "1"), ("b", "2")}
    sdb.delete_attributes(DomainName=domain, ItemName="i")
    assert "Items" not in sdb.select(SelectExpression=f"select * from `{domain}`")
