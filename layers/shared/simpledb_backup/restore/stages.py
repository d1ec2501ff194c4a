"""Steps 2 to 4 of a restore, each a collaborator of the runner: safety backup, write, verify.

2. **Safety backup** of the target, a normal dump version with trigger ``pre-restore``, unless the target is
   new or empty or nothing differs: restoring that version undoes the restore. It may span invocations.
3. **Write** with parallel BatchPutAttributes / BatchDeleteAttributes workers. Every put replaces each
   attribute with the source's values, so writes converge: running the same restore again, or resuming one,
   re-plans against the target's current contents and finds the items already written unchanged.
4. **Verify** by reading the target back: nothing may be left to create, update or delete.
"""

from dataclasses import asdict
from typing import Any

from simpledb_backup.aws.simpledb import SimpleDB, plan_put_batches
from simpledb_backup.backup.service import BackupService
from simpledb_backup.events import RestoreRunRequest, undo_request
from simpledb_backup.formats.dumpformat import DumpTotals
from simpledb_backup.items import MAX_BATCH_ITEMS, Item
from simpledb_backup.observability import logger, tracer
from simpledb_backup.restore.catalog import PRE_RESTORE_TRIGGER
from simpledb_backup.restore.planning import ChangeKind, compare, plan_changes
from simpledb_backup.restore.prepare import PreparedRestore, subset_of
from simpledb_backup.restore.sources import RestoreSource
from simpledb_backup.restore.state import SafetyBackup
from simpledb_backup.restore.target import TargetDomain
from simpledb_backup.restore.writer import ParallelWriter, take_full_batches
from simpledb_backup.runtime import Deadline, event_payload


class SafetyBackupStage:
    def __init__(self, backups: BackupService) -> None:
        self.backups = backups

    @tracer.capture_method
    def run(self, prepared: PreparedRestore, deadline: Deadline) -> bool:
        """Dump the target with trigger ``pre-restore``; False when the dump continues in a later invocation."""
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


class WriteStage:
    def __init__(self, sdb: SimpleDB, target: TargetDomain, workers: int) -> None:
        self.sdb, self.target, self.workers = sdb, target, workers

    @tracer.capture_method
    def run(self, prepared: PreparedRestore, source: RestoreSource, deadline: Deadline) -> bool:
        """Re-plan against the target's current contents and write what differs.

        Re-planning is what makes a resumed or repeated restore safe: items already written compare unchanged.
        Returns False, with every batch in flight finished, when time runs short.
        """
        state = prepared.state
        request = RestoreRunRequest.model_validate(state.request)
        if state.target_created and not self.sdb.domain_exists(state.target):
            self.target.create(state.target)
        subset = subset_of(request)
        changes = compare(source.items(), self.target.snapshot(state.target, subset), request.mode, subset)
        puts: list[Item] = []
        trims: list[tuple[str, frozenset[str]]] = []
        deletes: list[str] = []
        completed = False
        with ParallelWriter(self.sdb, state.target, self.workers) as writer:
            try:
                for change in changes:
                    if change.needs_put and change.item is not None:
                        puts.append(change.item)
                    if change.needs_attribute_removal and change.item is not None:
                        trims.append((change.name, frozenset(change.item.attributes)))
                    if change.kind is ChangeKind.DELETE:
                        deletes.append(change.name)
                    if (
                        len(puts) > MAX_BATCH_ITEMS
                        or len(trims) == MAX_BATCH_ITEMS
                        or len(deletes) == MAX_BATCH_ITEMS
                    ):
                        if deadline.out_of_time():
                            break
                        for batch in take_full_batches(puts):
                            writer.put(batch)
                        if len(trims) == MAX_BATCH_ITEMS:
                            writer.trim(trims)
                            trims = []
                        if len(deletes) == MAX_BATCH_ITEMS:
                            writer.delete(deletes)
                            deletes = []
                else:
                    for batch in plan_put_batches(puts):
                        writer.put(batch)
                    if trims:
                        writer.trim(trims)
                    if deletes:
                        writer.delete(deletes)
                    completed = True
            finally:
                changes.close()  # stops the source stream early when time ran short
                writer.finish()
                state.written.merge(writer.counts)
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
    def run(self, prepared: PreparedRestore, source: RestoreSource) -> dict[str, Any]:
        """Read the target back and compare it with the source: nothing may be left to change.

        When the target must now hold exactly the source (exact mode, or a domain this restore created, with
        no subset), the target's count and order-independent digest are compared with the source's. Otherwise,
        or to explain a mismatch, the target is compared item by item as the plan does.
        """
        state = prepared.state
        request = RestoreRunRequest.model_validate(state.request)
        subset = subset_of(request)
        whole_target_is_source = subset.is_everything and (request.mode == "exact" or state.target_created)
        if whole_target_is_source and state.source_totals is not None:
            target_totals = self.target.totals(state.target)
            source_totals = DumpTotals.from_state(state.source_totals)
            if (target_totals.items, target_totals.digest) == (source_totals.items, source_totals.digest):
                return {"verified": True, "mismatches": 0, "sample": []}
        summary = plan_changes(
            source.items(),
            self.target.snapshot(state.target, subset),
            request.mode,
            subset,
            request.sample_size,
        )
        return {
            "verified": summary.differences == 0,
            "mismatches": summary.differences,
            "sample": summary.sample_names(),
        }
