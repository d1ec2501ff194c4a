"""Repoman's item layout and backup file (simpledb_backup.formats.repoman, and the authoring side in
local/repomanauthoring.py) against apt-repoman 1.0.7's behaviour."""

import base64
import functools
import hashlib
import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import repomanauthoring
from repomanauthoring import (
    compare_debian_versions,
    join_control_text,
    meta_after_checkup,
    meta_item,
    package_item,
    repoman_backup_from_items,
    repoman_control_text,
    split_control_text,
)
from simpledb_backup.errors import DumpCorruptError, InvalidRequestError
from simpledb_backup.formats import repoman
from simpledb_backup.formats.dumpformat import DumpEncoder, DumpHeader
from simpledb_backup.formats.repoman import (
    MAX_REPOMAN_FILE_BYTES,
    check_repoman_file_size,
    items_from_repoman_stream,
    repoman_item_name,
)
from simpledb_backup.items import MAX_VALUE_BYTES, Item, make_item, utf8_length, validate_item

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "debian" / "Packages"


@functools.cache
def fixture_stanzas() -> list[str]:
    return [stanza for stanza in FIXTURE.read_text(encoding="utf-8").split("\n\n") if stanza.strip()]


def stanza_of(package: str) -> str:
    return next(stanza for stanza in fixture_stanzas() if stanza.startswith(f"Package: {package}\n"))


# --- item names -------------------------------------------------------------------------------------------


def test_item_name_is_sha256_of_the_concatenated_key_fields() -> None:
    # Repodb._compute_keyname: sha256((name + version + dist + comp + arch).encode('ascii')).hexdigest()
    assert repoman_item_name("0ad", "0.0.26-3", "bookworm", "main", "amd64") == (
        "c305dc9e65e01e9a18a8151698e381bdbda2271f5382eb893aaca900c50b9242"
    )
    assert (
        repoman_item_name("0ad", "0.0.26-3", "bookworm", "main", "amd64")
        == hashlib.sha256(b"0ad0.0.26-3bookwormmainamd64").hexdigest()
    )


def test_item_name_refuses_what_repoman_could_not_hash() -> None:
    with pytest.raises(InvalidRequestError, match="ASCII"):
        repoman_item_name("paquet", "1.0", "bücherwurm", "main", "amd64")


# --- control text -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "names"),
    [
        (0, []),
        (1, ["controltxt0"]),
        (256, ["controltxt0"]),
        (257, ["controltxt0", "controltxt1"]),
        (9 * 256, [f"controltxt{index}" for index in range(9)]),
        (9 * 256 + 1, [f"controltxt{index:02d}" for index in range(10)]),
        (100 * 256, [f"controltxt{index:03d}" for index in range(100)]),
    ],
)
def test_chunk_names_are_padded_to_the_width_of_the_chunk_count(length: int, names: list[str]) -> None:
    # Repodb._split_control_text: padding = len(str(len(frags))); 'controltxt%s' % str(count).zfill(padding)
    chunks = split_control_text("x" * length)
    assert list(chunks) == names
    assert all(len(chunk) == 256 for chunk in list(chunks.values())[:-1])


@given(st.text(max_size=3000))
def test_chunks_reassemble_to_the_text_and_fit_simpledb_values(text: str) -> None:
    chunks = split_control_text(text)
    assert join_control_text({name: (value,) for name, value in chunks.items()}) == text
    assert all(len(chunk) <= 256 and utf8_length(chunk) <= MAX_VALUE_BYTES for chunk in chunks.values())
    assert sorted(chunks) == list(chunks)  # Repoman's publish reassembles in name order


def test_join_ignores_other_attributes_and_refuses_multi_valued_chunks() -> None:
    assert join_control_text({"name": ("x",), "controltxt1": ("b",), "controltxt0": ("a",)}) == "ab"
    with pytest.raises(InvalidRequestError, match="controltxt0"):
        join_control_text({"controltxt0": ("a", "b")})


def test_control_text_of_every_fixture_stanza_matches_the_email_round_trip() -> None:
    for stanza in fixture_stanzas():
        assert repoman_control_text(stanza + "\n") == repomanauthoring._email_round_trip(stanza + "\n")


def test_non_ascii_fields_are_stored_as_encoded_words_like_repoman_on_python3() -> None:
    text = repoman_control_text("Package: x\nMaintainer: Jörg Müller <j@example.org>\n")
    encoded = base64.b64encode("Jörg Müller <j@example.org>".encode()).decode()
    assert text == f"Package: x\nMaintainer: =?utf-8?b?{encoded}?=\n\n"


field_names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"),
    min_size=1,
    max_size=12,
)
field_lines = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(" \t"),
    max_size=90,
)


@given(
    st.lists(st.tuples(field_names, st.lists(field_lines, min_size=1, max_size=3)), min_size=1, max_size=6)
)
def test_control_text_matches_the_email_round_trip(fields: list[tuple[str, list[str]]]) -> None:
    text = "".join(
        f"{name}: {lines[0]}\n" + "".join(f" {line}\n" for line in lines[1:]) for name, lines in fields
    )
    assert repoman_control_text(text) == repomanauthoring._email_round_trip(text)


# --- package and meta items -------------------------------------------------------------------------------


def test_package_item_has_the_attributes_repoman_add_stores() -> None:
    stanza = stanza_of("0ad")
    item = package_item(stanza, "bookworm", "main")
    assert item.name == repoman_item_name("0ad", "0.0.26-3", "bookworm", "main", "amd64")
    assert {
        name: values for name, values in item.attributes.items() if not name.startswith("controltxt")
    } == {
        "architecture": ("amd64",),
        "component": ("main",),
        "distribution": ("bookworm",),
        "filename": ("0ad_0.0.26-3_amd64.deb",),
        "md5": ("4d471183a39a3a11d00cd35bf9f6803d",),
        "name": ("0ad",),
        "sha256": ("3a2118df47bf3f04285649f0455c2fc6fe2dc7f0b237073038aa00af41f0d5f2",),
        "size": ("7891488",),
        "version": ("0.0.26-3",),
    }
    control_text = join_control_text(item.attributes)
    # The index-only fields become attributes; everything else is the control text, as stored by Repoman.
    expected_lines = [
        line
        for line in stanza.split("\n")
        if line.split(":")[0] not in repomanauthoring.INDEX_FIELD_ATTRIBUTES
    ]
    assert control_text == "\n".join(expected_lines) + "\n\n"


def test_package_file_overrides_the_index_fields() -> None:
    package_file = repomanauthoring.PackageFile("x_1_amd64.deb", 12, "a" * 32, "b" * 40, "c" * 64)
    item = package_item(
        "Package: x\nVersion: 1\nArchitecture: amd64\nSize: 99\n", "sid", "main", package_file
    )
    assert item.attributes["size"] == ("12",)
    assert item.attributes["sha1"] == ("b" * 40,)
    assert join_control_text(item.attributes) == "Package: x\nVersion: 1\nArchitecture: amd64\n\n"


def test_every_fixture_package_fits_simpledb_and_spans_several_chunks() -> None:
    items = [package_item(stanza, "bookworm", "main") for stanza in fixture_stanzas()]
    for item in items:
        validate_item(item)
    chunk_counts = [sum(name.startswith("controltxt") for name in item.attributes) for item in items]
    assert min(chunk_counts) >= 2
    assert max(chunk_counts) >= 10  # two-digit chunk names occur
    assert len({item.name for item in items}) == len(items)


@pytest.mark.parametrize(
    ("control_text", "message"),
    [
        ("Package: x\nArchitecture: all\n", "version"),
        ("Version: 1\nArchitecture: all\n", "package"),
        (" continued\nPackage: x\n", "continuation"),
        ("Package: x\nno colon here\n", "neither"),
    ],
)
def test_package_item_refuses_control_text_it_cannot_name(control_text: str, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        package_item(control_text, "bookworm", "main")


def test_meta_item_holds_the_repository_configuration() -> None:
    item = meta_item(["trixie", "bookworm"], ["main"], ["amd64"], origin="Example", label="ours")
    assert item == Item(
        "meta",
        {
            "archs": ("amd64",),
            "comps": ("main",),
            "dists": ("bookworm", "trixie"),
            "label": ("ours",),
            "origin": ("Example",),
        },
    )
    with pytest.raises(InvalidRequestError, match="dists"):
        meta_item([], ["main"], ["amd64"])


def test_the_health_check_leaves_test_data_foo_and_blanks_the_origin() -> None:
    # apt-repoman 1.0.6/1.0.7, cli.checkup: add_meta(test_data='foo') then rm_meta(test_data=True); rm_meta
    # calls self._delete_meta(dists, comps, archs, topic_name, test_data) but _delete_meta's fifth parameter
    # is origin, so 'foo' stays and a configured origin becomes ''. repodb.archs appended all and source.
    configured = meta_item(["bookworm"], ["main"], ["amd64"], origin="Example", label="ours")
    assert meta_after_checkup(configured).attributes == {
        "archs": ("all", "amd64", "source"),
        "comps": ("main",),
        "dists": ("bookworm",),
        "label": ("ours",),
        "origin": ("",),
        "test_data": ("foo",),
    }
    without_origin = meta_after_checkup(meta_item(["bookworm"], ["main"], ["amd64"]))
    assert "origin" not in without_origin.attributes  # only an origin that is there gets blanked
    assert without_origin.attributes["test_data"] == ("foo",)
    assert meta_after_checkup(meta_after_checkup(configured)) == meta_after_checkup(configured)


# --- Debian version order ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0", "1.1"),
        ("1.9", "1.10"),
        ("1.0~rc1", "1.0"),
        ("1.0~~", "1.0~"),
        ("1.0", "1.0a"),
        ("1.0a", "1.0+"),
        ("1.0-1", "1.0-1+b1"),
        ("1.0-1+b9", "1.0-1+b10"),
        ("9.9", "1:0.1"),
        ("1.0-9", "1.0.1-1"),
        ("2.30-1", "2.30-1ubuntu1"),
    ],
)
def test_debian_version_order(lower: str, higher: str) -> None:
    assert compare_debian_versions(lower, higher) < 0
    assert compare_debian_versions(higher, lower) > 0
    assert compare_debian_versions(lower, lower) == 0


def test_equal_debian_versions() -> None:
    assert compare_debian_versions("0:1.0", "1.0") == 0
    assert compare_debian_versions("1.0-0", "1.0") == 0
    assert compare_debian_versions("1.01", "1.1") == 0


# --- backup documents -------------------------------------------------------------------------------------

REPOMAN_BACKUP_JSON = """{
  "metadata": {
    "archs": ["amd64", "all", "source"],
    "comps": ["main"],
    "dists": ["bookworm", "trixie"],
    "label": ["ours"],
    "origin": [""],
    "test_data": ["foo"]
  },
  "packages": {
    "hello": {
      "bookworm": {
        "main": {
          "amd64": [
            {
              "name": "hello", "version": "2.10-3", "distribution": "bookworm", "component": "main",
              "architecture": "amd64", "filename": "hello_2.10-3_amd64.deb", "md5": "m", "sha1": "s1",
              "sha256": "s256", "size": "53532", "controltxt0": "Package: hello\\nVersion: 2.10-3\\n\\n"
            },
            {
              "name": "hello", "version": "2.10-3+b1", "distribution": "bookworm", "component": "main",
              "architecture": "amd64", "filename": "hello_2.10-3+b1_amd64.deb", "md5": "m", "sha1": "s1",
              "sha256": "s256", "size": "53532", "controltxt0": "Package: hello\\nVersion: 2.10-3+b1\\n\\n"
            }
          ],
          "source": [
            {
              "name": "hello", "version": "2.10-3", "distribution": "bookworm", "component": "main",
              "architecture": "source", "files": ["hello_2.10-3.dsc", "hello_2.10.orig.tar.gz"],
              "controltxt0": "Format: 3.0 (quilt)\\n\\n"
            }
          ]
        }
      }
    }
  }
}"""


def repoman_backup() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(REPOMAN_BACKUP_JSON)
    return document


def read_backup(document: Any, key: str = "imports/backup.json") -> Iterator[Item]:
    """The items of a backup file holding ``document`` (or these bytes), read as the restore reads it."""
    data = document if isinstance(document, bytes) else json.dumps(document, indent=2).encode()
    return items_from_repoman_stream(io.BytesIO(data), key)


def test_backup_file_becomes_the_items_repoman_restore_writes() -> None:
    items = list(read_backup(REPOMAN_BACKUP_JSON.encode()))
    assert [item.name for item in items] == [
        "meta",
        repoman_item_name("hello", "2.10-3", "bookworm", "main", "amd64"),
        repoman_item_name("hello", "2.10-3+b1", "bookworm", "main", "amd64"),
        repoman_item_name("hello", "2.10-3", "bookworm", "main", "source"),
    ]
    assert items[0].attributes["archs"] == ("all", "amd64", "source")
    assert items[0].attributes["origin"] == ("",)
    assert items[0].attributes["test_data"] == ("foo",)
    assert items[3].attributes["files"] == ("hello_2.10-3.dsc", "hello_2.10.orig.tar.gz")
    assert items[1].attributes["size"] == ("53532",)


def test_backup_file_round_trips_through_items() -> None:
    document = repoman_backup()
    document["metadata"]["archs"].sort()  # our side writes every multi-valued attribute sorted
    assert repoman_backup_from_items(read_backup(document)) == document


def test_items_round_trip_through_a_backup_file() -> None:
    items = [meta_after_checkup(meta_item(["bookworm"], ["main"], ["amd64"]))]
    items += [package_item(stanza, "bookworm", "main") for stanza in fixture_stanzas()[:40]]
    document = repoman_backup_from_items(items)
    assert json.loads(json.dumps(document)) == document  # plain JSON, as repoman-cli restore reads it
    assert sorted(read_backup(document)) == sorted(items)


def test_leaves_are_in_debian_version_order() -> None:
    versions = ["1.10-1", "1.0-1+b1", "1:0.9-1", "1.0~rc1-1", "1.9-1", "1.0-1"]
    items = [meta_item(["sid"], ["main"], ["all"])]
    items += [
        package_item(f"Package: p\nVersion: {version}\nArchitecture: all\n", "sid", "main")
        for version in versions
    ]
    leaf = repoman_backup_from_items(items)["packages"]["p"]["sid"]["main"]["all"]
    assert [entry["version"] for entry in leaf] == [
        "1.0~rc1-1",
        "1.0-1",
        "1.0-1+b1",
        "1.9-1",
        "1.10-1",
        "1:0.9-1",
    ]


def test_items_that_are_not_repomans_are_refused() -> None:
    meta = meta_item(["sid"], ["main"], ["all"])
    with pytest.raises(InvalidRequestError, match="no 'meta' item"):
        repoman_backup_from_items(
            [package_item("Package: p\nVersion: 1\nArchitecture: all\n", "sid", "main")]
        )
    with pytest.raises(InvalidRequestError, match="version"):
        repoman_backup_from_items([meta, Item("stray", {"name": ("x",)})])


def corrupt(path: list[str | int], value: Any) -> dict[str, Any]:
    document = repoman_backup()
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


LEAF = ["packages", "hello", "bookworm", "main", "amd64"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"metadata": {"dists": ["x"]}}, "exactly the keys .* it has no 'packages'"),
        ({**repoman_backup(), "extra": 1}, "exactly the keys .* it has 'extra'"),
        (b'{"metadata": {"dists": ["x"]}, "metadata": {}, "packages": {}}', "it has 'metadata' twice"),
        (corrupt(["metadata"], {}), "'metadata' is empty"),
        (corrupt(["metadata"], ["dists"]), "'metadata' must be a JSON object"),
        (corrupt(["metadata", "dists"], 3), r"'metadata'\['dists'\] must be a string or a list of strings"),
        (
            corrupt(["metadata", "dists"], [["x"]]),
            r"must be a string or a list of strings, not a list holding",
        ),
        (corrupt(["packages"], []), "'packages' must be a JSON object"),
        (corrupt(LEAF, {"name": "hello"}), "must be a list of package items"),
        (corrupt([*LEAF, 0], "hello"), "must be a JSON object"),
        (corrupt([*LEAF, 0, "version"], KeyError), "needs 'version' as a single string"),
        (corrupt([*LEAF, 0, "version"], ["1", "2"]), "needs 'version' as a single string"),
        (
            corrupt([*LEAF, 0, "size"], 53532),
            r"\['size'\] must be a string or a list of strings, not a number",
        ),
        (corrupt([*LEAF, 0, "md5"], None), "not null"),
        (
            corrupt([*LEAF, 0, "distribution"], "trixie"),
            "has distribution 'trixie' but is filed under 'bookworm'",
        ),
        (corrupt([*LEAF, 1, "version"], "2.10-3"), r"\[1\] is item '[0-9a-f]+' a second time"),
        (corrupt([*LEAF, 0, "version"], "2.10-3ä"), "ASCII"),
        (corrupt([*LEAF, 0, ""], "x"), "attribute name '' is empty"),
        (corrupt([*LEAF, 0, "md5"], "x" * 1025), "exceeds 1024 bytes"),
        (corrupt([*LEAF, 0], {f"a{i}": "v" for i in range(300)}), "more than 256 name/value pairs"),
        (b'{"metadata": {"dists": ["a\\ud800"]}, "packages": {}}', "lone surrogate"),
        (b'{"metadata": {"dists": ["a\\udc00"]}, "packages": {}}', "lone surrogate"),
        (b'{"metadata": {"dists": ["\\ud83d\\u0041"]}, "packages": {}}', "lone surrogate"),
        (b"[" * 100_000, "more than 65,536 bytes without a string delimiter"),
        (b'["",' * 100_000, "the document must be a JSON object"),
        (b'{"metadata": ' + b'["",' * 100_000, "'metadata' must be a JSON object"),
        (
            b'{"metadata": {"dists": ["x"]}, "packages": {"a": ' + b'{"b":' * 100_000,
            "must be a list of package",
        ),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b'{"metadata": {"dists": "\xff"}, "packages": {}}', "not valid JSON"),
        (
            b'{"metadata": {"dists": ["x"]}, "packages": {}} []',
            "not valid JSON: parse error: trailing garbage",
        ),
        (b'{"metadata": {"dists": ["x"]}, "packages": {', "not valid JSON"),
        (b'{"metadata": {"dists": ["' + b"x" * 200_000 + b'"]}}', "more than 65,536 bytes without a string"),
        (b"{" + b" " * 200_000 + b"}", "more than 65,536 bytes without a string"),
    ],
)
def test_malformed_backup_files_are_refused_naming_the_rule(document: Any, message: str) -> None:
    with pytest.raises(DumpCorruptError, match=message) as refused:
        list(read_backup(document))
    assert str(refused.value).startswith("Repoman backup imports/backup.json")


def test_an_oversized_backup_file_is_refused_by_its_size_or_once_read_past_the_cap() -> None:
    check_repoman_file_size("imports/big.json", MAX_REPOMAN_FILE_BYTES)
    with pytest.raises(DumpCorruptError, match=f"is {MAX_REPOMAN_FILE_BYTES + 1:,} bytes, larger than"):
        check_repoman_file_size("imports/big.json", MAX_REPOMAN_FILE_BYTES + 1)

    class Endless(io.RawIOBase):
        """Package entries without end, each of 64 values of 1,024 characters escaped as \\u0041 (6 KiB),
        so the reader gets through a quarter of a gigabyte in few JSON events. Counts what is read."""

        def __init__(self) -> None:
            self.served = 0
            self.pending = b'{"metadata": {"dists": ["d"]}, "packages": {"p": {"d": {"c": {"a": ['
            self.version = 0

        def read(self, size: int = -1) -> bytes:
            while len(self.pending) < size:
                self.version += 1
                values = ", ".join(f'"v{index}": "{"\\u0041" * 1024}"' for index in range(64))
                self.pending += (
                    f'{{"name": "p", "version": "{self.version}", "distribution": "d", "component": "c", '
                    f'"architecture": "a", {values}}}, '
                ).encode()
            data, self.pending = self.pending[:size], self.pending[size:]
            self.served += len(data)
            return data

    endless = Endless()
    with pytest.raises(DumpCorruptError, match=f"larger than {MAX_REPOMAN_FILE_BYTES:,} bytes, the largest"):
        list(items_from_repoman_stream(endless, "imports/endless.json"))
    assert endless.served <= MAX_REPOMAN_FILE_BYTES + 65536


def test_items_come_as_the_file_is_read() -> None:
    document = repoman_backup()
    document["packages"]["hello"]["bookworm"]["main"]["amd64"][1]["version"] = "2.10-3"  # a duplicate
    items = read_backup(document)
    assert next(items).name == "meta"
    assert next(items).attributes["version"] == ("2.10-3",)
    with pytest.raises(DumpCorruptError, match="a second time"):
        next(items)


def test_items_and_meta_may_come_in_any_order() -> None:
    document = {"packages": repoman_backup()["packages"], "metadata": repoman_backup()["metadata"]}
    names = [item.name for item in read_backup(document)]
    assert names[-1] == "meta"
    assert len(names) == 4


# --- round trip of arbitrary Repoman-shaped domains -------------------------------------------------------

ascii_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.+-", min_size=1, max_size=8)
values = st.text(max_size=40)


@st.composite
def repoman_items(draw: st.DrawFn) -> list[Item]:
    meta = meta_item(
        draw(st.lists(ascii_words, min_size=1, max_size=3)),
        draw(st.lists(ascii_words, min_size=1, max_size=3)),
        draw(st.lists(ascii_words, min_size=1, max_size=3)),
        origin=draw(st.none() | values),
    )
    items = {meta.name: meta}
    for _ in range(draw(st.integers(0, 12))):
        key = {attribute: draw(ascii_words) for attribute in repoman.KEY_ATTRIBUTES}
        extra = draw(
            st.dictionaries(
                st.sampled_from(["md5", "files", "controltxt0", "x"]),
                st.lists(values, min_size=1, max_size=3),
                max_size=3,
            )
        )
        pairs = [(name, value) for name, value in key.items()]
        pairs += [(name, value) for name, vals in extra.items() for value in vals]
        name = repoman_item_name(*(key[attribute] for attribute in repoman.KEY_ATTRIBUTES))
        items[name] = make_item(name, pairs)
    return list(items.values())


@given(repoman_items())
def test_any_repoman_domain_round_trips_through_a_backup_file(items: list[Item]) -> None:
    document = repoman_backup_from_items(items)
    assert sorted(read_backup(document)) == sorted(items)
    assert repoman_backup_from_items(read_backup(document)) == document


# --- scripts/dump_to_repoman.py ---------------------------------------------------------------------------


@functools.cache
def dump_to_repoman() -> Any:
    path = Path(__file__).resolve().parents[3] / "scripts" / "dump_to_repoman.py"
    spec = importlib.util.spec_from_file_location("dump_to_repoman", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def encode_dump(items: list[Item], domain: str = "packages") -> bytes:
    """A dump as one Select stream writes it: no segments in the header, items in itemName() order."""
    header = DumpHeader(domain, "2026-11-26T03:00:00.000Z", f"select * from `{domain}`", "manual", "run-1")
    encoder = DumpEncoder()
    data = encoder.write_header(header) + encoder.write_items(sorted(items))
    tail, _ = encoder.write_trailer("2026-11-26T03:01:00.000Z")
    return data + tail


def domain_items(count: int = 60, seed: int = 0) -> list[Item]:
    from repomandata import repoman_domain_items

    return list(repoman_domain_items(count, seed))


def test_script_converts_a_dump_file_into_a_restorable_backup_file(tmp_path: Path) -> None:
    items = domain_items()
    source = tmp_path / "full.jsonl.gz"
    source.write_bytes(encode_dump(items))
    output = tmp_path / "backup.json"
    assert dump_to_repoman().main([str(source), "--output", str(output)]) == 0
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document == repoman_backup_from_items(items)
    assert sorted(read_backup(document)) == sorted(items)


def test_script_writes_to_stdout_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = domain_items(10)
    source = tmp_path / "full.jsonl.gz"
    source.write_bytes(encode_dump(items))
    assert dump_to_repoman().main([str(source)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == repoman_backup_from_items(items)
    assert "9 packages and the meta item of domain packages" in captured.err


def damaged(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


@pytest.mark.parametrize(
    ("make_source", "code", "message"),
    [
        (lambda: damaged(encode_dump(domain_items())), 1, "damaged, nothing written"),
        (lambda: encode_dump(domain_items())[:-30], 1, "damaged, nothing written"),
        (lambda: encode_dump([Item("user-1", {"email": ("a@example.org",)})]), 1, "not a Repoman domain"),
        (lambda: encode_dump(domain_items()[1:]), 1, "no 'meta' item"),
        (lambda: None, 3, "cannot read"),
    ],
    ids=["flipped byte", "truncated", "foreign items", "no meta", "missing file"],
)
def test_script_writes_nothing_from_a_bad_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_source: Any, code: int, message: str
) -> None:
    source = tmp_path / "full.jsonl.gz"
    data = make_source()
    if data is not None:
        source.write_bytes(data)
    output = tmp_path / "backup.json"
    assert dump_to_repoman().main([str(source), "-o", str(output)]) == code
    assert message in capsys.readouterr().err
    assert not output.exists()
    assert list(tmp_path.glob(".backup.json.*")) == []


def test_script_keeps_an_existing_output_unless_forced(tmp_path: Path) -> None:
    source = tmp_path / "full.jsonl.gz"
    source.write_bytes(encode_dump(domain_items(5)))
    output = tmp_path / "backup.json"
    output.write_text("precious")
    assert dump_to_repoman().main([str(source), "-o", str(output)]) == 3
    assert output.read_text() == "precious"
    assert dump_to_repoman().main([str(source), "-o", str(output), "--force"]) == 0
    assert json.loads(output.read_text())["metadata"]["test_data"] == ["foo"]


def test_script_reads_a_chosen_version_from_s3(s3_client: Any, bucket: str, tmp_path: Path) -> None:
    key = "dumps/packages/full.jsonl.gz"
    older = domain_items(30, seed=1)
    first = s3_client.put_object(Bucket=bucket, Key=key, Body=encode_dump(older))
    s3_client.put_object(Bucket=bucket, Key=key, Body=encode_dump(domain_items(40, seed=2)))
    output = tmp_path / "backup.json"
    url = f"s3://{bucket}/{key}?versionId={first['VersionId']}"
    assert dump_to_repoman().main([url, "-o", str(output)]) == 0
    assert json.loads(output.read_text()) == repoman_backup_from_items(older)
    assert dump_to_repoman().main([f"s3://{bucket}/{key}", "-o", str(output), "--force"]) == 0
    assert len(list(read_backup(output.read_bytes()))) == 40


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("s3://simpledb-backup-test/dumps/none.jsonl.gz", 3),
        ("s3://simpledb-backup-test", 2),
        ("s3://simpledb-backup-test/key?versionID=1", 2),
    ],
)
def test_script_reports_bad_s3_sources(bucket: str, tmp_path: Path, url: str, code: int) -> None:
    assert dump_to_repoman().main([url, "-o", str(tmp_path / "out.json")]) == code
    assert not (tmp_path / "out.json").exists()
