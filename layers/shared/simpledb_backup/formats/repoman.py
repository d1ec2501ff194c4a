"""Repoman's SimpleDB item layout, and reading its backup file as a stream, as ``apt-repoman`` 1.0.7 writes them.

Repoman (https://github.com/memory/repoman, PyPI ``apt-repoman``) keeps an apt repository's metadata in one
SimpleDB domain. Everything here mirrors ``apt_repoman/repodb.py`` and ``apt_repoman/cli.py`` of the 1.0.7
release (docs/SOURCES.md quotes the lines):

* one ``meta`` item holds the repository configuration as multi-valued attributes: ``dists``, ``comps``,
  ``archs``, and the optional ``origin``, ``label``, ``topic_name`` and ``test_data`` (``Repodb._create_meta`` /
  ``_delete_meta``). The health check every command runs first (``cli.checkup``) leaves ``test_data`` at
  ``foo`` and blanks a configured ``origin`` to ``''``: ``rm_meta`` passes its ``test_data`` argument into
  ``_delete_meta``'s ``origin`` parameter by position. It also stores the ``all`` and ``source``
  architectures that ``Repodb.archs`` appends in memory;
* one item per package, named ``sha256(name + version + distribution + component + architecture)`` in hex
  (``Repodb._compute_keyname``), with the attributes ``name``, ``version``, ``distribution``, ``component``,
  ``architecture``, for a binary package also ``filename``, ``md5``, ``sha1``, ``sha256``, ``size``
  (``Repodb.add_package``), for a source package a multi-valued ``files`` (``Repodb.add_source``), and the
  control text in 256-character chunks ``controltxt<N>`` (``Repodb._split_control_text``);
* ``repoman-cli backup`` prints ``{"metadata": <meta, every value a list>, "packages": {name: {dist: {comp:
  {arch: [item, ...]}}}}}`` where a package attribute with one value is a string and one with several values
  a list; ``repoman-cli restore`` refuses a file whose keys are not exactly ``metadata`` and ``packages`` and
  writes every item under the key recomputed from its own attributes.

The restore function reads such a file from S3 as a stream (``items_from_repoman_stream``) in bounded memory:
the file, its JSON tokens and its nesting are capped (boundedio), and the duplicate check keeps 8 to 16 bytes
per item. Writing Repoman data (control text, package and meta items, backup documents) is local tooling:
local/repomanauthoring.py.
"""

import hashlib
from collections.abc import Callable, Iterator

from simpledb_backup.errors import DumpCorruptError, InvalidRequestError, LimitExceededError
from simpledb_backup.formats.boundedio import CappedReader, JsonEvents, Readable, event_budget, json_kind
from simpledb_backup.items import MAX_PAIRS_PER_ITEM, Item, SeenNames, make_item, validate_item

META_ITEM_NAME = "meta"
CONTROL_TEXT_PREFIX = "controltxt"
KEY_ATTRIBUTES = ("name", "version", "distribution", "component", "architecture")
#: The largest Repoman backup file a restore reads: about 100,000 packages as ``repoman-cli backup`` prints
#: them (2 to 3 KB each). It bounds the time of each pass over the file; memory does not grow with it.
MAX_REPOMAN_FILE_BYTES = 256 * 1024 * 1024
#: The most items a Repoman backup file may hold; it bounds the duplicate check's memory (16 MiB at most).
MAX_REPOMAN_ITEMS = 1_000_000
_MAX_ENTRY_EVENTS = 4 * MAX_PAIRS_PER_ITEM + 8  # a package entry: key, value, and list brackets per attribute


# --- item names -------------------------------------------------------------------------------------------


def repoman_item_name(name: str, version: str, distribution: str, component: str, architecture: str) -> str:
    """The item name Repoman gives a package: ``Repodb._compute_keyname``.

    Repoman encodes the concatenation as ASCII, so it never stored an item whose key fields are not ASCII.
    """
    joined = name + version + distribution + component + architecture
    try:
        encoded = joined.encode("ascii")
    except UnicodeEncodeError as error:
        raise InvalidRequestError(
            f"Repoman cannot name package {name[:80]!r} {version[:80]!r} ({distribution[:80]}/"
            f"{component[:80]}/{architecture[:80]}): it hashes these fields as ASCII"
        ) from error
    return hashlib.sha256(encoded).hexdigest()


def is_package_item(item: Item) -> bool:
    """True when the item carries all five attributes Repoman names a package item by."""
    return all(len(item.attributes.get(attribute, ())) == 1 for attribute in KEY_ATTRIBUTES)


# --- backup file ------------------------------------------------------------------------------------------


def _path(*parts: str | int) -> str:
    return "".join(f"[{part!r}]" if isinstance(part, int) else f"[{part[:80]!r}]" for part in parts)


class _BackupReader:
    """One pass over a backup file's JSON events, yielding items as their objects end."""

    def __init__(self, events: JsonEvents, key: str) -> None:
        self.events, self.key = events, key
        self.seen = SeenNames()

    def corrupt(self, message: str) -> DumpCorruptError:
        return DumpCorruptError(f"Repoman backup {self.key}: {message}")

    def expect(self, wanted: str, where: str, shape: str) -> None:
        event, _ = self.events.next()
        if event != wanted:
            raise self.corrupt(f"{where} must be {shape}, not {json_kind(event)}")

    def items(self) -> Iterator[Item]:
        self.expect("start_map", "the document", "a JSON object with the keys 'metadata' and 'packages'")
        found: list[str] = []
        while True:
            event, key = self.events.next()
            if event == "end_map":
                break
            if key not in ("metadata", "packages") or key in found:
                raise self.corrupt(
                    "the document must have exactly the keys 'metadata' and 'packages', once each "
                    f"(repoman-cli restore refuses anything else); it has {str(key)[:80]!r}"
                    + (" twice" if key in found else "")
                )
            found.append(key)
            if key == "metadata":
                yield self.checked(self.meta(), "'metadata'")
            else:
                yield from self.packages()
        if len(found) < 2:
            missing = "'metadata'" if "metadata" not in found else "'packages'"
            raise self.corrupt(
                "the document must have exactly the keys 'metadata' and 'packages' (repoman-cli restore refuses "
                f"anything else); it has no {missing}"
            )
        if self.events.next()[0] != "end":  # pragma: no cover - the parser refuses trailing data first
            raise self.corrupt("data after the document")

    def values(self, budget: Callable[[], None]) -> tuple[list[str], bool] | str:
        """An attribute's values and whether it was one string (Repoman writes one value as a string, several
        as a list), or what was found instead. Paths are formatted only for a refusal: this runs per value."""
        event, value = self.events.next()
        if event == "string":
            return [value], True
        if event != "start_array":
            return json_kind(event)
        values: list[str] = []
        while True:
            budget()
            event, value = self.events.next()
            if event == "end_array":
                return values, False
            if event != "string":
                return f"a list holding {json_kind(event)}"
            values.append(value)

    def attributes(self, where: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
        """The pairs of one object of attributes (its start already read), and its single-string attributes."""
        budget = event_budget(f"Repoman backup {self.key}", _MAX_ENTRY_EVENTS, where)
        pairs: list[tuple[str, str]] = []
        single: dict[str, str] = {}
        names: set[str] = set()
        while True:
            budget()
            event, attribute = self.events.next()
            if event == "end_map":
                return pairs, single
            if attribute in names:
                raise self.corrupt(f"{where} names attribute {attribute[:80]!r} twice")
            names.add(attribute)
            found = self.values(budget)
            if isinstance(found, str):
                raise self.corrupt(
                    f"{where}{_path(attribute)} must be a string or a list of strings, not {found}"
                )
            values, is_single = found
            if is_single:
                single[attribute] = values[0]
                pairs.append((attribute, values[0]))
            else:
                pairs += [(attribute, value) for value in values]
            if len(pairs) > MAX_PAIRS_PER_ITEM:
                raise self.corrupt(
                    f"{where} has more than {MAX_PAIRS_PER_ITEM} name/value pairs; SimpleDB allows "
                    f"{MAX_PAIRS_PER_ITEM} per item"
                )

    def meta(self) -> Item:
        self.expect("start_map", "'metadata'", "a JSON object of attribute names to values")
        pairs, _ = self.attributes("'metadata'")
        if not pairs:
            raise self.corrupt("'metadata' is empty; a Repoman repository always has dists, comps and archs")
        return make_item(META_ITEM_NAME, pairs)

    def packages(self) -> Iterator[Item]:
        """name → distribution → component → architecture → list of package entries."""
        self.expect("start_map", "'packages'", "a JSON object")
        for nest in self.nested((), 4):
            where = f"'packages'{_path(*nest)}"
            self.expect("start_array", where, "a list of package items")
            index = 0
            while True:
                event, _ = self.events.next()
                if event == "end_array":
                    break
                entry_path = f"{where}[{index}]"
                if event != "start_map":
                    raise self.corrupt(f"{entry_path} must be a JSON object, not {json_kind(event)}")
                yield self.checked(self.package(nest, entry_path), entry_path)
                index += 1

    def nested(self, keys: tuple[str, ...], levels: int) -> Iterator[tuple[str, ...]]:
        """The keys of ``levels`` nested objects (the first one's start already read), depth first."""
        while True:
            event, key = self.events.next()
            if event == "end_map":
                return
            path = (*keys, key)
            if levels == 1:
                yield path
                continue
            self.expect("start_map", f"'packages'{_path(*path)}", "a JSON object")
            yield from self.nested(path, levels - 1)

    def package(self, nest: tuple[str, ...], where: str) -> Item:
        pairs, single = self.attributes(where)
        for attribute in KEY_ATTRIBUTES:
            if attribute not in single:
                raise self.corrupt(
                    f"{where} needs {attribute!r} as a single string; Repoman names items by it"
                )
        for attribute, expected in zip(
            ("name", "distribution", "component", "architecture"), nest, strict=True
        ):
            if single[attribute] != expected:
                raise self.corrupt(
                    f"{where} has {attribute} {single[attribute][:80]!r} but is filed under {expected[:80]!r}"
                )
        try:
            item_name = repoman_item_name(*(single[attribute] for attribute in KEY_ATTRIBUTES))
        except InvalidRequestError as error:
            raise self.corrupt(f"{where}: {error}") from error
        return make_item(item_name, pairs)

    def checked(self, item: Item, where: str) -> Item:
        try:
            validate_item(item)
        except LimitExceededError as error:
            raise self.corrupt(f"{where}: {error}") from error
        if not self.seen.add(item.name):
            raise self.corrupt(
                f"{where} is item {item.name[:80]!r} a second time (the same name, version, distribution, "
                "component and architecture as an earlier entry)"
            )
        if self.seen.count > MAX_REPOMAN_ITEMS:
            raise self.corrupt(
                f"more than {MAX_REPOMAN_ITEMS:,} items, the most a Repoman backup file may hold here"
            )
        return item


_WHY_FILE_CAP = "the largest Repoman backup file this restore reads"


def check_repoman_file_size(key: str, size: int) -> None:
    """Refuse a file whose stored size (S3's content length) is over the cap, before a byte of it is fetched."""
    if size > MAX_REPOMAN_FILE_BYTES:
        raise DumpCorruptError(
            f"Repoman backup {key} is {size:,} bytes, larger than {MAX_REPOMAN_FILE_BYTES:,}, {_WHY_FILE_CAP}"
        )


def items_from_repoman_stream(stream: Readable, key: str) -> Iterator[Item]:
    """The items a ``repoman-cli restore`` of the backup file in ``stream`` writes, names recomputed.

    Items come as the file is read, ``meta`` when its object ends: a malformed file raises DumpCorruptError
    (naming ``key``, the JSON path and the rule or limit) at the point where it goes wrong, after the items
    before it. Callers that must not act on a bad file read it through once first (the restore plans first).
    The stream is refused once it passes MAX_REPOMAN_FILE_BYTES, whatever size it claimed.
    """
    capped = CappedReader(stream, f"Repoman backup {key}", MAX_REPOMAN_FILE_BYTES, _WHY_FILE_CAP)
    return _BackupReader(JsonEvents(capped, f"Repoman backup {key}"), key).items()
