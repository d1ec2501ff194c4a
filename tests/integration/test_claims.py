"""claims.claim, the primitive behind the restore lock and the backup lease, when a conditional put's answer is
lost: botocore replays the request, the replay fails its condition, and the claim must still know it won."""

from typing import Any

from restore_helpers import state_mac

from simpledb_backup.aws.claims import claim
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.statemac import SealedDocuments
from simpledb_backup.sealing import Unverified

KEY = "locks/packages.lock"


class LostAnswers(BucketStore):
    """Every conditional put is applied, then replayed (as botocore does when the answer was lost): the caller
    sees only the replay's answer."""

    def put_if_absent(self, key: str, document: Any) -> str | None:
        super().put_if_absent(key, document)
        return super().put_if_absent(key, document)

    def put_if_match(self, key: str, document: Any, etag: str) -> str | None:
        super().put_if_match(key, document, etag)
        return super().put_if_match(key, document, etag)


def test_a_replayed_create_still_wins(s3_client: Any, bucket: str) -> None:
    outcome = claim(LostAnswers(s3_client, bucket), KEY, {"run_id": "mine"}, lambda current: False)
    assert outcome.etag is not None


def test_a_replayed_takeover_still_wins(s3_client: Any, bucket: str) -> None:
    BucketStore(s3_client, bucket).put_if_absent(KEY, {"run_id": "dead"})
    outcome = claim(LostAnswers(s3_client, bucket), KEY, {"run_id": "mine"}, lambda current: True)
    assert outcome.etag is not None
    assert BucketStore(s3_client, bucket).get_json(KEY) == {"run_id": "mine"}


def test_someone_else_s_claim_is_not_taken_for_ours(s3_client: Any, bucket: str) -> None:
    BucketStore(s3_client, bucket).put_if_absent(KEY, {"run_id": "theirs"})
    outcome = claim(LostAnswers(s3_client, bucket), KEY, {"run_id": "mine"}, lambda current: False)
    assert outcome.etag is None
    assert outcome.current == {"run_id": "theirs"}


# --- sealed claims (the restore lock): the same guarantees through aws.statemac.SealedDocuments --------------


def sealed(store: BucketStore) -> SealedDocuments:
    return SealedDocuments(store, state_mac())


def test_a_replayed_sealed_create_still_wins_and_is_stored_sealed(s3_client: Any, bucket: str) -> None:
    documents = sealed(LostAnswers(s3_client, bucket))
    outcome = claim(documents, KEY, {"run_id": "mine"}, lambda current: False)
    assert outcome.etag is not None
    stored = BucketStore(s3_client, bucket).get_json(KEY)
    assert stored["run_id"] == "mine"
    assert stored["mac"]["algorithm"] == "HMAC_SHA_256"
    assert documents.get(KEY) == {"run_id": "mine"}


def test_a_replayed_sealed_takeover_still_wins(s3_client: Any, bucket: str) -> None:
    sealed(BucketStore(s3_client, bucket)).put_if_absent(KEY, {"run_id": "dead"})
    seen: list[Any] = []

    def replace(current: Any) -> bool:
        seen.append(current)
        return True

    outcome = claim(sealed(LostAnswers(s3_client, bucket)), KEY, {"run_id": "mine"}, replace)
    assert outcome.etag is not None
    assert seen == [{"run_id": "dead"}]  # what may_replace judged: the verified fields, without the MAC
    assert sealed(BucketStore(s3_client, bucket)).get(KEY) == {"run_id": "mine"}


def test_a_claim_that_does_not_verify_reaches_may_replace_as_unverified(s3_client: Any, bucket: str) -> None:
    BucketStore(s3_client, bucket).put_if_absent(KEY, {"run_id": "theirs"})  # no MAC: not written by us
    seen: list[Any] = []

    def keep(current: Any) -> bool:
        seen.append(current)
        return False

    outcome = claim(sealed(BucketStore(s3_client, bucket)), KEY, {"run_id": "mine"}, keep)
    assert outcome.etag is None
    [current] = seen
    assert isinstance(current, Unverified)
    assert current.key == KEY
    assert outcome.current == current
    assert BucketStore(s3_client, bucket).get_json(KEY) == {"run_id": "theirs"}
