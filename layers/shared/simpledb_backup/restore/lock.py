"""The lock a restore holds on its target domain: ``locks/<target>.lock``, taken with S3 conditional writes.

Restores of one target never overlap: each restore holds this lock from its first invocation to its last (a
drill holds its scratch domain's the same way). Taking the lock is ``If-None-Match: *`` (exactly one creator
wins); taking over an abandoned lock is ``If-Match`` on the ETag that was read, so of several restores that
find the same expired lock exactly one replaces it; releasing deletes it only if it is still ours.

The lock is sealed (aws.statemac): a lock whose MAC does not verify was not written by this service. It is
never taken over and never believed; the restore is refused, naming it, and writes nothing.
"""

import json
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from simpledb_backup.aws.claims import claim
from simpledb_backup.aws.keys import last_restore_key, lock_key
from simpledb_backup.aws.statemac import SealedDocuments, unverified_error
from simpledb_backup.errors import RestoreInProgressError
from simpledb_backup.observability import logger
from simpledb_backup.runtime import Clock, utc_datetime, utc_now
from simpledb_backup.sealing import Unverified

#: A lock outlives its invocation's remaining time by this much before another restore may take it over.
LOCK_GRACE_SECONDS = 120.0


class RunLookup(Protocol):
    """What the lock needs to know about the run that holds it (restore.runs.RestoreRuns)."""

    def parked(self, run_id: str) -> bool:
        """The run saved its state and waits for its continuation: it keeps its lock even after expiry."""

    def resume_event(self, run_id: str) -> dict[str, Any] | None:
        """The event that resumes the run, if it saved a state it can resume from."""


class LockHolder(BaseModel):
    """Who holds a target, since when and until when; the lock object's contents."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    run_id: str
    domain: str
    target: str
    source: dict[str, Any] = {}
    taken_at: str = "unknown"
    expires_at: datetime


class TargetLock:
    def __init__(self, documents: SealedDocuments, runs: RunLookup, clock: Clock = utc_datetime) -> None:
        self.documents, self.runs, self.clock = documents, runs, clock
        #: ETag of the lock object this process wrote last, per target: release deletes only that object.
        self._etags: dict[str, str] = {}

    def holder_for(
        self,
        run_id: str,
        domain: str,
        target: str,
        source: dict[str, Any],
        seconds: float,
    ) -> LockHolder:
        """The holder document of a run that may need ``seconds`` more before it ends or continues."""
        now = self.clock()
        return LockHolder(
            run_id=run_id,
            domain=domain,
            target=target,
            source=source,
            taken_at=now.isoformat(),
            expires_at=now + timedelta(seconds=seconds + LOCK_GRACE_SECONDS),
        )

    def found(self, target: str) -> LockHolder | Unverified | None:
        """What the target's lock says now: its holder; Unverified when the lock was not written by this service
        (or is not a lock); None when there is no lock."""
        key = lock_key(target)
        document = self.documents.get(key)
        if document is None or isinstance(document, Unverified):
            return document
        return self._parse(document) or Unverified(key, "it is not a lock")

    def holder(self, target: str) -> LockHolder | None:
        """Who holds the target's lock now (None when nobody, or when the lock does not verify)."""
        found = self.found(target)
        return found if isinstance(found, LockHolder) else None

    def current(self, target: str) -> tuple[LockHolder | None, str] | None:
        """The target's lock as it is now: its holder (None when it does not verify or is not a lock) and its
        ETag; None when the target has no lock."""
        found = self.documents.get_json_and_etag(lock_key(target))
        if found is None:
            return None
        document, etag = found
        return (None if isinstance(document, Unverified) else self._parse(document)), etag

    def remove(self, target: str, etag: str) -> bool:
        """Delete the target's lock if it is still the object ``current`` found (its ETag): the restore
        function's unlock, after it found the lock's run gone. False when the lock changed meanwhile."""
        self._etags.pop(target, None)
        return self.documents.delete_if_match(lock_key(target), etag)

    def acquire(self, holder: LockHolder) -> None:
        """Take the target's lock for ``holder``, refresh it when the same run holds it, or take over one that
        was abandoned; RestoreInProgressError otherwise, and UnverifiedStateError when the lock in place was not
        written by this service.

        A lock whose holder died (a Lambda timeout skips every ``finally``) is abandoned once it has expired,
        unless the holder's run is parked waiting for its continuation: that one keeps its lock until it
        resumes or someone removes the lock.
        """
        key = lock_key(holder.target)

        def may_replace(current: object) -> bool:
            if isinstance(current, Unverified):
                return False  # not ours: never taken over (the refusal names it)
            found = self._parse(current)
            # The same run: a continuation, or a retried request whose first attempt had written the lock.
            if found is not None and found.run_id == holder.run_id:
                return True
            if self._abandoned(found):
                logger.warning("taking over an abandoned restore lock", extra={"lock": current})
                return True
            return False

        outcome = claim(self.documents, key, holder.model_dump(mode="json"), may_replace)
        if isinstance(outcome.current, Unverified):
            raise unverified_error(outcome.current, self.documents.bucket)
        if outcome.etag is None:
            raise RestoreInProgressError(self.message(key, self._parse(outcome.current)))
        self._etags[holder.target] = outcome.etag

    @staticmethod
    def _parse(document: object) -> LockHolder | None:
        try:
            return LockHolder.model_validate(document)
        except ValidationError:
            return None

    def _abandoned(self, holder: LockHolder | None) -> bool:
        if holder is None:
            return False  # unreadable: a person decides (the message says how to remove it)
        if holder.expires_at >= self.clock():
            return False
        return not self.runs.parked(holder.run_id)

    def announce_writes(self, target: str, run_id: str) -> None:
        """Record that a restore begins to write ``target``: a backup of it that was reading meanwhile will not
        publish a dump mixing the states before and after (backup.BackupService)."""
        self.documents.put(last_restore_key(target), {"run_id": run_id, "at": utc_now()})

    def release(self, target: str) -> None:
        """Delete the target's lock if it is still the one this process wrote."""
        etag = self._etags.pop(target, None)
        if etag is not None and not self.documents.delete_if_match(lock_key(target), etag):
            logger.warning("the restore lock was no longer ours to release", extra={"target_domain": target})

    def message(self, key: str, holder: LockHolder | None) -> str:
        """What holds the lock and the actions that work: wait, resume a parked run, or remove the lock."""
        bucket = self.documents.bucket
        remove = f"remove the lock: aws s3 rm s3://{bucket}/{key}"
        if holder is None:
            return f"the lock s3://{bucket}/{key} is held; wait for that restore to finish, or {remove}"
        status = {"action": "status", "domain": holder.domain, "run_id": holder.run_id}
        text = (
            f"another restore (run {holder.run_id}, of {holder.domain} into {holder.target}, since "
            f"{holder.taken_at}) holds the lock s3://{bucket}/{key} until "
            f"{holder.expires_at.isoformat()}. Wait for it to finish (ask {json.dumps(status)})"
        )
        resume = self.runs.resume_event(holder.run_id)
        if resume is not None:
            return f"{text}; if it stopped (its continuation was lost, or it was killed), resume it with {json.dumps(resume)}, or {remove}"
        return (
            f"{text}; if it was interrupted, it saved no progress to resume: after "
            f"{holder.expires_at.isoformat()} run the same restore again, or {remove}"
        )
