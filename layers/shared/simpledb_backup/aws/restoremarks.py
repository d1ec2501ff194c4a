"""What a backup needs to know of restores, read from what the restores sealed (aws.statemac): whether one holds
a domain's lock now (``locks/<domain>.lock``), and when one last began to write it
(``locks/<domain>.last-restore``).

Only a verified lock or mark is believed. One that does not verify was not written by a restore of this service,
so no restore of ours is writing the domain because of it: it is logged and otherwise ignored, and it never
blocks a backup (a planted lock, or a mark dated in the future, would otherwise stop every backup of the domain).
"""

from simpledb_backup.aws.keys import last_restore_key, lock_key
from simpledb_backup.aws.statemac import SealedDocuments
from simpledb_backup.observability import logger
from simpledb_backup.sealing import Unverified


class RestoreMarks:
    def __init__(self, documents: SealedDocuments) -> None:
        self.documents = documents

    def restore_holds(self, domain: str) -> bool:
        """A restore of this service holds the domain's lock."""
        return self._verified(lock_key(domain)) is not None

    def restore_began_at(self, domain: str) -> str | None:
        """When a restore of this service last began to write the domain (ISO 8601), if one ever did."""
        mark = self._verified(last_restore_key(domain))
        began = mark.get("at") if mark is not None else None
        return began if isinstance(began, str) else None

    def _verified(self, key: str) -> dict[str, object] | None:
        found = self.documents.get(key)
        if isinstance(found, Unverified):
            logger.warning(
                "a restore lock or mark that does not verify is ignored",
                extra={"key": found.key, "reason": found.reason},
            )
            return None
        return found
