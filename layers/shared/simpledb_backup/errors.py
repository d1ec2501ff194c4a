"""The error taxonomy. Adapters turn botocore ``ClientError`` codes into these with ``raise ... from``.

Every error carries a message written for the operator who reads it in the Lambda console or a terminal.
"""


class SimpleDBBackupError(Exception):
    """Base of every error this service raises on purpose."""

    #: Short machine-readable kind, returned in error summaries.
    kind = "error"


class ConfigurationError(SimpleDBBackupError):
    """The function's environment is missing or has an invalid setting."""

    kind = "configuration"


class InvalidRequestError(SimpleDBBackupError):
    """An event or request failed validation."""

    kind = "invalid-request"


class DomainNotFoundError(SimpleDBBackupError):
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


class DumpNotFoundError(SimpleDBBackupError):
    """No dump matches the requested domain, version or time."""

    kind = "dump-not-found"


class DumpCorruptError(SimpleDBBackupError):
    """A dump failed verification: truncated, wrong checksum or counts, malformed, or not a dump at all."""

    kind = "dump-corrupt"


class ConfirmationRequiredError(SimpleDBBackupError):
    """A write into an existing, non-empty domain was asked for without ``confirm``."""

    kind = "confirmation-required"


class RestoreInProgressError(SimpleDBBackupError):
    """Another restore holds the lock on the target domain."""

    kind = "restore-in-progress"


class BackupFailedError(SimpleDBBackupError):
    """One or more domains could not be backed up; the others were."""

    kind = "backup-failed"


class BackupStalledError(SimpleDBBackupError):
    """A backup's invocations keep running out of time before dumping anything."""

    kind = "backup-stalled"


class StorageError(SimpleDBBackupError):
    """S3 or SimpleDB answered with an error this service does not expect."""

    kind = "storage"
