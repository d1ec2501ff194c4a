"""Step 1 of a restore, and the whole of a plan: verify the source while comparing it with the target.

The source is read through once, completely: a dump through its verifying reader (format, version, counts,
digest, SimpleDB's limits on every item), a Repoman file or native export item by item. The same pass plans the
restore against a compact snapshot of the target (planning.py). A corrupt, truncated or foreign source is
refused here, and nothing has been written: ``prepare`` is the only way to obtain a ``PreparedRestore``, and the
later stages take one, so no write can happen before the source has been verified and the confirm rule met.

A subset dump holds only the items its where clause selected, so its restore covers only those: the clause
becomes part of the request's subset (``items``/``match``), and an exact restore removes extra items inside
the subset only. A clause the planner cannot evaluate (whereclause.py) is refused in exact mode.

The plan's samples are described in the domain's terms (describe.py); the target's version of a sampled item
is read afterwards by name (GetAttributes), at most three samples' worth, never by a second scan.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.errors import ConfirmationRequiredError, InvalidRequestError
from simpledb_backup.events import PlanRequest, RestoreRunRequest, describe_validation_error
from simpledb_backup.formats.dumpformat import DumpTotals, encode_item_line
from simpledb_backup.items import Item
from simpledb_backup.observability import logger
from simpledb_backup.restore.answers import plan_answer
from simpledb_backup.restore.describe import describe_plan_samples
from simpledb_backup.restore.planning import PlanSummary, Subset, TargetSnapshot, plan_changes
from simpledb_backup.restore.sources import RestoreSource
from simpledb_backup.restore.state import RestoreState
from simpledb_backup.restore.target import TargetDomain
from simpledb_backup.restore.whereclause import SUPPORTED_FORMS, subset_from_where
from simpledb_backup.runtime import utc_now


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
        request, note = scoped_to_source(request, source.describe())
        subset = subset_of(request)
        snapshot = self.target.snapshot(request.target, subset)
        totals = DumpTotals()
        summary = plan_changes(
            totalled(source.items(), totals), snapshot, request.mode, subset, request.sample_size
        )
        target_items = (
            read_items(self.target.sdb, request.target, summary.names_to_read()) if snapshot.exists else {}
        )
        samples = describe_plan_samples(summary.samples, target_items, request.mode)
        answer = plan_answer(request, source.describe(), snapshot, summary, samples, note)
        logger.info("restore planned", extra={"plan": answer})
        return Planned(request, snapshot, summary, totals, answer)

    def prepare(self, request: RestoreRunRequest, run_id: str, source: RestoreSource) -> PreparedRestore:
        """Plan, then apply the confirmation rule: writing into an existing, non-empty domain needs
        ``"confirm": "<that domain>"``. Raises ConfirmationRequiredError (with the plan) otherwise."""
        planned = self.plan(request, source)
        request = RestoreRunRequest.model_validate(planned.request.model_dump())
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
            plan={
                name: planned.answer[name]
                for name in ("items", "attributes", "writes", "samples", "sample_names")
            },
            source_totals=planned.source_totals.to_state(),
        )
        return PreparedRestore(state)
