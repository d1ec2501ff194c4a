"""Items described in their domain's own terms, for the samples of plans, diffs and restore answers.

Pure: no I/O. A Repoman package item (repoman.is_package_item) is named by its package, version,
distribution, component and architecture; Repoman's ``meta`` item by its distributions, components and
architectures; any other item by its name and a few attribute values. A change adds, per attribute, the
values before and after, with long values and long lists shortened so that an answer stays readable, and the
control text of a package (``controltxtNN`` chunks) summarised as its length.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any

from simpledb_backup.formats.repoman import (
    CONTROL_TEXT_PREFIX,
    KEY_ATTRIBUTES,
    META_ITEM_NAME,
    is_package_item,
)
from simpledb_backup.items import Attributes, Item
from simpledb_backup.restore.planning import Change, ChangeKind, Mode

MAX_VALUE_CHARS = 80
MAX_LIST_VALUES = 5
MAX_GENERIC_ATTRIBUTES = 3
ELLIPSIS = "…"
CONTROL_TEXT = "control text"
#: The meta attributes whose added and removed values a change lists (Repodb._create_meta).
META_LISTS = ("dists", "comps", "archs")
#: How each of Repoman's key attributes is named in a description ("name" is the package's name).
_PACKAGE_FIELDS = dict(
    zip(KEY_ATTRIBUTES, ("package", "version", "distribution", "component", "architecture"), strict=True)
)
_CONTROL_TEXT_CHUNK = re.compile(rf"{CONTROL_TEXT_PREFIX}\d+")

Description = dict[str, Any]


def shorten(value: str) -> str:
    """A value of at most MAX_VALUE_CHARS characters, ending in "…" when it was cut."""
    if len(value) <= MAX_VALUE_CHARS:
        return value
    return value[: MAX_VALUE_CHARS - 1] + ELLIPSIS


def shorten_list(values: Sequence[str]) -> list[str]:
    """At most MAX_LIST_VALUES shortened values, then "… N more" when there were more."""
    shown = [shorten(value) for value in values[:MAX_LIST_VALUES]]
    if len(values) > MAX_LIST_VALUES:
        shown.append(f"{ELLIPSIS} {len(values) - MAX_LIST_VALUES} more")
    return shown


def _is_package(*items: Item | None) -> bool:
    return any(item is not None and is_package_item(item) for item in items)


def describe_item(item: Item) -> Description:
    """One item in its domain's terms; always with its raw name under "item"."""
    if item.name == META_ITEM_NAME:
        return {
            "item": item.name,
            "meta": {
                name: shorten_list(item.attributes[name]) for name in META_LISTS if name in item.attributes
            },
        }
    if is_package_item(item):
        return {
            "item": item.name,
            **{field: item.attributes[attribute][0] for attribute, field in _PACKAGE_FIELDS.items()},
        }
    shown = list(item.attributes.items())[:MAX_GENERIC_ATTRIBUTES]
    return {"item": item.name, "attributes": {name: shorten(values[0]) for name, values in shown}}


def describe_missing(name: str, known: Item | None = None) -> Description:
    """An item whose other version was gone when it was read back for its description (the domain changed
    meanwhile); described from the version that is known, if any."""
    described = describe_item(known) if known is not None else {"item": name}
    described["note"] = "its other version was not found when read for this description (changed meanwhile)"
    return described


def _control_text_length(attributes: Attributes) -> int:
    return sum(
        len(values[0])
        for name, values in attributes.items()
        if _CONTROL_TEXT_CHUNK.fullmatch(name) and values
    )


def _attribute_changes(before: Attributes, after: Attributes, removes: bool, package: bool) -> Description:
    """Per attribute that is added, changed or (``removes``) removed: its values before and after."""
    changes: Description = {}
    names = sorted(set(after) | (set(before) if removes else set()))
    for name in names:
        old, new = before.get(name, ()), after.get(name, ())
        if old == new:
            continue
        if package and _CONTROL_TEXT_CHUNK.fullmatch(name):
            changes[CONTROL_TEXT] = {
                "before": f"{_control_text_length(before)} chars",
                "after": f"{_control_text_length(after) if removes else _merged_length(before, after)} chars",
            }
            continue
        changes[name] = {"before": shorten_list(old), "after": shorten_list(new)}
    return changes


def _merged_length(before: Attributes, after: Attributes) -> int:
    """The control text a merge leaves: the dump's chunks written over the target's, extra chunks kept."""
    return _control_text_length({**before, **after})


def _meta_changes(before: Attributes, after: Attributes, changed: Mapping[str, Any]) -> Description:
    meta_changes: Description = {}
    for name in META_LISTS:
        if name not in changed:
            continue
        old, new = set(before.get(name, ())), set(after.get(name, ()))
        meta_changes[name] = {
            "added": shorten_list(sorted(new - old)),
            "removed": shorten_list(sorted(old - new)),
        }
    return meta_changes


def describe_change(before: Item | None, after: Item | None, removes: bool) -> Description:
    """An item that changes from ``before`` to ``after``: described as it will be (as it was, when it goes),
    with "changes" per attribute and, for ``meta``, "meta_changes" per list of distributions, components and
    architectures. ``removes``: attributes only ``before`` has are removed (exact mode, and every diff);
    otherwise they stay (merge) and are no change."""
    shown = after if after is not None else before
    if shown is None:
        raise ValueError("a change needs an item on at least one side")
    described = describe_item(shown)
    old = before.attributes if before is not None else {}
    new = after.attributes if after is not None else {}
    changes = _attribute_changes(old, new, removes, _is_package(before, after))
    described["changes"] = changes
    if shown.name == META_ITEM_NAME:
        meta_changes = _meta_changes(old, new, changes)
        if meta_changes:
            described["meta_changes"] = meta_changes
    return described


def describe_plan_change(change: Change, target_item: Item | None, mode: Mode) -> Description:
    """A sampled change of a plan; ``target_item`` is the target's version, read by name (None when the
    target has none, or when it is no longer there)."""
    if change.kind in (ChangeKind.CREATE, ChangeKind.UNCHANGED) and change.item is not None:
        return describe_item(change.item)
    if change.kind is ChangeKind.UPDATE and change.item is not None and target_item is not None:
        return describe_change(target_item, change.item, removes=mode == "exact")
    if change.kind in (ChangeKind.DELETE, ChangeKind.KEEP) and target_item is not None:
        return describe_item(target_item)
    return describe_missing(change.name, change.item)


def describe_plan_samples(
    samples: Mapping[ChangeKind, Sequence[Change]], target_items: Mapping[str, Item], mode: Mode
) -> dict[str, list[Description]]:
    """Every sampled change of a plan, by kind ("create", "update", "delete", "keep", "unchanged")."""
    return {
        kind.value: [describe_plan_change(change, target_items.get(change.name), mode) for change in changes]
        for kind, changes in samples.items()
        if changes
    }
