"""Authoring Repoman data, as ``apt-repoman`` 1.0.7 writes it: for the demo, the tests, the benchmark and
``scripts/dump_to_repoman.py`` (local tooling, never deployed; the restore function only reads Repoman files,
with ``simpledb_backup.formats.repoman``).

Everything here mirrors ``apt_repoman/repodb.py`` and ``apt_repoman/cli.py`` of the 1.0.7 release
(docs/SOURCES.md quotes the lines): the control text Repoman stores for a package and its ``controltxt<N>``
chunks (``Repodb._split_control_text``), the item ``repoman-cli add`` stores (``Repodb.add_package``), the
``meta`` item (``Repodb._create_meta``), Debian version order (dpkg's, which ``repoman-cli backup`` sorts by)
and the document ``repoman-cli backup`` prints.
"""

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from email import message_from_string
from typing import NamedTuple, TypedDict

from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.formats.repoman import (
    CONTROL_TEXT_PREFIX,
    KEY_ATTRIBUTES,
    META_ITEM_NAME,
    is_package_item,
    repoman_item_name,
)
from simpledb_backup.items import Item, make_item

CONTROL_TEXT_CHUNK_CHARS = 256  # Repoman's max_elems: 256 characters are at most 1024 UTF-8 bytes

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
    comes out as RFC 2047 encoded words (``=?utf-8?...?=``). tests/unit/formats/test_repoman.py checks it against
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
    """The ``meta`` item ``repoman-cli setup`` stores (``Repodb._create_meta``): every value as given.

    A repository that ``repoman-cli`` has run any command against since holds something else: see
    ``meta_after_checkup``.
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


CHECKUP_TEST_DATA = "foo"


def meta_after_checkup(meta: Item) -> Item:
    """``meta`` as Repoman's health check leaves it; the check runs before every command unless skipped.

    ``cli.checkup`` reads ``repodb.archs``, which appends ``all`` and ``source`` to the loaded list in place,
    then calls ``add_meta(test_data='foo')``, which writes the whole meta back (``_create_meta``: test_data
    ``'foo'``, and the leaked architectures), then ``rm_meta(test_data=True)``. In 1.0.6 and 1.0.7
    ``rm_meta(self, archs, dists, comps, topic_name, test_data)`` calls ``self._delete_meta(dists, comps,
    archs, topic_name, test_data)`` while ``_delete_meta`` takes ``(dists, comps, archs, topic_name, origin,
    label, test_data)``: the ``True`` lands in ``origin``. So ``test_data`` keeps ``'foo'``, and an ``origin``
    the repository had is blanked to ``''`` (Repoman then logs "Repository DB has no origins configured").
    """
    attributes = dict(meta.attributes)
    archs = list(attributes.get("archs", ()))
    archs += [arch for arch in ("all", "source") if arch not in archs]
    attributes["archs"] = tuple(archs)
    attributes["test_data"] = (CHECKUP_TEST_DATA,)
    if "origin" in attributes:
        attributes["origin"] = ("",)
    return make_item(meta.name, ((name, value) for name, values in attributes.items() for value in values))


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
