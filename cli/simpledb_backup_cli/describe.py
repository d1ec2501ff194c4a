"""One sampled item of a plan, diff or restore, in the domain's own terms, as terminal text (pure).

The function describes each sample (docs/ANSWERS.md, "Item descriptions"): a Repoman package by name,
version, distribution, component and architecture; Repoman's ``meta`` item by its lists; any other item by its
name and a few attribute values; an update with each changing attribute's values before and after. A sample
that is a bare item name, or an update that names only its attributes, is shown as it is.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

#: The lists Repoman's ``meta`` item keeps, in the order they are shown.
META_LISTS = ("dists", "comps", "archs")


def describe_item(sample: object) -> Text:
    """The one-line description of a sampled item."""
    if not isinstance(sample, Mapping):
        return Text(str(sample))
    if "package" in sample:
        return package_line(sample)
    if isinstance(sample.get("meta"), Mapping):
        return meta_line(str(sample.get("item", "meta")), sample["meta"])
    line = Text(str(sample.get("item", "?")))
    attributes = sample.get("attributes")
    if isinstance(attributes, Mapping) and attributes:
        line.append("  " + ", ".join(f"{name}={value}" for name, value in attributes.items()), style="dim")
    # An update that only names its attributes (no before and after).
    for key, label in (("added", "added"), ("changed", "changed"), ("removed", "removed")):
        value = sample.get(key)
        if isinstance(value, list) and value:
            line.append(f"  {label}: {', '.join(str(name) for name in value)}", style="dim")
        elif isinstance(value, int) and value and not isinstance(value, bool):
            line.append(f"  {label}: {value} attribute(s)", style="dim")
    return line


def package_line(sample: Mapping[str, Any]) -> Text:
    """``zlib1g 1:1.2.13.dfsg-1 stable/main/amd64``."""
    line = Text(str(sample.get("package")), style="bold")
    if sample.get("version"):
        line.append(f" {sample['version']}")
    where = "/".join(
        str(sample[key]) for key in ("distribution", "component", "architecture") if sample.get(key)
    )
    if where:
        line.append(f" {where}", style="cyan")
    return line


def meta_line(name: str, meta: Mapping[str, Any]) -> Text:
    """``meta: dists stable, testing; comps main; archs amd64, arm64``."""
    line = Text(f"{name}:", style="bold")
    parts = [f"{key} {values_text(meta[key])}" for key in META_LISTS if key in meta]
    parts += [f"{key} {values_text(value)}" for key, value in meta.items() if key not in META_LISTS]
    line.append(" " + "; ".join(parts))
    return line


def change_lines(sample: object) -> list[Text]:
    """For an update or change: one line per attribute, before → after, then the meta lists' changes."""
    if not isinstance(sample, Mapping):
        return []
    lines: list[Text] = []
    changes = sample.get("changes")
    if isinstance(changes, Mapping):
        for attribute, change in changes.items():
            if not isinstance(change, Mapping):
                continue
            line = Text(f"{attribute}: ", style="dim")
            line.append(values_text(change.get("before")), style="red")
            line.append(" → ")
            line.append(values_text(change.get("after")), style="green")
            lines.append(line)
    meta_changes = sample.get("meta_changes")
    if isinstance(meta_changes, Mapping):
        for key, change in meta_changes.items():
            if not isinstance(change, Mapping):
                continue
            line = Text(f"{key}: ", style="dim")
            for value in change.get("added") or []:
                line.append(f"+{value} ", style="green")
            for value in change.get("removed") or []:
                line.append(f"-{value} ", style="red")
            lines.append(line)
    return lines


def values_text(values: object) -> str:
    """An attribute's values as the function gave them (already shortened): a list joined, none as (none)."""
    if values is None:
        return "(none)"
    if isinstance(values, str):
        return values
    if isinstance(values, Sequence):
        return ", ".join(str(value) for value in values) if values else "(none)"
    return str(values)
