"""The ``diff`` action: what changed between two dumps, or between a dump and the live domain. Writes nothing.

Memory is bounded as a plan's: one side is held as a snapshot of fingerprints (planning.TargetSnapshot), the
other is streamed past it (planning.compare in exact mode: every difference counts). Between two dumps the
older one is the snapshot and the newer one streams; against the live domain the domain is the snapshot (one
scan) and the dump streams. The samples are then described in the domain's terms (describe.py): a sampled
item that only the snapshot side holds is read afterwards by name, with GetAttributes on the live domain or a
second pass over the older dump that keeps just the sampled names; never a second scan of the domain.

Both dumps are read through their verifying reader, so a damaged dump is refused, not compared. A subset dump
is compared with the live domain read through the same where clause; with a full dump only when its clause can
be evaluated here (whereclause.py), otherwise the diff is refused.
"""

from collections.abc import Generator, Iterable
from contextlib import closing
from dataclasses import dataclass
from typing import Any, cast

from simpledb_backup.aws.s3store import BucketStore, DumpVersion
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.scan import scan_domain
from simpledb_backup.errors import DomainNotFoundError, InvalidRequestError
from simpledb_backup.events import DiffRequest, DumpSelector
from simpledb_backup.items import Item
from simpledb_backup.observability import logger
from simpledb_backup.restore.answers import diff_answer
from simpledb_backup.restore.catalog import DumpCatalog
from simpledb_backup.restore.describe import Description, describe_change, describe_item, describe_missing
from simpledb_backup.restore.planning import (
    Change,
    ChangeKind,
    PlanSummary,
    Subset,
    TargetSnapshot,
    plan_changes,
)
from simpledb_backup.restore.prepare import read_items
from simpledb_backup.restore.sources import DumpSource
from simpledb_backup.restore.whereclause import SUPPORTED_FORMS, subset_from_where


@dataclass(frozen=True)
class Compared:
    """A comparison of a streamed side with a snapshot side, and how to read the snapshot side's samples."""

    summary: PlanSummary
    #: True when the streamed side is the older one ("from"), as against the live domain.
    streamed_is_older: bool
    #: The snapshot side's version of the sampled items it alone can give (read after the comparison).
    snapshot_items: dict[str, Item]


def _described(change: Change, older: Item | None, newer: Item | None) -> Description:
    if change.kind is ChangeKind.UPDATE:
        if older is None or newer is None:
            return describe_missing(change.name, older or newer)
        return describe_change(older, newer, removes=True)
    shown = newer if newer is not None else older
    return describe_item(shown) if shown is not None else describe_missing(change.name)


def _diff_samples(compared: Compared) -> dict[str, list[Description]]:
    """The sampled changes as added / changed / removed, each described with its older and newer item."""
    summary, read = compared.summary, compared.snapshot_items
    if compared.streamed_is_older:
        only_newer, only_older = ChangeKind.DELETE, ChangeKind.CREATE
    else:
        only_newer, only_older = ChangeKind.CREATE, ChangeKind.DELETE
    samples: dict[str, list[Description]] = {"added": [], "changed": [], "removed": []}
    for change in summary.samples[only_newer]:
        newer = change.item if change.kind is ChangeKind.CREATE else read.get(change.name)
        samples["added"].append(_described(change, None, newer))
    for change in summary.samples[ChangeKind.UPDATE]:
        streamed, other = change.item, read.get(change.name)
        older, newer = (streamed, other) if compared.streamed_is_older else (other, streamed)
        samples["changed"].append(_described(change, older, newer))
    for change in summary.samples[only_older]:
        older = change.item if change.kind is ChangeKind.CREATE else read.get(change.name)
        samples["removed"].append(_described(change, older, None))
    return samples


def _counts(compared: Compared) -> tuple[dict[str, int], dict[str, int]]:
    """Items added, changed, removed and unchanged from the older side to the newer; attributes likewise."""
    counts, summary = compared.summary.counts, compared.summary
    creates, deletes = counts[ChangeKind.CREATE], counts[ChangeKind.DELETE]
    added, removed = (deletes, creates) if compared.streamed_is_older else (creates, deletes)
    attributes_added, attributes_removed = summary.attributes_added, summary.attributes_removed
    if compared.streamed_is_older:
        attributes_added, attributes_removed = attributes_removed, attributes_added
    items = {
        "added": added,
        "changed": counts[ChangeKind.UPDATE],
        "removed": removed,
        "unchanged": counts[ChangeKind.UNCHANGED],
    }
    attributes = {
        "added": attributes_added,
        "changed": summary.attributes_changed,
        "removed": attributes_removed,
    }
    return items, attributes


def _sampled(summary: PlanSummary, kinds: Iterable[ChangeKind]) -> list[str]:
    return [change.name for kind in kinds for change in summary.samples[kind]]


class DumpDiffer:
    def __init__(self, catalog: DumpCatalog, store: BucketStore, sdb: SimpleDB, segments: int) -> None:
        self.catalog, self.store, self.sdb, self.segments = catalog, store, sdb, segments

    def diff(self, request: DiffRequest) -> dict[str, Any]:
        older = self._dump(request, request.from_)
        if request.to == "live":
            compared, newer_side, note = self._against_live(request, older)
        else:
            newer = self._dump(request, request.to)
            compared, note = self._between_dumps(request, older, newer)
            newer_side = self._source(request, newer).describe()
        items, attributes = _counts(compared)
        answer = diff_answer(
            request,
            (self._source(request, older).describe(), newer_side),
            items,
            attributes,
            _diff_samples(compared),
            note,
        )
        logger.info("diff computed", extra={"diff": {name: answer[name] for name in ("from", "to", "items")}})
        return answer

    def _dump(self, request: DiffRequest, selector: str | DumpSelector) -> DumpVersion:
        if selector == "previous":
            return self.catalog.previous(request.domain, request.label)
        if isinstance(selector, DumpSelector):
            return self.catalog.resolve(
                request.domain, selector.version_id, selector.as_of_utc, request.label
            )
        return self.catalog.resolve(request.domain, None, None, request.label)

    def _source(self, request: DiffRequest, version: DumpVersion) -> DumpSource:
        return DumpSource(self.store, request.domain, version)

    def _against_live(
        self, request: DiffRequest, older: DumpVersion
    ) -> tuple[Compared, dict[str, Any], str | None]:
        """The dump streamed past a snapshot of the live domain (read through a subset dump's where clause)."""
        where = older.where if older.label is not None else None
        live: dict[str, Any] = {"kind": "live", "domain": request.domain}
        if where:
            live["where"] = where
        try:
            metadata = self.sdb.domain_metadata(request.domain)
        except DomainNotFoundError:
            snapshot = TargetSnapshot(Subset(), exists=False)
        else:
            pages = scan_domain(self.sdb, request.domain, self.segments, where, metadata)
            snapshot = TargetSnapshot.from_pages(pages, Subset())
        live.update(exists=snapshot.exists, items=snapshot.item_count)
        summary = plan_changes(
            self._source(request, older).items(), snapshot, "exact", Subset(), request.sample_size
        )
        names = _sampled(summary, (ChangeKind.UPDATE, ChangeKind.DELETE))
        read = read_items(self.sdb, request.domain, names) if snapshot.exists else {}
        note = None if snapshot.exists else f"the domain {request.domain} does not exist"
        return Compared(summary, True, read), live, note

    def _between_dumps(
        self, request: DiffRequest, older: DumpVersion, newer: DumpVersion
    ) -> tuple[Compared, str | None]:
        """The newer dump streamed past a snapshot of the older one."""
        subset, note = self._common_subset(older, newer)
        snapshot = TargetSnapshot(subset)
        snapshot.add(self._source(request, older).items())
        summary = plan_changes(
            self._source(request, newer).items(), snapshot, "exact", subset, request.sample_size
        )
        wanted = set(_sampled(summary, (ChangeKind.UPDATE, ChangeKind.DELETE)))
        read = self._second_pass(request, older, wanted) if wanted else {}
        return Compared(summary, False, read), note

    def _second_pass(self, request: DiffRequest, older: DumpVersion, wanted: set[str]) -> dict[str, Item]:
        """The sampled items of the older dump, read again; stops once every one is found."""
        found: dict[str, Item] = {}
        # closing(): stopping early closes the generator, and with it the dump's S3 stream.
        with closing(cast(Generator[Item], self._source(request, older).items())) as items:
            for item in items:
                if item.name in wanted:
                    found[item.name] = item
                    if len(found) == len(wanted):
                        break
        return found

    @staticmethod
    def _common_subset(older: DumpVersion, newer: DumpVersion) -> tuple[Subset, str | None]:
        """What both sides cover: a full dump is narrowed to a subset dump's where clause."""
        if (older.label is None) == (newer.label is None):
            if older.where == newer.where:
                return Subset(), None
            return Subset(), (
                f"the two dumps are different subsets ({older.where!r} and {newer.where!r}): items outside "
                "either clause show as added or removed"
            )
        subset_dump = older if older.label is not None else newer
        where = subset_dump.where or ""
        subset = subset_from_where(where) if where else None
        if subset is None:
            raise InvalidRequestError(
                f"subset dump {subset_dump.label!r} ({subset_dump.version_id}) can be compared with a full dump "
                f"only when its where clause can be evaluated here, and {where!r} cannot (supported: "
                f"{SUPPORTED_FORMS}); compare it with the live domain, which is read through the same clause, "
                "or with another dump of the same subset"
            )
        return subset, f"the full dump is compared inside subset {subset_dump.label!r} ({where})"
