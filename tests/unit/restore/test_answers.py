"""Answers that fit the transport: samples and names cut to a budget, every cut counted; a restore's answer
and status, which carry the plan, stay under 1 MB."""

import json
from typing import Any

from simpledb_backup.restore.answers import restore_answer, status_answer
from simpledb_backup.restore.fitting import (
    MAX_ANSWER_BYTES,
    PLAN_SAMPLES_BYTES,
    SAMPLE_BYTES,
    fit_description,
    fit_names,
    fit_samples,
)
from simpledb_backup.restore.state import RestoreState
from simpledb_backup.runtime import utc_datetime

WIDE = "é" * 80  # a shortened value, JSON-escaped six bytes a character


def changed(name: str) -> dict[str, Any]:
    """A sampled update of an item of 256 attributes, each changed (what describe.py makes of one)."""
    change = {"before": [WIDE] * 5, "after": [WIDE] * 5}
    return {
        "item": name,
        "attributes": {"a": WIDE},
        "changes": {f"attribute{i:03d}": change for i in range(256)},
    }


def test_a_sample_too_large_shows_what_fits_of_its_changes_and_counts_the_rest() -> None:
    fitted = fit_description(changed("x"))
    assert len(json.dumps(fitted)) <= SAMPLE_BYTES
    assert fitted["changes"]
    assert len(fitted["changes"]) + fitted["changes_omitted"] == 256
    small = {"item": "y", "attributes": {"a": "b"}}
    assert fit_description(small) is small


def test_samples_are_cut_to_the_budget_in_turn_from_each_kind() -> None:
    samples = {
        kind: [changed(f"{kind}{index}") for index in range(100)] for kind in ("create", "update", "delete")
    }
    kept, omitted = fit_samples(samples, PLAN_SAMPLES_BYTES)
    assert sum(len(json.dumps(entry)) for entries in kept.values() for entry in entries) <= PLAN_SAMPLES_BYTES
    assert {kind: len(entries) + omitted.get(kind, 0) for kind, entries in kept.items()} == dict.fromkeys(
        samples, 100
    )
    assert max(map(len, kept.values())) - min(map(len, kept.values())) <= 1  # every kind keeps its share


def test_names_are_cut_to_the_budget() -> None:
    names = ["€" * 341] * 100  # 1,023 bytes each: SimpleDB's longest item names
    kept, omitted = fit_names(names, 10_000)
    assert len(json.dumps(kept)) <= 10_000
    assert len(kept) + omitted == 100


def test_a_restore_answer_and_its_status_carry_a_fitted_plan_under_a_megabyte() -> None:
    samples, omitted = fit_samples(
        {"update": [changed(f"u{index}") for index in range(100)]}, PLAN_SAMPLES_BYTES
    )
    state = RestoreState(
        run_id="restore-20261126T025000Z-0123456789ab",
        request={"action": "restore", "domain": "packages", "sample_size": 100},
        source={"kind": "dump"},
        target="packages",
        started_at="2026-11-26T02:50:00Z",
        status="failed",
        phase="done",
        plan={
            "items": {"update": 100},
            "writes": {"total": 100},
            "samples": samples,
            "sample_names": {"update": [entry["item"] for entry in samples["update"]]},
            "samples_omitted": omitted,
        },
        verification={"verified": False, "mismatches": 100, "sample": ["€" * 341] * 100},
    )
    answer = restore_answer(state)
    assert len(json.dumps(answer)) < MAX_ANSWER_BYTES
    assert answer["verification"]["sample_omitted"] + len(answer["verification"]["sample"]) == 100
    assert len(json.dumps(status_answer(state, utc_datetime()))) < MAX_ANSWER_BYTES
