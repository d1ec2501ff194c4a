"""Repoman's SimpleDB item layout and its backup file, as ``apt-repoman`` 1.0.7 writes them.

Repoman (https://github.com/memory/repoman, PyPI ``apt-repoman``) keeps an apt repository's metadata in one
SimpleDB domain. Everything here mirrors ``apt_repoman/repodb.py`` and ``apt_repoman/cli.py`` of the 1.0.7
release (docs/SOURCES.md quotes the lines):

* one ``meta`` item holds the repository configuration as multi-valued attributes: ``dists``, ``comps``,
  ``archs``, and the optional single values ``origin``, ``label``, ``topic_name`` and ``test_data``
  (``Repodb._create_meta`` / ``_delete_meta``);
* one item per package, named ``sha256(name + version + distribution + component + architecture)`` in hex
  (``Repodb._compute_keyname``), with the attributes ``name``, ``version``, ``distribution``, ``component``,
  ``architecture``, for a binary package also ``filename``, ``md5``, ``sha1``, ``sha256``, ``size``
  (``Repodb.add_package``), for a source package a multi-valued ``files`` (``Repodb.add_source``), and the
  control text in 256-character chunks ``controltxt<N>`` (``Repodb._split_control_text``);
* ``repoman-cli backup`` prints ``{"metadata": <meta, every value a list>, "packages": {name: {dist: {comp:
  {arch: [item, ...]}}}}}`` where a package attribute with one value is a string and one with several values
  a list, and each list of items is in Debian version order; ``repoman-cli restore`` refuses a file whose
  keys are not exactly ``metadata`` and ``packages`` and writes every item under the key recomputed from its
  own attributes.

This module is pure: no I/O, so the restore function and the local tools share it.
"""

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from email import message_from_string
from typing import NamedTuple, TypedDict

from simpledb_backup.errors import DumpCorruptError, InvalidRequestError
from simpledb_backup.items import Item, make_item

META_ITEM_NAME = "meta"
CONTROL_TEXT_PREFIX = "controltxt"
CONTROL_TEXT_CHUNK_CHARS = 256  # Repoman's max_elems: 256 characters are at most 1024 UTF-8 bytes
KEY_ATTRIBUTES = ("name", "version", "distribution", "component", "architecture")
# Fields of a Packages index stanza that are not part of a .deb's control file: Repoman stores them as the
# filename/md5/sha1/sha256/size attributes and writes them back in front of the control text when it
# publishes (Repodb._create_pkg_msg_from_item), so they must not also be inside the control text.
INDEX_FIELD_ATTRIBUTES = {
    "Filename": "filename",
    "MD5sum": "md5",
    "SHA1": "sha1",
    "SHA256": "sha256",
    "Size": "size",
}
_INDEX_FIELDS = {field.lower() for field in INDEX_FIELD_ATTRIBUTES}  # field names are case-insensitive
_CONTROL_TEXT_ATTRIBUTE = re.compile(rf"{CONTROL_TEXT_PREFIX}(\d+)")
_FIELD_LINE = re.compile(r"([^\s:][^:]*):(.*)")
# A field line "Name: value" or a continuation " value", with no blank at the end of the line.
_SAFE_CONTROL_LINE = re.compile(r"[!-9;-~]+: [!-~](?:[ -~]*[!-~])?| [ -~]*[!-~]")

AttributeValue = str | list[str]
PackageEntry = dict[str, AttributeValue]
PackageTree = dict[str, dict[str, dict[str, dict[str, list[PackageEntry]]]]]


class RepomanBackup(TypedDict):
    """The document ``repoman-cli backup`` prints and ``repoman-cli restore`` reads."""

    metadata: dict[str, list[str]]
    packages: PackageTree


class PackageFile(NamedTuple):
    """What Repoman records about the .deb file itself (pydpkg's ``fileinfo``)."""

    filename: str  # base name only: Repoman stores os.path.basename(pkg.filename)
    size: int
    md5: str
    sha1: str
    sha256: str


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
            f"Repoman cannot name package {name!r} {version!r} ({distribution}/{component}/{architecture}): "
            "it hashes these fields as ASCII"
        ) from error
    return hashlib.sha256(encoded).hexdigest()


# --- control text -----------------------------------------------------------------------------------------


def split_control_text(text: str) -> dict[str, str]:
    """Split control text into Repoman's ``controltxt<N>`` attributes (``Repodb._split_control_text``).

    Chunks are 256 characters. ``N`` is zero-padded to the width of the chunk count, so 1 to 9 chunks are
    ``controltxt0``..``controltxt8`` and 10 to 99 are ``controltxt00``..; name order is then chunk order.
    """
    chunks = [
        text[start : start + CONTROL_TEXT_CHUNK_CHARS]
        for start in range(0, len(text), CONTROL_TEXT_CHUNK_CHARS)
    ]
    width = len(str(len(chunks)))
    return {f"{CONTROL_TEXT_PREFIX}{index:0{width}d}": chunk for index, chunk in enumerate(chunks)}


def join_control_text(attributes: Mapping[str, Sequence[str]]) -> str:
    """Reassemble the control text from an item's ``controltxt<N>`` attributes, in chunk order."""
    chunks: list[tuple[int, str]] = []
    for attribute, values in attributes.items():
        match = _CONTROL_TEXT_ATTRIBUTE.fullmatch(attribute)
        if match is None:
            continue
        if len(values) != 1:
            raise InvalidRequestError(
                f"control text chunk {attribute!r} has {len(values)} values; Repoman writes one"
            )
        chunks.append((int(match.group(1)), values[0]))
    return "".join(chunk for _, chunk in sorted(chunks))


def parse_control_fields(text: str) -> list[tuple[str, str]]:
    """Fields of one deb822 stanza as (name, value) pairs, continuation lines kept in the value."""
    fields: list[tuple[str, str]] = []
    for line in text.strip("\n").split("\n"):
        if line[:1] in (" ", "\t"):
            if not fields:
                raise InvalidRequestError("control text starts with a continuation line")
            field, value = fields[-1]
            fields[-1] = (field, f"{value}\n{line}")
            continue
        match = _FIELD_LINE.fullmatch(line)
        if match is None:
            raise InvalidRequestError(
                f"control text line {line[:80]!r} is neither 'Field: value' nor a continuation"
            )
        fields.append((match.group(1), match.group(2).lstrip(" \t")))  # as the email parser does
    return fields


def _email_round_trip(text: str) -> str:
    # What pydpkg 1.3.3 does to a control file and Repoman stores (see repoman_control_text).
    message = message_from_string(text)
    header_names = message.keys()  # a copy: the loop rewrites the headers it walks
    for header in header_names:
        message.replace_header(header, message[header])
    return message.as_string()


@functools.lru_cache(maxsize=4096)
def _stored_field(field: str, value: str) -> str:
    """One field as the email round trip writes it. The round trip folds each header on its own, so a
    field's text does not depend on the others; plain ASCII fields come out unchanged, and only the rest
    (a few percent of Debian's packages) pay for the email package."""
    line = f"{field}: {value}\n"
    if all(_SAFE_CONTROL_LINE.fullmatch(part) for part in line[:-1].split("\n")):
        return line
    return _email_round_trip(line)[:-1]


def repoman_control_text(control_file: str) -> str:
    """The control text Repoman stores for a .deb whose control file is ``control_file``.

    pydpkg 1.3.3 (Repoman's pinned dependency) parses the control file with ``email.message_from_string``,
    re-sets every header, and Repoman stores ``message.as_string()``. This gives the same text, including
    the round trip's quirks under Python 3: a blank line is appended, and a field with non-ASCII characters
    comes out as RFC 2047 encoded words (``=?utf-8?...?=``). tests/unit/test_repoman.py checks it against
    the plain round trip.
    """
    try:
        fields = parse_control_fields(control_file)
    except InvalidRequestError:
        return _email_round_trip(
            control_file
        )  # not a clean stanza: let the email parser decide, as pydpkg did
    return "".join(_stored_field(field, value) for field, value in fields) + "\n"


# --- items ------------------------------------------------------------------------------------------------


def package_item(
    control_text: str, distribution: str, component: str, package_file: PackageFile | None = None
) -> Item:
    """The item ``repoman-cli add`` stores for one binary package in one distribution and component.

    ``control_text`` is a .deb control file or a Packages index stanza. A stanza's Filename/Size/MD5sum/SHA1/
    SHA256 fields become the file attributes and are left out of the stored control text, as they are not
    in a .deb's control file; ``package_file`` overrides them. Attributes with no known value are omitted
    (Debian's bookworm index, for one, no longer carries SHA1).
    """
    fields = parse_control_fields(control_text)
    values = {field.lower(): value for field, value in reversed(fields)}  # first occurrence wins, as in email
    missing = [field for field in ("package", "version", "architecture") if not values.get(field)]
    if missing:
        raise InvalidRequestError(
            f"control text lacks {', '.join(missing)}: Repoman needs them to name the item"
        )
    name, version, architecture = values["package"], values["version"], values["architecture"]

    attributes: dict[str, str] = {
        "name": name,
        "version": version,
        "distribution": distribution,
        "component": component,
        "architecture": architecture,
    }
    for field, attribute in INDEX_FIELD_ATTRIBUTES.items():
        if field.lower() in values:
            attributes[attribute] = values[field.lower()]
    if "filename" in attributes:
        attributes["filename"] = attributes["filename"].rsplit("/", 1)[-1]
    if package_file is not None:
        attributes.update(
            filename=package_file.filename,
            size=str(package_file.size),
            md5=package_file.md5,
            sha1=package_file.sha1,
            sha256=package_file.sha256,
        )

    stored_text = "".join(
        _stored_field(field, value) for field, value in fields if field.lower() not in _INDEX_FIELDS
    )
    attributes.update(split_control_text(stored_text + "\n"))
    item_name = repoman_item_name(name, version, distribution, component, architecture)
    return make_item(item_name, attributes.items())


def meta_item(
    dists: Iterable[str],
    comps: Iterable[str],
    archs: Iterable[str],
    *,
    origin: str | None = None,
    label: str | None = None,
    topic_name: str | None = None,
    test_data: str | None = None,
) -> Item:
    """The ``meta`` item holding a Repoman repository's configuration (``Repodb._create_meta``).

    Pass ``test_data=""`` for a repository that ``repoman-cli`` has run against since setup: every command's
    health check writes ``test_data`` and then blanks it, leaving an empty value behind (``cli.checkup``).
    The same check lets the ``all`` and ``source`` pseudo-architectures that ``Repodb.archs`` appends in
    memory leak into the stored ``archs``; include them in ``archs`` to model such a repository.
    """
    pairs = [("dists", value) for value in dists]
    pairs += [("comps", value) for value in comps]
    pairs += [("archs", value) for value in archs]
    for attribute in ("dists", "comps", "archs"):
        if not any(pair[0] == attribute for pair in pairs):
            raise InvalidRequestError(f"a Repoman repository needs at least one value in {attribute!r}")
    optional = {"origin": origin, "label": label, "topic_name": topic_name, "test_data": test_data}
    pairs += [(attribute, value) for attribute, value in optional.items() if value is not None]
    return make_item(META_ITEM_NAME, pairs)


def is_package_item(item: Item) -> bool:
    """True when the item carries all five attributes Repoman names a package item by."""
    return all(len(item.attributes.get(attribute, ())) == 1 for attribute in KEY_ATTRIBUTES)


# --- Debian version order ---------------------------------------------------------------------------------


def _character_order(character: str) -> int:
    # dpkg's order(): '~' sorts before everything, even the end of the string; letters before other symbols.
    if character == "~":
        return -1
    if character.isdigit():
        return 0
    if character.isascii() and character.isalpha():
        return ord(character)
    return ord(character) + 256


def _compare_version_part(left: str, right: str) -> int:
    """dpkg's verrevcmp(): alternate non-digit runs (by _character_order) and digit runs (numerically)."""
    left_index = right_index = 0
    while left_index < len(left) or right_index < len(right):
        first_difference = 0
        while (left_index < len(left) and not left[left_index].isdigit()) or (
            right_index < len(right) and not right[right_index].isdigit()
        ):
            left_order = _character_order(left[left_index]) if left_index < len(left) else 0
            right_order = _character_order(right[right_index]) if right_index < len(right) else 0
            if left_order != right_order:
                return left_order - right_order
            left_index += 1
            right_index += 1
        while left_index < len(left) and left[left_index] == "0":
            left_index += 1
        while right_index < len(right) and right[right_index] == "0":
            right_index += 1
        while (
            left_index < len(left)
            and left[left_index].isdigit()
            and right_index < len(right)
            and right[right_index].isdigit()
        ):
            if not first_difference:
                first_difference = ord(left[left_index]) - ord(right[right_index])
            left_index += 1
            right_index += 1
        if left_index < len(left) and left[left_index].isdigit():
            return 1
        if right_index < len(right) and right[right_index].isdigit():
            return -1
        if first_difference:
            return first_difference
    return 0


def _split_version(version: str) -> tuple[int, str, str]:
    epoch_text, colon, rest = version.partition(":")
    if not colon:
        epoch_text, rest = "0", version
    epoch = int(epoch_text) if epoch_text.isdigit() else 0
    upstream, hyphen, revision = rest.rpartition("-")
    if not hyphen:
        upstream, revision = rest, "0"
    return epoch, upstream, revision


def compare_debian_versions(left: str, right: str) -> int:
    """Negative, zero or positive as ``left`` sorts before, with or after ``right`` in Debian order."""
    left_epoch, left_upstream, left_revision = _split_version(left)
    right_epoch, right_upstream, right_revision = _split_version(right)
    if left_epoch != right_epoch:
        return left_epoch - right_epoch
    return _compare_version_part(left_upstream, right_upstream) or _compare_version_part(
        left_revision, right_revision
    )


debian_version_key = functools.cmp_to_key(compare_debian_versions)


# --- backup file ------------------------------------------------------------------------------------------


def _path(*parts: str | int) -> str:
    return "".join(f"[{part!r}]" for part in parts)


def _expect_mapping(value: object, where: str) -> Mapping[object, object]:
    if not isinstance(value, Mapping):
        raise DumpCorruptError(f"Repoman backup: {where} must be a JSON object, not {type(value).__name__}")
    return value


def _attribute_values(value: object, where: str) -> list[str]:
    """A backup value as a list: Repoman writes a single value as a string and several as a list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(element, str) for element in value):
        return [element for element in value if isinstance(element, str)]
    raise DumpCorruptError(
        f"Repoman backup: {where} must be a string or a list of strings, not {type(value).__name__}"
    )


def _meta_from_document(metadata: object) -> Item:
    pairs: list[tuple[str, str]] = []
    for attribute, value in _expect_mapping(metadata, "'metadata'").items():
        if not isinstance(attribute, str):
            raise DumpCorruptError(
                f"Repoman backup: 'metadata' has a non-string attribute name {attribute!r}"
            )
        pairs += [
            (attribute, element) for element in _attribute_values(value, f"'metadata'{_path(attribute)}")
        ]
    if not pairs:
        raise DumpCorruptError(
            "Repoman backup: 'metadata' is empty; a Repoman repository always has dists, comps and archs"
        )
    return make_item(META_ITEM_NAME, pairs)


def _package_from_entry(entry: object, nest: tuple[str, str, str, str], where: str) -> Item:
    mapping = _expect_mapping(entry, where)
    pairs: list[tuple[str, str]] = []
    single: dict[str, str] = {}
    for attribute, value in mapping.items():
        if not isinstance(attribute, str):
            raise DumpCorruptError(f"Repoman backup: {where} has a non-string attribute name {attribute!r}")
        values = _attribute_values(value, f"{where}{_path(attribute)}")
        if isinstance(value, str):
            single[attribute] = value
        pairs += [(attribute, element) for element in values]
    for attribute in KEY_ATTRIBUTES:
        if attribute not in single:
            raise DumpCorruptError(
                f"Repoman backup: {where} needs {attribute!r} as a single string; Repoman names items by it"
            )
    for attribute, expected in zip(("name", "distribution", "component", "architecture"), nest, strict=True):
        if single[attribute] != expected:
            raise DumpCorruptError(
                f"Repoman backup: {where} has {attribute} {single[attribute]!r} but is filed under {expected!r}"
            )
    try:
        item_name = repoman_item_name(*(single[attribute] for attribute in KEY_ATTRIBUTES))
    except InvalidRequestError as error:
        raise DumpCorruptError(f"Repoman backup: {where}: {error}") from error
    return make_item(item_name, pairs)


def _convert_backup(document: Mapping[str, object]) -> Iterator[Item]:
    yield _meta_from_document(document["metadata"])
    seen: dict[str, str] = {}
    packages = _expect_mapping(document["packages"], "'packages'")
    for name, dists in packages.items():
        for dist, comps in _expect_mapping(dists, f"'packages'{_path(str(name))}").items():
            for comp, archs in _expect_mapping(comps, f"'packages'{_path(str(name), str(dist))}").items():
                arch_path = f"'packages'{_path(str(name), str(dist), str(comp))}"
                for arch, entries in _expect_mapping(archs, arch_path).items():
                    where = f"'packages'{_path(str(name), str(dist), str(comp), str(arch))}"
                    if not isinstance(entries, list):
                        raise DumpCorruptError(f"Repoman backup: {where} must be a list of package items")
                    for index, entry in enumerate(entries):
                        entry_path = f"{where}[{index}]"
                        nest = (str(name), str(dist), str(comp), str(arch))
                        item = _package_from_entry(entry, nest, entry_path)
                        if item.name in seen:
                            raise DumpCorruptError(
                                f"Repoman backup: {entry_path} is the same package as {seen[item.name]} "
                                f"(item {item.name})"
                            )
                        seen[item.name] = entry_path
                        yield item


def items_from_repoman_backup(document: Mapping[str, object]) -> Iterator[Item]:
    """The items a ``repoman-cli restore`` of ``document`` writes, ``meta`` first; names are recomputed.

    The whole document is checked before this returns, so a malformed file raises DumpCorruptError here,
    before any item reaches a domain.
    """
    if not isinstance(document, Mapping):
        raise DumpCorruptError(
            f"Repoman backup: the document must be a JSON object, not {type(document).__name__}"
        )
    keys = sorted(str(key) for key in document)
    if keys != ["metadata", "packages"]:
        raise DumpCorruptError(
            f"Repoman backup: the document must have exactly the keys 'metadata' and 'packages' "
            f"(repoman-cli restore refuses anything else); it has {keys}"
        )
    for _ in _convert_backup(document):
        pass  # a full checking pass first: the second pass below is what the caller consumes
    return _convert_backup(document)


def _entry_from_item(item: Item) -> PackageEntry:
    return {
        attribute: values[0] if len(values) == 1 else list(values)
        for attribute, values in item.attributes.items()
    }


def repoman_backup_from_items(items: Iterable[Item]) -> RepomanBackup:
    """The backup document ``repoman-cli backup`` would print for a domain holding ``items``.

    Every item must be the ``meta`` item or a package item (all of name, version, distribution, component
    and architecture single-valued); anything else means the domain is not a Repoman domain and raises
    InvalidRequestError. ``repoman-cli restore`` writes each package under the name recomputed from these
    attributes, which is the item's own name for every item Repoman wrote.
    """
    metadata: dict[str, list[str]] | None = None
    packages: dict[str, dict[str, dict[str, dict[str, list[PackageEntry]]]]] = {}
    for item in items:
        if item.name == META_ITEM_NAME:
            metadata = {attribute: list(values) for attribute, values in item.attributes.items()}
            continue
        if not is_package_item(item):
            missing = [
                attribute for attribute in KEY_ATTRIBUTES if len(item.attributes.get(attribute, ())) != 1
            ]
            raise InvalidRequestError(
                f"item {item.name[:80]!r} is not a Repoman package: {', '.join(missing)} missing or multi-valued"
            )
        name, _, dist, comp, arch = (item.attributes[attribute][0] for attribute in KEY_ATTRIBUTES)
        packages.setdefault(name, {}).setdefault(dist, {}).setdefault(comp, {}).setdefault(arch, []).append(
            _entry_from_item(item)
        )
    if metadata is None:
        raise InvalidRequestError(
            "no 'meta' item: without its configuration this is not a Repoman domain, and repoman-cli restore "
            "would leave the repository unusable"
        )

    ordered: PackageTree = {}
    for name in sorted(packages):
        for dist in sorted(packages[name]):
            for comp in sorted(packages[name][dist]):
                for arch in sorted(packages[name][dist][comp]):
                    entries = sorted(
                        packages[name][dist][comp][arch],
                        key=lambda entry: debian_version_key(str(entry["version"])),
                    )
                    ordered.setdefault(name, {}).setdefault(dist, {}).setdefault(comp, {})[arch] = entries
    return {"metadata": metadata, "packages": ordered}
