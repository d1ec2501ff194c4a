"""StateMac against KMS's answers (botocore's Stubber: no network): a MAC that does not match is an answer,
not an error; a key that cannot be used is a configuration error; malformed MACs never reach KMS."""

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from simpledb_backup.aws.statemac import StateMac
from simpledb_backup.errors import AccessDeniedError, ConfigurationError, StorageError, ThrottledError
from simpledb_backup.sealing import MAC_ALGORITHM, Unverified, mac_message, sealed

KEY_ID = "alias/simpledb-backup-state-test"
KEY = "locks/packages.lock"
DOCUMENT = {"run_id": "restore-x", "target": "packages"}
TAG = bytes(range(32))


@pytest.fixture
def kms() -> Iterator[Any]:
    client = boto3.client("kms", region_name="us-east-1")
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def expect_verify(kms: Any, error: str | None = None) -> None:
    parameters = {
        "KeyId": KEY_ID,
        "Message": mac_message(KEY, DOCUMENT),
        "MacAlgorithm": MAC_ALGORITHM,
        "Mac": TAG,
    }
    if error:
        kms.stubber.add_client_error("verify_mac", service_error_code=error, expected_params=parameters)
    else:
        answer = {"KeyId": KEY_ID, "MacValid": True, "MacAlgorithm": MAC_ALGORITHM}
        kms.stubber.add_response("verify_mac", answer, parameters)


def stored(tag: str = base64.b64encode(TAG).decode()) -> dict[str, Any]:
    return sealed(DOCUMENT, tag)


def test_seal_asks_kms_for_the_mac_of_the_key_and_the_document(kms: Any) -> None:
    kms.stubber.add_response(
        "generate_mac",
        {"Mac": TAG, "KeyId": KEY_ID, "MacAlgorithm": MAC_ALGORITHM},
        {"KeyId": KEY_ID, "Message": mac_message(KEY, DOCUMENT), "MacAlgorithm": MAC_ALGORITHM},
    )
    assert StateMac(kms, KEY_ID).seal(KEY, DOCUMENT) == stored()


def test_a_verified_document_is_its_fields(kms: Any) -> None:
    expect_verify(kms)
    assert StateMac(kms, KEY_ID).open(KEY, stored()) == DOCUMENT


def test_a_mac_kms_rejects_is_unverified_not_an_error(kms: Any) -> None:
    expect_verify(kms, "KMSInvalidMacException")
    found = StateMac(kms, KEY_ID).open(KEY, stored())
    assert found == Unverified(KEY, "its MAC does not verify (it was written or changed by someone else)")


@pytest.mark.parametrize(
    "document",
    [
        DOCUMENT,
        stored("not base64!"),
        stored(base64.b64encode(b"short").decode()),
        sealed({"x": float("nan")}, "AA=="),
    ],
    ids=["no-mac", "not-base64", "wrong-length", "not-canonical-json"],
)
def test_a_malformed_document_is_unverified_without_asking_kms(kms: Any, document: Any) -> None:
    assert isinstance(StateMac(kms, KEY_ID).open(KEY, document), Unverified)  # the stubber has no answer


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("AccessDeniedException", AccessDeniedError),
        ("NotFoundException", ConfigurationError),
        ("DisabledException", ConfigurationError),
        ("InvalidKeyUsageException", ConfigurationError),
        ("ThrottlingException", ThrottledError),
        ("KMSInternalException", StorageError),
    ],
)
def test_kms_errors_are_translated(kms: Any, code: str, error: type[Exception]) -> None:
    expect_verify(kms, code)
    with pytest.raises(error):
        StateMac(kms, KEY_ID).open(KEY, stored())


def test_no_key_no_service() -> None:
    with pytest.raises(ConfigurationError, match="STATE_KEY_ID is not set"):
        StateMac(object(), "")
