"""Where restore and drill runs keep their state between invocations: ``restores/<run_id>.json`` and
``drills/<run_id>.json`` (aws.keys.status_key), each sealed with the state key (aws.statemac).

A state is saved with its MAC and loaded only when the MAC verifies: a state the service did not write itself
(planted, or edited between two invocations) is refused with UnverifiedStateError and steers nothing.
"""

from typing import Any, Literal

from simpledb_backup.aws.keys import DRILL_RUN_ID_PREFIX, RESTORES_PREFIX, status_key
from simpledb_backup.aws.statemac import SealedDocuments, unverified_error
from simpledb_backup.errors import InvalidRequestError, RefusalError
from simpledb_backup.restore.answers import continuation_request
from simpledb_backup.restore.state import ENDED, RestoreState
from simpledb_backup.runtime import event_payload, is_run_id, load_state, new_run_id, state_document, utc_now
from simpledb_backup.sealing import Unverified

RunKind = Literal["restore", "drill"]


class RestoreRuns:
    """The saved runs of one kind: the restore function's restores, or the drill function's drills."""

    def __init__(self, documents: SealedDocuments, kind: RunKind = "restore") -> None:
        self.documents, self.kind = documents, kind

    def new_run_id(self) -> str:
        """A new run's id, ``restore-...`` or ``drill-...``: its kind decides where its state is kept."""
        return new_run_id(self.kind)

    def save(self, state: RestoreState) -> None:
        state.updated_at = utc_now()
        self.documents.put(status_key(state.run_id), state_document(state))

    def load(self, run_id: str) -> RestoreState:
        """A run's saved state; InvalidRequestError when there is none (or the id is not a run of this kind),
        UnverifiedStateError when the state was not written by this service."""
        if not self._is_own(run_id):
            raise InvalidRequestError(f"run_id: {run_id[:100]!r} is not a {self.kind} run id")
        key = status_key(run_id)
        document = self.documents.get(key)
        if document is None:
            raise InvalidRequestError(
                f"run_id: no {self.kind} run {run_id!r} (s3://{self.documents.bucket}/{key} not found)"
            )
        if isinstance(document, Unverified):
            raise unverified_error(document, self.documents.bucket)
        state = load_state(RestoreState, document, f"s3://{self.documents.bucket}/{key}")
        if state.run_id != run_id:  # sealed at its own key, so only an older release's bug could do this
            raise InvalidRequestError(f"run_id: the state saved for {run_id!r} is run {state.run_id!r}")
        return state

    def list_runs(self, domain: str, limit: int) -> tuple[list[RestoreState], int]:
        """The newest ``limit`` restore runs of ``domain``'s dumps or into ``domain``, newest first (by their
        start time), and how many more of them there are. A state that does not verify is left out."""
        keys = [key for key in self.documents.store.iter_keys_under(RESTORES_PREFIX) if key.endswith(".json")]
        found: list[RestoreState] = []
        for key in keys:
            state = self._saved(key.removeprefix(RESTORES_PREFIX).removesuffix(".json"))
            if state is not None and domain in (state.request.get("domain"), state.target):
                found.append(state)
        found.sort(key=lambda state: (state.started_at, state.run_id), reverse=True)
        return found[:limit], max(0, len(found) - limit)

    def _is_own(self, run_id: str) -> bool:
        # Restore runs saved by earlier releases have no kind in their id; drill runs always have one.
        is_drill = run_id.startswith(DRILL_RUN_ID_PREFIX)
        return is_run_id(run_id) and is_drill == (self.kind == "drill")

    def _saved(self, run_id: str) -> RestoreState | None:
        """The run's verified state, or None when it has none that verifies. An error reaching S3 or KMS is
        raised: a parked run must not lose its lock because its state could not be read just now."""
        try:
            return self.load(run_id)
        except RefusalError:
            return None

    def parked(self, run_id: str) -> bool:
        """The run saved a verified state and waits for its continuation."""
        state = self._saved(run_id)
        return state is not None and state.status == "continued"

    def resume_event(self, run_id: str) -> dict[str, Any] | None:
        """The event that resumes ``run_id`` (parked, or stopped mid-invocation) from its saved state."""
        state = self._saved(run_id)
        if state is None or state.status in ENDED:
            return None
        return event_payload(continuation_request(state))
