"""The error taxonomy. Adapters turn botocore ``ClientError`` codes into these with ``raise ... from``.

Every error carries a message written for the operator who reads it in the Lambda console or a terminal.
"""

from typing import Any


class SimpleDBBackupError(Exception):
    """Base of every error this service raises on purpose."""

    #: Short machine-readable kind, returned in error summaries.
    kind = "error"


class RefusalError(SimpleDBBackupError):
    """The request cannot be carried out as asked (its fields, its data, the target's state); the functions
    answer ``"status": "refused"`` and have written nothing."""

    def __init__(self, message: str = "", next_steps: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        #: What the operator can do about it, as the answer's structured ``next`` steps (events to send).
        self.next_steps: list[dict[str, Any]] = list(next_steps or [])


class ConfigurationError(SimpleDBBackupError):
    """The function's environment is missing or has an invalid setting."""

    kind = "configuration"


class BucketNotVersionedError(ConfigurationError):
    """The backup bucket does not have S3 versioning enabled: every dump would replace the one before it."""

    kind = "bucket-not-versioned"


class InvalidRequestError(RefusalError):
    """An event or request failed validation."""

    kind = "invalid-request"


class DomainNotFoundError(RefusalError):
    """The SimpleDB domain does not exist (NoSuchDomain)."""

    kind = "domain-not-found"


class AccessDeniedError(SimpleDBBackupError):
    """AWS refused the call for lack of permission."""

    kind = "access-denied"


class ThrottledError(SimpleDBBackupError):
    """SimpleDB or S3 kept throttling (503 ServiceUnavailable, SlowDown) after every retry."""

    kind = "throttled"


class NetworkError(SimpleDBBackupError):
    """SimpleDB or S3 could not be reached (connection refused, reset or timed out) after every retry."""

    kind = "network"


class LimitExceededError(SimpleDBBackupError):
    """Data exceeds a SimpleDB limit (attribute count, name or value size)."""

    kind = "limit-exceeded"


class DumpNotFoundError(RefusalError):
    """No dump matches the requested domain, version or time."""

    kind = "dump-not-found"


class DumpCorruptError(RefusalError):
    """A dump failed verification: truncated, wrong checksum or counts, malformed, or not a dump at all."""

    kind = "dump-corrupt"


class ConfirmationRequiredError(RefusalError):
    """A write into an existing, non-empty domain was asked for without ``confirm``; carries the plan, so the
    operator sees what would change."""

    kind = "confirmation-required"

    def __init__(self, message: str, plan: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.plan = plan


class RestoreInProgressError(RefusalError):
    """Another restore holds the lock on the target domain."""

    kind = "restore-in-progress"


class InvalidStateError(RefusalError):
    """A saved run state (checkpoint, restore status, lock) is malformed or does not match what it claims."""

    kind = "invalid-state"


class UnverifiedStateError(InvalidStateError):
    """A saved state or lock does not carry a valid MAC of the state key: the service did not write it (or it was
    changed since), so it is refused and steers nothing (aws.statemac)."""

    kind = "unverified-state"


class BackupFailedError(SimpleDBBackupError):
    """One or more domains could not be backed up; the others were."""

    kind = "backup-failed"


class BackupSkippedError(SimpleDBBackupError):
    """The backup of a domain is skipped this time, for a reason that is not a failure."""

    kind = "skipped"


class DomainBeingRestoredError(BackupSkippedError):
    """A restore is writing the domain, so a dump of it now would mix the states before and after: the backup
    skips it."""

    kind = "skipped-restore-in-progress"


class ContinuationTakenError(BackupSkippedError):
    """Another invocation holds the run's lease (a duplicate delivery), or the run is already published."""

    kind = "skipped-continuation-taken"


class BackupStalledError(SimpleDBBackupError):
    """A backup's invocations keep running out of time before dumping anything."""

    kind = "backup-stalled"


class RestoreStalledError(SimpleDBBackupError):
    """A long restore made no progress in several invocations in a row."""

    kind = "restore-stalled"


class StorageError(SimpleDBBackupError):
    """S3 or SimpleDB answered with an error this service does not expect."""

    kind = "storage"


class ObjectNotFoundError(StorageError):
    """An S3 key or version does not exist (NoSuchKey, NoSuchVersion, 404)."""

    kind = "not-found"
