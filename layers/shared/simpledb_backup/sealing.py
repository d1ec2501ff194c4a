"""Sealed documents: the bytes a MAC covers, and where a saved document carries it. Pure, no I/O.

A restore's and a drill's saved state, their locks and the mark a restore leaves for the backups are JSON
documents in the bucket, and anyone who may write the bucket could write them. So each carries a MAC made with
a key that bucket writers do not hold (aws.statemac: a KMS HMAC key), and the service obeys only a document
whose MAC verifies.

The MAC covers a SHA-256 digest of the document's S3 key and of its canonical JSON, not the document itself:
KMS's GenerateMac takes at most 4,096 bytes, and a run's state can be larger. Binding the key means that a
genuine document copied elsewhere (a drill's state into ``restores/``, one domain's lock onto another's) does
not verify either.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The field of a sealed document that holds its MAC; the MAC covers every other field.
MAC_FIELD = "mac"
#: KMS's MacAlgorithm for an HMAC_256 key.
MAC_ALGORITHM = "HMAC_SHA_256"
#: HMAC-SHA-256 tags are 32 bytes; anything else is not one of ours and is refused without asking KMS.
MAC_BYTES = 32
#: Names the format of the digested bytes, so that a later change of the canonical form cannot be confused
#: with this one.
_DOMAIN_SEPARATOR = b"simpledb-backup sealed document v1\n"


def mac_message(key: str, document: Mapping[str, Any]) -> bytes:
    """The 32 bytes whose MAC seals ``document`` at ``key``: SHA-256 of the key and the canonical JSON of the
    document's fields (sorted keys, no whitespace, ASCII), the MAC field left out."""
    fields = {name: value for name, value in document.items() if name != MAC_FIELD}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(_DOMAIN_SEPARATOR + key.encode() + b"\n" + canonical.encode()).digest()


def sealed(document: Mapping[str, Any], mac: str) -> dict[str, Any]:
    """``document`` as it is stored: its fields and the MAC (base64) that seals them."""
    return {**document, MAC_FIELD: {"algorithm": MAC_ALGORITHM, "value": mac}}


@dataclass(frozen=True)
class Unsealed:
    """A stored document split into its fields and the MAC it claims (not yet verified)."""

    document: dict[str, Any]
    mac: str


def unsealed(stored: object) -> Unsealed | None:
    """The fields and claimed MAC of a stored document; None when it is not shaped as a sealed document at all
    (not a JSON object, no MAC, another algorithm): such a document was not written by this service."""
    if not isinstance(stored, dict):
        return None
    seal = stored.get(MAC_FIELD)
    if not isinstance(seal, dict) or seal.get("algorithm") != MAC_ALGORITHM:
        return None
    mac = seal.get("value")
    if not isinstance(mac, str):
        return None
    return Unsealed({name: value for name, value in stored.items() if name != MAC_FIELD}, mac)


@dataclass(frozen=True)
class Unverified:
    """A document found at a key that does not carry a valid MAC: it was not written by this service (or was
    changed since), so nothing it says is obeyed. ``reason`` says what was wrong, for the operator."""

    key: str
    reason: str
