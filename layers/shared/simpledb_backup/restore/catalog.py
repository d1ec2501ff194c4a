"""Which dump: a domain's full and subset dumps, listed, and resolved from a version id, a time, "latest" or
"previous".

"Latest" means the newest schedule or manual dump of a key, everywhere: a restore adds a pre-restore safety
backup as the newest version of its target's key, and "restore the latest" run a second time must restore the
same dump again, not the state the first run replaced. Safety backups stay listed (``pre_restore``) and are
restored by their ``version_id``.

A subset dump (``dumps/<domain>/subset-<label>.jsonl.gz``) carries its label in its S3 metadata and its where
clause in its header, read here with a ranged GET of the dump's first bytes.
"""

import builtins
import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from simpledb_backup.aws.keys import DUMPS_PREFIX, dump_key
from simpledb_backup.aws.s3store import (
    PRE_RESTORE_TRIGGER,
    BucketStore,
    DumpVersion,
    ListedVersion,
    iter_dumps,
    newest_dump,
)
from simpledb_backup.errors import DumpCorruptError, DumpNotFoundError, ObjectNotFoundError
from simpledb_backup.formats.dumpformat import read_dump
from simpledb_backup.observability import logger
from simpledb_backup.restore.nextsteps import backup_step, list_dumps_step

__all__ = ["PRE_RESTORE_TRIGGER", "DumpCatalog"]

#: The header is the dump's first line; its compressed form is a few hundred bytes unless its segment bounds
#: hold long item names (at most 64 segments of two 1,024-byte names).
HEADER_READ_BYTES = 64 * 1024
MAX_HEADER_READ_BYTES = 4 * 1024 * 1024
_SUBSET_PREFIX, _SUBSET_SUFFIX = "subset-", ".jsonl.gz"


def _newest_first(versions: list[ListedVersion]) -> list[ListedVersion]:
    # Stable: versions of one second keep S3's own newest-first order.
    return sorted(versions, key=lambda version: version.last_modified, reverse=True)


class DumpCatalog:
    def __init__(self, store: BucketStore) -> None:
        self.store = store

    def _listing(self, domain: str) -> dict[str, list[ListedVersion]]:
        """Every dump key of a domain with its versions, newest first: one ListObjectVersions listing."""
        keys: dict[str, list[ListedVersion]] = {}
        for version in self.store.iter_versions_under(f"{DUMPS_PREFIX}{domain}/"):
            keys.setdefault(version.key, []).append(version)
        return {key: _newest_first(versions) for key, versions in keys.items()}

    @staticmethod
    def subset_label(domain: str, key: str) -> str | None:
        """The label of a subset dump key of ``domain``; None for any other key."""
        name = key.removeprefix(f"{DUMPS_PREFIX}{domain}/")
        if name == key or not (name.startswith(_SUBSET_PREFIX) and name.endswith(_SUBSET_SUFFIX)):
            return None
        return name[len(_SUBSET_PREFIX) : -len(_SUBSET_SUFFIX)] or None

    def list(self, domain: str, limit: int, label: str | None = None) -> list[DumpVersion]:
        """The newest ``limit`` full dumps of a domain, newest first, then the newest ``limit`` dumps of each
        subset by label; only the dumps of subset ``label`` when one is given."""
        listing = self._listing(domain)
        if label is not None:
            keys = [dump_key(domain, label)]
        else:
            labels = sorted(filter(None, (self.subset_label(domain, key) for key in listing)))
            keys = [dump_key(domain), *(dump_key(domain, subset) for subset in labels)]
        listed: list[DumpVersion] = []
        for key in keys:
            listed += self._described(key, listing.get(key, [])[:limit], for_listing=True)
        return listed

    def _described(
        self, key: str, versions: Sequence[ListedVersion], for_listing: bool
    ) -> builtins.list[DumpVersion]:
        """Each version with its metadata, its where clause (subsets), and ``latest`` on the newest schedule
        or manual one among them."""
        described: builtins.list[DumpVersion] = []
        latest_seen = False
        for listed in versions:
            head = self.store.head(key, listed.version_id)
            if head is None:  # pragma: no cover - head() with a version id raises instead
                continue
            is_latest = not latest_seen and not head.is_pre_restore
            latest_seen = latest_seen or is_latest
            described.append(replace(head, is_latest=is_latest, where=self._where(head, for_listing)))
        return described

    def _where(self, version: DumpVersion, for_listing: bool = False) -> str | None:
        """A subset dump's where clause, from its header; None for a full dump."""
        if version.label is None:
            return None
        length = HEADER_READ_BYTES
        while True:
            prefix = self.store.read_prefix(version.key, version.version_id, length)
            try:
                return read_dump(io.BytesIO(prefix)).header.where
            except DumpCorruptError as error:
                if len(prefix) == length and length < MAX_HEADER_READ_BYTES:
                    length *= 4  # the header line did not end within the bytes read
                    continue
                if not for_listing:
                    raise DumpCorruptError(
                        f"{version.key} version {version.version_id}: its header cannot be read ({error})"
                    ) from error
                logger.warning(
                    "a subset dump's header cannot be read",
                    extra={"key": version.key, "version_id": version.version_id, "error": str(error)},
                )
                return None

    def version(self, key: str, version_id: str) -> DumpVersion:
        """One dump version by key and id, with its where clause and whether it is the latest of its key;
        DumpNotFoundError when it is gone."""
        try:
            version = self.store.head(key, version_id)
        except ObjectNotFoundError as error:
            raise DumpNotFoundError(f"no version {version_id!r} of {key}") from error
        if version is None:  # pragma: no cover - head() with a version id raises instead
            raise DumpNotFoundError(f"no version {version_id!r} of {key}")
        latest = newest_dump(self.store, key)
        is_latest = latest is not None and latest.version_id == version_id
        return replace(version, is_latest=is_latest, where=self._where(version))

    def resolve(
        self, domain: str, version_id: str | None, as_of: datetime | None, label: str | None = None
    ) -> DumpVersion:
        """The dump version a request names: ``version_id`` (a full or a subset dump of the domain), else the
        newest schedule or manual dump at or before ``as_of``, else the latest; of subset ``label`` when one
        is given. Raises DumpNotFoundError naming what was asked for."""
        listing = "list the domain's dumps to see which there are"
        if version_id:
            key = self._locate(domain, version_id)
            if key is None:
                raise DumpNotFoundError(
                    f"version_id {version_id!r} is not a dump of domain {domain!r} (none of the keys under "
                    f"{DUMPS_PREFIX}{domain}/ has it); {listing}",
                    [list_dumps_step(domain)],
                )
            return self.version(key, version_id)
        key = dump_key(domain, label)
        found = newest_dump(self.store, key, as_of)
        if found is not None:
            return replace(
                found, is_latest=as_of is None or self._is_newest(key, found), where=self._where(found)
            )
        raise self._not_found(domain, key, as_of, listing)

    def _is_newest(self, key: str, found: DumpVersion) -> bool:
        latest = newest_dump(self.store, key)
        return latest is not None and latest.version_id == found.version_id

    def _not_found(self, domain: str, key: str, as_of: datetime | None, listing: str) -> DumpNotFoundError:
        if as_of is not None:
            return DumpNotFoundError(
                f"as_of {as_of.isoformat()}: no dump of domain {domain!r} was made at or before that time "
                f"({key}; safety backups are restored by version_id); {listing}",
                [list_dumps_step(domain)],
            )
        if next(self.store.iter_versions(key), None) is not None:
            return DumpNotFoundError(
                f"domain {domain!r} has only pre-restore safety backups in {key}; restore one by version_id; "
                f"{listing}",
                [list_dumps_step(domain)],
            )
        return DumpNotFoundError(
            f"no dumps of domain {domain!r} in s3://{self.store.bucket}/{key}; run a backup first",
            [backup_step(domain)],
        )

    def previous(self, domain: str, label: str | None = None) -> DumpVersion:
        """The schedule or manual dump before the latest one ("what changed last night" compares the two)."""
        key = dump_key(domain, label)
        dumps = iter_dumps(self.store, key)
        latest, previous = next(dumps, None), next(dumps, None)
        if previous is None:
            count = "no" if latest is None else "only one"
            raise DumpNotFoundError(
                f"domain {domain!r} has {count} schedule or manual dump in {key}: there is no dump before the "
                "latest to compare",
                [list_dumps_step(domain)],
            )
        return replace(previous, where=self._where(previous))

    def _locate(self, domain: str, version_id: str) -> str | None:
        """The dump key of ``domain`` that has a version ``version_id``."""
        for key, versions in self._listing(domain).items():
            if any(version.version_id == version_id for version in versions):
                return key
        return None
