"""No invocation runs past its deadline (issue 17): a restore whose writes are throttled hard, run in
invocations of a few seconds, hands over at each one's margin however long its calls wait, and its progress
moves during the write. (Today's finding: the write phase ran 31 s in an invocation with a 6 s timeout: the
writer checked the deadline only before queueing batches, and the rate controller's waits ignored it.)

Each invocation's wall time is measured here against its deadline, from its context's remaining time."""

import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from restore_helpers import DOMAIN, as_dict, contents, dump, fill

import sdblocal
from localrun import Invocations, LocalContext, load_handler
from repomandata import repoman_domain_items
from simpledb_backup.aws import clients
from simpledb_backup.aws.clients import call_timeout_seconds
from simpledb_backup.aws.keys import RESTORES_PREFIX

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
TIMEOUT_SECONDS = 8.0
MARGIN_SECONDS = 3.0
ITEMS = 1000
WRITE_CAP = 4  # batch calls a second: 40 batches take some 10 s, several invocations' worth


@pytest.fixture
def handler(
    backup_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, aws: None
) -> Iterator[ModuleType]:
    monkeypatch.setenv("CONTINUATION_MARGIN_SECONDS", str(MARGIN_SECONDS))
    monkeypatch.setenv("RESTORE_WORKERS", "8")
    module = load_handler("restore")
    fresh_container(module)
    yield module
    fresh_container(module)


def fresh_container(module: ModuleType) -> None:
    module.settings.cache_clear()
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()


class TimedContexts:
    """Lambda contexts of TIMEOUT_SECONDS, each remembering how much time its invocation had left at its end."""

    def __init__(self) -> None:
        self.contexts: list[LocalContext] = []

    def __call__(self) -> LocalContext:
        context = LocalContext(function_name="simpledb-backup-restore", timeout_seconds=TIMEOUT_SECONDS)
        self.contexts.append(context)
        return context


class ProgressWatcher(threading.Thread):
    """Reads the run's saved state while the invocations work, as ``status`` does, and keeps what it saw."""

    def __init__(self, s3_client: Any, bucket: str) -> None:
        super().__init__(daemon=True)
        self.s3_client, self.bucket = s3_client, bucket
        self.seen: list[tuple[str, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        import json

        while not self.stop.wait(0.2):
            listed = self.s3_client.list_objects_v2(Bucket=self.bucket, Prefix=RESTORES_PREFIX).get(
                "Contents", []
            )
            for entry in listed:
                state = json.loads(
                    self.s3_client.get_object(Bucket=self.bucket, Key=entry["Key"])["Body"].read()
                )
                written = state["written"]
                self.seen.append((state["phase"], written["items_written"]))


def test_a_throttled_restore_in_short_invocations_never_overruns_and_its_progress_moves(
    handler: ModuleType, sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = list(repoman_domain_items(ITEMS))
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    sdb_client.delete_domain(DomainName=DOMAIN)  # restored whole: every item a write
    sdblocal.controls.configure(write_calls_per_second=WRITE_CAP, write_calls_burst=1)
    contexts = TimedContexts()
    watcher = ProgressWatcher(s3_client, bucket)
    watcher.start()
    answers, wall_seconds, left_seconds = [], [], []
    try:
        for answer in Invocations(
            "restore", {"action": "restore", "domain": DOMAIN}, contexts, max_invocations=40
        ):
            context = contexts.contexts[-1]
            wall_seconds.append(time.monotonic() - context.started)
            left_seconds.append(TIMEOUT_SECONDS - wall_seconds[-1])
            answers.append(answer)
    finally:
        watcher.stop.set()
        watcher.join()
        sdblocal.controls.reset()
    assert answers[-1]["status"] == "complete", answers[-1]
    assert contents(sdb_client, DOMAIN) == as_dict(items)
    writing = [answer for answer in answers if answer.get("phase") == "writing"]
    assert len(writing) >= 2  # the write itself handed over, more than once
    # No invocation outlived its timeout: each handed over within its margin, with the time one call in flight
    # may take at most (its timeout), and a second for the saves that follow.
    bound = TIMEOUT_SECONDS - MARGIN_SECONDS + call_timeout_seconds(MARGIN_SECONDS) + 1.0
    assert max(wall_seconds) <= min(bound, TIMEOUT_SECONDS), wall_seconds
    assert min(left_seconds) > 0
    # The progress moved during the write: the saved state showed writes part-way, several times.
    during = {written for phase, written in watcher.seen if phase == "writing" and 0 < written < ITEMS}
    assert len(during) >= 3, watcher.seen
    progress = [answer["progress"]["items_written"] for answer in answers]
    assert progress == sorted(progress)
    assert progress[-1] == ITEMS
