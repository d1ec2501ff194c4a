"""Every answer fits the transport (issue 17): a plan and a diff asking for 100 samples (the most the API
allows) over SimpleDB's widest items, 256 pairs of 1,000-byte values outside ASCII, stay under 1 MB serialized
(Lambda allows 6 MB; JSON escapes each of these characters as six bytes), and say how many samples they left
out. (Today's finding: such a plan answered 23.8 MB, which Lambda refuses to return.) A restore's answer and
its status carry the plan as fitted here (tests/unit/restore/test_answers.py measures them)."""

import json
from typing import Any

import pytest
from restore_helpers import DOMAIN, dump, fill, forever, request, service

from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.items import MAX_PAIRS_PER_ITEM, Item, make_item
from simpledb_backup.restore.fitting import MAX_ANSWER_BYTES

#: 500 two-byte characters: 1,000 bytes of UTF-8, 3,000 bytes once JSON-escaped.
VALUE = "é" * 500
SAMPLES = 100


def wide(name: str, version: str) -> Item:
    return make_item(
        name, [(f"attribute{index:03d}", f"{version}{VALUE}"[:500]) for index in range(MAX_PAIRS_PER_ITEM)]
    )


@pytest.fixture
def wide_domain(sdb_client: Any, s3_client: Any, bucket: str) -> None:
    """A dump of 200 wide items; then 100 of them changed in every attribute and 100 deleted, and 100 new."""
    fill(sdb_client, DOMAIN, [wide(f"kept{index:03d}", "a") for index in range(SAMPLES)])
    database = SimpleDB(sdb_client)
    database.write_items(DOMAIN, [wide(f"gone{index:03d}", "a") for index in range(SAMPLES)])
    dump(sdb_client, s3_client, bucket)
    database.write_items(DOMAIN, [wide(f"kept{index:03d}", "b") for index in range(SAMPLES)])
    database.delete_items(DOMAIN, [(f"gone{index:03d}", None) for index in range(SAMPLES)])
    database.write_items(DOMAIN, [wide(f"new{index:03d}", "c") for index in range(SAMPLES)])


def size(answer: dict[str, Any]) -> int:
    return len(json.dumps(answer))  # as Lambda serializes it: ASCII, every other character escaped


def test_a_plan_and_a_diff_of_the_widest_items_fit_and_count_what_they_left_out(
    wide_domain: None, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    restore_service = service(sdb_client, s3_client, bucket)
    plan = restore_service.handle(request(action="plan", mode="exact", sample_size=SAMPLES), forever)
    diff = restore_service.handle(request(action="diff", sample_size=SAMPLES), forever)
    assert plan["items"] == {"create": SAMPLES, "update": SAMPLES, "delete": SAMPLES, "unchanged": 0}
    assert diff["items"] == {"added": SAMPLES, "changed": SAMPLES, "removed": SAMPLES, "unchanged": 0}
    for answer, kinds in ((plan, ("create", "update", "delete")), (diff, ("added", "changed", "removed"))):
        assert size(answer) < MAX_ANSWER_BYTES
        shown = {kind: len(answer["samples"].get(kind, [])) for kind in kinds}
        omitted = answer.get("samples_omitted", {})
        # Every sample is shown or counted as left out, and every kind keeps some.
        assert all(shown[kind] + omitted.get(kind, 0) == SAMPLES for kind in kinds), (shown, omitted)
        assert all(shown[kind] > 0 for kind in kinds)
        assert sum(omitted.values()) > 0  # these could not all fit
        for kind in kinds:
            assert answer["sample_names"][kind] == [entry["item"] for entry in answer["samples"][kind]]
        # A changed item shows some of its 256 changed attributes and counts the rest.
        changed = answer["samples"]["update" if "update" in kinds else "changed"][0]
        assert changed["changes"]
        assert len(changed["changes"]) + changed["changes_omitted"] == MAX_PAIRS_PER_ITEM
