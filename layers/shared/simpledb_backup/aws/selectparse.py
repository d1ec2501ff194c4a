"""Select pages parsed as a stream: SimpleDB's XML to ``Item``s, with the work done in C where it can be.

botocore's generic parser walks the response shape in Python and spends several times what a C parser needs
for a 1 MB page; a backup reads thousands of pages, so the adapter parses its own Select responses here (a
before-parse hook hands botocore an empty page instead). The body comes from the SimpleDB endpoint (over TLS
in AWS), the source botocore's own parser trusts.

How a page is read:

* libxml2 (lxml) parses the body in chunks, and after each chunk the items it completed are taken out of the
  tree, so no page's whole tree is ever held (a 1 MB page's tree takes several MB).
* The items a chunk completed are checked together against an XML Schema of the shape SimpleDB documents
  for a Select result (``Item``: ``Name`` then ``Attribute``\\*; ``Attribute``: ``Name`` then ``Value``;
  text only, no XML attribute). A batch that conforms is read with one XPath query in C and its items are
  built from the strings, without touching an element per name or value from Python. A batch where SimpleDB
  sent names or values as Base64 conforms to a second schema that allows its marks (``encoding="base64"`` on
  the element, ``AlternateNameEncoding``/``AlternateValueEncoding`` after it) and is read the same way, with
  two more queries that find the marks.
* Anything else is read element by element with the rules this parser always had: elements matched by local
  name in any namespace, the last ``Name``/``Value`` of an element wins, a name or value is Base64 when its
  element says ``encoding="base64"`` or an ``AlternateNameEncoding``/``AlternateValueEncoding`` sibling says
  ``base64`` (SimpleDB Developer Guide, "Working with XML-Restricted Characters"), and an item's pairs fold
  as SimpleDB's do (``make_item``). Items with an empty name or value, a foreign namespace or elements in
  another order take this way; both ways give the same items (tests/unit/aws/test_selectparse.py).
* Comments and processing instructions are dropped while parsing, so an element's text is its character data
  up to its first child element, as ElementTree reads it. A document with a DOCTYPE is refused (SimpleDB sends
  none, and this reader expands no entities).

A document that is not a well-formed Select response, or that breaks a rule above (an ``Item`` without a
``Name``, an ``Attribute`` without a ``Value``, Base64 that does not decode to UTF-8), raises; the hook then
leaves the response untouched for botocore.
"""

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lxml import etree

from simpledb_backup.items import Attributes, Item, make_item

SIMPLEDB_NAMESPACE = "http://sdb.amazonaws.com/doc/2009-04-15/"
# Big enough that a chunk's bookkeeping (one schema check, one query) is a small part of its cost, small
# enough that the tree held between two chunks stays a few dozen items.
CHUNK_BYTES = 64 * 1024

_RESULT_TAG = f"{{{SIMPLEDB_NAMESPACE}}}SelectResult"
_ITEM_TAG = f"{{{SIMPLEDB_NAMESPACE}}}Item"
# The documented shape of a Select result, as a schema libxml2 checks in C. Item is a global element so that a
# single item can be checked too. xs:string elements may have neither child elements nor XML attributes, so
# a conforming Name or Value holds at most one text node (comments and processing instructions are removed
# while parsing, and CDATA is merged into text).
_SCHEMA = f"""\
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:sdb="{SIMPLEDB_NAMESPACE}"
           targetNamespace="{SIMPLEDB_NAMESPACE}" elementFormDefault="qualified">
  <xs:element name="SelectResult">
    <xs:complexType>
      <xs:sequence>
        <xs:element ref="sdb:Item" minOccurs="0" maxOccurs="unbounded"/>
        <xs:element name="NextToken" type="xs:string" minOccurs="0"/>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
  <xs:element name="Item">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="Name" type="xs:string"/>
        <xs:element name="Attribute" minOccurs="0" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="Name" type="xs:string"/>
              <xs:element name="Value" type="xs:string"/>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


# The same shape with what SimpleDB adds to a name or value XML cannot carry: ``encoding="base64"`` on the
# element, and (as botocore's model reads it) an AlternateNameEncoding / AlternateValueEncoding after it.
_MARKED_SCHEMA = f"""\
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:sdb="{SIMPLEDB_NAMESPACE}"
           targetNamespace="{SIMPLEDB_NAMESPACE}" elementFormDefault="qualified">
  <xs:complexType name="text">
    <xs:simpleContent>
      <xs:extension base="xs:string">
        <xs:attribute name="encoding" type="xs:string"/>
      </xs:extension>
    </xs:simpleContent>
  </xs:complexType>
  <xs:element name="SelectResult">
    <xs:complexType>
      <xs:sequence>
        <xs:element ref="sdb:Item" minOccurs="0" maxOccurs="unbounded"/>
        <xs:element name="NextToken" type="xs:string" minOccurs="0"/>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
  <xs:element name="Item">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="Name" type="sdb:text"/>
        <xs:element name="AlternateNameEncoding" type="xs:string" minOccurs="0"/>
        <xs:element name="Attribute" minOccurs="0" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="Name" type="sdb:text"/>
              <xs:element name="AlternateNameEncoding" type="xs:string" minOccurs="0"/>
              <xs:element name="Value" type="sdb:text"/>
              <xs:element name="AlternateValueEncoding" type="xs:string" minOccurs="0"/>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""
_NAME_TAG = f"{{{SIMPLEDB_NAMESPACE}}}Name"
_ALTERNATE_NAME_TAG = f"{{{SIMPLEDB_NAMESPACE}}}AlternateNameEncoding"


class _Checks:
    """The compiled schema and queries, one set per thread.

    lxml's schema and XPath objects keep state per object (an error log, an evaluation lock), so the parallel
    Select streams never share one; building a set takes about half a millisecond.
    """

    def __init__(self) -> None:
        self.schema = etree.XMLSchema(etree.fromstring(_SCHEMA.encode()))
        namespaces = {"sdb": SIMPLEDB_NAMESPACE}
        # The names and values of a conforming batch or item, in document order: two strings per Attribute
        # when no Name or Value is empty (an empty element has no text node).
        self.batch_texts = etree.XPath(
            "sdb:Item/sdb:Attribute/*/text()", namespaces=namespaces, smart_strings=False
        )
        self.item_texts = etree.XPath("sdb:Attribute/*/text()", namespaces=namespaces, smart_strings=False)
        self.marked_schema = etree.XMLSchema(etree.fromstring(_MARKED_SCHEMA.encode()))
        # A batch with Base64 marks: its attribute names and values apart (the marks are elements too), and the
        # marks themselves, which are few.
        self.batch_names = etree.XPath(
            "sdb:Item/sdb:Attribute/sdb:Name/text()", namespaces=namespaces, smart_strings=False
        )
        self.batch_values = etree.XPath(
            "sdb:Item/sdb:Attribute/sdb:Value/text()", namespaces=namespaces, smart_strings=False
        )
        # Plain paths, no predicates: libxml2 evaluates a predicate per node, which costs more than all else.
        self.encoding_attributes = etree.XPath(
            "sdb:Item/sdb:Name/@encoding | sdb:Item/sdb:Attribute/*/@encoding", namespaces=namespaces
        )
        self.alternate_encodings = etree.XPath(
            "sdb:Item/sdb:AlternateNameEncoding | sdb:Item/sdb:Attribute/sdb:AlternateNameEncoding"
            " | sdb:Item/sdb:Attribute/sdb:AlternateValueEncoding",
            namespaces=namespaces,
        )


_thread_checks = threading.local()


def _checks() -> _Checks:
    checks: _Checks | None = getattr(_thread_checks, "checks", None)
    if checks is None:
        checks = _thread_checks.checks = _Checks()
    return checks


def _decode(text: str, encoded: bool) -> str:
    return base64.b64decode(text).decode("utf-8") if encoded else text


def _local_name(tag: object) -> str:
    # lxml hands a parsed element's tag over as "{namespace}local" text.
    return str(tag).rpartition("}")[2]


def _element_text(element: etree._Element, encoded: bool) -> str:
    return _decode(element.text or "", encoded)


def _pair_from_element(element: etree._Element) -> tuple[str, str]:
    name = value = None
    name_encoded = value_encoded = False
    for child in element:
        tag = _local_name(child.tag)
        if tag == "Name":
            name, name_encoded = child, name_encoded or child.get("encoding") == "base64"
        elif tag == "Value":
            value, value_encoded = child, value_encoded or child.get("encoding") == "base64"
        elif tag == "AlternateNameEncoding":
            name_encoded = name_encoded or child.text == "base64"
        elif tag == "AlternateValueEncoding":
            value_encoded = value_encoded or child.text == "base64"
    if name is None or value is None:
        raise ValueError("an Attribute without Name or Value")
    return _element_text(name, name_encoded), _element_text(value, value_encoded)


def _item_from_element(element: etree._Element) -> Item:
    """Any ``Item`` element, by the general rules (see the module docstring)."""
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
            pairs.append(_pair_from_element(child))
    if name is None:
        raise ValueError("an Item without Name")
    return make_item(_element_text(name, name_encoded), pairs)


def _item_from_pairs(name: str, names: list[str], values: list[str]) -> Item:
    """The item whose pairs are ``names[i]``, ``values[i]``: equal to ``make_item``'s.

    SimpleDB sends each pair once, so when an item's attribute names are distinct each has one value and
    only the names' order is left to make canonical; an item with a multi-valued attribute is folded by
    ``make_item``.
    """
    pairs = zip(names, zip(values, strict=True), strict=True)
    attributes: Attributes = dict(pairs if names == sorted(names) else sorted(pairs))
    if len(attributes) != len(names):
        return make_item(name, zip(names, values, strict=True))
    return Item(name, attributes)


def _conforming_item(element: etree._Element, texts: list[str]) -> Item | None:
    """The item of a schema-conforming ``Item`` with its texts, or None when a Name or Value is empty."""
    if len(texts) != 2 * (len(element) - 1):
        return None
    return _item_from_pairs(element[0].text or "", texts[0::2], texts[1::2])


class _PageReader:
    """The items and NextToken of one Select response document, read as it is parsed."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.next_token: str | None = None
        self._checks = _checks()
        self._results: list[etree._Element] = []  # the SelectResult elements seen, the last one still open
        self._marked_last = False

    def read(self, body: bytes, chunk_bytes: int) -> tuple[list[Item], str | None]:
        parser = etree.XMLPullParser(
            events=("start",),
            tag="{*}SelectResult",
            remove_comments=True,
            remove_pis=True,
            resolve_entities=False,
            collect_ids=False,
        )
        for start in range(0, len(body), chunk_bytes):
            parser.feed(body[start : start + chunk_bytes])
            self._take_results(parser)
            if self._results:
                self._drain(self._results[-1], keep_last=True)
        root = parser.close()
        self._take_results(parser)
        _refuse_doctype(root)
        for result in self._results:
            self._drain(result, keep_last=False)
        return self.items, self.next_token

    def _take_results(self, parser: etree.XMLPullParser) -> None:
        for _, element in parser.read_events():
            parent = element.getparent()
            if parent is None or parent.getparent() is not None:
                continue  # only a SelectResult directly under the document element holds the result
            if not self._results:
                _refuse_doctype(element)
            for earlier in self._results:
                self._drain(earlier, keep_last=False)  # a later sibling started, so it is complete
            self._results = [element]

    def _drain(self, result: etree._Element, keep_last: bool) -> None:
        # While parsing, every child but the last is complete; the last may still be growing.
        children = list(result)[:-1] if keep_last else list(result)
        if not children:
            return
        batch = etree.Element(_RESULT_TAG)
        # Moving the children out of the document being parsed frees them with the batch.
        batch.extend(children)
        # A failed schema check costs as much as a passed one, so the kind of batch read last is tried first.
        readers = [self._read_conforming_batch, self._read_marked_batch]
        if self._marked_last:
            readers.reverse()
        for reader in readers:
            if reader(batch, children):
                self._marked_last = reader == self._read_marked_batch
                return
        for child in children:
            self._read_child(child)

    def _read_conforming_batch(self, batch: etree._Element, children: list[etree._Element]) -> bool:
        if not self._checks.schema.validate(batch):
            return False
        items = (
            children if children[-1].tag == _ITEM_TAG else children[:-1]
        )  # NextToken comes last, if at all
        sizes = [len(item) - 1 for item in items]  # its Attributes
        texts: list[str] = self._checks.batch_texts(batch)
        if len(texts) != 2 * sum(sizes):
            return False  # an empty Name or Value somewhere: the strings do not pair up
        names, values = texts[0::2], texts[1::2]
        start = 0
        for item, size in zip(items, sizes, strict=True):
            end = start + size
            self.items.append(_item_from_pairs(item[0].text or "", names[start:end], values[start:end]))
            start = end
        if len(items) < len(children):
            self.next_token = children[-1].text
        return True

    def _read_marked_batch(self, batch: etree._Element, children: list[etree._Element]) -> bool:
        """A batch of the documented shape with Base64 names or values (see ``_MARKED_SCHEMA``)."""
        if not self._checks.marked_schema.validate(batch):
            return False
        items = children if children[-1].tag == _ITEM_TAG else children[:-1]
        # Each item's Attributes follow its Name and, if it has one, its AlternateNameEncoding.
        skips = [2 if len(item) > 1 and item[1].tag == _ALTERNATE_NAME_TAG else 1 for item in items]
        firsts = [0]  # the position of each item's first attribute among the batch's
        for item, skip in zip(items, skips, strict=True):
            firsts.append(firsts[-1] + len(item) - skip)
        names: list[str] = self._checks.batch_names(batch)
        values: list[str] = self._checks.batch_values(batch)
        if len(names) != firsts[-1] or len(values) != firsts[-1]:
            return False  # an empty Name or Value somewhere: the strings do not line up
        item_names = [item[0].text or "" for item in items]
        # A text may be marked twice (the attribute and the sibling element); it is decoded once.
        encoded_items: set[int] = set()
        encoded_names: set[int] = set()
        encoded_values: set[int] = set()
        marked = [value.getparent() for value in self._checks.encoding_attributes(batch) if value == "base64"]
        marked += [element for element in self._checks.alternate_encodings(batch) if element.text == "base64"]
        for mark in marked:
            parent = mark.getparent()
            assert parent is not None
            if parent.tag == _ITEM_TAG:
                encoded_items.add(batch.index(parent))
                continue
            owner = parent.getparent()
            assert owner is not None
            number = batch.index(owner)
            position = firsts[number] + owner.index(parent) - skips[number]
            (encoded_names if mark.tag in (_NAME_TAG, _ALTERNATE_NAME_TAG) else encoded_values).add(position)
        for number in encoded_items:
            item_names[number] = _decode(item_names[number], True)
        for position in encoded_names:
            names[position] = _decode(names[position], True)
        for position in encoded_values:
            values[position] = _decode(values[position], True)
        for number, name in enumerate(item_names):
            start, end = firsts[number], firsts[number + 1]
            self.items.append(_item_from_pairs(name, names[start:end], values[start:end]))
        if len(items) < len(children):
            self.next_token = children[-1].text
        return True

    def _read_child(self, child: etree._Element) -> None:
        tag = _local_name(child.tag)
        if tag == "Item":
            self.items.append(self._read_item(child))
        elif tag == "NextToken":
            self.next_token = child.text

    def _read_item(self, element: etree._Element) -> Item:
        if element.tag == _ITEM_TAG and self._checks.schema.validate(element):
            texts: list[str] = self._checks.item_texts(element)
            item = _conforming_item(element, texts)
            if item is not None:
                return item
        return _item_from_element(element)


def _refuse_doctype(element: etree._Element) -> None:
    # SimpleDB sends no DTD; one could declare entities, which this reader does not expand.
    docinfo = element.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ValueError("a Select response with a DOCTYPE")


def parse_select_response(body: bytes, chunk_bytes: int = CHUNK_BYTES) -> tuple[list[Item], str | None]:
    """Items and NextToken of a SelectResponse document (see the module docstring for the rules).

    ``chunk_bytes`` is how much of the body is parsed before the items it completed are taken out of the tree.
    """
    return _PageReader().read(body, chunk_bytes)


class PagePermits:
    """How many Select pages are worked on at once: parsed into items, then used (encoded) by the thread that
    asked for them. A page waiting for its turn holds only its body (1 MB); a page being worked on holds its
    items too, several times that. A thread opts in with ``page()`` around its Select call and its work on the
    page; the permit is taken when the body has arrived (by the parse hook below), so the threads still wait
    for SimpleDB together, and given back when the work is done."""

    def __init__(self, permits: int) -> None:
        self._permits = threading.BoundedSemaphore(permits)
        self._thread = threading.local()

    @contextmanager
    def page(self) -> Iterator[None]:
        self._thread.wanted = True
        try:
            yield
        finally:
            self._thread.wanted = False
            if getattr(self._thread, "held", False):
                self._thread.held = False
                self._permits.release()

    def take(self) -> None:
        """Wait for a permit, once per page, in a thread that opted in."""
        if getattr(self._thread, "wanted", False) and not getattr(self._thread, "held", False):
            self._permits.acquire()
            self._thread.held = True


#: Pages worked on at once by the scans' streams: enough to keep two cores busy (lxml and isal work outside the
#: GIL), few enough that dozens of streams waiting for SimpleDB hold little memory (backup/cells.py).
PAGES_WORKED_ON = 3
PAGE_PERMITS = PagePermits(PAGES_WORKED_ON)

SELECT_BODY_STUB = (
    b'<?xml version="1.0"?><SelectResponse xmlns="http://sdb.amazonaws.com/doc/2009-04-15/">'
    b"<SelectResult/></SelectResponse>"
)
PARSED_ITEMS = "SimpleDBBackupItems"
# Set while the adapter's own Select runs: botocore parses in the calling thread, so the hook below touches
# only those calls, never a Select someone else makes with the same client.
adapter_select = threading.local()


def parse_select_quickly(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """botocore's before-parse hook: parse a successful Select page here and hand botocore an empty one.

    Anything unexpected leaves the response untouched, so botocore parses it (or reports its error) as usual.
    """
    if not getattr(adapter_select, "active", False) or response_dict.get("status_code") != 200:
        return
    PAGE_PERMITS.take()
    try:
        items, next_token = parse_select_response(response_dict["body"])
    except (etree.LxmlError, ValueError, KeyError, TypeError):
        return
    customized_response_dict[PARSED_ITEMS] = items
    if next_token:
        customized_response_dict["NextToken"] = next_token
    response_dict["body"] = SELECT_BODY_STUB
