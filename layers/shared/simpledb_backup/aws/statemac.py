"""Documents only this service can have written: restore and drill states, their locks and the restores' marks
for the backups, sealed with a MAC of the state key (KMS, STATE_KEY_ID) and obeyed only when it verifies.

Anyone who may put objects in the bucket could otherwise write a state under ``restores/`` and a lock under
``locks/`` that make a resume delete a domain, without ``confirm`` and without a safety backup. The key is a KMS
HMAC key (KeySpec HMAC_256, KeyUsage GENERATE_VERIFY_MAC) whose key policy lets only the functions' roles use it
(template.yaml's StateKey): writing the bucket is not enough to seal a document, and KMS never hands the key out.
A document that does not verify is reported as ``Unverified`` (what was wrong), never raised: the callers refuse
what it would have steered, and write nothing.

What the MAC cannot tell is whether a sealed document is the latest one the service wrote: putting an older
version of a state back is kept out by the bucket policy (only the functions' roles may write restores/,
drills/ and locks/), not by the MAC.
"""

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from simpledb_backup.aws.s3store import MAX_JSON_BYTES, BucketStore
from simpledb_backup.errors import (
    AccessDeniedError,
    ConfigurationError,
    NetworkError,
    StorageError,
    ThrottledError,
    UnverifiedStateError,
)
from simpledb_backup.sealing import (
    MAC_ALGORITHM,
    MAC_BYTES,
    Unverified,
    mac_message,
    sealed,
    unsealed,
)

#: KMS's answer to VerifyMac when the MAC does not match: the document was not sealed by this key.
_INVALID_MAC = "KMSInvalidMacException"
_ACCESS_DENIED = {"AccessDeniedException", "AccessDenied"}
#: The key is missing, disabled, pending deletion or not an HMAC key: the configuration is wrong.
_KEY_UNUSABLE = {
    "NotFoundException",
    "DisabledException",
    "KMSInvalidStateException",
    "InvalidKeyUsageException",
    "KeyUnavailableException",
}
_THROTTLED = {"ThrottlingException", "LimitExceededException"}


class StateMac:
    """GenerateMac and VerifyMac with the state key, over what ``sealing.mac_message`` digests."""

    def __init__(self, kms: Any, key_id: str) -> None:
        if not key_id:
            raise ConfigurationError(
                "invalid function configuration: STATE_KEY_ID is not set; restore and drill states and locks "
                "cannot be sealed or verified without it (template.yaml sets it to the StateKey's ARN)"
            )
        self.kms, self.key_id = kms, key_id

    def seal(self, key: str, document: Mapping[str, Any]) -> dict[str, Any]:
        """``document`` as it is stored at ``key``: its fields and their MAC."""
        message = mac_message(key, document)
        answer = self._call("GenerateMac", lambda: self.kms.generate_mac(**self._arguments(message)))
        return sealed(document, base64.b64encode(answer["Mac"]).decode())

    def open(self, key: str, stored: object) -> dict[str, Any] | Unverified:
        """The fields of the document stored at ``key`` when its MAC verifies; otherwise what was wrong."""
        found = unsealed(stored)
        if found is None:
            return Unverified(key, "it carries no MAC of this service's state key")
        try:
            mac = base64.b64decode(found.mac, validate=True)
            message = mac_message(key, found.document)
        except (binascii.Error, ValueError):
            return Unverified(key, "its MAC or its content is malformed")
        if len(mac) != MAC_BYTES:
            return Unverified(key, "its MAC is not an HMAC-SHA-256")
        try:
            self._call("VerifyMac", lambda: self.kms.verify_mac(Mac=mac, **self._arguments(message)))
        except _MacMismatchError:
            return Unverified(key, "its MAC does not verify (it was written or changed by someone else)")
        return found.document

    def _arguments(self, message: bytes) -> dict[str, Any]:
        return {"KeyId": self.key_id, "Message": message, "MacAlgorithm": MAC_ALGORITHM}

    def _call(self, operation: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code == _INVALID_MAC:
                raise _MacMismatchError from error
            raise self._translated(operation, code) from error
        except BotoCoreError as error:
            raise NetworkError(f"KMS could not be reached for {operation}: {error}") from error

    def _translated(self, operation: str, code: str) -> Exception:
        if code in _ACCESS_DENIED:
            return AccessDeniedError(f"access denied to kms:{operation} on the state key {self.key_id}")
        if code in _KEY_UNUSABLE:
            return ConfigurationError(
                f"the state key STATE_KEY_ID={self.key_id} cannot be used for {operation} ({code}): it must "
                "be an enabled KMS key with KeySpec HMAC_256 and KeyUsage GENERATE_VERIFY_MAC"
            )
        if code in _THROTTLED:
            return ThrottledError(f"KMS kept throttling {operation} on the state key after every retry")
        return StorageError(f"KMS refused {operation} on the state key: {code}")


class _MacMismatchError(Exception):
    """VerifyMac said the MAC does not match (internal: StateMac.open answers Unverified)."""


class SealedDocuments:
    """Sealed JSON documents in the bucket: written with their MAC, read back only when it verifies.

    It is also the store of ``claims.claim`` for the restore lock: the conditional writes seal what they write,
    and a claim found in place is its verified fields, or ``Unverified``, which no claim replaces.
    """

    def __init__(self, store: BucketStore, mac: StateMac) -> None:
        self.store, self.mac = store, mac

    @property
    def bucket(self) -> str:
        return self.store.bucket

    def put(self, key: str, document: Mapping[str, Any]) -> None:
        self.store.put_json(key, self.mac.seal(key, document))

    def get(self, key: str) -> dict[str, Any] | Unverified | None:
        """The verified fields of the document at ``key``; Unverified when it does not verify; None when there
        is no document."""
        found = self.get_json_and_etag(key)
        return None if found is None else found[0]

    def get_json_and_etag(self, key: str) -> tuple[dict[str, Any] | Unverified, str] | None:
        """As ``get``, with the ETag of what was read (for ``put_if_match``)."""
        found = self.store.get_bytes_and_etag(key, MAX_JSON_BYTES)
        if found is None:
            return None
        data, etag = found
        if len(data) > MAX_JSON_BYTES:
            return Unverified(key, f"it is larger than {MAX_JSON_BYTES} bytes"), etag
        try:
            stored = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return Unverified(key, "it is not JSON"), etag
        return self.mac.open(key, stored), etag

    def put_if_absent(self, key: str, document: Mapping[str, Any]) -> str | None:
        return self.store.put_if_absent(key, self.mac.seal(key, document))

    def put_if_match(self, key: str, document: Mapping[str, Any], etag: str) -> str | None:
        return self.store.put_if_match(key, self.mac.seal(key, document), etag)

    def delete_if_match(self, key: str, etag: str) -> bool:
        return self.store.delete_if_match(key, etag)


def unverified_error(found: Unverified, bucket: str) -> UnverifiedStateError:
    """The refusal of a state or lock that does not verify, and what a person does about it."""
    where = f"s3://{bucket}/{found.key}"
    return UnverifiedStateError(
        f"{where} was not written by this service ({found.reason}), so it is not obeyed and nothing was "
        "written. Someone with write access to the bucket put it there: find out who (CloudTrail data events, "
        f"S3 server access logs), then remove it (aws s3 rm {where}) and start again (docs/RUNBOOK.md, "
        '"A state or lock does not verify")'
    )
