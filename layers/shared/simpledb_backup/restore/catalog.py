"""Which dump: the versions of a domain's dump key, listed, and resolved from a version id, a time or "latest"."""

from dataclasses import replace
from datetime import datetime

from simpledb_backup.backup import PRE_RESTORE_TRIGGER
from simpledb_backup.errors import DumpNotFoundError, ObjectNotFoundError
from simpledb_backup.keys import dump_key
from simpledb_backup.s3store import BucketStore, DumpVersion

__all__ = ["PRE_RESTORE_TRIGGER", "DumpCatalog"]


class DumpCatalog:
    def __init__(self, store: BucketStore) -> None:
        self.store = store

    def list(self, domain: str, limit: int) -> list[DumpVersion]:
        """The newest ``limit`` dumps of a domain, newest first."""
        return self.store.list_versions(dump_key(domain), limit)

    def version(self, key: str, version_id: str) -> DumpVersion:
        """One dump version by key and id; DumpNotFoundError when it is gone."""
        try:
            version = self.store.head(key, version_id)
        except ObjectNotFoundError as error:
            raise DumpNotFoundError(f"no version {version_id!r} of {key}") from error
        if version is None:  # pragma: no cover - head() with a version id raises instead
            raise DumpNotFoundError(f"no version {version_id!r} of {key}")
        return version

    def resolve(self, domain: str, version_id: str | None, as_of: datetime | None) -> DumpVersion:
        """The dump version a request names: ``version_id``, else the newest at or before ``as_of``, else the
        latest. Raises DumpNotFoundError naming what was asked for.

        ``as_of`` and the latest skip the safety backups (trigger ``pre-restore``): every restore adds one as the
        newest version, and "restore the latest" run a second time must restore the same dump again, not the
        state the first run replaced. A safety backup is restored by its ``version_id``.
        """
        key = dump_key(domain)
        listing = f'list them with {{"action": "list", "domain": "{domain}"}}'
        if version_id:
            try:
                return self.version(key, version_id)
            except DumpNotFoundError as error:
                raise DumpNotFoundError(
                    f"version_id {version_id!r} is not a dump of domain {domain!r} ({key}); {listing}"
                ) from error
        newest_first = sorted(self.store.iter_versions(key), key=lambda listed: listed[1], reverse=True)
        for listed_id, modified, is_latest in newest_first:
            if as_of is not None and modified > as_of:
                continue
            version = self.store.head(key, listed_id)
            if version is not None and version.trigger != PRE_RESTORE_TRIGGER:
                return replace(version, is_latest=is_latest)
        if as_of is not None:
            raise DumpNotFoundError(
                f"as_of {as_of.isoformat()}: no dump of domain {domain!r} was made at or before that "
                f"time (safety backups are restored by version_id); {listing}"
            )
        if newest_first:
            raise DumpNotFoundError(
                f"domain {domain!r} has only pre-restore safety backups; restore one by version_id; {listing}"
            )
        raise DumpNotFoundError(
            f"no dumps of domain {domain!r} in s3://{self.store.bucket}/{key}; run a backup first"
        )
