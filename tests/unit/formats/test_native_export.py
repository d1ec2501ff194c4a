"""Native SimpleDB exports (simpledb_backup.formats.native_export, written by local/nativeexportwriter.py): layout,
verification as streams, round trips."""

import base64
import gzip
import hashlib
import io
import json
from collections.abc import Callable
from typing import IO, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nativeexportwriter import EXAMPLE_EXPORT_ID, export_base_key, write_native_export
from repomandata import repoman_domain_items
from simpledb_backup.errors import DumpCorruptError, InvalidRequestError
from simpledb_backup.formats.native_export import (
    MAX_EXPORT_ITEMS,
    read_manifest,
    read_native_export,
)
from simpledb_backup.items import Item, make_item

DOMAIN = "packages"
BASE = export_base_key("exports/nightly", EXAMPLE_EXPORT_ID, DOMAIN)
DATA_KEY = f"{BASE}data/dataFile00000.json"
FILES_KEY = f"{BASE}manifest-file.json"
SUMMARY_KEY = f"{BASE}manifest-summary.json"


def reader(objects: dict[str, bytes], reads: list[str] | None = None) -> Callable[[str], IO[bytes]]:
    """An ``open_object`` over these objects: each open is a fresh stream of the object's bytes."""

    def open_object(key: str) -> IO[bytes]:
        if reads is not None:
            reads.append(key)
        return io.BytesIO(objects[key])  # KeyError for a missing object, as the contract asks

    return open_object


def sample_items(count: int = 25) -> list[Item]:
    return list(repoman_domain_items(count))


def export_of(items: list[Item], items_per_file: int = 10) -> dict[str, bytes]:
    return write_native_export(
        items, domain_name=DOMAIN, prefix="exports/nightly", items_per_file=items_per_file
    )


def test_base_key_follows_the_documented_layout() -> None:
    assert export_base_key("", "abc", "myDomain") == "AWSSimpleDB/abc/myDomain/"
    assert export_base_key("/a/b/", "abc", "myDomain") == "a/b/AWSSimpleDB/abc/myDomain/"
    with pytest.raises(InvalidRequestError):
        export_base_key("p", "", "myDomain")


def test_written_export_has_the_documented_objects() -> None:
    objects = export_of(sample_items(25))
    assert set(objects) == {
        f"{BASE}_started",
        f"{BASE}data/dataFile00000.json",
        f"{BASE}data/dataFile00001.json",
        f"{BASE}data/dataFile00002.json",
        FILES_KEY,
        SUMMARY_KEY,
    }
    records = json.loads(objects[DATA_KEY])
    assert records[0] == {
        "itemName": "meta",
        "attributes": [
            {"name": "archs", "values": ["all", "amd64", "arm64", "source"]},
            {"name": "comps", "values": ["contrib", "main", "non-free"]},
            {"name": "dists", "values": ["bookworm", "stable", "testing", "trixie"]},
            {"name": "label", "values": ["example-internal"]},
            {"name": "origin", "values": [""]},
            {"name": "test_data", "values": ["foo"]},
        ],
    }
    entries = [json.loads(line) for line in objects[FILES_KEY].decode().splitlines()]
    assert [entry["itemCount"] for entry in entries] == [10, 10, 5]
    assert entries[0]["md5Checksum"] == base64.b64encode(hashlib.md5(objects[DATA_KEY]).digest()).decode()


def test_export_round_trips() -> None:
    items = sample_items(25)
    export = read_native_export(reader(export_of(items)), BASE)
    assert export.item_count == 25
    assert export.manifest.domain_name == DOMAIN
    assert list(export) == items


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=20),
        st.dictionaries(
            st.text(min_size=1, max_size=10),
            st.lists(st.text(max_size=30), min_size=1, max_size=3),
            min_size=1,
        ),
        max_size=30,
    ),
    st.integers(1, 7),
)
def test_any_items_round_trip(raw: dict[str, dict[str, list[str]]], items_per_file: int) -> None:
    items = [
        make_item(name, [(key, value) for key, values in pairs.items() for value in values])
        for name, pairs in raw.items()
    ]
    objects = write_native_export(items, domain_name=DOMAIN, items_per_file=items_per_file)
    assert list(read_native_export(reader(objects), export_base_key("", EXAMPLE_EXPORT_ID, DOMAIN))) == items


def test_base_key_without_trailing_slash_and_relative_manifest_keys_are_accepted() -> None:
    items = sample_items(12)
    objects = export_of(items)
    # DynamoDB's manifests give keys without the export prefix; accept those and export-relative ones.
    lines = [json.loads(line) for line in objects[FILES_KEY].decode().splitlines()]
    lines[0]["dataFileS3Key"] = lines[0]["dataFileS3Key"].removeprefix("exports/nightly/")
    lines[1]["dataFileS3Key"] = lines[1]["dataFileS3Key"].removeprefix(BASE)
    objects[FILES_KEY] = "\n".join(json.dumps(line) for line in lines).encode()
    assert list(read_native_export(reader(objects), BASE.rstrip("/"))) == items


def test_manifest_as_a_json_array_with_hex_md5_is_accepted() -> None:
    items = sample_items(12)
    objects = export_of(items)
    lines = [json.loads(line) for line in objects[FILES_KEY].decode().splitlines()]
    for line in lines:
        line["md5Checksum"] = base64.b64decode(line["md5Checksum"]).hex()
    objects[FILES_KEY] = json.dumps(lines).encode()
    assert list(read_native_export(reader(objects), BASE)) == items


def test_gzipped_data_files_are_read() -> None:
    items = sample_items(5)
    objects = export_of(items)
    objects[DATA_KEY] = gzip.compress(objects[DATA_KEY])
    entry = json.loads(objects[FILES_KEY])
    entry["md5Checksum"] = hashlib.md5(objects[DATA_KEY]).hexdigest()
    objects[FILES_KEY] = json.dumps(entry).encode()
    assert list(read_native_export(reader(objects), BASE)) == items


def test_empty_domain_exports_and_reads_as_nothing() -> None:
    objects = write_native_export([], domain_name=DOMAIN)
    assert list(read_native_export(reader(objects), export_base_key("", EXAMPLE_EXPORT_ID, DOMAIN))) == []


# --- refused exports --------------------------------------------------------------------------------------


def edit_manifest_entry(objects: dict[str, bytes], index: int, **changes: Any) -> None:
    lines = [json.loads(line) for line in objects[FILES_KEY].decode().splitlines()]
    lines[index].update(changes)
    objects[FILES_KEY] = "\n".join(json.dumps(line) for line in lines).encode()


def edit_summary(objects: dict[str, bytes], **changes: Any) -> None:
    summary = json.loads(objects[SUMMARY_KEY])
    summary.update(changes)
    objects[SUMMARY_KEY] = json.dumps(summary).encode()


def replace_data(objects: dict[str, bytes], records: Any, fix_md5: bool = True) -> None:
    objects[DATA_KEY] = json.dumps(records).encode() if not isinstance(records, bytes) else records
    if fix_md5:
        edit_manifest_entry(objects, 0, md5Checksum=hashlib.md5(objects[DATA_KEY]).hexdigest())


def corrupted_md5(objects: dict[str, bytes]) -> None:
    objects[DATA_KEY] = objects[DATA_KEY].replace(b"bookworm", b"bookwork", 1)


def wrong_count(objects: dict[str, bytes]) -> None:
    edit_manifest_entry(objects, 0, itemCount=9)
    edit_summary(objects, itemCount=24)


def truncated_data(objects: dict[str, bytes]) -> None:
    replace_data(objects, objects[DATA_KEY][:-40])


def first_record(objects: dict[str, bytes]) -> list[Any]:
    records: list[Any] = json.loads(objects[DATA_KEY])
    return records


CORRUPTIONS: list[tuple[str, Callable[[dict[str, bytes]], None], str]] = [
    ("md5", corrupted_md5, r"dataFile00000.json has MD5 [0-9a-f]{32} but the manifest says"),
    ("count", wrong_count, r"dataFile00000.json holds more than the 9 items the manifest says"),
    (
        "fewer",
        lambda objects: replace_data(objects, first_record(objects)[:9]),
        r"dataFile00000.json holds 9 items but the manifest says 10",
    ),
    ("totals", lambda objects: edit_summary(objects, itemCount=26), "counts 26 items but .* lists 25"),
    (
        "missing data file",
        lambda objects: objects.pop(DATA_KEY),
        r"data file .*dataFile00000.json does not exist",
    ),
    ("missing summary", lambda objects: objects.pop(SUMMARY_KEY), "AWS writes the manifests last"),
    (
        "missing file manifest",
        lambda objects: objects.pop(FILES_KEY),
        r"manifest .*manifest-file.json does not exist",
    ),
    ("malformed summary", lambda objects: objects.update({SUMMARY_KEY: b"{not json"}), "is not valid JSON"),
    (
        "malformed manifest",
        lambda objects: objects.update({FILES_KEY: b'{"itemCount": 3,\n'}),
        "manifest-file.json is not valid JSON",
    ),
    ("truncated data", truncated_data, "dataFile00000.json is not valid JSON"),
    (
        "data not an array",
        lambda objects: replace_data(objects, {"items": []}),
        "must hold a JSON array of items, not an object",
    ),
    ("bad md5 field", lambda objects: edit_manifest_entry(objects, 0, md5Checksum="abc"), "expected an MD5"),
    ("no count", lambda objects: edit_summary(objects, itemCount=None), "itemCount None; expected a count"),
    (
        "key outside",
        lambda objects: edit_manifest_entry(objects, 0, dataFileS3Key=f"{BASE}../x/data.json"),
        "outside the export",
    ),
    (
        "listed twice",
        lambda objects: edit_manifest_entry(objects, 1, dataFileS3Key=DATA_KEY),
        "a second time",
    ),
    ("other domain", lambda objects: edit_summary(objects, domainName="other"), "for domain 'other'"),
    (
        "no item name",
        lambda objects: replace_data(objects, [{"attributes": []}, *first_record(objects)[1:]]),
        "item 1 has no itemName",
    ),
    (
        "bad attribute",
        lambda objects: replace_data(
            objects,
            [{"itemName": "x", "attributes": [{"name": "a", "values": [1]}]}, *first_record(objects)[1:]],
        ),
        "item 1 \\('x'\\) has a non-string value \\(a number\\)",
    ),
    (
        "duplicate item",
        lambda objects: replace_data(objects, [first_record(objects)[1], *first_record(objects)[1:]]),
        r"item '[0-9a-f]+' in .*dataFile00000.json appears a second time",
    ),
    (
        "duplicate across files",
        lambda objects: replace_data(
            objects, [json.loads(objects[f"{BASE}data/dataFile00001.json"])[0], *first_record(objects)[1:]]
        ),
        r"item '[0-9a-f]+' in .*dataFile00001.json appears a second time in the export",
    ),
    (
        "empty attribute name",
        lambda objects: replace_data(
            objects,
            [{"itemName": "x", "attributes": [{"name": "", "values": ["v"]}]}, *first_record(objects)[1:]],
        ),
        "attribute name '' is empty",
    ),
    (
        "lone surrogate",
        lambda objects: replace_data(
            objects,
            b'[{"itemName": "x\\ud800", "attributes": [{"name": "a", "values": ["v"]}]}]',
        ),
        "lone surrogate",
    ),
    (
        "too many pairs",
        lambda objects: replace_data(
            objects,
            [
                {"itemName": "x", "attributes": [{"name": f"a{i}", "values": ["v"]} for i in range(257)]},
                *first_record(objects)[1:],
            ],
        ),
        "more than 256 name/value pairs",
    ),
    (
        "deep nesting",
        lambda objects: replace_data(objects, b'[{"itemName": "x", "other": ' + b'["",' * 1000),
        "nesting deeper than 16 levels",
    ),
    (
        "endless string",
        lambda objects: replace_data(objects, b'[{"itemName": "' + b"x" * 100_000 + b'"}]'),
        "more than 65,536 bytes without a string delimiter",
    ),
    (
        "bloated item",
        lambda objects: replace_data(objects, b'[{"itemName": "x", "other": [' + b'"",' * 5000 + b'""]}]'),
        "item 1 holds more than 2,064 JSON values",
    ),
    (
        "too many items",
        lambda objects: edit_summary(objects, itemCount=MAX_EXPORT_ITEMS + 1),
        "a restore reads exports of at most 5,000,000 items",
    ),
    (
        "damaged gzip",
        lambda objects: replace_data(objects, gzip.compress(objects[DATA_KEY])[:-12]),
        "dataFile00000.json is a damaged gzip file",
    ),
    (
        "manifest entry too big",
        lambda objects: objects.update({FILES_KEY: b'{"dataFileS3Key": [' + b'"",' * 1000 + b'""]}'}),
        "an entry holds more than 256 JSON values",
    ),
]


@pytest.mark.parametrize(
    ("corruption", "message"), [(c[1], c[2]) for c in CORRUPTIONS], ids=[c[0] for c in CORRUPTIONS]
)
def test_damaged_exports_are_refused_before_any_item(
    corruption: Callable[[dict[str, bytes]], None], message: str
) -> None:
    objects = export_of(sample_items(25))
    corruption(objects)
    with pytest.raises(DumpCorruptError, match=message):
        read_native_export(reader(objects), BASE)  # raises here: nothing has been handed out yet


def test_damage_in_the_last_file_is_found_before_the_first_item() -> None:
    objects = export_of(sample_items(25))
    last = f"{BASE}data/dataFile00002.json"
    objects[last] = objects[last][:-1] + b" "
    reads: list[str] = []
    with pytest.raises(DumpCorruptError, match=r"dataFile00002\.json is not valid JSON"):
        read_native_export(reader(objects, reads), BASE)
    assert reads[-1] == last


def test_a_file_replaced_after_verification_is_refused_while_iterating() -> None:
    objects = export_of(sample_items(25))
    export = read_native_export(reader(objects), BASE)
    corrupted_md5(objects)
    with pytest.raises(DumpCorruptError, match="has MD5"):
        list(export)


def test_manifest_alone_can_be_read_without_touching_data() -> None:
    objects = export_of(sample_items(25))
    reads: list[str] = []
    manifest = read_manifest(reader(objects, reads), BASE)
    assert manifest.item_count == 25
    assert [data_file.item_count for data_file in manifest.data_files] == [10, 10, 5]
    assert reads == [SUMMARY_KEY, FILES_KEY]


def test_an_export_is_read_from_s3_streaming_bodies(s3_client: Any, bucket: str) -> None:
    items = sample_items(15)
    for key, data in export_of(items).items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=data)
    opened: list[Any] = []

    def open_object(key: str) -> IO[bytes]:
        try:
            body: IO[bytes] = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
        except s3_client.exceptions.NoSuchKey as error:
            raise KeyError(key) from error
        opened.append(body)
        return body

    assert list(read_native_export(open_object, BASE)) == items
    assert len(opened) == 2 + 2 * 2  # the manifests once, each data file to verify it and again to read it
