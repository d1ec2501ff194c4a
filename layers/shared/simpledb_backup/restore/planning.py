"""Restore planning: compare a stream of dump items with a compact snapshot of the target domain.

Pure logic, no I/O. The target is held as one fingerprint per item rather than as items, so a plan of a
large domain fits in a Lambda's memory: a 16-byte digest of the item's canonical dump line (equal digests
mean equal items) followed by one 16-byte entry per attribute, an 8-byte hash of its name and an 8-byte hash
of its sorted values, which is enough to count attributes added, changed and removed. The dump is streamed
and never held.

Modes (the issue's wording):

* ``merge`` is Repoman's documented restore: every item and attribute of the dump is written over the
  target; items and attributes the dump does not have stay.
* ``exact``: afterwards the target holds exactly the dump; extra items and extra attributes are removed.

A subset (item names and/or attribute equality) narrows both sides. An item is in scope when its dump
version or its target version is selected: a target item that matches ``distribution = stable`` but whose
dump version says ``unstable`` is still brought back to the dump's version, and in exact mode a selected
target item that the dump lacks is deleted.

Verifying a restore is planning it again: the target matches the dump when nothing is left to create,
update or (exact mode) delete.
"""

import hashlib
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from simpledb_backup.formats.dumpformat import encode_item_line
from simpledb_backup.items import Item

Mode = Literal["merge", "exact"]

ITEM_DIGEST_BYTES = 16
ATTRIBUTE_HASH_BYTES = 8
_ENTRY_BYTES = 2 * ATTRIBUTE_HASH_BYTES
# One leading byte of every stored fingerprint says whether the target item itself is selected by the subset,
# and whether a comparison has taken it.
_SELECTED, _NOT_SELECTED = b"\x01", b"\x00"
_TAKEN = 0x02
_HEADER_BYTES = 1 + ITEM_DIGEST_BYTES


class ChangeKind(StrEnum):
    CREATE = "create"  # in the dump, not in the target
    UPDATE = "update"  # in both, attributes to add, change or (exact mode) remove
    UNCHANGED = "unchanged"  # in both, nothing to write
    DELETE = "delete"  # exact mode: in the target, not in the dump
    KEEP = "keep"  # merge mode: in the target, not in the dump; stays as it is


def _hash(data: bytes, size: int) -> bytes:
    return hashlib.blake2b(data, digest_size=size).digest()


def _attribute_entry(attribute: str, values: Sequence[str]) -> tuple[bytes, bytes]:
    values_hash = hashlib.blake2b(digest_size=ATTRIBUTE_HASH_BYTES)
    for value in values:
        encoded = value.encode("utf-8", "surrogatepass")
        # Length-prefixed, so no two different value lists hash the same input (values may hold any character).
        values_hash.update(len(encoded).to_bytes(4, "big"))
        values_hash.update(encoded)
    return _hash(attribute.encode("utf-8", "surrogatepass"), ATTRIBUTE_HASH_BYTES), values_hash.digest()


def item_digest(item: Item) -> bytes:
    """16 bytes that differ between any two different items (a digest of the canonical dump line)."""
    return _hash(encode_item_line(item), ITEM_DIGEST_BYTES)


def fingerprint(item: Item) -> bytes:
    """The item digest followed by one (name hash, values hash) entry per attribute, in sorted order."""
    entries = sorted(
        b"".join(_attribute_entry(attribute, values)) for attribute, values in item.attributes.items()
    )
    return item_digest(item) + b"".join(entries)


def _entries(stored: bytes) -> dict[bytes, bytes]:
    return {
        stored[start : start + ATTRIBUTE_HASH_BYTES]: stored[
            start + ATTRIBUTE_HASH_BYTES : start + _ENTRY_BYTES
        ]
        for start in range(_HEADER_BYTES, len(stored), _ENTRY_BYTES)
    }


@dataclass(frozen=True)
class Subset:
    """Which items a request covers: these item names only, and/or items with these attribute values."""

    item_names: frozenset[str] | None = None
    match: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, item_names: Iterable[str] | None = None, match: Mapping[str, str] | None = None) -> "Subset":
        return cls(
            frozenset(item_names) if item_names is not None else None,
            tuple(sorted((match or {}).items())),
        )

    @property
    def is_everything(self) -> bool:
        return self.item_names is None and not self.match

    def may_select(self, name: str) -> bool:
        """False when no version of an item of this name can be selected (it is not in ``item_names``)."""
        return self.item_names is None or name in self.item_names

    def selects(self, item: Item) -> bool:
        """An item matches when its name is listed (if names are given) and every ``match`` attribute has the
        given value among its values (SimpleDB attributes are multi-valued, as in Select's ``=``)."""
        if not self.may_select(item.name):
            return False
        return all(value in item.attributes.get(attribute, ()) for attribute, value in self.match)

    def describe(self) -> dict[str, Any] | None:
        if self.is_everything:
            return None
        described: dict[str, Any] = {}
        if self.item_names is not None:
            described["items"] = sorted(self.item_names)
        if self.match:
            described["match"] = dict(self.match)
        return described


class TargetSnapshot:
    """Fingerprints of the target's items that a subset can select; built page by page from a scan.

    ``compare`` marks each name it meets as taken, so what is left are the target items the dump lacks;
    ``rewind`` clears the marks, so the same snapshot serves a second comparison (a restore plans and then
    writes from one read of its target).
    """

    def __init__(self, subset: Subset, exists: bool = True) -> None:
        self.subset = subset
        self.exists = exists
        #: Every item the target holds, selected or not (a write into a non-empty domain needs ``confirm``).
        self.item_count = 0
        self._fingerprints: dict[str, bytes] = {}

    @classmethod
    def from_pages(cls, pages: Iterable[list[Item]], subset: Subset, exists: bool = True) -> "TargetSnapshot":
        snapshot = cls(subset, exists)
        for page in pages:
            snapshot.add(page)
        return snapshot

    def add(self, items: Iterable[Item]) -> None:
        for item in items:
            self.item_count += 1
            if self.subset.may_select(item.name):
                flag = _SELECTED if self.subset.selects(item) else _NOT_SELECTED
                self._fingerprints[item.name] = flag + fingerprint(item)

    def __len__(self) -> int:
        return len(self._fingerprints)

    def take(self, name: str) -> bytes | None:
        """The fingerprint of ``name``, marked as taken; None when the target lacks it or it was taken."""
        stored = self._fingerprints.get(name)
        if stored is None or stored[0] & _TAKEN:
            return None
        self._fingerprints[name] = bytes((stored[0] | _TAKEN,)) + stored[1:]
        return stored

    def leftover_selected(self) -> Iterator[str]:
        """Names not taken yet whose target item the subset selects, in sorted order."""
        for name in sorted(self._fingerprints):
            if self._fingerprints[name][:1] == _SELECTED:
                yield name

    def rewind(self) -> None:
        """Clear every mark a comparison left, for the next comparison against the same target."""
        for name, stored in self._fingerprints.items():
            if stored[0] & _TAKEN:
                self._fingerprints[name] = bytes((stored[0] & ~_TAKEN,)) + stored[1:]


@dataclass(frozen=True)
class Change:
    """What a restore does to one item."""

    kind: ChangeKind
    name: str
    #: The dump's item (None for DELETE and KEEP).
    item: Item | None = None
    #: Dump attributes the target lacks, and those whose values differ.
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    #: Target attributes the dump lacks; counted only in exact mode, where they are removed.
    removed: int = 0

    @property
    def needs_put(self) -> bool:
        """The dump's attributes must be written (BatchPutAttributes with Replace)."""
        return self.kind is ChangeKind.CREATE or bool(self.added or self.changed)

    @property
    def needs_attribute_removal(self) -> bool:
        return self.removed > 0


def _compare_item(item: Item, stored: bytes, mode: Mode) -> Change:
    if stored[1:_HEADER_BYTES] == item_digest(item):
        return Change(ChangeKind.UNCHANGED, item.name, item)
    target = _entries(stored)
    added: list[str] = []
    changed: list[str] = []
    dump_names: set[bytes] = set()
    for attribute, values in item.attributes.items():
        name_hash, values_hash = _attribute_entry(attribute, values)
        dump_names.add(name_hash)
        if name_hash not in target:
            added.append(attribute)
        elif target[name_hash] != values_hash:
            changed.append(attribute)
    removed = sum(name_hash not in dump_names for name_hash in target) if mode == "exact" else 0
    if not (added or changed or removed):
        # Merge mode: the target only has extra attributes, which merge leaves alone.
        return Change(ChangeKind.UNCHANGED, item.name, item)
    return Change(ChangeKind.UPDATE, item.name, item, tuple(added), tuple(changed), removed)


def compare(
    dump_items: Iterable[Item], snapshot: TargetSnapshot, mode: Mode, subset: Subset
) -> Generator[Change]:
    """One Change per item in scope: the dump's items in dump order, then the target items the dump lacks
    (DELETE in exact mode, KEEP in merge mode). Consumes ``snapshot``."""
    for item in dump_items:
        stored = snapshot.take(item.name)
        selected = subset.selects(item) or (stored is not None and stored[:1] == _SELECTED)
        if not selected:
            continue
        if stored is None:
            yield Change(ChangeKind.CREATE, item.name, item, added=tuple(item.attributes))
        else:
            yield _compare_item(item, stored, mode)
    leftover_kind = ChangeKind.DELETE if mode == "exact" else ChangeKind.KEEP
    for name in snapshot.leftover_selected():
        yield Change(leftover_kind, name)


#: The kinds whose samples say what a restore still has to write (verification reports these).
_WRITING_KINDS = (ChangeKind.CREATE, ChangeKind.UPDATE, ChangeKind.DELETE)


@dataclass
class PlanSummary:
    """Counts and a short sample of each kind of change; what ``plan`` returns and ``restore`` reports.

    The samples are the Changes themselves (the dump's item, where it has one): describing them in the
    domain's terms needs the target's version of some of them too, which the snapshot does not hold, so an
    adapter reads just those by name afterwards (``names_to_read``) and describe.py does the rest.
    """

    mode: Mode
    sample_size: int = 5
    counts: dict[ChangeKind, int] = field(default_factory=lambda: dict.fromkeys(ChangeKind, 0))
    attributes_added: int = 0
    attributes_changed: int = 0
    attributes_removed: int = 0
    #: Item writes the restore makes: puts (BatchPut with Replace), trims of extra attributes, deletes.
    items_to_put: int = 0
    items_to_trim: int = 0
    samples: dict[ChangeKind, list[Change]] = field(default_factory=lambda: {kind: [] for kind in ChangeKind})

    def add(self, change: Change) -> Change:
        self.counts[change.kind] += 1
        if change.kind is ChangeKind.UPDATE:
            self.attributes_added += len(change.added)
            self.attributes_changed += len(change.changed)
            self.attributes_removed += change.removed
        self.items_to_put += change.needs_put
        self.items_to_trim += change.needs_attribute_removal
        sample = self.samples[change.kind]
        if len(sample) < self.sample_size:
            sample.append(change)
        return change

    def track(self, changes: Iterable[Change]) -> Iterator[Change]:
        """Pass changes through while counting them."""
        for change in changes:
            yield self.add(change)

    @property
    def differences(self) -> int:
        """Items the target still has to receive to match the dump (zero after a verified restore)."""
        return sum(self.counts[kind] for kind in _WRITING_KINDS)

    @property
    def items_to_write(self) -> int:
        """Item writes to make: each put, trim and delete of one item counts once."""
        return self.items_to_put + self.items_to_trim + self.counts[ChangeKind.DELETE]

    def sample_names(self) -> list[str]:
        """Up to ``sample_size`` names of items still to create, update or delete."""
        names = [change.name for kind in _WRITING_KINDS for change in self.samples[kind]]
        return names[: self.sample_size]

    def names_by_kind(self) -> dict[str, list[str]]:
        """The sampled item names of every kind that has any."""
        return {
            kind.value: [change.name for change in sample] for kind, sample in self.samples.items() if sample
        }

    def names_to_read(self) -> list[str]:
        """Sampled items whose target version a description needs: the "before" of an update, and the items
        only the target has (delete, keep)."""
        kinds = (ChangeKind.UPDATE, ChangeKind.DELETE, ChangeKind.KEEP)
        return [change.name for kind in kinds for change in self.samples[kind]]

    def to_dict(self) -> dict[str, Any]:
        """Counts, attribute counts, item writes and the sampled names (the described samples come from
        describe.py)."""
        counts = {
            "create": self.counts[ChangeKind.CREATE],
            "update": self.counts[ChangeKind.UPDATE],
            "delete": self.counts[ChangeKind.DELETE],
            "unchanged": self.counts[ChangeKind.UNCHANGED],
        }
        if self.mode == "merge":
            counts["kept_not_in_dump"] = self.counts[ChangeKind.KEEP]
        attributes = {"added": self.attributes_added, "changed": self.attributes_changed}
        if self.mode == "exact":
            attributes["removed"] = self.attributes_removed
        return {
            "items": counts,
            "attributes": attributes,
            "writes": {
                "put": self.items_to_put,
                "trim": self.items_to_trim,
                "delete": self.counts[ChangeKind.DELETE],
                "total": self.items_to_write,
            },
            "sample_names": self.names_by_kind(),
        }


def plan_changes(
    dump_items: Iterable[Item], snapshot: TargetSnapshot, mode: Mode, subset: Subset, sample_size: int = 5
) -> PlanSummary:
    """Count what a restore would change, consuming both the dump stream and the snapshot."""
    summary = PlanSummary(mode, sample_size)
    for _ in summary.track(compare(dump_items, snapshot, mode, subset)):
        pass
    return summary
