"""Step 1 of a restore, and the whole of a plan: verify the source while comparing it with the target.

The source is read through once, completely: a dump through its verifying reader (format, version, counts,
digest, SimpleDB's limits on every item), a Repoman file or native export item by item. The same pass plans the
restore against a compact snapshot of the target (planning.py). A corrupt, truncated or foreign source is
refused here, and nothing has been written: ``prepare`` is the only way to obtain a ``PreparedRestore``, and the
later stages take one, so no write can happen before the source has been verified and the confirm rule met.

A subset dump holds only the items its where clause selected, so its restore covers only those: the clause
becomes part of the request's subset (``items``/``match``), and an exact restore removes extra items inside
the subset only. A clause the planner cannot evaluate (whereclause.py) is refused in exact mode.

The target is read once before anything is written: a restore's ``prepare`` reads it through the backup's own
scan, which stages the safety backup (a full dump of the target, trigger ``pre-restore``) while the same pages
build the plan's snapshot; the dump is published only when the restore goes ahead (the confirm rule holds and
something differs), and discarded otherwise, so a refusal publishes nothing. The snapshot then serves the
write stage of the same invocation (``PreparedRestore.take_snapshot``).

The plan's samples are described in the domain's terms (describe.py); the target's version of a sampled item
is read afterwards by name (GetAttributes), at most three samples' worth, never by a second scan.
"""

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from simpledb_backup.aws.s3store import PRE_RESTORE_TRIGGER
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.service import BackupService, BackupState
from simpledb_backup.errors import ConfirmationRequiredError, DomainNotFoundError, InvalidRequestError
from simpledb_backup.events import (
    PlanRequest,
    RestoreRunRequest,
    describe_validation_error,
    undo_request,
)
from simpledb_backup.formats.dumpformat import DumpTotals, encode_item_line
from simpledb_backup.items import Item
from simpledb_backup.observability import logger
from simpledb_backup.restore.answers import plan_answer
from simpledb_backup.restore.describe import describe_plan_samples
from simpledb_backup.restore.planning import PlanSummary, Subset, TargetSnapshot, plan_changes
from simpledb_backup.restore.sources import RestoreSource
from simpledb_backup.restore.state import RestoreState, SafetyBackup
from simpledb_backup.restore.target import TargetDomain
from simpledb_backup.restore.whereclause import SUPPORTED_FORMS, subset_from_where
from simpledb_backup.runtime import Deadline, event_payload, utc_now

#: The safety backup is read in the plan's pass, which reads the whole target whatever the time (as a plan
#: always has): a restore cannot start writing from part of a plan.
_WHOLE_READ = Deadline(lambda: math.inf, 0.0)


def subset_of(request: PlanRequest | RestoreRunRequest) -> Subset:
    return Subset.of(request.items, request.match)


def read_items(sdb: SimpleDB, domain: str, names: Iterable[str]) -> dict[str, Item]:
    """Items by name (GetAttributes with ConsistentRead), for describing sampled changes; a name the domain no
    longer holds is left out."""
    found: dict[str, Item] = {}
    for name in dict.fromkeys(names):
        item = sdb.get_item(domain, name)
        if item is not None:
            found[name] = item
    return found


Request = PlanRequest | RestoreRunRequest


def _with_subset(request: Request, subset: Subset, where: str) -> Request:
    """The request narrowed to the items ``subset`` (a subset dump's where clause) also selects."""
    names = request.items
    if subset.item_names is not None:
        names = sorted(subset.item_names if names is None else set(names) & subset.item_names)
    match = dict(request.match or {})
    for attribute, value in subset.match:
        if match.setdefault(attribute, value) != value:
            names = []  # the request's match and the clause want different values: nothing is selected
    if names == []:
        raise InvalidRequestError(
            f"the request's items/match and the subset dump's where clause ({where}) select no item together"
        )
    fields = {**request.model_dump(mode="json", exclude_none=True), "items": names, "match": match or None}
    try:
        return type(request).model_validate(fields)
    except ValidationError as error:
        raise InvalidRequestError(
            f"the subset dump's where clause ({where}) cannot be used as the restore's subset: "
            f"{describe_validation_error(error)}"
        ) from error


def scoped_to_source(request: Request, source: dict[str, Any]) -> tuple[Request, str | None]:
    """The request a subset dump's restore really is: narrowed to its where clause. Also a note for the answer
    when a merge restore of it cannot tell items outside the subset apart (they are only ever kept)."""
    if source.get("kind") != "dump" or source.get("label") is None:
        return request, None
    where = str(source.get("where") or "")
    subset = subset_from_where(where) if where else None
    if subset is not None:
        return _with_subset(request, subset, where), None
    if request.mode == "exact":
        raise InvalidRequestError(
            f"an exact restore of subset dump {source.get('label')!r} must remove extra items inside its where "
            f"clause only, and this clause cannot be evaluated here: {where!r} (supported: {SUPPORTED_FORMS}). "
            "Restore it in merge mode, or give the subset with 'items'/'match' and restore a full dump"
        )
    return request, (
        f"subset dump {source.get('label')!r}: its where clause cannot be evaluated here, so target items outside "
        "it are counted as kept (a merge never removes them)"
    )


def totalled(items: Iterable[Item], totals: DumpTotals) -> Iterator[Item]:
    """Pass items through, adding each one's canonical dump line to ``totals`` (count and digest)."""
    for item in items:
        totals.add(item, encode_item_line(item))
        yield item


@dataclass(frozen=True)
class Planned:
    """A verified source compared with the target."""

    #: The request as planned: a subset dump's where clause is part of its subset.
    request: PlanRequest | RestoreRunRequest
    snapshot: TargetSnapshot
    summary: PlanSummary
    source_totals: DumpTotals
    answer: dict[str, Any]


@dataclass
class PreparedRestore:
    """A restore whose source was verified in full and whose target may be written (the confirm rule holds).

    Only ``Preparation.prepare`` makes one with the plan's snapshot of the target, which the write stage of
    the same invocation writes from; a run resumed from its saved state (vouched for by its lock) has none, and
    its write stage reads the target again.
    """

    state: RestoreState
    _snapshot: TargetSnapshot | None = field(default=None, repr=False)

    def take_snapshot(self) -> TargetSnapshot | None:
        """The plan's snapshot of the target, once (the target changes as soon as it is written)."""
        snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            snapshot.rewind()
        return snapshot


def _skip_reason(planned: Planned) -> str | None:
    """Why no safety backup is needed: nothing to undo when the target is new or empty, or nothing differs."""
    snapshot = planned.snapshot
    if not snapshot.exists:
        return "the target is new"
    if snapshot.item_count == 0:
        return "the target was empty"
    if planned.summary.differences == 0:
        return "the target already matched the source: nothing to write"
    return None


class Preparation:
    def __init__(self, target: TargetDomain, backups: BackupService) -> None:
        self.target, self.backups = target, backups

    def plan(self, request: PlanRequest | RestoreRunRequest, source: RestoreSource) -> Planned:
        """Verify the source and compare it with one read of the target; writes nothing."""
        scoped, note = scoped_to_source(request, source.describe())
        snapshot = self.target.snapshot(scoped.target, subset_of(scoped))
        return self._planned(request, scoped, source, snapshot, note)

    def _planned(
        self,
        request: PlanRequest | RestoreRunRequest,
        scoped: PlanRequest | RestoreRunRequest,
        source: RestoreSource,
        snapshot: TargetSnapshot,
        note: str | None,
    ) -> Planned:
        totals = DumpTotals()
        summary = plan_changes(
            totalled(source.items(), totals), snapshot, scoped.mode, subset_of(scoped), scoped.sample_size
        )
        target_items = (
            read_items(self.target.sdb, scoped.target, summary.names_to_read()) if snapshot.exists else {}
        )
        samples = describe_plan_samples(summary.samples, target_items, scoped.mode)
        answer = plan_answer(scoped, source.describe(), snapshot, summary, samples, note, _as_plan(request))
        logger.info("restore planned", extra={"plan": answer})
        return Planned(scoped, snapshot, summary, totals, answer)

    def _read_with_safety_backup(
        self, target: str, subset: Subset, progress: Callable[[int], None]
    ) -> tuple[TargetSnapshot, BackupState | None]:
        """The target's snapshot, read by the backup's scan that stages its safety backup at the same time
        (None when the target does not exist)."""
        try:
            staged = self.backups.start(target, PRE_RESTORE_TRIGGER)
        except DomainNotFoundError:
            return TargetSnapshot(subset, exists=False), None
        snapshot = TargetSnapshot(subset)

        def seen(items: list[Item]) -> None:
            snapshot.add(items)
            progress(snapshot.item_count)

        self.backups.run(staged, _WHOLE_READ, on_items=seen, publish=False)  # a failure discards the upload
        return snapshot, staged

    def prepare(
        self,
        request: RestoreRunRequest,
        run_id: str,
        source: RestoreSource,
        progress: Callable[[int], None] | None = None,
    ) -> PreparedRestore:
        """Plan from one read of the target that also stages its safety backup, then apply the confirmation
        rule: writing into an existing, non-empty domain needs ``"confirm": "<that domain>"``. Raises
        ConfirmationRequiredError (with the plan) otherwise, and publishes no safety backup."""
        scoped, note = scoped_to_source(request, source.describe())
        snapshot, staged = self._read_with_safety_backup(
            scoped.target, subset_of(scoped), progress or _no_progress
        )
        published = None
        try:
            planned = self._planned(request, scoped, source, snapshot, note)
            _check_confirmed(RestoreRunRequest.model_validate(planned.request.model_dump()), planned)
            skip = _skip_reason(planned)
            if staged is not None and skip is None:
                published = self._publish(staged)
        finally:
            if staged is not None and published is None:
                self.backups.discard(staged)
        return PreparedRestore(self._state(planned, run_id, source, published, skip), snapshot)

    def _publish(self, staged: BackupState) -> SafetyBackup:
        result = self.backups.publish_staged(staged)
        if result.version_id is None:  # pragma: no cover - publishing always gives a version
            raise RuntimeError("a published safety backup has no version id")
        undo = undo_request(staged.domain, result.version_id)
        safety = SafetyBackup(
            version_id=result.version_id, key=result.key, items=result.items, undo=event_payload(undo)
        )
        logger.info("safety backup written", extra={"safety_backup": safety.model_dump()})
        return safety

    @staticmethod
    def _state(
        planned: Planned,
        run_id: str,
        source: RestoreSource,
        safety_backup: SafetyBackup | None,
        skipped: str | None,
    ) -> RestoreState:
        request = planned.request
        return RestoreState(
            run_id=run_id,
            request=request.model_dump(mode="json", exclude_none=True),
            source=source.describe(),
            target=request.target,
            started_at=utc_now(),
            phase="writing",
            safety_backup=safety_backup,
            safety_backup_skipped=skipped,
            safety_backup_items_so_far=planned.snapshot.item_count,
            target_created=not planned.snapshot.exists,
            target_items_before=planned.snapshot.item_count,
            plan={
                name: planned.answer[name]
                for name in ("items", "attributes", "writes", "samples", "sample_names", "samples_omitted")
                if name in planned.answer
            },
            source_totals=planned.source_totals.to_state(),
        )


def _no_progress(_: int) -> None:
    pass


def _as_plan(request: PlanRequest | RestoreRunRequest) -> PlanRequest:
    """The plan a request asks for (a restore's own plan included), for the next steps its answer gives."""
    fields = request.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    fields = {name: value for name, value in fields.items() if name not in ("confirm", "run_id")}
    return PlanRequest.model_validate({**fields, "action": "plan"})


def _check_confirmed(request: RestoreRunRequest, planned: Planned) -> None:
    """Writing into an existing, non-empty domain needs ``"confirm": "<that domain>"``."""
    snapshot = planned.snapshot
    if not (snapshot.exists and snapshot.item_count > 0) or request.confirm == request.target:
        return
    wrong = f' ("confirm" was {request.confirm!r})' if request.confirm is not None else ""
    error = ConfirmationRequiredError(
        f"{request.target} exists and holds {snapshot.item_count} items: to write into it, confirm with the "
        f"target's name{wrong}. The plan shows what would change.",
        planned.answer,
    )
    error.next_steps = planned.answer.get("next", [])
    raise error
