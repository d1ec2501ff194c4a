"""The streaming Select parser reads exactly what botocore's parser reads on the pages SimpleDB sends, and
exactly what the ElementTree parser it replaced (9891a0b) read on any other document; what neither could
read is refused, and the before-parse hook then leaves the response to botocore."""

import base64
import threading
import xml.etree.ElementTree as ElementTree
from typing import Any

import botocore.session
import pytest
from botocore.parsers import create_parser
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from repomandata import repoman_domain_items
from sdblocal.responses import success_document
from sdblocal.xmltext import item_xml
from simpledb_backup.aws.selectparse import (
    CHUNK_BYTES,
    PARSED_ITEMS,
    SELECT_BODY_STUB,
    SIMPLEDB_NAMESPACE,
    adapter_select,
    parse_select_quickly,
    parse_select_response,
)
from simpledb_backup.aws.simpledb import item_from_wire
from simpledb_backup.items import Item, make_item

_SERVICE = botocore.session.get_session().get_service_model("sdb")
_SELECT_OUTPUT = _SERVICE.operation_model("Select").output_shape


def botocore_parse(body: bytes) -> tuple[list[Item], str | None]:
    """What the adapter gets when botocore parses the page itself (the hook stepped aside)."""
    parsed = create_parser(_SERVICE.metadata["protocol"]).parse(
        {"body": body, "headers": {}, "status_code": 200}, _SELECT_OUTPUT
    )
    return [item_from_wire(wire) for wire in parsed.get("Items", [])], parsed.get("NextToken")


def select_page(items: list[tuple[str, list[tuple[str, str]]]], next_token: str | None) -> bytes:
    """A Select response as the engine renders it (local/sdblocal: Base64 where XML cannot carry the text)."""
    result = "".join(item_xml(name, pairs) for name, pairs in items)
    if next_token is not None:
        result += f"<NextToken>{next_token}</NextToken>"
    return success_document("Select", result, "request-id").encode("utf-8")


def pairs_of(item: Item) -> list[tuple[str, str]]:
    return [(attribute, value) for attribute, values in item.attributes.items() for value in values]


# --- pages as SimpleDB sends them: the new parser against botocore's --------------------------------------

# Any Unicode scalar value, including what XML cannot carry (SimpleDB sends it Base64), carriage returns,
# quotes, markup characters and non-BMP characters.
any_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
awkward_text = st.sampled_from(
    [
        "",
        " ",
        "\t",
        "'",
        '"',
        "<&>",
        "]]>",
        "\r",
        "\r\n",
        "\x00",
        "\x01\x1f",
        "\x7f\x85",
        "\ufffe",
        "é€😀",
        "==",
    ]
)
page_text = st.one_of(any_text, awkward_text)
page_names = page_text.filter(bool)
# An item is its name and attributes, each with one or several values (duplicates included: they fold).
page_items = st.lists(
    st.tuples(
        page_names,
        st.lists(st.tuples(page_names, st.lists(page_text, min_size=1, max_size=4)), max_size=8).map(
            lambda attributes: [(name, value) for name, values in attributes for value in values]
        ),
    ),
    max_size=8,
)
next_tokens = st.none() | st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=1, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(page_items, next_tokens, st.sampled_from([1, 7, 100, CHUNK_BYTES]))
def test_generated_pages_read_as_botocore_reads_them(
    items: list[tuple[str, list[tuple[str, str]]]], next_token: str | None, chunk_bytes: int
) -> None:
    body = select_page(items, next_token)
    assert parse_select_response(body, chunk_bytes) == botocore_parse(body)


def test_a_page_of_repoman_items_reads_as_botocore_reads_it() -> None:
    items = list(repoman_domain_items(520))
    body = select_page([(item.name, pairs_of(item)) for item in items], "dG9rZW4=")
    assert len(body) > 1_000_000  # a full page, parsed in many chunks
    parsed = parse_select_response(body)
    assert parsed == botocore_parse(body)
    assert parsed == (items, "dG9rZW4=")


@pytest.mark.parametrize("every", [1, 3, 50])
def test_pages_with_base64_names_and_values_read_as_botocore_reads_them(every: int) -> None:
    # SimpleDB sends text XML cannot carry as Base64, marked on the element and by a sibling element.
    pages = []
    for number, item in enumerate(repoman_domain_items(300)):
        pairs = pairs_of(item)
        name = item.name
        if number % every == 0:
            pairs += [("bin\x01ary", "a\x00b"), ("control", "\x1f")]
            name = f"{item.name}\x02" if number % (2 * every) == 0 else name
        if number % 97 == 0:
            pairs.append(("empty", ""))
        pages.append((name, pairs))
    body = select_page(pages, "token")
    for chunk_bytes in (4096, CHUNK_BYTES, len(body)):
        assert parse_select_response(body, chunk_bytes) == botocore_parse(body)


def test_multi_valued_attributes_fold_as_make_item_does() -> None:
    pairs = [("b", "2"), ("a", "x"), ("b", "1"), ("b", "2"), ("c", "")]
    body = select_page([("i", pairs)], None)
    assert parse_select_response(body) == ([make_item("i", pairs)], None)


def test_pages_parse_the_same_in_parallel_threads() -> None:
    pages = [
        select_page([(item.name, pairs_of(item)) for item in repoman_domain_items(60, seed)], None)
        for seed in range(4)
    ]
    expected = [parse_select_response(page) for page in pages]
    results: dict[int, list[Any]] = {}

    def read(index: int) -> None:
        results[index] = [parse_select_response(pages[index]) for _ in range(5)]

    threads = [threading.Thread(target=read, args=(index,)) for index in range(len(pages))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[index] == [expected[index]] * 5 for index in range(len(pages)))


# --- any other document: the new parser against the ElementTree parser it replaced ------------------------


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(element: ElementTree.Element, encoded: bool) -> str:
    text = element.text or ""
    return base64.b64decode(text).decode("utf-8") if encoded else text


def _reference_item(element: ElementTree.Element) -> Item:
    name = None
    name_encoded = False
    pairs = []
    for child in element:
        tag = _local_name(child.tag)
        if tag == "Name":
            name, name_encoded = child, name_encoded or child.get("encoding") == "base64"
        elif tag == "AlternateNameEncoding":
            name_encoded = name_encoded or child.text == "base64"
        elif tag == "Attribute":
            pair_name = value = None
            pair_name_encoded = value_encoded = False
            for part in child:
                part_tag = _local_name(part.tag)
                if part_tag == "Name":
                    pair_name, pair_name_encoded = part, pair_name_encoded or part.get("encoding") == "base64"
                elif part_tag == "Value":
                    value, value_encoded = part, value_encoded or part.get("encoding") == "base64"
                elif part_tag == "AlternateNameEncoding":
                    pair_name_encoded = pair_name_encoded or part.text == "base64"
                elif part_tag == "AlternateValueEncoding":
                    value_encoded = value_encoded or part.text == "base64"
            if pair_name is None or value is None:
                raise ValueError("an Attribute without Name or Value")
            pairs.append((_text(pair_name, pair_name_encoded), _text(value, value_encoded)))
    if name is None:
        raise ValueError("an Item without Name")
    return make_item(_text(name, name_encoded), pairs)


def reference_parse(body: bytes) -> tuple[list[Item], str | None]:
    """The parser of 9891a0b (ElementTree, whole tree), kept here as the oracle for odd documents."""
    root = ElementTree.fromstring(body)
    items: list[Item] = []
    next_token = None
    for result in root:
        if _local_name(result.tag) != "SelectResult":
            continue
        for element in result:
            tag = _local_name(element.tag)
            if tag == "Item":
                items.append(_reference_item(element))
            elif tag == "NextToken":
                next_token = element.text
    return items, next_token


def outcome(parse: Any, body: bytes) -> Any:
    try:
        return parse(body)
    except (ElementTree.ParseError, etree.LxmlError, ValueError, KeyError, TypeError):
        return "refused"


# Markup that changes nothing a Select page means, or that must be read by the general rules.
xml_chars = st.characters(
    codec="utf-8", exclude_categories=["Cs"], exclude_characters="\x00\ufffe\uffff"
).filter(lambda char: char in "\t\n\r" or char >= " ")
plain = st.text(alphabet=xml_chars, max_size=6).map(
    lambda text: text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
)
noise = st.sampled_from(
    [
        "",
        "",
        "",
        "",
        " ",
        "\n  ",
        "<!-- c -->",
        "<?pi x?>",
        "<Unknown>u</Unknown>",
        "<x:Other xmlns:x='urn:o'/>",
    ]
)


@st.composite
def leaf_content(draw: Any) -> tuple[str, str]:
    """A Name or Value's attributes and content: text split by comments, CDATA, references or children."""
    if draw(st.integers(0, 4)) == 0:
        raw = draw(st.text(alphabet=xml_chars, max_size=8))
        body = base64.b64encode(raw.encode()).decode() if draw(st.integers(0, 4)) else draw(plain)
        return ' encoding="base64"', body
    if draw(st.booleans()):
        return "", draw(plain)
    parts = draw(
        st.lists(
            st.one_of(
                plain,
                st.sampled_from(
                    ["<!--x-->", "<?p?>", "<![CDATA[<a&b>]]>", "&#13;", "&#x1F600;", "<b>kid</b>t"]
                ),
            ),
            max_size=4,
        )
    )
    attributes = draw(
        st.sampled_from(
            ["", "", "", ' encoding="other"', ' lang="en"', " xmlns:x='urn:x' x:encoding='base64'"]
        )
    )
    return attributes, "".join(parts)


@st.composite
def odd_document(draw: Any) -> bytes:
    prefix, declaration = draw(
        st.sampled_from(
            [
                ("", f' xmlns="{SIMPLEDB_NAMESPACE}"'),
                ("s:", f' xmlns:s="{SIMPLEDB_NAMESPACE}"'),
                ("", ' xmlns="urn:elsewhere"'),
                ("", ""),
            ]
        )
    )

    def element(local: str, attributes: str, content: str) -> str:
        return f"<{prefix}{local}{attributes}>{content}</{prefix}{local}>"

    def leaf(local: str) -> str:
        attributes, content = draw(leaf_content())
        return element(local, attributes, content)

    def alternate(local: str) -> str:
        return element(local, "", draw(st.sampled_from(["base64", "base64 ", "other", ""])))

    def shuffled(parts: list[str]) -> str:
        order = draw(st.permutations(range(len(parts)))) if parts else []
        return "".join(parts[index] + draw(noise) for index in order)

    def count() -> int:
        return draw(st.sampled_from([1, 1, 1, 1, 1, 1, 1, 0, 2]))  # mostly the documented one

    def attribute() -> str:
        parts = [leaf("Name") for _ in range(count())]
        parts += [leaf("Value") for _ in range(count())]
        parts += [
            alternate(local)
            for local in draw(st.sets(st.sampled_from(["AlternateNameEncoding", "AlternateValueEncoding"])))
        ]
        return element("Attribute", "", shuffled(parts))

    def item() -> str:
        parts = [leaf("Name") for _ in range(count())]
        parts += [attribute() for _ in range(draw(st.integers(0, 3)))]
        if draw(st.booleans()):
            parts.append(alternate("AlternateNameEncoding"))
        return element("Item", "", shuffled(parts))

    def result() -> str:
        parts = [item() for _ in range(draw(st.integers(0, 3)))]
        parts += [leaf("NextToken") for _ in range(draw(st.sampled_from([0, 1, 1, 2])))]
        return element("SelectResult", "", shuffled(parts))

    results = [result() for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2])))]
    results.append(element("ResponseMetadata", "", element("RequestId", "", "r")))
    head = draw(st.sampled_from(['<?xml version="1.0"?>\n', "", "<!-- before -->"]))
    root = f"<{prefix}SelectResponse{declaration}>{shuffled(results)}</{prefix}SelectResponse>"
    return (head + root).encode("utf-8")


@settings(max_examples=500, deadline=None)
@given(odd_document(), st.sampled_from([1, 13, CHUNK_BYTES]))
def test_any_document_reads_as_the_elementtree_parser_read_it(body: bytes, chunk_bytes: int) -> None:
    assert outcome(lambda page: parse_select_response(page, chunk_bytes), body) == outcome(
        reference_parse, body
    )


def test_the_general_rules_decode_base64_marked_either_way() -> None:
    encoded = base64.b64encode(b"a\x00b").decode()
    body = (
        f'<SelectResponse xmlns="{SIMPLEDB_NAMESPACE}"><SelectResult>'
        f'<Item><Name encoding="base64">{base64.b64encode(b"i").decode()}</Name>'
        f"<Attribute><Name>n</Name><Value>{encoded}</Value><AlternateValueEncoding>base64</AlternateValueEncoding>"
        f'</Attribute><Attribute><Name>m</Name><Value encoding="base64">{encoded}</Value></Attribute></Item>'
        f"<NextToken>t</NextToken></SelectResult></SelectResponse>"
    ).encode()
    assert parse_select_response(body) == ([make_item("i", [("n", "a\x00b"), ("m", "a\x00b")])], "t")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<SelectResponse><SelectResult><Item>",
        b"<SelectResponse><SelectResult><Item/></SelectResult></SelectResponse>",
        b"<SelectResponse><SelectResult><Item><Name>i</Name><Attribute><Name>a</Name></Attribute></Item>"
        b"</SelectResult></SelectResponse>",
        b'<SelectResponse><SelectResult><Item><Name encoding="base64">abc</Name></Item></SelectResult>'
        b"</SelectResponse>",
        b'<SelectResponse><SelectResult><Item><Name encoding="base64">/w==</Name></Item></SelectResult>'
        b"</SelectResponse>",
        b'<!DOCTYPE r [<!ENTITY e "x">]><SelectResponse><SelectResult><Item><Name>&e;</Name></Item>'
        b"</SelectResult></SelectResponse>",
    ],
    ids=["empty", "not-xml", "truncated", "no-name", "no-value", "bad-base64", "not-utf8", "doctype"],
)
def test_documents_it_cannot_read_are_left_to_botocore(body: bytes) -> None:
    response = {"status_code": 200, "body": body}
    customized: dict[str, Any] = {}
    adapter_select.active = True
    try:
        parse_select_quickly(response, customized)
    finally:
        adapter_select.active = False
    assert customized == {}
    assert response["body"] == body


def test_the_hook_hands_botocore_an_empty_page_and_the_items_aside() -> None:
    body = select_page([("i", [("a", "1")])], "next")
    response = {"status_code": 200, "body": body}
    customized: dict[str, Any] = {}
    adapter_select.active = True
    try:
        parse_select_quickly(response, customized)
    finally:
        adapter_select.active = False
    assert customized == {PARSED_ITEMS: [make_item("i", [("a", "1")])], "NextToken": "next"}
    assert response["body"] == SELECT_BODY_STUB
    assert botocore_parse(SELECT_BODY_STUB) == ([], None)
