"""The item model and SimpleDB's documented limits (SimpleDB Developer Guide, "Amazon SimpleDB Limits").

An item is a name plus a *set* of attribute name/value pairs: SimpleDB never stores the same pair twice, and a
name may carry several values. In memory an item's attributes are a dict of attribute name to a sorted tuple of
distinct values, which makes two items comparable with ``==`` and their dump lines canonical.
"""

import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from simpledb_backup.errors import InvalidRequestError, LimitExceededError

MAX_PAIRS_PER_ITEM = 256  # name/value pairs per item
MAX_NAME_BYTES = 1024  # attribute name, UTF-8 bytes
MAX_VALUE_BYTES = 1024  # attribute value, UTF-8 bytes
MAX_ITEM_NAME_BYTES = 1024  # item name, UTF-8 bytes
MAX_BATCH_ITEMS = 25  # items per BatchPutAttributes / BatchDeleteAttributes call
MAX_ATTRIBUTES_PER_PUT = 256  # attributes per PutAttributes call
MAX_BATCH_REQUEST_BYTES = 1024 * 1024  # BatchPutAttributes request size
MAX_SELECT_LIMIT = 2500  # items per Select page; pages are also capped at 1 MB of response
_DOMAIN_NAME = re.compile(r"[A-Za-z0-9_.\-]{3,255}")

Attributes = dict[str, tuple[str, ...]]


class Item(NamedTuple):
    name: str
    attributes: Attributes

    @property
    def pair_count(self) -> int:
        return sum(len(values) for values in self.attributes.values())


def make_item(name: str, pairs: Iterable[tuple[str, str]]) -> Item:
    """Build an item from name/value pairs, folding duplicates as SimpleDB does."""
    collected: dict[str, set[str]] = {}
    for attribute, value in pairs:
        collected.setdefault(attribute, set()).add(value)
    return Item(name, normalize_attributes(collected))


def normalize_attributes(attributes: Mapping[str, Iterable[str]]) -> Attributes:
    """Canonical form: attribute names sorted, each with its distinct values sorted; empty names dropped."""
    normalized: Attributes = {}
    for attribute in sorted(attributes):
        values = tuple(sorted(set(attributes[attribute])))
        if values:
            normalized[attribute] = values
    return normalized


def utf8_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def validate_domain_name(name: str) -> str:
    if not _DOMAIN_NAME.fullmatch(name):
        raise InvalidRequestError(
            f"invalid domain name {name!r}: SimpleDB domain names are 3 to 255 characters of a-z, A-Z, 0-9, "
            "'_', '-' and '.'"
        )
    return name


def validate_item(item: Item) -> None:
    """Raise LimitExceededError when the item could not be stored in SimpleDB as it is."""
    if not item.name or utf8_length(item.name) > MAX_ITEM_NAME_BYTES:
        raise LimitExceededError(f"item name {item.name[:80]!r} must be 1 to {MAX_ITEM_NAME_BYTES} bytes")
    if not item.attributes:
        raise LimitExceededError(f"item {item.name[:80]!r} has no attributes; SimpleDB cannot store it")
    if item.pair_count > MAX_PAIRS_PER_ITEM:
        raise LimitExceededError(
            f"item {item.name[:80]!r} has {item.pair_count} name/value pairs; SimpleDB allows {MAX_PAIRS_PER_ITEM}"
        )
    for attribute, values in item.attributes.items():
        if utf8_length(attribute) > MAX_NAME_BYTES:
            raise LimitExceededError(
                f"item {item.name[:80]!r}: attribute name {attribute[:80]!r} exceeds {MAX_NAME_BYTES} bytes"
            )
        for value in values:
            if utf8_length(value) > MAX_VALUE_BYTES:
                raise LimitExceededError(
                    f"item {item.name[:80]!r}: a value of {attribute[:80]!r} exceeds {MAX_VALUE_BYTES} bytes"
                )
