"""Items described in their domain's terms (describe.py): Repoman packages, Repoman's meta, any other item,
changes with before and after, shortening, and the plan samples built from a planning summary."""

import json

from repomanauthoring import PackageFile, meta_item, package_item, split_control_text
from simpledb_backup.items import Item, make_item
from simpledb_backup.restore.describe import (
    CONTROL_TEXT,
    describe_change,
    describe_item,
    describe_plan_samples,
    shorten,
    shorten_list,
)
from simpledb_backup.restore.planning import Subset, TargetSnapshot, plan_changes

ZLIB_CONTROL = """Package: zlib1g
Source: zlib
Version: 1:1.2.13.dfsg-1
Architecture: amd64
Maintainer: Mark Brown <broonie@debian.org>
Depends: libc6 (>= 2.14)
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found in gzip and PKZIP.
"""
ZLIB_FILE = PackageFile("zlib1g_1.2.13.dfsg-1_amd64.deb", 89268, "a" * 32, "b" * 40, "c" * 64)


def control_text_length(item: Item) -> int:
    return sum(len(values[0]) for name, values in item.attributes.items() if name.startswith("controltxt"))


def zlib(control: str = ZLIB_CONTROL, distribution: str = "stable") -> Item:
    return package_item(control, distribution, "main", ZLIB_FILE)


def test_a_repoman_package_is_named_by_package_version_distribution_component_architecture() -> None:
    item = zlib()
    assert describe_item(item) == {
        "item": item.name,
        "package": "zlib1g",
        "version": "1:1.2.13.dfsg-1",
        "distribution": "stable",
        "component": "main",
        "architecture": "amd64",
    }


def test_meta_is_described_by_its_distributions_components_and_architectures() -> None:
    meta = meta_item(
        ["stable", "testing"], ["main", "contrib"], ["amd64", "arm64"], origin="", test_data="foo"
    )
    assert describe_item(meta) == {
        "item": "meta",
        "meta": {"dists": ["stable", "testing"], "comps": ["contrib", "main"], "archs": ["amd64", "arm64"]},
    }


def test_a_meta_change_lists_the_distributions_components_and_architectures_added_and_removed() -> None:
    before = meta_item(["stable"], ["main"], ["amd64", "arm64", "i386"], test_data="foo")
    after = meta_item(["stable", "testing"], ["main"], ["amd64"], test_data="foo")
    described = describe_change(before, after, removes=True)
    assert described["meta_changes"] == {
        "dists": {"added": ["testing"], "removed": []},
        "archs": {"added": [], "removed": ["arm64", "i386"]},
    }  # comps did not change: not listed
    assert described["changes"] == {
        "archs": {"before": ["amd64", "arm64", "i386"], "after": ["amd64"]},
        "dists": {"before": ["stable"], "after": ["stable", "testing"]},
    }
    assert described["meta"]["dists"] == ["stable", "testing"]  # described as it will be


def test_any_other_item_shows_its_name_and_at_most_three_attribute_values_shortened() -> None:
    item = make_item(
        "user-42",
        [("email", "a@example.org"), ("bio", "x" * 200), ("roles", "admin"), ("roles", "dev"), ("zip", "1")],
    )
    assert describe_item(item) == {
        "item": "user-42",
        "attributes": {"bio": "x" * 79 + "…", "email": "a@example.org", "roles": "admin"},
    }


def test_values_are_shortened_to_80_characters_and_lists_to_5_values() -> None:
    assert shorten("y" * 80) == "y" * 80
    assert shorten("y" * 81) == "y" * 79 + "…"
    assert len(shorten("z" * 5000)) == 80
    assert shorten_list([str(n) for n in range(5)]) == ["0", "1", "2", "3", "4"]
    assert shorten_list([str(n) for n in range(12)]) == ["0", "1", "2", "3", "4", "… 7 more"]


def test_an_update_lists_each_attribute_that_changes_with_before_and_after() -> None:
    before = make_item("k", [("version", "1"), ("tags", "a"), ("note", "local"), ("same", "s")])
    after = make_item(
        "k", [("version", "2"), ("tags", "a"), ("tags", "b"), ("new", "n" * 100), ("same", "s")]
    )
    exact = describe_change(before, after, removes=True)
    assert exact["changes"] == {
        "new": {"before": [], "after": ["n" * 79 + "…"]},
        "note": {"before": ["local"], "after": []},
        "tags": {"before": ["a"], "after": ["a", "b"]},
        "version": {"before": ["1"], "after": ["2"]},
    }
    merge = describe_change(before, after, removes=False)
    assert "note" not in merge["changes"]  # a merge leaves the target's extra attribute alone


def test_a_package_control_text_is_summarised_as_one_entry_of_lengths() -> None:
    before = zlib()
    longer = (
        ZLIB_CONTROL + " It is used by many programs, " + "and this sentence makes it longer. " * 20 + "\n"
    )
    after = zlib(longer)
    assert after.name == before.name  # same name, version, distribution, component and architecture
    described = describe_change(before, after, removes=True)
    assert described["changes"] == {
        CONTROL_TEXT: {
            "before": f"{control_text_length(before)} chars",
            "after": f"{control_text_length(after)} chars",
        }
    }
    assert described["package"] == "zlib1g"


def test_merge_control_text_length_counts_the_target_chunks_a_merge_keeps() -> None:
    text = "Package: p\nVersion: 1\nArchitecture: all\nDescription: " + "d" * 700 + "\n"
    long_item = package_item(text, "stable", "main")
    short_chunks = split_control_text("Package: p\nVersion: 1\nArchitecture: all\n\n")
    short_item = Item(
        long_item.name,
        {
            **{
                name: values
                for name, values in long_item.attributes.items()
                if not name.startswith("controltxt")
            },
            **{name: (value,) for name, value in short_chunks.items()},
        },
    )
    merged = describe_change(long_item, short_item, removes=False)["changes"][CONTROL_TEXT]
    exact = describe_change(long_item, short_item, removes=True)["changes"][CONTROL_TEXT]
    assert exact["after"] == f"{len(short_chunks['controltxt0'])} chars"
    assert int(merged["after"].split()[0]) > int(exact["after"].split()[0])  # extra chunks stay in a merge


def test_plan_samples_for_every_kind_read_the_target_side_by_name() -> None:
    dump = [
        make_item("same", [("a", "1")]),
        make_item("new", [("a", "1")]),
        make_item("upd", [("a", "2"), ("b", "1")]),
    ]
    target = [
        make_item("same", [("a", "1")]),
        make_item("upd", [("a", "1"), ("c", "x")]),
        make_item("extra", [("a", "9")]),
        make_item("vanished", [("a", "0")]),
    ]
    summary = plan_changes(dump, TargetSnapshot.from_pages([target], Subset()), "merge", Subset())
    read_back = {item.name: item for item in target if item.name in summary.names_to_read()}
    del read_back["vanished"]  # deleted between the scan and the read
    samples = describe_plan_samples(summary.samples, read_back, "merge")
    assert samples == {
        "create": [{"item": "new", "attributes": {"a": "1"}}],
        "update": [
            {
                "item": "upd",
                "attributes": {"a": "2", "b": "1"},
                "changes": {"a": {"before": ["1"], "after": ["2"]}, "b": {"before": [], "after": ["1"]}},
            }
        ],
        "unchanged": [{"item": "same", "attributes": {"a": "1"}}],
        "keep": [
            {"item": "extra", "attributes": {"a": "9"}},
            {
                "item": "vanished",
                "note": "its other version was not found when read for this description (changed meanwhile)",
            },
        ],
    }
    json.dumps(samples)
