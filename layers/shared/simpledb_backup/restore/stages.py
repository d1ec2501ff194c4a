"""Steps 2 to 4 of a restore, each a collaborator of the runner: write, verify (and, for runs saved before the
safety backup was taken in the plan's read, the safety backup stage).

2. **Safety backup** of the target, a normal dump version with trigger ``pre-restore``: taken by the
   preparation from the same read of the target as the plan (prepare.py). Restoring that version undoes the
   restore. ``SafetyBackupStage`` only continues a run saved in phase ``safety-backup`` by an earlier release.
3. **Write** with parallel BatchPutAttributes / BatchDeleteAttributes workers. Every put replaces each
   attribute with the source's values, so writes converge. The first write invocation writes from the plan's
   own read of the target; a later one (the run parked, or its invocation died) reads the target again and
   finds the items already written unchanged.
4. **Verify** by reading the target back once: nothing may be left to create, update or delete.

No stage outlives its invocation: the writer stops taking batches and the rate controller stops waiting when
the deadline's margin is reached (the runner's deadline also reads as out of time once the run's heartbeat is
lost); a read stopped part-way is done again in the next invocation.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from typing import Any

from simpledb_backup.aws.ratecontrol import OutOfTimeError, RateController
from simpledb_backup.aws.simpledb import SimpleDB, plan_put_batches
from simpledb_backup.backup.service import BackupService
from simpledb_backup.events import RestoreRunRequest, undo_request
from simpledb_backup.formats.dumpformat import DumpTotals
from simpledb_backup.items import MAX_BATCH_ITEMS, Item
from simpledb_backup.observability import logger, tracer
from simpledb_backup.restore.catalog import PRE_RESTORE_TRIGGER
from simpledb_backup.restore.planning import Change, ChangeKind, PlanSummary, compare, plan_changes
from simpledb_backup.restore.prepare import PreparedRestore, subset_of
from simpledb_backup.restore.sources import RestoreSource
from simpledb_backup.restore.state import RestoreState, SafetyBackup, WriteCounts
from simpledb_backup.restore.target import TargetDomain
from simpledb_backup.restore.writer import ParallelWriter, take_full_batches
from simpledb_backup.runtime import Deadline, event_payload


def time_limited(sdb: SimpleDB, deadline: Deadline) -> AbstractContextManager[None]:
    """While the context lasts, the adapter's rate controller waits for no call past the deadline's margin
    (other retry policies, such as the benchmark's baseline, do not wait on a time limit)."""
    policy = sdb.retry_policy
    if isinstance(policy, RateController):
        return policy.limited_to(lambda: deadline.remaining() - deadline.margin_seconds)
    return nullcontext()


class SafetyBackupStage:
    def __init__(self, backups: BackupService) -> None:
        self.backups = backups

    @tracer.capture_method
    def run(self, prepared: PreparedRestore, deadline: Deadline) -> bool:
        """Continue the ``pre-restore`` dump of a run saved in phase safety-backup; False when it continues in
        a later invocation."""
        state = prepared.state
        if state.safety_backup_run_id:
            result = self.backups.run(self.backups.load(state.safety_backup_run_id), deadline)
        else:
            result = self.backups.backup(state.target, PRE_RESTORE_TRIGGER, deadline)
        if result.status != "complete" or result.version_id is None:
            state.safety_backup_run_id = result.run_id
            state.safety_backup_items_so_far = result.items
            return False
        undo = undo_request(state.target, result.version_id)
        state.safety_backup = SafetyBackup(
            version_id=result.version_id, key=result.key, items=result.items, undo=event_payload(undo)
        )
        logger.info("safety backup written", extra={"safety_backup": state.safety_backup.model_dump()})
        return True


class _Batches:
    """Changes gathered into full batches of puts, trims and deletes for a writer."""

    def __init__(self, writer: ParallelWriter) -> None:
        self.writer = writer
        self.puts: list[Item] = []
        self.trims: list[tuple[str, frozenset[str]]] = []
        self.deletes: list[str] = []

    def add(self, change: Change) -> bool:
        """Gather one change; True when a batch is full and ``flush_full`` should run."""
        if change.needs_put and change.item is not None:
            self.puts.append(change.item)
        if change.needs_attribute_removal and change.item is not None:
            self.trims.append((change.name, frozenset(change.item.attributes)))
        if change.kind is ChangeKind.DELETE:
            self.deletes.append(change.name)
        return (
            len(self.puts) > MAX_BATCH_ITEMS
            or len(self.trims) == MAX_BATCH_ITEMS
            or len(self.deletes) == MAX_BATCH_ITEMS
        )

    def flush_full(self) -> None:
        for batch in take_full_batches(self.puts):
            self.writer.put(batch)
        if len(self.trims) == MAX_BATCH_ITEMS:
            self.writer.trim(self.trims)
            self.trims = []
        if len(self.deletes) == MAX_BATCH_ITEMS:
            self.writer.delete(self.deletes)
            self.deletes = []

    def flush_all(self) -> None:
        for batch in plan_put_batches(self.puts):
            self.writer.put(batch)
        if self.trims:
            self.writer.trim(self.trims)
        if self.deletes:
            self.writer.delete(self.deletes)


def _write_all(changes: Iterator[Change], writer: ParallelWriter, deadline: Deadline) -> bool:
    """Hand every change to the writer; False when time ran short first (nothing more is taken)."""
    batches = _Batches(writer)
    for change in changes:
        if batches.add(change):
            if deadline.out_of_time() or writer.out_of_time:
                return False
            batches.flush_full()
    if deadline.out_of_time() or writer.out_of_time:
        return False
    batches.flush_all()
    return True


def _reconciled(
    before: WriteCounts, now: WriteCounts, plan: dict[str, Any], left: PlanSummary
) -> WriteCounts:
    """The run's counts once a resumed write stage is done: what the earlier invocations wrote is what the plan
    had to write less what this one found left, which also counts writes a killed invocation made after its
    last heartbeat (never fewer than were counted)."""
    planned = plan.get("writes") or {}
    earlier = {
        "items_written": int(planned.get("put", 0)) - left.items_to_put,
        "items_trimmed": int(planned.get("trim", 0)) - left.items_to_trim,
        "items_deleted": int(planned.get("delete", 0)) - left.counts[ChangeKind.DELETE],
    }
    this_invocation = {name: getattr(now, name) - getattr(before, name) for name in earlier}
    return now.model_copy(
        update={name: max(getattr(before, name), earlier[name]) + this_invocation[name] for name in earlier}
    )


class WriteStage:
    def __init__(self, sdb: SimpleDB, target: TargetDomain, workers: int) -> None:
        self.sdb, self.target, self.workers = sdb, target, workers

    @tracer.capture_method
    def run(self, prepared: PreparedRestore, source: RestoreSource, deadline: Deadline) -> bool:
        """Write what differs between the source and the target: from the plan's read of the target when it
        is at hand (the invocation that planned), else from a new read. Returns False, with every batch in
        flight finished, when time runs short."""
        state = prepared.state
        request = RestoreRunRequest.model_validate(state.request)
        if state.target_created and not self.sdb.domain_exists(state.target):
            self.target.create(state.target)
        subset = subset_of(request)
        snapshot = prepared.take_snapshot()
        resumed = snapshot is None
        if snapshot is None:
            try:
                with time_limited(self.sdb, deadline):
                    snapshot = self.target.read(state.target, subset, should_stop=deadline.out_of_time)
            except OutOfTimeError:
                return False
            if snapshot is None:
                return False
        left = PlanSummary(request.mode, 0)
        changes = compare(source.items(), snapshot, request.mode, subset)
        before = state.written
        completed = self._write(state, left.track(changes), deadline)
        changes.close()  # stops the source stream early when time ran short
        if completed and resumed and state.plan is not None:
            state.written = _reconciled(before, state.written, state.plan, left)
        return completed

    def _write(self, state: RestoreState, changes: Iterator[Change], deadline: Deadline) -> bool:
        def done(counts: WriteCounts) -> None:
            state.written = state.written.plus(counts)

        with (
            time_limited(self.sdb, deadline),
            ParallelWriter(self.sdb, state.target, self.workers, done) as writer,
        ):
            try:
                completed = _write_all(changes, writer, deadline)
            finally:
                writer.finish()
            completed = completed and not writer.out_of_time
        logger.info(
            "restore writes finished" if completed else "restore writes paused",
            extra={
                "written": writer.counts.model_dump(),
                "retry_stats": asdict(self.sdb.retry_policy.stats()),
            },
        )
        return completed


class VerifyStage:
    def __init__(self, target: TargetDomain) -> None:
        self.target = target

    @tracer.capture_method
    def run(
        self, prepared: PreparedRestore, source: RestoreSource, deadline: Deadline | None = None
    ) -> dict[str, Any] | None:
        """Read the target back and compare it with the source: nothing may be left to change. None when time
        ran short before a read's end (the next invocation verifies).

        When the target must now hold exactly the source (exact mode, or a domain this restore created, with
        no subset), one read compares its count and order-independent digest with the source's, holding
        nothing per item. Otherwise, or to explain a mismatch (a third read, on that failure only), a read's
        snapshot is compared item by item with the source, as the plan does.
        """
        state = prepared.state
        request = RestoreRunRequest.model_validate(state.request)
        subset = subset_of(request)
        stop: Callable[[], bool] = deadline.out_of_time if deadline else (lambda: False)
        whole_target_is_source = subset.is_everything and (request.mode == "exact" or state.target_created)
        try:
            with time_limited(self.target.sdb, deadline) if deadline else nullcontext():
                if whole_target_is_source and state.source_totals is not None:
                    totals = self.target.totals(state.target, should_stop=stop)
                    if totals is None:
                        return None
                    source_totals = DumpTotals.from_state(state.source_totals)
                    if (totals.items, totals.digest) == (source_totals.items, source_totals.digest):
                        return {"verified": True, "mismatches": 0, "sample": []}
                snapshot = self.target.read(state.target, subset, should_stop=stop)
        except OutOfTimeError:
            return None
        if snapshot is None:
            return None
        summary = plan_changes(source.items(), snapshot, request.mode, subset, request.sample_size)
        return {
            "verified": summary.differences == 0,
            "mismatches": summary.differences,
            "sample": summary.sample_names(),
        }
