"""Step 1 of a restore, and the whole of a plan: verify the source while comparing it with the target.

The source is read through once, completely: a dump through its verifying reader (format, version, counts,
digest, SimpleDB's limits on every item), a Repoman file or native export item by item. The same pass plans the
restore against a compact snapshot of the target (planning.py). A corrupt, truncated or foreign source is
refused here, and nothing has been written: ``prepare`` is the only way to obtain a ``PreparedRestore``, and the
later stages take one, so no write can happen before the source has been verified and the confirm rule met.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from simpledb_backup.dumpformat import DumpTotals, encode_item_line
from simpledb_backup.errors import ConfirmationRequiredError
from simpledb_backup.events import PlanRequest, RestoreRunRequest
from simpledb_backup.items import Item
from simpledb_backup.observability import logger
from simpledb_backup.planning import PlanSummary, Subset, TargetSnapshot, plan_changes
from simpledb_backup.restore.answers import plan_answer
from simpledb_backup.restore.sources import RestoreSource
from simpledb_backup.restore.state import RestoreState
from simpledb_backup.restore.target import TargetDomain
from simpledb_backup.runtime import utc_now


def subset_of(request: PlanRequest | RestoreRunRequest) -> Subset:
    return Subset.of(request.items, request.match)


def totalled(items: Iterable[Item], totals: DumpTotals) -> Iterator[Item]:
    """Pass items through, adding each one's canonical dump line to ``totals`` (count and digest)."""
    for item in items:
        totals.add(item, encode_item_line(item))
        yield item


@dataclass(frozen=True)
class Planned:
    """A verified source compared with the target."""

    snapshot: TargetSnapshot
    summary: PlanSummary
    source_totals: DumpTotals
    answer: dict[str, Any]


@dataclass(frozen=True)
class PreparedRestore:
    """A restore whose source was verified in full and whose target may be written (the confirm rule holds).

    Only ``Preparation.prepare`` makes one; the write stages need one.
    """

    state: RestoreState


class Preparation:
    def __init__(self, target: TargetDomain) -> None:
        self.target = target

    def plan(self, request: PlanRequest | RestoreRunRequest, source: RestoreSource) -> Planned:
        """Verify the source and compare it with the target; writes nothing."""
        subset = subset_of(request)
        snapshot = self.target.snapshot(request.target, subset)
        totals = DumpTotals()
        summary = plan_changes(
            totalled(source.items(), totals), snapshot, request.mode, subset, request.sample_size
        )
        answer = plan_answer(request, source.describe(), snapshot, summary)
        logger.info("restore planned", extra={"plan": answer})
        return Planned(snapshot, summary, totals, answer)

    def prepare(self, request: RestoreRunRequest, run_id: str, source: RestoreSource) -> PreparedRestore:
        """Plan, then apply the confirmation rule: writing into an existing, non-empty domain needs
        ``"confirm": "<that domain>"``. Raises ConfirmationRequiredError (with the plan) otherwise."""
        planned = self.plan(request, source)
        snapshot = planned.snapshot
        non_empty = snapshot.exists and snapshot.item_count > 0
        if non_empty and request.confirm != request.target:
            wrong = f' ("confirm" was {request.confirm!r})' if request.confirm is not None else ""
            raise ConfirmationRequiredError(
                f"{request.target} exists and holds {snapshot.item_count} items: to write into it, add "
                f'"confirm": "{request.target}" to the event{wrong}. The plan shows what would change.',
                planned.answer,
            )
        # Nothing to undo when the target is new or empty, or when the plan writes nothing at all.
        skip_safety_backup = None
        if not snapshot.exists:
            skip_safety_backup = "the target is new"
        elif not non_empty:
            skip_safety_backup = "the target was empty"
        elif planned.summary.differences == 0:
            skip_safety_backup = "the target already matched the source: nothing to write"
        state = RestoreState(
            run_id=run_id,
            request=request.model_dump(mode="json", exclude_none=True),
            source=source.describe(),
            target=request.target,
            started_at=utc_now(),
            phase="writing" if skip_safety_backup else "safety-backup",
            safety_backup_skipped=skip_safety_backup,
            target_created=not snapshot.exists,
            target_items_before=snapshot.item_count,
            plan={name: planned.answer[name] for name in ("items", "attributes", "samples")},
            source_totals=planned.source_totals.to_state(),
        )
        return PreparedRestore(state)
