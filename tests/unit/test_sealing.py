"""sealing: what a state key's MAC covers, and how a stored document is split into its fields and its MAC."""

import pytest

from simpledb_backup.sealing import MAC_ALGORITHM, MAC_FIELD, mac_message, sealed, unsealed

KEY = "restores/restore-20261126T030000Z-0123456789ab.json"
DOCUMENT = {
    "run_id": "restore-x",
    "phase": "writing",
    "written": {"items_written": 3},
    "elapsed_seconds": 1.5,
}


def test_the_message_is_a_digest_of_the_canonical_document_whatever_its_layout() -> None:
    reordered = {name: DOCUMENT[name] for name in reversed(list(DOCUMENT))}
    assert mac_message(KEY, reordered) == mac_message(KEY, DOCUMENT)
    assert len(mac_message(KEY, DOCUMENT)) == 32  # KMS's GenerateMac takes at most 4,096 bytes


def test_the_message_covers_every_field_and_the_key() -> None:
    assert mac_message(KEY, {**DOCUMENT, "phase": "verifying"}) != mac_message(KEY, DOCUMENT)
    assert mac_message(KEY, {**DOCUMENT, "extra": None}) != mac_message(KEY, DOCUMENT)
    assert mac_message("drills/drill-x.json", DOCUMENT) != mac_message(KEY, DOCUMENT)
    assert mac_message("locks/other.lock", DOCUMENT) != mac_message("locks/packages.lock", DOCUMENT)


def test_the_message_leaves_out_the_mac_itself() -> None:
    stored = sealed(DOCUMENT, "bWFj")
    assert stored[MAC_FIELD] == {"algorithm": MAC_ALGORITHM, "value": "bWFj"}
    assert mac_message(KEY, stored) == mac_message(KEY, DOCUMENT)


def test_a_stored_document_splits_into_its_fields_and_the_mac_it_claims() -> None:
    found = unsealed(sealed(DOCUMENT, "bWFj"))
    assert found is not None
    assert (found.document, found.mac) == (DOCUMENT, "bWFj")


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [DOCUMENT],
        "text",
        DOCUMENT,
        {**DOCUMENT, MAC_FIELD: "bWFj"},
        {**DOCUMENT, MAC_FIELD: {"algorithm": "HMAC_SHA_512", "value": "bWFj"}},
        {**DOCUMENT, MAC_FIELD: {"algorithm": MAC_ALGORITHM, "value": 7}},
    ],
    ids=["null", "list", "string", "no-mac", "mac-not-an-object", "other-algorithm", "value-not-text"],
)
def test_anything_not_shaped_as_a_sealed_document_is_not_one(stored: object) -> None:
    assert unsealed(stored) is None


def test_a_document_json_cannot_carry_faithfully_has_no_message() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        mac_message(KEY, {"x": float("nan")})
