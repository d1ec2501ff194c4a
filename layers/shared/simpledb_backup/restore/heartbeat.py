"""The heartbeat of a restore run: while an invocation works on the run, its state is saved every few seconds
with the time and the progress made, so that ``status`` and ``runs`` can tell a working run from one whose
invocation died, and the counts a killed invocation leaves behind are at most a few seconds old.

Every save of the run goes through one heartbeat, under one lock, so an older document never lands after a
newer one. A beat saves the state as the run last checkpointed it (a state the run's lock vouches for) with
only the time and the progress updated (the fields ``RestoreRuns.fingerprint`` leaves out). An invocation whose
beats have failed for ``FENCE_SECONDS`` stops working by itself (``lost``): a reader may already report it
stalled, and a resume may take its place.
"""

import threading
import time
from collections.abc import Callable

from simpledb_backup.errors import SimpleDBBackupError
from simpledb_backup.observability import logger
from simpledb_backup.restore.state import FENCE_SECONDS, HEARTBEAT_SECONDS, RestoreState
from simpledb_backup.runtime import utc_now


class Heartbeat:
    def __init__(
        self,
        save: Callable[[RestoreState], None],
        interval: float = HEARTBEAT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._save, self.interval, self._monotonic = save, interval, monotonic
        self._saving = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        #: The state as last checkpointed (what a beat saves), and the live one (its progress).
        self._base: RestoreState | None = None
        self._live: RestoreState | None = None
        self._saved_at = monotonic()

    def checkpoint(self, state: RestoreState, save: Callable[[RestoreState], None]) -> None:
        """Save ``state`` with ``save`` (which also makes the lock vouch for it), under the heartbeat's lock;
        beats then save this state, with the live progress of ``state``."""
        with self._saving:
            if state.status == "running":
                state.heartbeat_at = utc_now()
            save(state)
            self._base, self._live = state.model_copy(deep=True), state
            self._saved_at = self._monotonic()

    def start(self) -> None:
        """Beat every ``interval`` seconds until ``stop`` (after a first ``checkpoint``)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="restore-heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """No beat after this returns: the invocation saves its last state itself."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    @property
    def lost(self) -> bool:
        """The run's state could not be saved for FENCE_SECONDS: the invocation must stop working on it."""
        return self._monotonic() - self._saved_at > FENCE_SECONDS

    def beat(self) -> None:
        """Save the last checkpointed state as alive now, with the progress made since."""
        with self._saving:
            if self._base is None or self._live is None:
                return
            live = self._live
            state = self._base.with_heartbeat(utc_now(), live.written, live.safety_backup_items_so_far)
            try:
                self._save(state)
            except SimpleDBBackupError as error:
                logger.warning("the run's heartbeat could not be saved", extra={"error": str(error)})
                return
            self._saved_at = self._monotonic()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.beat()
