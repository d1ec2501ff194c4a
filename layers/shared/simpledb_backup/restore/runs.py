"""Where restore runs keep their state between invocations: ``restores/<run_id>.json``."""

import hashlib
import json
from typing import Any

from simpledb_backup.aws.keys import RESTORES_PREFIX, status_key
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.errors import InvalidRequestError, ObjectNotFoundError, SimpleDBBackupError
from simpledb_backup.restore.answers import continuation_request
from simpledb_backup.restore.state import ENDED, RestoreState
from simpledb_backup.runtime import event_payload, is_run_id, load_state, state_document, utc_now


def _started(key: str) -> str:
    """A run id's start time (``restore-20261126T030000Z-...``), by which runs sort oldest first."""
    name = key.removeprefix(RESTORES_PREFIX)
    return name.split("-", 1)[1] if name[:1].isalpha() else name


class RestoreRuns:
    def __init__(self, store: BucketStore) -> None:
        self.store = store

    def save(self, state: RestoreState) -> None:
        state.updated_at = utc_now()
        self.store.put_json(status_key(state.run_id), state_document(state))

    def load(self, run_id: str) -> RestoreState:
        """A run's saved state; InvalidRequestError when there is none (or the id is not a run id)."""
        if not is_run_id(run_id):
            raise InvalidRequestError(f"run_id: {run_id[:100]!r} is not a restore run id")
        key = status_key(run_id)
        try:
            document = self.store.get_json(key)
        except ObjectNotFoundError as error:
            raise InvalidRequestError(
                f"run_id: no restore run {run_id!r} (s3://{self.store.bucket}/{key} not found)"
            ) from error
        return load_state(RestoreState, document, f"s3://{self.store.bucket}/{key}")

    def list_runs(self, domain: str, limit: int) -> tuple[list[RestoreState], int]:
        """The newest ``limit`` runs restoring ``domain``'s dumps or into ``domain``, newest first (run ids
        begin with their start time), and how many more of them there are. A state that cannot be read is
        left out."""
        keys = [key for key in self.store.iter_keys_under(RESTORES_PREFIX) if key.endswith(".json")]
        found: list[RestoreState] = []
        more = 0
        for key in sorted(keys, key=_started, reverse=True):
            state = self._saved(key.removeprefix(RESTORES_PREFIX).removesuffix(".json"))
            if state is None or domain not in (state.request.get("domain"), state.target):
                continue
            if len(found) < limit:
                found.append(state)
            else:
                more += 1
        return found, more

    @staticmethod
    def fingerprint(state: RestoreState) -> str:
        """SHA-256 of the state's saved document, without the fields a status refresh alone may change (the
        heartbeat saves the time and the progress made, under the same vouching)."""
        document = state_document(state)
        for volatile in ("updated_at", "status", "heartbeat_at", "written", "safety_backup_items_so_far"):
            document.pop(volatile, None)
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()

    def _saved(self, run_id: str) -> RestoreState | None:
        try:
            return self.load(run_id)
        except SimpleDBBackupError:
            return None

    def parked(self, run_id: str) -> bool:
        state = self._saved(run_id)
        return state is not None and state.status == "continued"

    def resume_event(self, run_id: str) -> dict[str, Any] | None:
        """The event that resumes ``run_id`` (parked, or stopped mid-invocation) from its saved state."""
        state = self._saved(run_id)
        if state is None or state.status in ENDED:
            return None
        return event_payload(continuation_request(state))
