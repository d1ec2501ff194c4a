"""The item model and SimpleDB's documented limits (SimpleDB Developer Guide, "Amazon SimpleDB Limits").

An item is a name plus a *set* of attribute name/value pairs: SimpleDB never stores the same pair twice, and a
name may carry several values. In memory an item's attributes are a dict of attribute name to a sorted tuple of
distinct values, which makes two items comparable with ``==`` and their dump lines canonical.
"""

import re
from array import array
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from simpledb_backup.errors import InvalidRequestError, LimitExceededError

# SimpleDB Developer Guide, "Amazon SimpleDB Limits": "Attribute name-value pairs per item: 256", "Attribute
# name length: 1024 bytes", "Attribute value length: 1024 bytes", "Item name length: 1024 bytes".
MAX_PAIRS_PER_ITEM = 256  # name/value pairs per item
MAX_NAME_BYTES = 1024  # attribute name, UTF-8 bytes
MAX_VALUE_BYTES = 1024  # attribute value, UTF-8 bytes
MAX_ITEM_NAME_BYTES = 1024  # item name, UTF-8 bytes
MAX_BATCH_ITEMS = 25  # items per BatchPutAttributes / BatchDeleteAttributes call
MAX_ATTRIBUTES_PER_PUT = 256  # attributes per PutAttributes call
MAX_BATCH_REQUEST_BYTES = 1024 * 1024  # BatchPutAttributes request size
MAX_SELECT_LIMIT = 2500  # items per Select page; pages are also capped at 1 MB of response
_UINT64 = (1 << 64) - 1
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
    """The UTF-8 size of ``text``; raises UnicodeEncodeError for text UTF-8 cannot carry (a lone surrogate)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def validate_domain_name(name: str) -> str:
    if not _DOMAIN_NAME.fullmatch(name):
        raise InvalidRequestError(
            f"invalid domain name {_shown(name)}: SimpleDB domain names are 3 to 255 characters of a-z, A-Z, 0-9, "
            "'_', '-' and '.'"
        )
    return name


def _utf8_size(text: str) -> int | None:
    """UTF-8 size of a name or value, or None when UTF-8 cannot carry it.

    SimpleDB's API is UTF-8: names and values may hold "all UTF-8 characters that are valid in XML documents",
    and the characters XML forbids (control characters, U+FFFE...) are stored too and returned base64-encoded
    (Developer Guide, "Amazon SimpleDB Limits" and "Working with XML-Restricted Characters"). A lone surrogate
    (U+D800-U+DFFF outside a pair, which a JSON \\uD800 escape produces) has no UTF-8 form at all, so no
    request could carry it: the write would raise in the client, after earlier batches were sent.
    """
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _not_utf8(text: str, what: str) -> LimitExceededError:
    position = next(index for index, character in enumerate(text) if 0xD800 <= ord(character) <= 0xDFFF)
    return LimitExceededError(
        f"{what} holds a lone surrogate U+{ord(text[position]):04X} at character {position}: that is not "
        "text UTF-8 can encode, and SimpleDB stores only UTF-8 text"
    )


def _size_problem(size: int, limit: int) -> str:
    return "is empty" if size == 0 else f"exceeds {limit} bytes ({size:,} bytes)"


def _shown(text: str) -> str:
    """A name as an error message shows it: at most 80 characters, lone surrogates escaped by repr."""
    return repr(text[:80]) + ("…" if len(text) > 80 else "")


def validate_item(item: Item) -> None:
    """Raise LimitExceededError, naming the rule, when SimpleDB would refuse to store the item as it is.

    The rules are SimpleDB's own (Developer Guide, "Amazon SimpleDB Limits"): an item name of 1 to 1,024
    bytes, attribute names of 1 to 1,024 bytes (SimpleDB answers InvalidParameterValue for an empty one),
    values of 0 to 1,024 bytes (an empty value is stored: Repoman's own ``meta`` holds one), at most 256
    name/value pairs, and all of it UTF-8 text. An item with no pair at all does not exist in SimpleDB.
    Checking every item with this before the first write is what lets a restore refuse instead of failing
    half-way (SimpleDB would reject the batch holding the item, after earlier batches were written).
    Messages are built only on failure: this runs for every item a restore reads or writes.
    """
    name = item.name
    size = _utf8_size(name)
    if size is None:
        raise _not_utf8(name, f"item name {_shown(name)}")
    if not 1 <= size <= MAX_ITEM_NAME_BYTES:
        raise LimitExceededError(
            f"item name {_shown(name)} {_size_problem(size, MAX_ITEM_NAME_BYTES)}; SimpleDB item names are 1 to "
            f"{MAX_ITEM_NAME_BYTES} UTF-8 bytes"
        )
    if not item.attributes:
        raise LimitExceededError(f"item {_shown(name)} has no attributes; SimpleDB cannot store it")
    if item.pair_count > MAX_PAIRS_PER_ITEM:
        raise LimitExceededError(
            f"item {_shown(name)} has {item.pair_count} name/value pairs; SimpleDB allows {MAX_PAIRS_PER_ITEM}"
        )
    for attribute, values in item.attributes.items():
        size = _utf8_size(attribute)
        if size is None:
            raise _not_utf8(attribute, f"item {_shown(name)}: attribute name {_shown(attribute)}")
        if not 1 <= size <= MAX_NAME_BYTES:
            raise LimitExceededError(
                f"item {_shown(name)}: attribute name {_shown(attribute)} {_size_problem(size, MAX_NAME_BYTES)}; "
                f"SimpleDB attribute names are 1 to {MAX_NAME_BYTES} UTF-8 bytes"
            )
        for value in values:
            size = _utf8_size(value)
            if size is None or size > MAX_VALUE_BYTES:
                what = f"item {_shown(name)}: a value of attribute {_shown(attribute)}"
                if size is None:
                    raise _not_utf8(value, what)
                raise LimitExceededError(
                    f"{what} {_size_problem(size, MAX_VALUE_BYTES)}; SimpleDB values are at most "
                    f"{MAX_VALUE_BYTES} UTF-8 bytes"
                )


class SeenNames:
    """Remembers item names compactly, to find one that occurs twice in a source read in no order.

    Each name is kept as its 64-bit string hash (Python's SipHash, keyed per process) in an open-addressing table (an ``array`` of unsigned 64-bit
    integers, at most 3/4 full), so a million names take 16 MiB where a Python set of the names would take
    well over 100 MiB. Two different names share a hash with a chance of about n²/2⁶⁵ (below 10⁻⁷ for
    a million names); such a pair would be refused as a duplicate, never merged.
    """

    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * 1024))
        self._mask = len(self._slots) - 1
        self.count = 0

    def add(self, name: str) -> bool:
        """Remember ``name``; False when it (or a name with the same hash) was added before."""
        key = (hash(name) & _UINT64) or 1  # 0 marks an empty slot
        slots, mask = self._slots, self._mask
        slot = key & mask
        while True:
            stored = slots[slot]
            if stored == 0:
                break
            if stored == key:
                return False
            slot = (slot + 1) & mask
        slots[slot] = key
        self.count += 1
        if 4 * self.count > 3 * len(slots):
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("Q", bytes(16 * len(old)))
        self._mask = len(self._slots) - 1
        for key in old:
            if key:
                slot = key & self._mask
                while self._slots[slot]:
                    slot = (slot + 1) & self._mask
                self._slots[slot] = key
