"""Backup logic: dump one SimpleDB domain into a new version of its S3 dump key.

The domain is read as ``select *`` split into itemName() ranges cut from its own names (scan.py), by as many
parallel Select streams as raise the pages read per second (streams.py), each page read with ConsistentRead
and NextToken. Each stream checks its pages against the rules the dump's reader enforces and encodes and
compresses them in its own thread (dumpformat.PageEncoder); one writer appends them in arrival order, so memory
is bounded by the streams' pages and one S3 part, whatever the domain's size. A page that breaks a rule fails
the run (DumpRuleError): nothing a restore would refuse is ever published.

When the invocation runs low on time, the run stops its streams at a page boundary, saves a checkpoint under
``checkpoints/<run_id>/`` and reports ``continued``; the next invocation resumes each segment after the last
item name it wrote. Parts of the one multipart upload are written by whichever invocation reaches them, and
the dump key gets its single new version only when the last invocation publishes it.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from simpledb_backup.aws.claims import claim
from simpledb_backup.aws.keys import checkpoint_key, dump_key, lock_key
from simpledb_backup.aws.restoremarks import RestoreMarks
from simpledb_backup.aws.s3store import (
    META_ATTRIBUTES,
    META_DIGEST,
    META_DOMAIN,
    META_FORMAT_VERSION,
    META_ITEMS,
    META_LABEL,
    META_RUN_ID,
    META_STARTED_AT,
    META_TRIGGER,
    META_VALUES,
    PART_SIZE,
    PRE_RESTORE_TRIGGER,
    BucketStore,
    newest_dump,
)
from simpledb_backup.aws.simpledb import SimpleDB, select_expression
from simpledb_backup.backup.scan import (
    ENCODED_STREAM_BYTES,
    ITEM_STREAM_BYTES,
    Layout,
    ScanSettings,
    Segment,
    estimated_select_pages,
    plan_scan,
)
from simpledb_backup.backup.streams import Run, StreamPool
from simpledb_backup.config import Retention
from simpledb_backup.errors import (
    BackupStalledError,
    BucketNotVersionedError,
    ContinuationTakenError,
    DomainBeingRestoredError,
    DumpRuleError,
    ObjectNotFoundError,
    SimpleDBBackupError,
)
from simpledb_backup.formats.dumpformat import (
    EITHER,
    FORMAT_VERSION,
    DumpEncoder,
    DumpHeader,
    DumpTotals,
    EncodedPage,
    NameOrder,
    PageEncoder,
)
from simpledb_backup.items import Item
from simpledb_backup.observability import logger, tracer
from simpledb_backup.runtime import (
    Clock,
    Deadline,
    StallGuard,
    load_state,
    new_run_id,
    state_document,
    utc_datetime,
    utc_now,
)

#: The backup's SimpleDB calls start at this rate (Select and DomainMetadata lanes; the rate controller still
#: cuts it at SimpleDB's first 503): a scan starts as many streams as the probe's latency calls for at once,
#: about ten at 250 ms a Select, which the default start of 25 calls/s would spread over half a second.
SELECT_START_RATE = 100.0

STATE_OBJECT = "state.json"
STAGING_OBJECT = "dump.jsonl.gz"
LEASE_OBJECT = "lease.json"
#: A lease outlives its invocation's remaining time by this much before another invocation may take it over.
LEASE_GRACE_SECONDS = 60.0


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def pending_object(invocation: int) -> str:
    """Bytes an invocation compressed but did not upload yet; one object per invocation, so that state.json,
    written last, is what commits a checkpoint (a crash between the two leaves the previous one whole)."""
    return f"pending-{invocation}.bin"


class RunLease(BaseModel):
    """Which invocation works on a run, until when (``checkpoints/<run_id>/lease.json``)."""

    invocation: int
    expires_at: datetime
    #: Unique to the claiming invocation, so a replayed claim recognises itself (claims.claim).
    holder: str = Field(default_factory=lambda: uuid.uuid4().hex)


_STALL_GUARD = StallGuard(
    BackupStalledError, "is CONTINUATION_MARGIN_SECONDS close to the function's timeout?"
)


class BackupState(BaseModel):
    """Everything a run needs to continue in another invocation; saved as JSON in its checkpoint."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    domain: str
    trigger: str
    where: str | None
    label: str | None
    started_at: str
    dump_key: str
    staging_key: str
    upload_id: str
    #: The itemName() cells the dump's header lists (empty until the first invocation has probed the domain).
    segments: list[Segment]
    #: What the streams know about the cells: estimated pages per cell, splits left in the page budget.
    layout: Layout = Field(default_factory=Layout)
    #: The fewest Select pages the domain needs, estimated from DomainMetadata when the run started.
    estimated_pages: int = 0
    #: The header is written (runs of earlier releases wrote it when they started).
    header_written: bool = True
    #: The collation the names read so far ascend in (dumpformat.COLLATIONS).
    collation: str = EITHER
    #: The most Select streams that ran at once, in any invocation.
    streams: int = 0
    totals: dict[str, Any] = Field(default_factory=lambda: DumpTotals().to_state())
    parts: list[dict[str, Any]] = []
    #: The object holding the pending bytes of the last checkpoint (pending_object), if any.
    pending_object: str | None = None
    #: A checkpoint was saved: a failure keeps the upload so the run can be resumed from it.
    checkpointed: bool = False
    #: Set once the run is published, so a late duplicate of its last continuation does nothing.
    published_version_id: str | None = None
    elapsed_seconds: float = 0.0
    invocations: int = 0
    #: Consecutive invocations that ended without dumping a single item (runtime.StallGuard).
    invocations_without_progress: int = 0
    previous_item_count: int | None = None

    def header(self) -> DumpHeader:
        return DumpHeader(
            domain=self.domain,
            started_at=self.started_at,
            select_expression=select_expression(self.domain, self.where),
            trigger=self.trigger,
            run_id=self.run_id,
            where=self.where,
            label=self.label,
            segments=tuple((segment.lower, segment.upper) for segment in self.segments),
        )


@dataclass(frozen=True)
class BackupResult:
    domain: str
    status: str  # "complete" or "continued"
    run_id: str
    key: str
    version_id: str | None = None
    items: int = 0
    attributes: int = 0
    values: int = 0
    size_bytes: int = 0
    duration_seconds: float = 0.0
    item_drop_percent: float | None = None
    trigger: str = ""
    #: The most Select streams that read the domain at once.
    streams: int | None = None

    def summary(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


class BackupRun:
    """One invocation's share of a backup run."""

    def __init__(
        self,
        sdb: SimpleDB,
        store: BucketStore,
        state: BackupState,
        deadline: Deadline,
        max_streams: int = 8,
        on_items: Callable[[list[Item]], None] | None = None,
    ) -> None:
        self.sdb, self.store, self.state, self.deadline = sdb, store, state, deadline
        #: Sees every page as it is dumped (a restore plans from the same read as its safety backup); its
        #: streams then hand on their pages' items beside their lines, so they hold more memory each.
        self.on_items = on_items
        stream_bytes = ITEM_STREAM_BYTES if on_items is not None else ENCODED_STREAM_BYTES
        self.settings = ScanSettings(max_streams, stream_bytes)
        self.encoder = DumpEncoder(DumpTotals.from_state(state.totals), state.collation)
        self.buffer = bytearray()

    def _flush_parts(self, final: bool = False) -> None:
        while len(self.buffer) >= PART_SIZE or (final and self.buffer):
            size = len(self.buffer) if final else PART_SIZE
            with memoryview(self.buffer) as view:
                data = bytes(view[:size])  # one copy of the part, where a slice then bytes() makes two
            del self.buffer[:size]
            part = self.store.upload_part(
                self.state.staging_key, self.state.upload_id, len(self.state.parts) + 1, data
            )
            part["Size"] = len(data)
            self.state.parts.append(part)

    def _append(self, data: bytes) -> None:
        self.buffer += data
        self._flush_parts()

    def execute(self) -> bool:
        """Read and write until the dump is whole (True) or time runs short (False, checkpoint saved)."""
        started = time.monotonic()
        self.state.invocations += 1
        if self.state.pending_object:
            key = checkpoint_key(self.state.run_id, self.state.pending_object)
            self.buffer += self.store.get_bytes(key, max_bytes=PART_SIZE)
        items_before = self.encoder.totals.items
        try:
            completed = self._stream_segments()
        except DumpRuleError as error:
            raise self._placed(error) from error
        finally:
            self.state.collation = self.encoder.collation
        self.state.elapsed_seconds += time.monotonic() - started
        if completed:
            tail, _ = self.encoder.write_trailer(utc_now())
            self._append(tail)
            self._flush_parts(final=True)
            self.state.totals = self.encoder.totals.to_state()
            return True
        self.state.invocations_without_progress = _STALL_GUARD.after_invocation(
            self.state.invocations_without_progress,
            self.encoder.totals.items > items_before,
            f"backup of {self.state.domain} (run {self.state.run_id})",
        )
        self._save_checkpoint()
        return False

    def _placed(self, error: DumpRuleError) -> DumpRuleError:
        """The breach at the line its item would have had: after the lines written so far, the header first."""
        if error.line is not None:
            return error
        return error.at_line(self.encoder.totals.items + 2 + (error.offset or 0))

    @tracer.capture_method
    def _stream_segments(self) -> bool:
        if self.deadline.out_of_time():
            return False
        if not self.state.header_written:
            self._start_dump()
            if self.deadline.out_of_time():
                return all(segment.done for segment in self.state.segments)
        pool = StreamPool[tuple[EncodedPage, list[Item] | None]](
            self.sdb,
            self.state.domain,
            self.state.where,
            self.state.segments,
            self.state.layout,
            self._page_work,
            self.settings,
        )
        for _, (page, items) in pool.pages(self.deadline.out_of_time):
            self._append(self.encoder.add_page(page))
            if self.on_items is not None and items is not None:
                self.on_items(items)
        self.state.streams = max(self.state.streams, pool.peak_streams)
        return all(segment.done for segment in self.state.segments)

    def _start_dump(self) -> None:
        """Cut the domain into cells from its first and last pages, write the header that lists them, then
        those pages."""
        state = self.state
        plan = plan_scan(self.sdb, state.domain, state.where, state.estimated_pages, self.settings)
        state.segments, state.layout = plan.segments, plan.layout
        self._append(self.encoder.write_header(state.header()))
        state.header_written = True
        state.streams = max(state.streams, 2 if len(plan.pages) > 1 else 1)
        for page in plan.pages:
            if page.items:
                self._append(self.encoder.add_page(self._encode_first(page.items)))
                if self.on_items is not None:
                    self.on_items(page.items)

    def _encode_first(self, items: list[Item]) -> EncodedPage:
        try:
            return PageEncoder(NameOrder(())).encode(items)
        except DumpRuleError as error:
            raise self._placed(error) from error

    def _page_work(self, run: Run) -> Callable[[list[Item]], tuple[EncodedPage, list[Item] | None]]:
        """A stream's pages as dump lines, its names checked to ascend along the whole run from where it starts
        (stricter than each cell alone, which it implies: the cells' bounds sort alike in both collations); with
        the items too when someone watches them (``on_items``)."""
        encode = PageEncoder(NameOrder((), [run.after])).encode
        keep = self.on_items is not None
        return lambda items: (encode(items), items if keep else None)

    def _save_checkpoint(self) -> None:
        self.buffer += self.encoder.close_member()
        self._flush_parts()
        self.state.pending_object = pending_object(self.state.invocations) if self.buffer else None
        if self.state.pending_object:
            self.store.put_bytes(
                checkpoint_key(self.state.run_id, self.state.pending_object), bytes(self.buffer)
            )
        self.state.checkpointed = True
        self.state.totals = self.encoder.totals.to_state()
        self.store.put_json(checkpoint_key(self.state.run_id, STATE_OBJECT), state_document(self.state))
        logger.info(
            "backup checkpoint saved",
            extra={
                "domain": self.state.domain,
                "run_id": self.state.run_id,
                "items_so_far": self.encoder.totals.items,
                "parts": len(self.state.parts),
                "segments_left": sum(not segment.done for segment in self.state.segments),
            },
        )


def _metadata(state: BackupState, totals: DumpTotals, digest: str) -> dict[str, str]:
    metadata = {
        META_FORMAT_VERSION: str(FORMAT_VERSION),
        META_DOMAIN: state.domain,
        META_ITEMS: str(totals.items),
        META_ATTRIBUTES: str(totals.attributes),
        META_VALUES: str(totals.values),
        META_DIGEST: digest,
        META_TRIGGER: state.trigger,
        META_RUN_ID: state.run_id,
        META_STARTED_AT: state.started_at,
    }
    if state.label:
        metadata[META_LABEL] = state.label
    return metadata


class BackupService:
    """Starts, continues and publishes backup runs."""

    def __init__(
        self,
        sdb: SimpleDB,
        store: BucketStore,
        segments: int = 8,
        retention: Retention | None = None,
        clock: Clock = utc_datetime,
        restore_marks: RestoreMarks | None = None,
    ) -> None:
        """``segments``: the most Select streams a scan runs at once (BackupSegments)."""
        self.sdb, self.store, self.segments = sdb, store, segments
        self.retention, self.clock = retention, clock
        #: What the restores sealed about the domains they write; the functions always pass it (None: a tool
        #: that knows of no restore, and checks none).
        self.restore_marks = restore_marks
        self._leases: dict[str, str] = {}

    def start(
        self, domain: str, trigger: str, where: str | None = None, label: str | None = None
    ) -> BackupState:
        """A new run, checked before anything is written: the domain exists and may be read
        (DomainNotFoundError, AccessDeniedError) and the bucket keeps versions (BucketNotVersionedError).

        The item-drop baseline is the newest schedule or manual dump of the same key, never a pre-restore
        safety backup: after an accident and a partial restore, the next nightly dump is compared with the last
        good nightly one, not with the damaged state the restore replaced.
        """
        metadata = self.sdb.domain_metadata(domain)
        self.require_versioning()
        started_at = utc_now()
        if trigger != PRE_RESTORE_TRIGGER:  # a restore's own safety backup runs under its lock
            self._refuse_if_being_restored(domain, None)
        key = dump_key(domain, label)
        # A safety backup is measured against nothing: the item-drop baseline is for nightly and manual dumps.
        previous = None if trigger == PRE_RESTORE_TRIGGER else newest_dump(self.store, key)
        run_id = new_run_id("backup")
        staging = checkpoint_key(run_id, STAGING_OBJECT)
        return BackupState(
            run_id=run_id,
            domain=domain,
            trigger=trigger,
            where=where,
            label=label,
            started_at=started_at,
            dump_key=key,
            staging_key=staging,
            upload_id=self.store.start_upload(staging),
            segments=[],
            estimated_pages=estimated_select_pages(metadata),
            header_written=False,
            previous_item_count=previous.item_count if previous else None,
        )

    def require_versioning(self) -> None:
        """Refuse a bucket without versioning: each dump is a new version of one key per domain, so without
        versioning every dump replaces the previous one and the version ids are all "null"."""
        status = self.store.versioning_status()
        if status != "Enabled":
            state = f"versioning {status.lower()}" if status else "no versioning"
            raise BucketNotVersionedError(
                f"bucket {self.store.bucket!r} has {state}: each dump would replace the one before it. Enable "
                f"it (aws s3api put-bucket-versioning --bucket {self.store.bucket} --versioning-configuration "
                "Status=Enabled; template.yaml's bucket has it) and run the backup again"
            )

    def _refuse_if_being_restored(self, domain: str, since: str | None) -> None:
        """DomainBeingRestoredError when a restore holds the domain's lock, or (``since`` given) began to write
        it after ``since``: a dump read across a restore would mix the states before and after it. Only what a
        restore of this service sealed counts (aws.restoremarks)."""
        marks = self.restore_marks
        if marks is None:
            return
        if marks.restore_holds(domain):
            raise DomainBeingRestoredError(
                f"a restore is writing {domain} (s3://{self.store.bucket}/{lock_key(domain)}); the backup skips "
                "it this time, and the restore's own safety backup holds the state before it"
            )
        if since is None:
            return
        began = marks.restore_began_at(domain)
        if began is not None and _instant(began) > _instant(since):
            raise DomainBeingRestoredError(
                f"a restore began to write {domain} at {began}, while this backup (started {since}) was reading "
                "it; the backup is not published, so no dump mixes the states before and after the restore"
            )

    def load(self, run_id: str) -> BackupState:
        key = checkpoint_key(run_id, STATE_OBJECT)
        try:
            document = self.store.get_json(key)
        except ObjectNotFoundError as error:
            raise ObjectNotFoundError(
                f"no checkpoint for backup run {run_id!r}; it may have expired"
            ) from error
        return load_state(BackupState, document, key)

    def claim_continuation(self, state: BackupState, deadline: Deadline) -> None:
        """Take the run's lease for this invocation, or raise ContinuationTakenError. Asynchronous invocations
        are delivered at least once, so only one copy may work on a run at a time; a lease whose invocation
        died (a timeout skips every ``finally``) expires, and then the same continuation event can be sent
        again to resume the run."""
        if state.published_version_id:
            raise ContinuationTakenError(
                f"backup run {state.run_id} of {state.domain} is already published (version "
                f"{state.published_version_id}); nothing to continue"
            )
        now = self.clock()
        lease = RunLease(
            invocation=state.invocations + 1,
            expires_at=now + timedelta(seconds=deadline.remaining() + LEASE_GRACE_SECONDS),
        )

        def expired(current: object) -> bool:
            try:
                return RunLease.model_validate(current).expires_at < now
            except ValueError:
                return True  # not a lease of ours: replaced

        key = checkpoint_key(state.run_id, LEASE_OBJECT)
        outcome = claim(self.store, key, lease.model_dump(mode="json"), expired)
        if outcome.etag is None:
            until = outcome.current.get("expires_at") if isinstance(outcome.current, dict) else None
            raise ContinuationTakenError(
                f"backup run {state.run_id} of {state.domain} is being continued by another invocation (its "
                f"lease runs until {until}); if that invocation died, send this event again after then"
            )
        self._leases[state.run_id] = outcome.etag

    def _release_lease(self, state: BackupState) -> None:
        """Hand the lease back (an expired lease, written only if it is still ours): no delete permission."""
        etag = self._leases.pop(state.run_id, None)
        if etag is None:
            return
        released = RunLease(invocation=state.invocations, expires_at=datetime.fromtimestamp(0, UTC))
        try:
            self.store.put_if_match(
                checkpoint_key(state.run_id, LEASE_OBJECT), released.model_dump(mode="json"), etag
            )
        except SimpleDBBackupError as error:
            logger.warning("could not release the run's lease", extra={"error": str(error)})

    @tracer.capture_method
    def run(
        self,
        state: BackupState,
        deadline: Deadline,
        on_items: Callable[[list[Item]], None] | None = None,
        publish: bool = True,
    ) -> BackupResult:
        """Advance a run as far as this invocation's time allows; publish it when whole (or, ``publish``
        False, answer ``staged`` and leave it to ``publish_staged`` or ``discard``). ``on_items`` sees every
        page dumped.

        The dump key never receives a partial version: a run that fails before its first checkpoint aborts its
        upload; one that fails later keeps its upload and checkpoint, so the same continuation event resumes
        it (or a new backup replaces it, and the bucket's lifecycle removes the leftovers).
        """
        logger.append_keys(domain=state.domain, run_id=state.run_id)
        try:
            run = BackupRun(self.sdb, self.store, state, deadline, self.segments, on_items)
            completed = run.execute()
            if completed and publish:
                return self._publish(state)
            return BackupResult(
                domain=state.domain,
                status="staged" if completed else "continued",
                run_id=state.run_id,
                key=state.dump_key,
                items=int(state.totals["items"]),
                trigger=state.trigger,
            )
        except BaseException as error:
            # A stalled run, one a restore overtook, or one whose dump a restore would refuse cannot be resumed
            # usefully: its upload goes.
            if not state.checkpointed or isinstance(
                error, BackupStalledError | DomainBeingRestoredError | DumpRuleError
            ):
                state.checkpointed = False
                self._abort(state)
            raise
        finally:
            self._release_lease(state)
            logger.remove_keys(["domain", "run_id"])

    def publish_staged(self, state: BackupState) -> BackupResult:
        """Publish a run that ``run(..., publish=False)`` staged whole."""
        return self._publish(state)

    def discard(self, state: BackupState) -> None:
        """Drop a staged or unfinished run's upload: nothing is published."""
        self._abort(state)

    def _abort(self, state: BackupState) -> None:
        try:
            self.store.abort_upload(state.staging_key, state.upload_id)
        except SimpleDBBackupError as error:
            logger.warning(
                "could not abort the staging upload", extra={"run_id": state.run_id, "error": str(error)}
            )

    def _publish(self, state: BackupState) -> BackupResult:
        if state.trigger != PRE_RESTORE_TRIGGER:
            self._refuse_if_being_restored(state.domain, state.started_at)
        totals = DumpTotals.from_state(state.totals)
        digest = f"{totals.digest:064x}"
        self.store.complete_upload(state.staging_key, state.upload_id, state.parts)
        version_id = self.store.publish(
            state.staging_key, state.dump_key, _metadata(state, totals, digest), self.retention, self.clock()
        )
        if state.checkpointed:  # a late duplicate of the last continuation must find the run published
            state.published_version_id = version_id
            self.store.put_json(checkpoint_key(state.run_id, STATE_OBJECT), state_document(state))
        size = sum(int(part["Size"]) for part in state.parts)
        drop = None
        if state.previous_item_count:
            drop = max(0.0, 100.0 * (state.previous_item_count - totals.items) / state.previous_item_count)
        result = BackupResult(
            domain=state.domain,
            status="complete",
            run_id=state.run_id,
            key=state.dump_key,
            version_id=version_id,
            items=totals.items,
            attributes=totals.attributes,
            values=totals.values,
            size_bytes=size,
            duration_seconds=round(state.elapsed_seconds, 3),
            item_drop_percent=None if drop is None else round(drop, 2),
            trigger=state.trigger,
            streams=state.streams or None,
        )
        logger.info("dump written", extra=result.summary())
        return result

    def backup(
        self,
        domain: str,
        trigger: str,
        deadline: Deadline,
        where: str | None = None,
        label: str | None = None,
    ) -> BackupResult:
        """Start a run and take it as far as this invocation allows."""
        return self.run(self.start(domain, trigger, where, label), deadline)
