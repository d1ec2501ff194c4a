"""Backup logic: dump one SimpleDB domain into a new version of its S3 dump key.

The domain is read as ``select *`` split into itemName() ranges ("segments"), one Select stream per segment,
each page read with ConsistentRead and NextToken. One writer encodes the pages as they arrive, so memory is
bounded by the page queue and one S3 part, whatever the domain's size.

When the invocation runs low on time, the run stops its streams at a page boundary, saves a checkpoint under
``checkpoints/<run_id>/`` and reports ``continued``; the next invocation resumes each segment after the last
item name it wrote. Parts of the one multipart upload are written by whichever invocation reaches them, and
the dump key gets its single new version only when the last invocation publishes it.
"""

import time
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from simpledb_backup.dumpformat import FORMAT_VERSION, DumpEncoder, DumpHeader, DumpTotals
from simpledb_backup.errors import (
    BackupStalledError,
    BucketNotVersionedError,
    ObjectNotFoundError,
    SimpleDBBackupError,
)
from simpledb_backup.keys import checkpoint_key, dump_key
from simpledb_backup.observability import logger, tracer
from simpledb_backup.runtime import Deadline, StallGuard, load_state, new_run_id, state_document, utc_now
from simpledb_backup.s3store import (
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
    BucketStore,
    newest_dump,
)
from simpledb_backup.scan import Segment, make_segments, scan_segments, segment_count_for
from simpledb_backup.simpledb import SimpleDB, select_expression

STATE_OBJECT = "state.json"
PENDING_OBJECT = "pending.bin"
STAGING_OBJECT = "dump.jsonl.gz"
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
    segments: list[Segment]
    totals: dict[str, Any] = Field(default_factory=lambda: DumpTotals().to_state())
    parts: list[dict[str, Any]] = []
    has_pending: bool = False
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
    ) -> None:
        self.sdb, self.store, self.state, self.deadline = sdb, store, state, deadline
        self.encoder = DumpEncoder(DumpTotals.from_state(state.totals))
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
        if self.state.has_pending:
            self.buffer += self.store.get_bytes(checkpoint_key(self.state.run_id, PENDING_OBJECT))
        elif not self.state.parts and self.state.invocations == 1:
            self._append(self.encoder.write_header(self.state.header()))
        items_before = self.encoder.totals.items
        completed = self._stream_segments()
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

    @tracer.capture_method
    def _stream_segments(self) -> bool:
        if self.deadline.out_of_time():
            return False
        for _, items in scan_segments(
            self.sdb, self.state.domain, self.state.segments, self.state.where, self.deadline.out_of_time
        ):
            self._append(self.encoder.write_items(items))
        return all(segment.done for segment in self.state.segments)

    def _save_checkpoint(self) -> None:
        self.buffer += self.encoder.close_member()
        self._flush_parts()
        self.state.has_pending = bool(self.buffer)
        if self.buffer:
            self.store.put_bytes(checkpoint_key(self.state.run_id, PENDING_OBJECT), bytes(self.buffer))
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
    """Starts, continues and publishes backup runs, and emits each domain's metrics."""

    def __init__(self, sdb: SimpleDB, store: BucketStore, segments: int = 8) -> None:
        self.sdb, self.store, self.segments = sdb, store, segments

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
        key = dump_key(domain, label)
        previous = newest_dump(self.store, key)
        run_id = new_run_id("backup")
        staging = checkpoint_key(run_id, STAGING_OBJECT)
        return BackupState(
            run_id=run_id,
            domain=domain,
            trigger=trigger,
            where=where,
            label=label,
            started_at=utc_now(),
            dump_key=key,
            staging_key=staging,
            upload_id=self.store.start_upload(staging),
            segments=make_segments(segment_count_for(metadata, self.segments)),
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

    def load(self, run_id: str) -> BackupState:
        key = checkpoint_key(run_id, STATE_OBJECT)
        try:
            document = self.store.get_json(key)
        except ObjectNotFoundError as error:
            raise ObjectNotFoundError(
                f"no checkpoint for backup run {run_id!r}; it may have expired"
            ) from error
        return load_state(BackupState, document, key)

    def claim_continuation(self, state: BackupState) -> bool:
        """Asynchronous invocations are delivered at least once: only the first copy may continue a run."""
        claim = checkpoint_key(state.run_id, f"claim-{state.invocations + 1}")
        return self.store.put_if_absent(claim, {"claimed_at": utc_now()}) is not None

    @tracer.capture_method
    def run(self, state: BackupState, deadline: Deadline) -> BackupResult:
        """Advance a run as far as this invocation's time allows; publish it when whole.

        Any failure aborts the multipart upload, so the dump key never receives a partial version.
        """
        logger.append_keys(domain=state.domain, run_id=state.run_id)
        try:
            completed = BackupRun(self.sdb, self.store, state, deadline).execute()
            if not completed:
                return BackupResult(
                    domain=state.domain,
                    status="continued",
                    run_id=state.run_id,
                    key=state.dump_key,
                    items=int(state.totals["items"]),
                    trigger=state.trigger,
                )
            return self._publish(state)
        except BaseException:
            self._abort(state)
            raise
        finally:
            logger.remove_keys(["domain", "run_id"])

    def _abort(self, state: BackupState) -> None:
        try:
            self.store.abort_upload(state.staging_key, state.upload_id)
        except SimpleDBBackupError as error:
            logger.warning(
                "could not abort the staging upload", extra={"run_id": state.run_id, "error": str(error)}
            )

    def _publish(self, state: BackupState) -> BackupResult:
        totals = DumpTotals.from_state(state.totals)
        digest = f"{totals.digest:064x}"
        self.store.complete_upload(state.staging_key, state.upload_id, state.parts)
        version_id = self.store.publish(state.staging_key, state.dump_key, _metadata(state, totals, digest))
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
