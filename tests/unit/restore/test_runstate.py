"""A run's true state from its saved state and the age of its heartbeat, and the heartbeat that keeps it."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from simpledb_backup.errors import StorageError
from simpledb_backup.restore.heartbeat import Heartbeat
from simpledb_backup.restore.nextsteps import run_steps
from simpledb_backup.restore.state import (
    FENCE_SECONDS,
    PARKED_STALL_SECONDS,
    STALL_SECONDS,
    RestoreState,
    WriteCounts,
    run_state,
)

NOW = datetime(2026, 11, 26, 3, 0, 0, tzinfo=UTC)


def state(status: str = "running", heartbeat: float | None = 0.0, updated: float = 0.0) -> RestoreState:
    """A saved state; ``heartbeat`` and ``updated`` are seconds before NOW."""

    def iso(seconds: float) -> str:
        return (NOW - timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    return RestoreState(
        run_id="restore-20261126T025000Z-0123456789ab",
        request={"action": "restore", "domain": "packages"},
        source={"kind": "dump"},
        target="packages",
        started_at=iso(600),
        status=status,  # type: ignore[arg-type]
        phase="writing",
        heartbeat_at="" if heartbeat is None else iso(heartbeat),
        updated_at=iso(updated),
    )


def test_a_running_run_is_running_while_its_heartbeat_is_fresh_then_stalled_since_it() -> None:
    assert run_state(state(heartbeat=STALL_SECONDS - 1), NOW) == ("running", None)
    stalled, since = run_state(state(heartbeat=STALL_SECONDS + 1), NOW)
    assert stalled == "stalled"
    assert since == NOW - timedelta(seconds=STALL_SECONDS + 1)


def test_a_run_saved_before_heartbeats_is_judged_by_its_last_save() -> None:
    assert run_state(state(heartbeat=None, updated=1), NOW) == ("running", None)
    assert run_state(state(heartbeat=None, updated=STALL_SECONDS + 5), NOW)[0] == "stalled"


def test_a_parked_run_is_parked_until_its_continuation_is_overdue() -> None:
    assert run_state(state("continued", updated=60), NOW) == ("parked", None)
    assert run_state(state("continued", updated=PARKED_STALL_SECONDS + 1), NOW)[0] == "stalled"


@pytest.mark.parametrize("status", ["complete", "failed", "refused"])
def test_an_ended_run_is_what_it_ended_as_whatever_its_age(status: str) -> None:
    assert run_state(state(status, heartbeat=10_000, updated=10_000), NOW) == (status, None)


def test_each_true_state_offers_its_next_steps() -> None:
    def actions(true_state: str) -> list[str]:
        return [step["event"]["action"] for step in run_steps(state(), true_state)]  # type: ignore[arg-type]

    assert actions("running") == ["status"]
    assert actions("parked") == ["status", "restore"]
    assert actions("stalled") == ["restore", "unlock"]
    assert actions("failed") == ["restore"]  # run it again (no safety backup to undo with here)


class Saves:
    def __init__(self, fail: bool = False) -> None:
        self.saved: list[RestoreState] = []
        self.fail = fail
        self.event = threading.Event()

    def __call__(self, saved: RestoreState) -> None:
        if self.fail:
            raise StorageError("S3 is down")
        self.saved.append(saved)
        self.event.set()


def test_the_heartbeat_saves_the_checkpointed_state_with_the_live_progress() -> None:
    saves = Saves()
    heartbeat = Heartbeat(saves, interval=0.01)
    live = state()
    heartbeat.checkpoint(live, saves)
    live.phase = "verifying"  # not checkpointed: a beat must not save it (the lock does not vouch for it)
    live.written = WriteCounts(items_written=75, put_calls=3)
    live.safety_backup_items_so_far = 7
    saves.event.clear()
    heartbeat.start()
    assert saves.event.wait(5)
    heartbeat.stop()
    beat = saves.saved[-1]
    assert beat.phase == "writing"
    assert beat.written.items_written == 75
    assert beat.safety_backup_items_so_far == 7
    assert beat.heartbeat_at
    count = len(saves.saved)
    threading.Event().wait(0.05)
    assert len(saves.saved) == count  # stopped: no beat after stop()


def test_an_invocation_whose_heartbeat_cannot_be_saved_is_lost_after_the_fence() -> None:
    now = [0.0]
    saves = Saves()
    heartbeat = Heartbeat(saves, monotonic=lambda: now[0])
    heartbeat.checkpoint(state(), saves)
    saves.fail = True
    now[0] = FENCE_SECONDS - 1
    heartbeat.beat()
    assert not heartbeat.lost
    now[0] = FENCE_SECONDS + 1
    heartbeat.beat()
    assert heartbeat.lost
    saves.fail = False
    heartbeat.beat()
    assert not heartbeat.lost  # saved again
