"""The Repoman-shaped data generator and its SimpleDB helpers (local/repomandata.py)."""

import itertools
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest

import repomandata
from repomanauthoring import join_control_text, package_item, repoman_backup_from_items
from repomandata import (
    bumped_package,
    fill_domain,
    load_fixture,
    mutate_packages,
    repoman_domain_items,
    sample_packages,
    simulate_accident,
)
from simpledb_backup.errors import LimitExceededError
from simpledb_backup.formats.repoman import KEY_ATTRIBUTES, META_ITEM_NAME, is_package_item, repoman_item_name
from simpledb_backup.items import MAX_BATCH_ITEMS, Item, make_item, validate_item

DOMAIN = "repoman-packages"


def test_the_fixture_is_a_real_debian_index_subset() -> None:
    packages = load_fixture()
    assert len(packages) == 295
    assert {package.architecture for package in packages} == {"amd64", "all"}
    assert len({package.name for package in packages}) == len(packages)


def test_default_domain_is_meta_plus_every_fixture_package_once() -> None:
    items = list(repoman_domain_items())
    assert len(items) == 1 + len(load_fixture())
    assert items[0].name == META_ITEM_NAME
    assert {item.attributes["version"][0] for item in items[1:]} == {
        package.version for package in load_fixture()
    }


def test_domain_of_20000_items_is_repoman_shaped_and_within_simpledb_limits() -> None:
    items = repoman_domain_items(20_000)
    meta = next(items)
    assert meta.name == META_ITEM_NAME
    assert set(meta.attributes["dists"]) == set(repomandata.DISTRIBUTIONS)
    assert set(meta.attributes["archs"]) >= {"amd64", "arm64", "all"}
    names = {META_ITEM_NAME}
    placements: Counter[tuple[str, str, str]] = Counter()
    count = 1
    for item in items:
        count += 1
        validate_item(item)
        assert is_package_item(item)
        key = [item.attributes[attribute][0] for attribute in KEY_ATTRIBUTES]
        assert item.name == repoman_item_name(*key)
        assert join_control_text(item.attributes).startswith(f"Package: {key[0]}\n")
        names.add(item.name)
        placements[(key[2], key[3], key[4])] += 1
    assert count == 20_000
    assert len(names) == 20_000
    assert {dist for dist, _, _ in placements} == set(repomandata.DISTRIBUTIONS)
    assert {comp for _, comp, _ in placements} == set(repomandata.COMPONENTS)
    assert {arch for _, _, arch in placements} == {"amd64", "arm64", "all"}


def test_meta_is_what_repoman_really_stores_after_its_health_check() -> None:
    # issue 11 finding 7: in apt-repoman 1.0.6 and 1.0.7 every command's health check leaves test_data 'foo'
    # (rm_meta passes test_data=True into _delete_meta's origin parameter) and so blanks the origin to ''.
    meta = next(repoman_domain_items(1))
    assert meta.attributes == {
        "archs": ("all", "amd64", "arm64", "source"),
        "comps": tuple(sorted(repomandata.COMPONENTS)),
        "dists": tuple(sorted(repomandata.DISTRIBUTIONS)),
        "label": (repomandata.LABEL,),
        "origin": ("",),
        "test_data": ("foo",),
    }
    validate_item(meta)  # the empty origin is a value SimpleDB stores


def test_generation_is_deterministic_per_seed() -> None:
    first = list(repoman_domain_items(800, seed=7))
    assert list(repoman_domain_items(800, seed=7)) == first
    assert list(repoman_domain_items(800, seed=8)) != first
    # A bigger domain starts with the smaller one, so benchmarks of different sizes share their prefix.
    assert list(itertools.islice(repoman_domain_items(2_000, seed=7), 800)) == first


def test_generated_items_survive_a_repoman_backup_file() -> None:
    items = list(repoman_domain_items(1_500))
    document = repoman_backup_from_items(items)
    assert (
        sum(
            len(leaf)
            for dists in document["packages"].values()
            for comps in dists.values()
            for archs in comps.values()
            for leaf in archs.values()
        )
        == 1_499
    )


def test_original_packages_carry_their_real_checksums() -> None:
    package = load_fixture()[0]
    items = [item for item in repoman_domain_items() if item.attributes.get("name") == (package.name,)]
    assert [item.attributes["md5"] for item in items] == [(package.md5,)]
    assert items[0].attributes["sha256"] == (package.sha256,)
    assert items[0].attributes["size"] == (str(package.size),)


def test_count_must_leave_room_for_meta() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next(repoman_domain_items(0))
    assert [item.name for item in repoman_domain_items(1)] == [META_ITEM_NAME]


# --- bumping a package ------------------------------------------------------------------------------------


def test_bumped_package_is_the_next_binnmu_under_its_new_name() -> None:
    old = package_item(
        "Package: hello\nVersion: 2.10-3\nArchitecture: amd64\nDescription: hi\nSize: 10\nFilename: pool/h/hello_2.10-3_amd64.deb\n",
        "bookworm",
        "main",
    )
    new = bumped_package(old)
    assert new.attributes["version"] == ("2.10-3+b1",)
    assert new.attributes["filename"] == ("hello_2.10-3+b1_amd64.deb",)
    assert new.name == repoman_item_name("hello", "2.10-3+b1", "bookworm", "main", "amd64")
    assert (
        join_control_text(new.attributes)
        == "Package: hello\nVersion: 2.10-3+b1\nArchitecture: amd64\nDescription: hi\n\n"
    )
    assert bumped_package(new).attributes["version"] == ("2.10-3+b2",)
    validate_item(new)


# --- writing to SimpleDB ----------------------------------------------------------------------------------


def read_domain(sdb_client: Any, domain: str) -> dict[str, Item]:
    items: dict[str, Item] = {}
    for page in sdb_client.get_paginator("select").paginate(SelectExpression=f"select * from `{domain}`"):
        for entry in page.get("Items", []):
            pairs = [(attribute["Name"], attribute["Value"]) for attribute in entry["Attributes"]]
            items[entry["Name"]] = make_item(entry["Name"], pairs)
    return items


def test_fill_domain_writes_every_item(sdb_client: Any) -> None:
    items = list(repoman_domain_items(120))
    assert fill_domain(sdb_client, DOMAIN, items) == 120
    assert read_domain(sdb_client, DOMAIN) == {item.name: item for item in items}


class RecordingClient:
    """Stands in for the sdb client to see how items are batched."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        # what the SimpleDB adapter touches of a botocore client besides the API calls
        self.meta = SimpleNamespace(events=SimpleNamespace(register=lambda *args, **kwargs: None))

    def create_domain(self, **_: Any) -> None:
        return None

    def batch_put_attributes(self, **request: Any) -> None:
        self.batches.append(request["Items"])


def test_batches_hold_at_most_25_items_and_1_mb() -> None:
    client = RecordingClient()
    fill_domain(client, DOMAIN, repoman_domain_items(60))
    assert [len(batch) for batch in client.batches] == [MAX_BATCH_ITEMS, MAX_BATCH_ITEMS, 10]

    big_value = "x" * 1024
    big_items = [make_item(f"big{index}", [(f"a{n}", big_value) for n in range(250)]) for index in range(10)]
    client = RecordingClient()
    fill_domain(client, DOMAIN, big_items)
    assert len(client.batches) > 1
    for batch in client.batches:
        value_bytes = sum(len(attribute["Value"]) for item in batch for attribute in item["Attributes"])
        assert value_bytes < 1024 * 1024


def test_items_over_simpledb_limits_are_refused_before_writing() -> None:
    client = RecordingClient()
    too_many = make_item("wide", [(f"a{n}", "v") for n in range(257)])
    with pytest.raises(LimitExceededError, match="257"):
        fill_domain(client, DOMAIN, [too_many])
    assert client.batches == []


def test_mutate_packages_replaces_old_builds_with_new_ones(sdb_client: Any) -> None:
    items = list(repoman_domain_items(80))
    fill_domain(sdb_client, DOMAIN, items)
    changes = mutate_packages(sdb_client, DOMAIN, items, count=5, seed=3)
    stored = read_domain(sdb_client, DOMAIN)
    assert len(changes) == 5
    assert len(stored) == 80
    for change in changes:
        assert change.old.name not in stored
        assert stored[change.new.name] == change.new


def test_simulated_accident_deletes_packages_and_damages_meta(sdb_client: Any) -> None:
    items = list(repoman_domain_items(80))
    fill_domain(sdb_client, DOMAIN, items)
    accident = simulate_accident(sdb_client, DOMAIN, items, delete_count=7, seed=1)
    stored = read_domain(sdb_client, DOMAIN)
    assert len(stored) == 80 - 7
    assert all(item.name not in stored for item in accident.deleted)
    assert stored[META_ITEM_NAME] == accident.meta_after
    assert accident.meta_after != accident.meta_before
    assert "origin" not in accident.meta_after.attributes
    assert len(accident.meta_after.attributes["dists"]) == len(accident.meta_before.attributes["dists"]) - 1


def test_sample_packages_are_package_items() -> None:
    packages = sample_packages(12)
    assert len(packages) == 12
    assert all(is_package_item(item) for item in packages)
