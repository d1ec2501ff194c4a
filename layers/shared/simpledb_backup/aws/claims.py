"""Exclusive claims on an S3 key: the one primitive behind the restore's target lock and the backup's run
lease. S3 conditional writes make it atomic: ``If-None-Match: *`` creates a claim only where there is none,
and ``If-Match`` on the ETag that was read replaces a claim only if nobody changed it since, so of several
contenders exactly one wins.

The store is the bucket itself (the backup's lease) or ``statemac.SealedDocuments`` (the restore lock), which
seals what it writes and hands ``may_replace`` either the verified claim or ``sealing.Unverified``."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class ClaimStore(Protocol):
    """The conditional writes a claim is made of (aws.s3store.BucketStore, aws.statemac.SealedDocuments)."""

    def put_if_absent(self, key: str, document: Mapping[str, Any], /) -> str | None: ...

    def put_if_match(self, key: str, document: Mapping[str, Any], etag: str, /) -> str | None: ...

    def get_json_and_etag(self, key: str, /) -> tuple[Any, str] | None: ...


@dataclass(frozen=True)
class ClaimOutcome:
    #: ETag of the claim this caller now holds; None when another holder keeps it.
    etag: str | None
    #: The claim found in place (None when there was none); what a refusal describes.
    current: Any = None


def claim(
    store: ClaimStore, key: str, document: Mapping[str, Any], may_replace: Callable[[Any], bool]
) -> ClaimOutcome:
    """Create the claim at ``key``, or replace the one there when ``may_replace(current)`` says so.

    ``document`` must be unique to this caller (a run id, a time): a conditional put whose answer was lost is
    replayed by botocore and then fails its condition, so a refusal is checked against what is stored.
    """
    etag = store.put_if_absent(key, document)
    if etag is not None:
        return ClaimOutcome(etag)
    found = store.get_json_and_etag(key)
    if found is None:  # released between the two calls: one more try to create it
        return _confirmed(store, key, document, store.put_if_absent(key, document))
    current, current_etag = found
    if current == document:  # our own create, replayed after its answer was lost
        return ClaimOutcome(current_etag)
    if not may_replace(current):
        return ClaimOutcome(None, current)
    return _confirmed(store, key, document, store.put_if_match(key, document, current_etag), current)


def _confirmed(
    store: ClaimStore, key: str, document: Mapping[str, Any], etag: str | None, previous: Any = None
) -> ClaimOutcome:
    if etag is not None:
        return ClaimOutcome(etag)
    found = store.get_json_and_etag(key)
    if found is not None and found[0] == document:  # our write went through; only its answer was lost
        return ClaimOutcome(found[1])
    return ClaimOutcome(None, found[0] if found else previous)
