"""Names and values with characters XML cannot carry come back Base64-encoded, as the service does."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.conftest import Transport
from engine.helpers import attribute_set, get, item_names, put

# Any Unicode scalar value (surrogates cannot travel as UTF-8).
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60)
NAMES = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60)
HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_invalid_characters_are_base64_in_get_attributes(sdb: Any, domain: str) -> None:
    put(
        sdb,
        domain,
        "i",
        ("plain", "text"),
        ("nul", "a\x00b"),
        ("ctl\x01name", "v"),
        ("nonchar", "\uffff"),
        ("c1", "\x85\x7f"),
    )
    attributes = {a["Name"]: a for a in sdb.get_attributes(DomainName=domain, ItemName="i")["Attributes"]}
    assert attributes["plain"] == {"Name": "plain", "Value": "text"}
    assert attributes["nul"]["AlternateValueEncoding"] == "base64"
    assert base64.b64decode(attributes["nul"]["Value"]) == b"a\x00b"
    encoded_name = base64.b64encode(b"ctl\x01name").decode()
    assert attributes[encoded_name]["AlternateNameEncoding"] == "base64"
    assert "AlternateValueEncoding" not in attributes[encoded_name]
    assert base64.b64decode(attributes["nonchar"]["Value"]).decode() == "\uffff"
    assert attributes["c1"]["AlternateValueEncoding"] == "base64"


def test_invalid_characters_are_base64_in_select_item_names_too(sdb: Any, domain: str) -> None:
    put(sdb, domain, "bell\x07item", ("tab\tok", "line\nfeed"), ("v", "\x1b[0m"))
    response = sdb.select(SelectExpression=f"select * from {domain}")
    item = response["Items"][0]
    assert item["AlternateNameEncoding"] == "base64"
    assert item_names(response) == ["bell\x07item"]
    assert attribute_set(item["Attributes"]) == {("tab\tok", "line\nfeed"), ("v", "\x1b[0m")}
    by_name = {a["Name"]: a for a in item["Attributes"]}
    assert "AlternateValueEncoding" not in by_name["tab\tok"]  # tab and line feed are valid XML
    assert by_name["v"]["AlternateValueEncoding"] == "base64"


def test_wire_form_is_the_documented_encoding_attribute(transport: Transport, sdb: Any, domain: str) -> None:
    put(sdb, domain, "i", ("n\x00", "v\x00"))
    status, body = transport.raw({"Action": "GetAttributes", "DomainName": domain, "ItemName": "i"})
    assert status == 200
    assert f'<Name encoding="base64">{base64.b64encode(b"n\x00").decode()}</Name>' in body
    assert f'<Value encoding="base64">{base64.b64encode(b"v\x00").decode()}</Value>' in body


def test_carriage_returns_and_markup_survive(sdb: Any, domain: str) -> None:
    value = "a\r\nb\rc <tag> & 'quote' \"dq\" ]]>"
    put(sdb, domain, "i", ("<name>&", value))
    assert get(sdb, domain, "i") == {("<name>&", value)}


@HYPOTHESIS
@given(name=NAMES, value=TEXT, item=NAMES)
def test_any_text_round_trips(transport: Transport, name: str, value: str, item: str) -> None:
    sdb = transport.client()
    sdb.create_domain(DomainName="roundtrip")
    sdb.delete_attributes(DomainName="roundtrip", ItemName=item)
    put(sdb, "roundtrip", item, (name, value))
    assert get(sdb, "roundtrip", item) == {(name, value)}
    response = sdb.select(SelectExpression="select * from roundtrip")
    assert item in item_names(response)


def quote_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_value(value: str, quote: str) -> str:
    return quote + value.replace(quote, quote + quote) + quote


@HYPOTHESIS
@given(name=NAMES, value=TEXT, quote=st.sampled_from(["'", '"']))
def test_select_quoting_round_trips(transport: Transport, name: str, value: str, quote: str) -> None:
    sdb = transport.client()
    sdb.create_domain(DomainName="quoting")
    sdb.delete_attributes(DomainName="quoting", ItemName="target")
    put(sdb, "quoting", "target", (name, value))
    expression = f"select * from quoting where {quote_name(name)} = {quote_value(value, quote)}"
    assert item_names(sdb.select(SelectExpression=expression)) == ["target"]
    expression = f"select itemName() from `quoting` where itemName() = {quote_value('target', quote)} and {quote_name(name)} is not null"
    assert item_names(sdb.select(SelectExpression=expression)) == ["target"]


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=30), value=st.text(max_size=30))
def test_wire_text_always_parses_back(name: str, value: str) -> None:
    # Any string at all, surrogates included: the XML must parse and give the UTF-8 octets back.
    from xml.etree import ElementTree

    from sdblocal.xmltext import item_xml

    element = ElementTree.fromstring(item_xml(name, [(name, value)]))

    def text_of(node: ElementTree.Element) -> str:
        text = node.text or ""
        if node.get("encoding") == "base64":
            return base64.b64decode(text).decode("utf-8", "surrogatepass")
        return text

    attribute = element.find("Attribute")
    assert attribute is not None
    assert text_of(element.find("Name")) == name  # type: ignore[arg-type]
    assert text_of(attribute.find("Name")) == name  # type: ignore[arg-type]
    assert text_of(attribute.find("Value")) == value  # type: ignore[arg-type]
