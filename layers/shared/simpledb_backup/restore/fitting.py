"""Answers that fit the transport: Lambda returns at most 6 MB, and every answer here stays well under 1 MB
serialized, whatever the items hold (JSON escaping included: a character outside ASCII is six bytes, one
outside the BMP twelve).

Pure. Samples (described items, item names) are what can grow: a sample is cut down first (its per-attribute
``changes`` beyond what fits are left out and counted in ``changes_omitted``), then whole samples are left out
in turn from each kind, and the answer counts them in ``samples_omitted``.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

#: Every answer stays under this many bytes serialized.
MAX_ANSWER_BYTES = 1_000_000
#: What the described samples of a plan may take (a restore's answer and its saved state carry the plan).
PLAN_SAMPLES_BYTES = 500_000
#: What the described samples of a diff may take.
DIFF_SAMPLES_BYTES = 800_000
#: What the item names of a verification's mismatches may take.
NAMES_BYTES = 100_000
#: What one described sample may take.
SAMPLE_BYTES = 16_000


def json_size(value: Any) -> int:
    """Bytes of ``value`` as JSON, escaped as Lambda and json.dumps escape it."""
    return len(json.dumps(value))


def fit_description(description: dict[str, Any], limit: int = SAMPLE_BYTES) -> dict[str, Any]:
    """One described sample in at most ``limit`` bytes: its changes beyond that are left out (and counted)."""
    if json_size(description) <= limit:
        return description
    fitted = dict(description)
    changes = fitted.pop("changes", None)
    fitted.pop("meta_changes", None)
    if json_size(fitted) > limit // 2:  # the item itself is too large to show: its name, shortened
        return {"item": str(description.get("item", ""))[:64], "omitted": "too large to show"}
    if isinstance(changes, dict):
        kept: dict[str, Any] = {}
        used = json_size(fitted) + 64
        for name, change in changes.items():
            size = json_size({name: change})
            if used + size > limit:
                break
            kept[name], used = change, used + size
        fitted["changes"] = kept
        if len(kept) < len(changes):
            fitted["changes_omitted"] = len(changes) - len(kept)
        if "meta_changes" in description and json_size(description["meta_changes"]) + used <= limit:
            fitted["meta_changes"] = description["meta_changes"]
    return fitted


def fit_samples(
    samples: Mapping[str, Sequence[dict[str, Any]]], budget: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """The samples that fit in ``budget`` bytes, taken in turn from each kind so that every kind keeps some,
    and how many of each kind were left out."""
    fitted = {kind: [fit_description(entry) for entry in entries] for kind, entries in samples.items()}
    kept: dict[str, list[dict[str, Any]]] = {kind: [] for kind in fitted}
    used = 0
    for position in range(max((len(entries) for entries in fitted.values()), default=0)):
        for kind, entries in fitted.items():
            if position >= len(entries):
                continue
            # The sample, and its name again in sample_names.
            size = json_size(entries[position]) + json_size(entries[position].get("item", "")) + 2
            if used + size > budget:
                continue
            kept[kind].append(entries[position])
            used += size
    omitted = {
        kind: len(fitted[kind]) - len(kept[kind]) for kind in fitted if len(kept[kind]) < len(fitted[kind])
    }
    return kept, omitted


def fit_names(names: Sequence[str], budget: int = NAMES_BYTES) -> tuple[list[str], int]:
    """The names that fit in ``budget`` bytes, and how many were left out."""
    return fit_list(names, budget)


def fit_list[T](entries: Sequence[T], budget: int) -> tuple[list[T], int]:
    """The leading entries that fit in ``budget`` bytes (JSON, with a separator each), and how many were left
    out."""
    kept: list[T] = []
    used = 0
    for entry in entries:
        used += json_size(entry) + 2
        if used > budget:
            break
        kept.append(entry)
    return kept, len(entries) - len(kept)
