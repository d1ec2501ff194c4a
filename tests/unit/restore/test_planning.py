"""Restore planning: classification of each item, subsets, and the property that applying a plan converges."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simpledb_backup.items import Attributes, Item, make_item
from simpledb_backup.restore.planning import (
    ChangeKind,
    Mode,
    Subset,
    TargetSnapshot,
    compare,
    fingerprint,
    item_digest,
    plan_changes,
)


def snapshot_of(items: list[Item], subset: Subset | None = None) -> TargetSnapshot:
    return TargetSnapshot.from_pages([items], subset or Subset())


def changes(dump: list[Item], target: list[Item], mode: Mode, subset: Subset | None = None) -> dict[str, Any]:
    chosen = subset or Subset()
    return {change.name: change for change in compare(dump, snapshot_of(target, chosen), mode, chosen)}


PACKAGE = make_item(
    "aaaa", [("name", "hello"), ("version", "1.0"), ("dists", "stable"), ("dists", "testing")]
)


def test_fingerprint_is_digest_plus_one_entry_per_attribute() -> None:
    assert len(fingerprint(PACKAGE)) == 16 + 16 * 3
    assert fingerprint(PACKAGE)[:16] == item_digest(PACKAGE)
    reordered = make_item(
        "aaaa", [("dists", "testing"), ("version", "1.0"), ("dists", "stable"), ("name", "hello")]
    )
    assert fingerprint(reordered) == fingerprint(PACKAGE)


def test_each_kind_of_difference_is_classified() -> None:
    dump = [
        PACKAGE,
        make_item("new", [("name", "new")]),
        make_item("changed", [("name", "x"), ("version", "2")]),
        make_item("grown", [("name", "g"), ("extra", "1")]),
    ]
    target = [
        PACKAGE,
        make_item("changed", [("name", "x"), ("version", "1")]),
        make_item("grown", [("name", "g"), ("stale", "old"), ("older", "o")]),
        make_item("gone", [("name", "gone")]),
    ]
    exact = changes(dump, target, "exact")
    assert exact["aaaa"].kind is ChangeKind.UNCHANGED
    assert exact["new"].kind is ChangeKind.CREATE
    assert exact["new"].needs_put
    assert exact["changed"].kind is ChangeKind.UPDATE
    assert (exact["changed"].added, exact["changed"].changed, exact["changed"].removed) == (
        (),
        ("version",),
        0,
    )
    assert (exact["grown"].added, exact["grown"].changed, exact["grown"].removed) == (("extra",), (), 2)
    assert exact["grown"].needs_attribute_removal
    assert exact["gone"].kind is ChangeKind.DELETE

    merge = changes(dump, target, "merge")
    assert merge["grown"].removed == 0
    assert not merge["grown"].needs_attribute_removal
    assert merge["gone"].kind is ChangeKind.KEEP


def test_merge_leaves_extra_attributes_alone() -> None:
    target = [
        make_item("aaaa", [*[(a, v) for a, vs in PACKAGE.attributes.items() for v in vs], ("local", "1")])
    ]
    assert changes([PACKAGE], target, "merge")["aaaa"].kind is ChangeKind.UNCHANGED
    exact = changes([PACKAGE], target, "exact")["aaaa"]
    assert exact.kind is ChangeKind.UPDATE
    assert not exact.needs_put
    assert exact.removed == 1


def test_a_different_value_set_of_a_multi_valued_attribute_is_a_change() -> None:
    target = [make_item("aaaa", [("name", "hello"), ("version", "1.0"), ("dists", "stable"), ("dists", "x")])]
    change = changes([PACKAGE], target, "merge")["aaaa"]
    assert change.kind is ChangeKind.UPDATE
    assert change.changed == ("dists",)


def test_subset_by_item_names_limits_both_sides() -> None:
    subset = Subset.of(item_names=["new", "gone"])
    dump = [PACKAGE, make_item("new", [("a", "1")]), make_item("other", [("a", "1")])]
    target = [make_item("gone", [("a", "1")]), make_item("leftover", [("a", "1")])]
    snapshot = snapshot_of(target, subset)
    assert snapshot.item_count == 2
    assert len(snapshot) == 1
    found = {change.name: change.kind for change in compare(dump, snapshot, "exact", subset)}
    assert found == {"new": ChangeKind.CREATE, "gone": ChangeKind.DELETE}


def test_subset_by_attribute_selects_an_item_when_either_side_matches() -> None:
    subset = Subset.of(match={"distribution": "stable"})
    dump = [
        make_item("moved", [("distribution", "unstable")]),  # the target's copy is stable: in scope
        make_item("unrelated", [("distribution", "unstable")]),
        make_item("multi", [("distribution", "stable"), ("distribution", "testing")]),
    ]
    target = [
        make_item("moved", [("distribution", "stable")]),
        make_item("unrelated", [("distribution", "experimental")]),
        make_item("stale", [("distribution", "stable")]),
        make_item("elsewhere", [("distribution", "oldstable")]),
    ]
    found = {
        change.name: change.kind for change in compare(dump, snapshot_of(target, subset), "exact", subset)
    }
    assert found == {
        "moved": ChangeKind.UPDATE,
        "multi": ChangeKind.CREATE,
        "stale": ChangeKind.DELETE,
    }


def test_plan_summary_counts_and_samples() -> None:
    dump = [make_item(f"new{index}", [("a", "1")]) for index in range(8)] + [make_item("upd", [("a", "2")])]
    target = [make_item("upd", [("a", "1"), ("b", "1")]), make_item("gone", [("a", "1")])]
    summary = plan_changes(dump, snapshot_of(target), "exact", Subset(), sample_size=3)
    assert summary.to_dict() == {
        "items": {"create": 8, "update": 1, "delete": 1, "unchanged": 0},
        "attributes": {"added": 0, "changed": 1, "removed": 1},
        "writes": {"put": 9, "trim": 1, "delete": 1, "total": 11},
        "sample_names": {"create": ["new0", "new1", "new2"], "update": ["upd"], "delete": ["gone"]},
    }
    assert summary.differences == 10
    assert summary.sample_names() == ["new0", "new1", "new2"]
    merge = plan_changes(dump, snapshot_of(target), "merge", Subset()).to_dict()
    assert merge["items"] == {"create": 8, "update": 1, "delete": 0, "unchanged": 0, "kept_not_in_dump": 1}
    assert merge["attributes"] == {"added": 0, "changed": 1}
    assert merge["writes"] == {"put": 9, "trim": 0, "delete": 0, "total": 9}


def test_every_kind_of_change_is_sampled_with_its_item() -> None:
    """Samples hold the Changes (the dump's item where there is one), for every kind, keep and unchanged
    included; the target's version is what an adapter reads afterwards, by name, for update/delete/keep."""
    dump = [
        make_item("same", [("a", "1")]),
        make_item("new", [("a", "1")]),
        make_item("upd", [("a", "2")]),
    ]
    target = [
        make_item("same", [("a", "1")]),
        make_item("upd", [("a", "1")]),
        make_item("extra", [("a", "9")]),
    ]
    merge = plan_changes(dump, snapshot_of(target), "merge", Subset(), sample_size=5)
    assert {kind.value: [change.name for change in changes] for kind, changes in merge.samples.items()} == {
        "create": ["new"],
        "update": ["upd"],
        "unchanged": ["same"],
        "delete": [],
        "keep": ["extra"],
    }
    assert merge.samples[ChangeKind.UPDATE][0].item == dump[2]
    assert merge.samples[ChangeKind.KEEP][0].item is None  # only the target has it: read by name later
    assert merge.names_to_read() == ["upd", "extra"]
    assert merge.names_by_kind() == {
        "create": ["new"],
        "update": ["upd"],
        "unchanged": ["same"],
        "keep": ["extra"],
    }
    exact = plan_changes(dump, snapshot_of(target), "exact", Subset(), sample_size=5)
    assert exact.names_by_kind()["delete"] == ["extra"]
    assert "keep" not in exact.names_by_kind()


def test_samples_stop_at_the_sample_size_while_counts_go_on() -> None:
    dump = [make_item(f"n{index:02d}", [("a", "1")]) for index in range(30)]
    summary = plan_changes(dump, snapshot_of([]), "exact", Subset(), sample_size=4)
    assert summary.counts[ChangeKind.CREATE] == 30
    assert [change.name for change in summary.samples[ChangeKind.CREATE]] == ["n00", "n01", "n02", "n03"]
    nothing = plan_changes(dump, snapshot_of([]), "exact", Subset(), sample_size=0)
    assert nothing.names_by_kind() == {}
    assert nothing.names_to_read() == []


# --- property: applying a plan the way the restore does makes a second plan empty ----------------------------

names = st.sampled_from(["a", "b", "c", "d", "e", "f"])
values = st.lists(st.sampled_from(["1", "2", "x", "é"]), min_size=1, max_size=3)
attribute_maps = st.dictionaries(st.sampled_from(["name", "dists", "v", "x"]), values, min_size=1, max_size=3)
domains = st.dictionaries(names, attribute_maps, max_size=6)


def as_items(domain: dict[str, dict[str, list[str]]]) -> list[Item]:
    return [
        make_item(name, [(a, v) for a, vs in attributes.items() for v in vs])
        for name, attributes in domain.items()
    ]


def apply(target: dict[str, Attributes], dump: list[Item], mode: Mode, subset: Subset) -> None:
    """What the restore's writes do: BatchPut with Replace, extra-attribute removal, whole-item deletes."""
    for change in compare(dump, snapshot_of([Item(n, a) for n, a in target.items()], subset), mode, subset):
        if change.kind is ChangeKind.DELETE:
            del target[change.name]
            continue
        if change.item is None:
            continue
        current = target.setdefault(change.name, {})
        if change.needs_put:
            current.update(change.item.attributes)
        if change.needs_attribute_removal:
            for attribute in [a for a in current if a not in change.item.attributes]:
                del current[attribute]


@settings(max_examples=200, deadline=None)
@given(
    dump=domains,
    target=domains,
    mode=st.sampled_from(["merge", "exact"]),
    subset_names=st.none() | st.frozensets(names, max_size=3),
    match=st.none() | st.just({"dists": "x"}),
)
def test_applying_a_plan_converges(
    dump: dict[str, dict[str, list[str]]],
    target: dict[str, dict[str, list[str]]],
    mode: Mode,
    subset_names: frozenset[str] | None,
    match: dict[str, str] | None,
) -> None:
    subset = Subset.of(subset_names, match)
    dump_items = as_items(dump)
    state = {item.name: dict(item.attributes) for item in as_items(target)}
    before = dict(state)
    apply(state, dump_items, mode, subset)
    again = plan_changes(
        dump_items, snapshot_of([Item(n, a) for n, a in state.items()], subset), mode, subset
    )
    assert again.differences == 0
    for item in dump_items:
        in_scope = subset.selects(item) or (
            item.name in before and subset.selects(Item(item.name, before[item.name]))
        )
        if not in_scope:
            continue
        if mode == "exact":
            assert state[item.name] == item.attributes
        else:
            assert {a: state[item.name][a] for a in item.attributes} == item.attributes
    dump_names = {item.name for item in dump_items}
    for name, attributes in before.items():
        if name not in dump_names and not (mode == "exact" and subset.selects(Item(name, attributes))):
            assert state[name] == attributes  # untouched: out of scope, or kept by merge
