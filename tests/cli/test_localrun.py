"""localrun treats an invocation as Lambda does: one that runs past its timeout is abandoned (its answer is an
error, "Task timed out") and reported, the continuations it asked for in time still run and those it asked for
after its deadline never do, so a test that lets an invocation overrun fails. A test's own clock is the test's:
it is not read again."""

import itertools
import time
from typing import Any

import pytest

from localrun import Invocations, InvocationTimedOutError, LocalContext
from simpledb_backup.events import BackupEvent


class Handler:
    """A handler module's two names: asks for a continuation, works ``work_seconds``, then asks for another."""

    def __init__(self, work_seconds: float) -> None:
        self.work_seconds = work_seconds
        self.events: list[dict[str, Any]] = []
        self.start_continuation: Any = None  # localrun's stand-in, as for a handler module

    def lambda_handler(self, event: dict[str, Any], context: LocalContext) -> dict[str, Any]:
        self.events.append(event)
        if event.get("label") is None:
            self.start_continuation(BackupEvent(where="`a` = 'in time'", label="in-time"), context)
            time.sleep(self.work_seconds)
            self.start_continuation(BackupEvent(where="`a` = 'late'", label="late"), context)
        return {"status": "ok", "label": event.get("label")}


def test_an_invocation_past_its_timeout_is_abandoned_and_reported() -> None:
    handler = Handler(work_seconds=0.5)
    chain = Invocations(
        "backup", {}, lambda: LocalContext("simpledb-backup-backup", timeout_seconds=0.2), handler=handler
    )
    with pytest.raises(InvocationTimedOutError, match=r"^Task timed out after 0\.20 seconds") as timed_out:
        next(chain)
    assert "1 continuation(s) it asked for after its deadline were dropped" in str(timed_out.value)
    assert timed_out.value.ran_seconds >= 0.5
    # The continuation asked for in time runs, as Lambda would run it; the late one never does.
    assert next(chain) == {"status": "ok", "label": "in-time"}
    assert not chain.continues
    assert [event.get("label") for event in handler.events] == [None, "in-time"]


def test_an_invocation_within_its_timeout_answers() -> None:
    chain = Invocations(
        "backup", {}, lambda: LocalContext("simpledb-backup-backup", timeout_seconds=30), handler=Handler(0)
    )
    assert [answer["label"] for answer in chain] == [None, "in-time", "late"]


def test_a_tests_own_clock_is_not_read_again() -> None:
    ticks = itertools.count(step=100)  # each reading is 100 s later: far past the timeout
    context = LocalContext("simpledb-backup-backup", timeout_seconds=30, clock=lambda: next(ticks))
    chain = Invocations("backup", {}, lambda: context, handler=Handler(0))
    assert [answer["label"] for answer in chain] == [None, "in-time", "late"]
