"""Storage and data semantics of the SimpleDB engine: domains, items, attributes and their limits.

Data model (Developer Guide, "Data Model" and "Limits"):

* a domain holds items; an item is a *set* of name/value pairs: putting the same pair twice keeps
  one copy, and an item with no pairs left does not exist;
* ``Replace=true`` on a name first drops every stored value of that name, then *all* the request's
  values for that name are added (a multi-value replace keeps every value of the request);
* 256 pairs per item, 1024 UTF-8 bytes per item name, attribute name and value, 256 attributes per
  PutAttributes call, 25 items and 1 MB per batch call, 250 domains, domain names of 3-255
  characters from ``[a-zA-Z0-9_.-]``.

Concurrency: a :class:`Domain` shares the lock of its engine (account + region, see
:mod:`sdblocal.engine`). Items are immutable snapshots (a write replaces the :class:`Item`), so a
scan copies references to a chunk of items under the lock and hands them out after releasing it.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, NamedTuple

from sortedcontainers import SortedDict, SortedKeyList  # type: ignore[import-untyped]

from . import errors

MAX_PAIRS_PER_ITEM = 256
MAX_NAME_BYTES = 1024
MAX_ATTRIBUTES_PER_PUT = 256
MAX_BATCH_ITEMS = 25
MAX_BATCH_REQUEST_BYTES = 1024 * 1024
MAX_DOMAINS = 250
MAX_LIST_DOMAINS = 100
_DOMAIN_NAME = re.compile(r"[a-zA-Z0-9_.\-]{3,255}")

# Characters that are at most MAX_NAME_BYTES in UTF-8 whatever they are (4 bytes a character at most).
_SURELY_SHORT = MAX_NAME_BYTES // 4
# How many items a scan copies out per lock acquisition.
_SCAN_CHUNK = 512


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def utf16_key(text: str) -> bytes:
    """``text`` as big-endian UTF-16 code units: bytes that sort as the code units do (Java's ``compareTo``).

    In that order a character above U+FFFF (a surrogate pair, D800-DBFF first) sorts after U+D7FF and
    before U+E000-U+FFFF, where code point order puts it last: the engine's ``utf16_order`` control.
    """
    return text.encode("utf-16-be", "surrogatepass")


class PutAttribute(NamedTuple):
    """One pair of a put (a named tuple: a batch of Repoman items builds ~350 of them a call)."""

    name: str
    value: str
    replace: bool = False


@dataclass(frozen=True, slots=True)
class DeleteAttribute:
    name: str
    value: str | None = None  # None: every value of the name


@dataclass(frozen=True, slots=True)
class Expected:
    """``Expected.Name/Value/Exists`` of a conditional put or delete."""

    name: str
    value: str | None = None
    exists: bool | None = None


class Item:
    """An immutable snapshot of one item: attribute name -> its values, in the order they were added."""

    __slots__ = ("attrs", "name", "pair_count", "xml")

    def __init__(self, name: str, attrs: Mapping[str, Sequence[str]]) -> None:
        self.name = name
        self.attrs: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in attrs.items() if v}
        self.pair_count = sum(len(v) for v in self.attrs.values())
        # The item's ``<Item>`` element with every pair, as ``select *`` answers it: rendered by the
        # first Select that returns the item whole and kept, since the snapshot never changes (a write
        # stores a new Item). Two threads may both render it; they write the same text.
        self.xml: str | None = None

    def values(self, attribute: str) -> tuple[str, ...]:
        return self.attrs.get(attribute, ())

    def pairs(self) -> list[tuple[str, str]]:
        return [(name, value) for name, values in self.attrs.items() for value in values]

    def editable(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.attrs.items()}


class Domain:
    """Items kept sorted by name (``SortedDict``), so item-name ranges are read without a full scan."""

    def __init__(self, name: str, lock: threading.Lock) -> None:
        self.name = name
        self._lock = lock
        self.items: Any = SortedDict()  # str -> Item
        # The names in UTF-16 order, built on the first Select that asks for it (the ``utf16_order``
        # control) and kept up to date by every write from then on.
        self._utf16_names: Any = None  # SortedKeyList of names, key utf16_key
        # DomainMetadata counters, maintained on every write so the call is O(unique names).
        self._name_refs: dict[str, int] = {}
        self._item_names_bytes = 0
        self._value_count = 0
        self._values_bytes = 0

    # Callers hold the backend lock for get/store.
    def get(self, item_name: str) -> Item | None:
        item: Item | None = self.items.get(item_name)
        return item

    def store(self, item_name: str, new: Item | None) -> None:
        old: Item | None = self.items.get(item_name)
        if old is not None:
            self._account(old, -1)
        if new is None:
            if old is not None:
                del self.items[item_name]
                if self._utf16_names is not None:
                    self._utf16_names.remove(item_name)
            return
        self.items[item_name] = new
        self._account(new, +1)
        if old is None and self._utf16_names is not None:
            self._utf16_names.add(item_name)

    def _account(self, item: Item, sign: int) -> None:
        self._item_names_bytes += sign * utf8_len(item.name)
        for name, values in item.attrs.items():
            refs = self._name_refs.get(name, 0) + sign * len(values)
            if refs:
                self._name_refs[name] = refs
            else:
                self._name_refs.pop(name, None)
            self._value_count += sign * len(values)
            self._values_bytes += sign * sum(map(utf8_len, values))

    def metadata(self) -> dict[str, int]:
        return {
            "ItemCount": len(self.items),
            "ItemNamesSizeBytes": self._item_names_bytes,
            "AttributeNameCount": len(self._name_refs),
            "AttributeNamesSizeBytes": sum(utf8_len(n) for n in self._name_refs),
            "AttributeValueCount": self._value_count,
            "AttributeValuesSizeBytes": self._values_bytes,
            "Timestamp": int(time.time()),
        }

    def scan(
        self,
        low: str | None = None,
        low_inclusive: bool = True,
        high: str | None = None,
        high_inclusive: bool = True,
        reverse: bool = False,
    ) -> Iterator[Item]:
        """Items whose names fall in the range, in name order, copied out chunk by chunk under the lock."""
        while True:
            with self._lock:
                keys = list(
                    islice(
                        self.items.irange(low, high, (low_inclusive, high_inclusive), reverse=reverse),
                        _SCAN_CHUNK,
                    )
                )
                chunk: list[Item] = [self.items[k] for k in keys]
            yield from chunk
            if len(keys) < _SCAN_CHUNK:
                return
            if reverse:
                high, high_inclusive = keys[-1], False
            else:
                low, low_inclusive = keys[-1], False

    def scan_utf16(self, after: str | None = None, reverse: bool = False) -> Iterator[Item]:
        """Every item after ``after`` (None: from the start) in UTF-16 code unit order, chunk by chunk."""
        while True:
            with self._lock:
                if self._utf16_names is None:
                    self._utf16_names = SortedKeyList(self.items.keys(), key=utf16_key)
                names = self._utf16_names
                if after is None:
                    found = names.irange_key(reverse=reverse)
                elif reverse:
                    found = names.irange_key(max_key=utf16_key(after), inclusive=(True, False), reverse=True)
                else:
                    found = names.irange_key(min_key=utf16_key(after), inclusive=(False, True))
                keys = list(islice(found, _SCAN_CHUNK))
                chunk: list[Item] = [self.items[k] for k in keys]
            yield from chunk
            if len(keys) < _SCAN_CHUNK:
                return
            after = keys[-1]


# --- validation ----------------------------------------------------------------------------------


def validate_domain_name(domain_name: str) -> None:
    if not _DOMAIN_NAME.fullmatch(domain_name):
        raise errors.invalid_parameter(f"Value ({domain_name}) for parameter DomainName is invalid. ")


def validate_item_name(item_name: str) -> None:
    if item_name == "":
        raise errors.invalid_parameter(
            "Value () for parameter ItemName is invalid. The empty string is an illegal item name"
        )
    if utf8_len(item_name) > MAX_NAME_BYTES:
        raise errors.invalid_parameter(
            # The wording of the API reference's GetAttributes/PutAttributes "Special Errors".
            f"Value ({item_name}) for parameter Item is invalid. Value exceeds max length of 1024."
        )


def _validate_attribute_name(name: str) -> None:
    if name == "":
        raise errors.invalid_parameter(
            "Value () for parameter Name is invalid. The empty string is an illegal attribute name"
        )
    if utf8_len(name) > MAX_NAME_BYTES:
        raise errors.invalid_parameter(
            f"Value ({name}) for parameter Name is invalid. Value exceeds maximum length of 1024."
        )


def _validate_value(value: str) -> None:
    if utf8_len(value) > MAX_NAME_BYTES:
        raise errors.invalid_parameter(
            f"Value ({value}) for parameter Value is invalid. Value exceeds maximum length of 1024."
        )


def validate_put(attributes: Sequence[PutAttribute]) -> None:
    if len(attributes) > MAX_ATTRIBUTES_PER_PUT:
        raise errors.number_submitted_attributes_exceeded()
    for name, value, _ in attributes:
        # A text of at most 256 characters is at most 1,024 UTF-8 bytes: only longer ones are measured.
        if len(name) > _SURELY_SHORT or not name:
            _validate_attribute_name(name)
        if len(value) > _SURELY_SHORT:
            _validate_value(value)


def validate_delete(attributes: Sequence[DeleteAttribute]) -> None:
    for attribute in attributes:
        _validate_attribute_name(attribute.name)
        if attribute.value is not None:
            _validate_value(attribute.value)


def validate_expected(expected: Expected | None) -> None:
    if expected is None:
        return
    _validate_attribute_name(expected.name)
    if expected.exists is False and expected.value is not None:
        raise errors.exists_and_expected_value()
    if expected.exists is not False and expected.value is None:
        raise errors.incomplete_expected_expression()


def check_expected(item: Item | None, expected: Expected | None) -> None:
    """The conditional check of PutAttributes/DeleteAttributes (Developer Guide, "Conditionally Putting")."""
    if expected is None:
        return
    values = item.values(expected.name) if item is not None else ()
    if expected.exists is False:
        if values:
            raise errors.conditional_check_failed_exists(expected.name)
        return
    assert expected.value is not None
    if not values:
        raise errors.attribute_does_not_exist(expected.name)
    if len(values) > 1:
        raise errors.multi_valued_attribute(expected.name)
    if values[0] != expected.value:
        raise errors.conditional_check_failed_value(expected.name, values[0], expected.value)


# --- item arithmetic -----------------------------------------------------------------------------


def apply_put(item_name: str, old: Item | None, attributes: Sequence[PutAttribute]) -> Item:
    """The item after a put: replaced names lose their stored values first, then every pair is added once."""
    current = old.editable() if old is not None else {}
    for name in {a.name for a in attributes if a.replace}:
        current.pop(name, None)
    for attribute in attributes:
        values = current.setdefault(attribute.name, [])
        if attribute.value not in values:
            values.append(attribute.value)
    new = Item(item_name, current)
    if new.pair_count > MAX_PAIRS_PER_ITEM:
        raise errors.number_item_attributes_exceeded()
    return new


def apply_delete(item_name: str, old: Item | None, attributes: Sequence[DeleteAttribute]) -> Item | None:
    """The item after a delete, or None once no pair is left (the item then no longer exists)."""
    if old is None or not attributes:
        return None
    current = old.editable()
    for attribute in attributes:
        if attribute.value is None:
            current.pop(attribute.name, None)
        elif attribute.value in current.get(attribute.name, ()):
            current[attribute.name].remove(attribute.value)
    new = Item(item_name, current)
    return new if new.pair_count else None


# --- tokens --------------------------------------------------------------------------------------


def encode_token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8", "surrogatepass")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise errors.invalid_next_token() from exc


# --- batches -------------------------------------------------------------------------------------


def validate_batch(items: Sequence[tuple[str, Sequence[Any]]], request_bytes: int) -> None:
    if len(items) > MAX_BATCH_ITEMS:
        raise errors.number_submitted_items_exceeded(MAX_BATCH_ITEMS)
    if request_bytes > MAX_BATCH_REQUEST_BYTES:
        raise errors.invalid_parameter(
            f"Value ({request_bytes}) for parameter RequestSize is invalid. "
            f"The batch request may not exceed {MAX_BATCH_REQUEST_BYTES} bytes."
        )
    seen: set[str] = set()
    for item_name, _ in items:
        validate_item_name(item_name)
        if item_name in seen:
            raise errors.duplicate_item_name(item_name)
        seen.add(item_name)
