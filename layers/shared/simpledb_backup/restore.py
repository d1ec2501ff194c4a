"""Restore logic: list dumps, plan a restore, restore, and report a long restore's status.

A restore runs in four steps, in this order, so that nothing is lost:

1. **Verify the source** before touching the target: the whole dump is read through its verifying reader
   (format, version, counts, digest, SimpleDB limits on every item), a Repoman backup file is parsed and every
   item checked, a native export's manifest checksums are checked. The same pass plans the restore against a
   compact snapshot of the target (planning.py). A corrupt, truncated or foreign source is refused and nothing
   is written.
2. **Safety backup** of the target, a normal dump version with trigger ``pre-restore``, unless the target is
   new or empty: restoring that version undoes the restore.
3. **Write** with parallel BatchPutAttributes / BatchDeleteAttributes workers sharing one SharedBackoff. Every
   put replaces each attribute with the dump's values, so writes converge: running the same restore again, or
   resuming one, re-plans against the target's current contents and finds the items already written unchanged.
4. **Verify** by planning again: the target matches when nothing is left to create, update or delete.

Restores of one target never overlap: the function has reserved concurrency 1 and each restore holds
``locks/<target>.lock`` (an S3 conditional write) until it ends, across the invocations of a long restore.
"""

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Literal, Protocol

from simpledb_backup.backup import BackupService, utc_now
from simpledb_backup.config import Settings
from simpledb_backup.dumpformat import DumpTotals, encode_item_line, read_dump
from simpledb_backup.errors import (
    ConfirmationRequiredError,
    DomainNotFoundError,
    DumpCorruptError,
    DumpNotFoundError,
    InvalidRequestError,
    RestoreInProgressError,
    SimpleDBBackupError,
)
from simpledb_backup.events import RestoreRequest
from simpledb_backup.items import MAX_BATCH_ITEMS, Item
from simpledb_backup.native_export import NativeExport, read_native_export
from simpledb_backup.observability import MetricName, domain_metrics, logger, tracer
from simpledb_backup.planning import ChangeKind, PlanSummary, Subset, TargetSnapshot, compare, plan_changes
from simpledb_backup.repoman import check_repoman_file_size, items_from_repoman_stream
from simpledb_backup.s3store import (
    IMPORTS_PREFIX,
    LOCKS_PREFIX,
    META_DIGEST,
    META_ITEMS,
    RESTORES_PREFIX,
    DumpStore,
    DumpVersion,
    dump_key,
)
from simpledb_backup.scan import scan_domain
from simpledb_backup.simpledb import SimpleDB, plan_put_batches

RemainingSeconds = Callable[[], float]
Phase = Literal["safety-backup", "writing", "verifying", "done"]

#: Errors that refuse a request rather than fail a restore: returned as ``{"status": "refused", ...}``.
REFUSALS: tuple[type[SimpleDBBackupError], ...] = (
    InvalidRequestError,
    ConfirmationRequiredError,
    DumpNotFoundError,
    DumpCorruptError,
    RestoreInProgressError,
    DomainNotFoundError,
)
#: Refusals caused by the request itself (not by the data or the service): they count as no failed restore.
_REQUEST_REFUSALS = (
    InvalidRequestError,
    ConfirmationRequiredError,
    DumpNotFoundError,
    RestoreInProgressError,
)
_ENDED = ("complete", "failed")
_RUN_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}")
#: A long restore whose legs make no progress (e.g. a scan that alone outlasts an invocation) stops here
#: instead of re-invoking itself forever.
MAX_LEGS_WITHOUT_PROGRESS = 3
DOMAIN_CREATION_WAIT_SECONDS = 60.0
#: A lock outlives its invocation's remaining time by this much before another restore may take it over.
LOCK_GRACE_SECONDS = 120.0
#: The trigger of the safety backup a restore takes of its target before writing.
PRE_RESTORE_TRIGGER = "pre-restore"


def now() -> datetime:
    return datetime.now(UTC)


def lock_key(target: str) -> str:
    return f"{LOCKS_PREFIX}{target}.lock"


def status_key(run_id: str) -> str:
    return f"{RESTORES_PREFIX}{run_id}.json"


def new_run_id() -> str:
    return f"restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def totalled(items: Iterable[Item], totals: DumpTotals) -> Iterator[Item]:
    """Pass items through, adding each one's canonical dump line to ``totals`` (count and digest)."""
    for item in items:
        totals.add(item, encode_item_line(item))
        yield item


class ConfirmationNeededError(ConfirmationRequiredError):
    """A write into a non-empty domain without ``confirm``; carries the plan so the operator sees it."""

    def __init__(self, message: str, plan: dict[str, Any]) -> None:
        super().__init__(message)
        self.plan = plan


class RestoreStalledError(SimpleDBBackupError):
    """A long restore made no progress in several invocations in a row."""

    kind = "restore-stalled"


# --- sources --------------------------------------------------------------------------------------------------


class RestoreSource(Protocol):
    """Where the items come from. ``items()`` streams them from the start on every call and raises
    DumpCorruptError (possibly only at the end of the stream) when the source is not intact."""

    def describe(self) -> dict[str, Any]: ...

    def items(self) -> Iterator[Item]: ...


@dataclass(frozen=True)
class DumpSource:
    """One version of a domain's full dump."""

    store: DumpStore
    domain: str
    version: DumpVersion

    def describe(self) -> dict[str, Any]:
        return {"kind": "dump", "key": self.version.key, **self.version.summary()}

    def items(self) -> Iterator[Item]:
        with closing(self.store.open(self.version.key, self.version.version_id)) as body:
            reader = read_dump(body)
            if reader.header.domain != self.domain:
                raise DumpCorruptError(
                    f"{self.version.key} version {self.version.version_id} is a dump of domain "
                    f"{reader.header.domain!r}, not of {self.domain!r}"
                )
            yield from reader
        trailer = reader.trailer
        if trailer is None:  # the reader raises before this; kept for the type checker
            raise DumpCorruptError(f"{self.version.key} version {self.version.version_id} has no trailer")
        # The object's metadata was written from the same totals when the dump was published; a mismatch
        # means the object was replaced or altered since.
        recorded_items = self.version.metadata.get(META_ITEMS)
        recorded_digest = self.version.metadata.get(META_DIGEST)
        if (recorded_items is not None and recorded_items != str(trailer.items)) or (
            recorded_digest is not None and recorded_digest != trailer.digest
        ):
            raise DumpCorruptError(
                f"{self.version.key} version {self.version.version_id}: its S3 metadata (item-count "
                f"{recorded_items}, items-digest {recorded_digest}) does not match its contents "
                f"({trailer.items} items, digest {trailer.digest})"
            )


@dataclass(frozen=True)
class RepomanFileSource:
    """A ``repoman-cli backup`` file under imports/: item names are recomputed as Repoman does, ``meta``
    included (repoman.items_from_repoman_stream). The file is streamed, never loaded whole."""

    store: DumpStore
    key: str
    version_id: str

    def describe(self) -> dict[str, Any]:
        return {"kind": "repoman", "key": self.key, "version_id": self.version_id}

    def items(self) -> Iterator[Item]:
        version = self.store.head(self.key, self.version_id)
        if version is not None:
            check_repoman_file_size(self.key, version.size)  # an oversized file is refused unread
        with closing(self.store.open(self.key, self.version_id)) as body:
            yield from items_from_repoman_stream(body, self.key)


class NativeExportSource:
    """An AWS native SimpleDB export (simpledbv2 StartDomainExport) under
    ``imports/.../AWSSimpleDB/<exportId>/<domain>/``. The first read verifies the manifests and every data
    file's MD5 and item count (native_export.read_native_export); later reads in the same invocation reuse
    that verification, and each still re-checks every file's MD5 and count at its end. Every object is read
    as a stream, at the S3 version the first read found, so all reads see the bytes that were verified."""

    def __init__(self, store: DumpStore, base_key: str, domain: str) -> None:
        self.store, self.base_key, self.domain = store, base_key.rstrip("/") + "/", domain
        self._export: NativeExport | None = None
        self._versions: dict[str, str] = {}

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"kind": "native-export", "key": self.base_key}
        if self._export is not None:
            described["items"] = self._export.item_count
            described["export_arn"] = self._export.manifest.export_arn
        return described

    def _open_object(self, key: str) -> IO[bytes]:
        version_id = self._versions.get(key)
        if version_id is None:
            head = self.store.head(key)
            if head is None:
                raise KeyError(key)  # what read_native_export expects for a missing object
            version_id = self._versions[key] = head.version_id
        return self.store.open(key, version_id)

    def items(self) -> Iterator[Item]:
        if self._export is None:
            export = read_native_export(self._open_object, self.base_key)
            exported = export.manifest.domain_name
            if exported is not None and exported != self.domain:
                raise InvalidRequestError(
                    f"source_key: {self.base_key} is an export of domain {exported!r}, not of {self.domain!r}"
                )
            self._export = export
        yield from self._export


# --- results of one restore ---------------------------------------------------------------------------------


@dataclass
class WriteCounts:
    items_written: int = 0
    put_calls: int = 0
    items_trimmed: int = 0  # exact mode: items whose extra attributes were removed
    values_removed: int = 0
    items_deleted: int = 0
    delete_calls: int = 0

    def merge(self, other: "WriteCounts") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    @property
    def total(self) -> int:
        return sum(asdict(self).values())


@dataclass
class RestoreState:
    """A restore run's progress; saved to restores/<run_id>.json when it continues and when it ends."""

    run_id: str
    request: dict[str, Any]
    source: dict[str, Any]
    target: str
    started_at: str
    phase: Phase = "safety-backup"
    #: running (within an invocation), continued (saved, resumes in a new invocation), complete or failed.
    status: str = "running"
    target_created: bool = False
    target_items_before: int = 0
    plan: dict[str, Any] | None = None
    safety_backup: dict[str, Any] | None = None
    safety_backup_run_id: str | None = None
    #: Why no safety backup was taken, when none was.
    safety_backup_skipped: str | None = None
    #: Items the safety backup has dumped so far, while it continues across invocations.
    safety_backup_items_so_far: int = 0
    written: WriteCounts = field(default_factory=WriteCounts)
    verification: dict[str, Any] | None = None
    #: Count and digest of the source's items (dump format rules), taken while the plan read the source.
    source_totals: dict[str, Any] | None = None
    invocations: int = 0
    legs_without_progress: int = 0
    elapsed_seconds: float = 0.0
    updated_at: str = ""
    error: dict[str, str] | None = None

    def to_document(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "RestoreState":
        written = WriteCounts(**document.pop("written"))
        return cls(written=written, **document)


# --- parallel writer ----------------------------------------------------------------------------------------


class ParallelWriter:
    """BatchPutAttributes / BatchDeleteAttributes calls on a worker pool, with at most two batches per worker
    in flight so memory stays flat however large the restore. Every worker goes through the SimpleDB
    adapter's one SharedBackoff, so 503s slow the whole restore down instead of failing a batch."""

    def __init__(self, sdb: SimpleDB, domain: str, workers: int) -> None:
        self.sdb, self.domain = sdb, domain
        self.counts = WriteCounts()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="restore-writer")
        self._in_flight: set[Future[WriteCounts]] = set()
        self._limit = 2 * workers

    def __enter__(self) -> "ParallelWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def put(self, batch: list[Item]) -> None:
        self._submit(self._put, batch)

    def trim(self, items: list[tuple[str, frozenset[str]]]) -> None:
        """Remove, from each named item, every attribute not in its set of attribute names."""
        self._submit(self._trim, items)

    def delete(self, names: list[str]) -> None:
        self._submit(self._delete, names)

    def finish(self) -> None:
        """Wait for every batch in flight; raises the first error a worker met."""
        self._collect(ALL_COMPLETED)

    def _submit[Work](self, function: Callable[[Work], WriteCounts], work: Work) -> None:
        while len(self._in_flight) >= self._limit:
            self._collect(FIRST_COMPLETED)
        self._in_flight.add(self._executor.submit(function, work))

    def _collect(self, return_when: str) -> None:
        if not self._in_flight:
            return
        done, pending = wait(self._in_flight, return_when=return_when)
        self._in_flight = set(pending)
        failure: BaseException | None = None
        for future in done:
            error = future.exception()
            if error is None:
                self.counts.merge(future.result())
            else:
                failure = failure or error
        if failure is not None:
            raise failure

    def _put(self, batch: list[Item]) -> WriteCounts:
        calls = self.sdb.put_items(self.domain, batch)
        return WriteCounts(items_written=len(batch), put_calls=calls)

    def _trim(self, items: list[tuple[str, frozenset[str]]]) -> WriteCounts:
        # BatchDeleteAttributes needs a value with every attribute it deletes (and deletes the whole item when
        # given none), so the extra attributes' current values are read first. A concurrent put of the same
        # item only touches the dump's attribute names, so the two commute.
        deletions: list[tuple[str, list[tuple[str, str]] | None]] = []
        for name, keep in items:
            current = self.sdb.get_item(self.domain, name)
            if current is None:
                continue
            pairs = [
                (attribute, value)
                for attribute, values in current.attributes.items()
                if attribute not in keep
                for value in values
            ]
            if pairs:
                deletions.append((name, pairs))
        if not deletions:
            return WriteCounts()
        calls = self.sdb.delete_items(self.domain, deletions)
        removed = sum(len(pairs or ()) for _, pairs in deletions)
        return WriteCounts(items_trimmed=len(deletions), values_removed=removed, delete_calls=calls)

    def _delete(self, names: list[str]) -> WriteCounts:
        if len(names) == 1:
            self.sdb.delete_item(self.domain, names[0])
            return WriteCounts(items_deleted=1, delete_calls=1)
        calls = self.sdb.delete_items(self.domain, [(name, None) for name in names])
        return WriteCounts(items_deleted=len(names), delete_calls=calls)


def take_full_batches(buffer: list[Item]) -> list[list[Item]]:
    """Cut the put batches that can no longer grow off the front of ``buffer``; the last stays in it.

    plan_put_batches is greedy (a batch closes when the next item does not fit), so batching a growing buffer
    this way yields exactly the batches one pass over the whole stream would: the fewest calls.
    """
    batches = list(plan_put_batches(buffer))
    buffer[:] = batches.pop() if batches else []
    return batches


# --- the service --------------------------------------------------------------------------------------------


class RestoreService:
    def __init__(self, sdb: SimpleDB, store: DumpStore, settings: Settings) -> None:
        self.sdb, self.store, self.settings = sdb, store, settings
        self.backups = BackupService(sdb, store, settings.segments, settings.continuation_margin_seconds)

    def handle(self, request: RestoreRequest, remaining_seconds: RemainingSeconds) -> dict[str, Any]:
        """Answer one request; refusals are raised as the REFUSALS errors."""
        if request.action == "list":
            return self.list_dumps(request)
        if request.action == "plan":
            return self.plan(request)
        if request.action == "status":
            return self.status(request.run_id or "")
        return self.restore(request, remaining_seconds)

    # --- list / resolve -------------------------------------------------------------------------------------

    def list_dumps(self, request: RestoreRequest) -> dict[str, Any]:
        key = dump_key(request.domain)
        versions = self.store.list_versions(key, request.limit)
        return {
            "action": "list",
            "status": "ok",
            "domain": request.domain,
            "key": key,
            "count": len(versions),
            "dumps": [version.summary() for version in versions],
            "message": (
                f"{len(versions)} dump(s) of {request.domain}, newest first; restore one with "
                '"version_id", or pick by time with "as_of"'
                if versions
                else f"no dumps of {request.domain} yet (s3://{self.store.bucket}/{key})"
            ),
        }

    def resolve_dump(self, request: RestoreRequest) -> DumpVersion:
        """The dump version a request names: ``version_id``, else the newest at or before ``as_of``, else the
        latest. Raises DumpNotFoundError naming what was asked for.

        ``as_of`` and the latest skip the safety backups (trigger ``pre-restore``): every restore adds one as the
        newest version, and "restore the latest" run a second time must restore the same dump again, not the
        state the first run replaced. A safety backup is restored by its ``version_id``.
        """
        key = dump_key(request.domain)
        listing = f'list them with {{"action": "list", "domain": "{request.domain}"}}'
        if request.version_id:
            try:
                version = self.store.head(key, request.version_id)
            except DumpNotFoundError as error:
                raise DumpNotFoundError(
                    f"version_id {request.version_id!r} is not a dump of domain {request.domain!r} ({key}); "
                    f"{listing}"
                ) from error
            if version is None:  # pragma: no cover - head() with a version id raises instead
                raise DumpNotFoundError(f"version_id {request.version_id!r}: no such dump; {listing}")
            return version
        as_of = None
        if request.as_of:
            as_of = request.as_of if request.as_of.tzinfo else request.as_of.replace(tzinfo=UTC)
        newest_first = sorted(self.store.iter_versions(key), key=lambda listed: listed[1], reverse=True)
        for version_id, modified, is_latest in newest_first:
            if as_of is not None and modified > as_of:
                continue
            version = self.store.head(key, version_id)
            if version is not None and version.trigger != PRE_RESTORE_TRIGGER:
                return replace(version, is_latest=is_latest)
        if as_of is not None:
            raise DumpNotFoundError(
                f"as_of {as_of.isoformat()}: no dump of domain {request.domain!r} was made at or before that "
                f"time (safety backups are restored by version_id); {listing}"
            )
        if newest_first:
            raise DumpNotFoundError(
                f"domain {request.domain!r} has only pre-restore safety backups; restore one by version_id; "
                f"{listing}"
            )
        raise DumpNotFoundError(
            f"no dumps of domain {request.domain!r} in s3://{self.store.bucket}/{key}; run a backup first"
        )

    def open_source(self, request: RestoreRequest, pinned: dict[str, Any] | None = None) -> RestoreSource:
        """The request's source; ``pinned`` (a saved ``describe()``) reopens exactly the same object version,
        so a continuation never switches to a newer "latest" (the safety backup itself is a newer dump)."""
        if request.source == "dump":
            version = (
                self.store.head(pinned["key"], pinned["version_id"]) if pinned else self.resolve_dump(request)
            )
            if version is None:
                raise DumpNotFoundError(f"the dump this restore started from is gone: {pinned}")
            return DumpSource(self.store, request.domain, version)
        key = request.source_key or ""
        if not key.startswith(IMPORTS_PREFIX):
            raise InvalidRequestError(
                f"source_key: {key!r} must be under {IMPORTS_PREFIX} (the restore function reads imports there)"
            )
        if request.source == "native-export":
            return NativeExportSource(self.store, key, request.domain)
        version_id = pinned["version_id"] if pinned else self._import_version(key)
        return RepomanFileSource(self.store, key, version_id)

    def _import_version(self, key: str) -> str:
        head = self.store.head(key)
        if head is None:
            raise DumpNotFoundError(f"source_key: no object s3://{self.store.bucket}/{key}")
        return head.version_id

    # --- plan -----------------------------------------------------------------------------------------------

    def check_target(self, target: str) -> None:
        if not self.settings.may_restore_into(target):
            allowed = ", ".join(self.settings.domain_names)
            pattern = self.settings.restore_target_pattern or "(empty)"
            raise InvalidRequestError(
                f"target_domain: {target!r} is neither a configured domain ({allowed}) nor matches "
                f"RESTORE_TARGET_PATTERN {pattern}"
            )

    def snapshot(self, target: str, subset: Subset) -> TargetSnapshot:
        """Fingerprints of the target's items, read by parallel Select streams (ConsistentRead)."""
        try:
            metadata = self.sdb.domain_metadata(target)
        except DomainNotFoundError:
            return TargetSnapshot(subset, exists=False)
        pages = scan_domain(self.sdb, target, self.settings.segments, metadata=metadata)
        return TargetSnapshot.from_pages(pages, subset)

    # No tracer.capture_method on the entry points: it logs every exception with its traceback, and most
    # exceptions here are refusals the operator reads in the answer. The phases below are traced.
    def plan(self, request: RestoreRequest) -> dict[str, Any]:
        """A dry run: verifies the source and compares it with the target; writes nothing."""
        self.check_target(request.target)
        source = self.open_source(request)
        subset = Subset.of(request.items, request.match)
        snapshot = self.snapshot(request.target, subset)
        summary = plan_changes(source.items(), snapshot, request.mode, subset, request.sample_size)
        answer = self._plan_answer(request, source.describe(), snapshot, summary)
        logger.info("restore planned", extra={"plan": answer})
        return answer

    def _plan_answer(
        self, request: RestoreRequest, source: dict[str, Any], snapshot: TargetSnapshot, summary: PlanSummary
    ) -> dict[str, Any]:
        plan = summary.to_dict()
        items = plan["items"]
        if not snapshot.exists:
            target_state = f"{request.target} does not exist and will be created"
        else:
            target_state = f"{request.target} holds {snapshot.item_count} items"
        message = (
            f"{request.mode} restore of {request.domain} into {request.target}: {items['create']} to create, "
            f"{items['update']} to update, {items['delete']} to delete, {items['unchanged']} unchanged "
            f"({target_state})"
        )
        return {
            "action": "plan",
            "status": "planned",
            "domain": request.domain,
            "target_domain": request.target,
            "mode": request.mode,
            "source": source,
            "subset": Subset.of(request.items, request.match).describe(),
            "target_exists": snapshot.exists,
            "target_items": snapshot.item_count,
            **plan,
            "message": message,
        }

    # --- restore --------------------------------------------------------------------------------------------

    def restore(self, request: RestoreRequest, remaining_seconds: RemainingSeconds) -> dict[str, Any]:
        """Start a restore, or continue the one ``request.run_id`` names, as far as this invocation allows."""
        self.check_target(request.target)
        state = self._load_for_resume(request) if request.run_id else None
        if state is not None and state.status in _ENDED:
            return self._answer(state)  # a repeated continuation event of a run that already ended
        if state is not None:
            request = RestoreRequest.model_validate(state.request)
        run_id = state.run_id if state else new_run_id()
        logger.append_keys(run_id=run_id, target_domain=request.target)
        try:
            return self._restore(request, state, run_id, remaining_seconds)
        finally:
            logger.remove_keys(["run_id", "target_domain"])

    def _restore(
        self,
        request: RestoreRequest,
        state: RestoreState | None,
        run_id: str,
        remaining_seconds: RemainingSeconds,
    ) -> dict[str, Any]:
        source = self.open_source(request, state.source if state else None)
        self._acquire_lock(request, run_id, source, state is not None, remaining_seconds)
        keep_lock = False
        leg_started = time.monotonic()
        try:
            if state is None:
                state = self._start(request, run_id, source)
            state.invocations += 1
            progress_before = self._progress(state)
            finished = self._advance(request, state, source, remaining_seconds)
            state.elapsed_seconds += time.monotonic() - leg_started
            if finished:
                self._finish(state)
            else:
                self._park(state, progress_before)
                keep_lock = True
            return self._answer(state)
        except SimpleDBBackupError as error:
            if not isinstance(error, _REQUEST_REFUSALS):
                self._fail(state, error, request.target)
            raise
        except BaseException as error:
            self._fail(state, error, request.target)
            raise
        finally:
            if not keep_lock:
                self._release_lock(request.target)

    def _load_for_resume(self, request: RestoreRequest) -> RestoreState:
        state = self._load_state(request.run_id or "")
        if (state.request.get("domain"), state.target) != (request.domain, request.target):
            raise InvalidRequestError(
                f"run_id: {state.run_id!r} is a restore of {state.request.get('domain')!r} into "
                f"{state.target!r}, not of {request.domain!r} into {request.target!r}"
            )
        return state

    def _load_state(self, run_id: str) -> RestoreState:
        if not _RUN_ID.fullmatch(run_id):
            raise InvalidRequestError(f"run_id: {run_id[:100]!r} is not a restore run id")
        try:
            return RestoreState.from_document(self.store.get_json(status_key(run_id)))
        except DumpNotFoundError as error:
            raise InvalidRequestError(
                f"run_id: no restore run {run_id!r} (s3://{self.store.bucket}/{status_key(run_id)} not found)"
            ) from error

    def _acquire_lock(
        self,
        request: RestoreRequest,
        run_id: str,
        source: RestoreSource,
        resuming: bool,
        remaining_seconds: RemainingSeconds,
    ) -> None:
        """Take ``locks/<target>.lock`` with an S3 conditional write (If-None-Match: *).

        A continuation of the same run refreshes its own lock. A lock whose holder died (a Lambda timeout skips
        every ``finally``) is taken over once it has expired, unless the holder's run is parked waiting for its
        continuation: that one keeps its lock until it resumes or someone removes the lock.
        """
        key = lock_key(request.target)
        expires_at = now() + timedelta(seconds=remaining_seconds() + LOCK_GRACE_SECONDS)
        document = {
            "run_id": run_id,
            "domain": request.domain,
            "target": request.target,
            "source": source.describe(),
            "taken_at": utc_now(),
            "expires_at": expires_at.isoformat(),
        }
        try:
            self.store.create_exclusive(key, document)
            return
        except RestoreInProgressError as error:
            holder = self._read_lock(key)
            if holder is None:
                raise
            if resuming and holder.get("run_id") == run_id:
                self.store.put_json(key, document)  # our own lock, held across this restore's invocations
                return
            if not self._abandoned(holder):
                raise RestoreInProgressError(self._lock_message(key, holder)) from error
            logger.warning("taking over an abandoned restore lock", extra={"lock": holder})
            self.store.delete(key)
            self.store.create_exclusive(key, document)

    def _read_lock(self, key: str) -> dict[str, Any] | None:
        try:
            document = self.store.get_json(key)
        except (SimpleDBBackupError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def _abandoned(self, holder: dict[str, Any]) -> bool:
        try:
            expired = datetime.fromisoformat(str(holder.get("expires_at"))) < now()
        except ValueError:
            return False
        if not expired:
            return False
        try:
            holder_state = self._load_state(str(holder.get("run_id")))
        except InvalidRequestError:
            return True  # it died before saving any progress
        return holder_state.status != "continued"

    def _lock_message(self, key: str, holder: dict[str, Any]) -> str:
        run_id, domain, target = holder.get("run_id"), holder.get("domain"), holder.get("target")
        resume = json.dumps(
            {"action": "restore", "domain": domain, "target_domain": target, "run_id": run_id}
        )
        return (
            f"another restore (run {run_id}, of {domain} into {target}, since {holder.get('taken_at')}) holds the "
            f"lock s3://{self.store.bucket}/{key} until {holder.get('expires_at')}. Wait for it to finish "
            f'(ask {{"action": "status", "domain": "{domain}", "run_id": "{run_id}"}}); if it was interrupted, '
            f"resume it with {resume} or remove the lock: aws s3 rm s3://{self.store.bucket}/{key}"
        )

    def _release_lock(self, target: str) -> None:
        try:
            self.store.delete(lock_key(target))
        except SimpleDBBackupError as error:
            logger.warning(
                "could not release the restore lock", extra={"target_domain": target, "error": str(error)}
            )

    def _start(self, request: RestoreRequest, run_id: str, source: RestoreSource) -> RestoreState:
        """Step 1: verify the source while planning against the target; then the confirmation rule."""
        subset = Subset.of(request.items, request.match)
        snapshot = self.snapshot(request.target, subset)
        source_totals = DumpTotals()
        summary = plan_changes(
            totalled(source.items(), source_totals), snapshot, request.mode, subset, request.sample_size
        )
        plan = self._plan_answer(request, source.describe(), snapshot, summary)
        logger.info("restore planned", extra={"plan": plan})
        non_empty = snapshot.exists and snapshot.item_count > 0
        if non_empty and request.confirm != request.target:
            wrong = f' ("confirm" was {request.confirm!r})' if request.confirm is not None else ""
            raise ConfirmationNeededError(
                f"{request.target} exists and holds {snapshot.item_count} items: to write into it, add "
                f'"confirm": "{request.target}" to the event{wrong}. The plan shows what would change.',
                plan,
            )
        if not snapshot.exists:
            self._create_domain(request.target)
        # Nothing to undo when the target is new or empty, or when the plan writes nothing at all.
        skip_safety_backup = None
        if not snapshot.exists:
            skip_safety_backup = "the target is new"
        elif not non_empty:
            skip_safety_backup = "the target was empty"
        elif summary.differences == 0:
            skip_safety_backup = "the target already matched the source: nothing to write"
        return RestoreState(
            run_id=run_id,
            request=request.model_dump(mode="json", exclude_none=True),
            source=source.describe(),
            target=request.target,
            started_at=utc_now(),
            phase="writing" if skip_safety_backup else "safety-backup",
            safety_backup_skipped=skip_safety_backup,
            target_created=not snapshot.exists,
            target_items_before=snapshot.item_count,
            plan={name: plan[name] for name in ("items", "attributes", "samples")},
            source_totals=source_totals.to_state(),
        )

    def _create_domain(self, target: str) -> None:
        # CreateDomain "may take 10 or more seconds to complete" (SimpleDB API Reference); writes sent before
        # the domain answers would fail with NoSuchDomain, so wait until DomainMetadata finds it.
        self.sdb.create_domain(target)
        deadline = time.monotonic() + DOMAIN_CREATION_WAIT_SECONDS
        while not self.sdb.domain_exists(target):
            if time.monotonic() > deadline:
                raise DomainNotFoundError(
                    f"SimpleDB domain {target!r} was created but is still not available after "
                    f"{DOMAIN_CREATION_WAIT_SECONDS:.0f} s; run the restore again"
                )
            time.sleep(1.0)
        logger.info("target domain created", extra={"target_domain": target})

    def _advance(
        self,
        request: RestoreRequest,
        state: RestoreState,
        source: RestoreSource,
        remaining_seconds: RemainingSeconds,
    ) -> bool:
        """Run the phases from where the state stands; False when time ran short first."""

        def out_of_time() -> bool:
            return remaining_seconds() < self.settings.continuation_margin_seconds

        if state.phase == "safety-backup":
            if out_of_time() or not self._safety_backup(state, remaining_seconds):
                return False
            state.phase = "writing"
        if state.phase == "writing":
            if out_of_time() or not self._write(request, state, source, out_of_time):
                return False
            state.phase = "verifying"
        if state.phase == "verifying":
            if out_of_time():
                return False
            state.verification = self._verify(request, state, source)
            state.phase = "done"
        return True

    @tracer.capture_method
    def _safety_backup(self, state: RestoreState, remaining_seconds: RemainingSeconds) -> bool:
        """Step 2: a normal dump of the target with trigger ``pre-restore``; it may span invocations too."""
        if state.safety_backup_run_id:
            result = self.backups.run(self.backups.load(state.safety_backup_run_id), remaining_seconds)
        else:
            result = self.backups.backup(state.target, PRE_RESTORE_TRIGGER, remaining_seconds)
        if result.status != "complete":
            state.safety_backup_run_id = result.run_id
            state.safety_backup_items_so_far = result.items
            return False
        state.safety_backup = {
            "version_id": result.version_id,
            "key": result.key,
            "items": result.items,
            "undo": {
                "action": "restore",
                "domain": state.target,
                "version_id": result.version_id,
                "mode": "exact",
                "confirm": state.target,
            },
        }
        logger.info("safety backup written", extra={"safety_backup": state.safety_backup})
        return True

    @tracer.capture_method
    def _write(
        self,
        request: RestoreRequest,
        state: RestoreState,
        source: RestoreSource,
        out_of_time: Callable[[], bool],
    ) -> bool:
        """Step 3: re-plan against the target's current contents and write what differs.

        Re-planning is what makes a resumed or repeated restore safe: items already written compare unchanged.
        Returns False, with every batch in flight finished, when time runs short.
        """
        subset = Subset.of(request.items, request.match)
        snapshot = self.snapshot(request.target, subset)
        changes = compare(source.items(), snapshot, request.mode, subset)
        puts: list[Item] = []
        trims: list[tuple[str, frozenset[str]]] = []
        deletes: list[str] = []
        completed = False
        with ParallelWriter(self.sdb, request.target, self.settings.restore_workers) as writer:
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
                        if out_of_time():
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
            extra={"written": asdict(writer.counts), "retries": self.sdb.backoff.retries},
        )
        return completed

    @tracer.capture_method
    def _verify(self, request: RestoreRequest, state: RestoreState, source: RestoreSource) -> dict[str, Any]:
        """Step 4: read the target back and compare it with the source: nothing may be left to change.

        When the target must now hold exactly the source (exact mode, or a domain this restore created, with
        no subset), the target's items are folded into the dump format's count and order-independent digest
        and compared with the source's: one scan, no per-item state, memory flat whatever the domain's size.
        Otherwise, or to explain a mismatch, the target is compared item by item as the plan does.
        """
        subset = Subset.of(request.items, request.match)
        whole_target_is_source = subset.is_everything and (request.mode == "exact" or state.target_created)
        if whole_target_is_source and state.source_totals is not None:
            target_totals = DumpTotals()
            for page in scan_domain(self.sdb, request.target, self.settings.segments):
                for item in page:
                    target_totals.add(item, encode_item_line(item))
            source_totals = DumpTotals.from_state(state.source_totals)
            if (target_totals.items, target_totals.digest) == (source_totals.items, source_totals.digest):
                return {"verified": True, "mismatches": 0, "sample": []}
        summary = plan_changes(
            source.items(), self.snapshot(request.target, subset), request.mode, subset, request.sample_size
        )
        return {
            "verified": summary.differences == 0,
            "mismatches": summary.differences,
            "sample": summary.sample_names(),
        }

    # --- state and answers ----------------------------------------------------------------------------------

    def _save(self, state: RestoreState) -> None:
        state.updated_at = utc_now()
        self.store.put_json(status_key(state.run_id), state.to_document())

    @staticmethod
    def _progress(state: RestoreState) -> tuple[str, int, int]:
        return state.phase, state.safety_backup_items_so_far, state.written.total

    def _park(self, state: RestoreState, progress_before: tuple[str, int, int]) -> None:
        """Save the run's progress for the invocation that continues it (the lock stays held)."""
        made_progress = self._progress(state) != progress_before
        state.legs_without_progress = 0 if made_progress else state.legs_without_progress + 1
        if state.legs_without_progress >= MAX_LEGS_WITHOUT_PROGRESS:
            raise RestoreStalledError(
                f"restore {state.run_id} made no progress in {MAX_LEGS_WITHOUT_PROGRESS} invocations in a row "
                f"(phase {state.phase}); raise the function timeout or lower CONTINUATION_MARGIN_SECONDS"
            )
        state.status = "continued"
        self._save(state)
        logger.info(
            "restore continues in a new invocation",
            extra={"phase": state.phase, "written": asdict(state.written)},
        )

    def _finish(self, state: RestoreState) -> None:
        verified = bool(state.verification and state.verification["verified"])
        state.status = "complete" if verified else "failed"
        if not verified:
            state.error = {
                "kind": "verification-failed",
                "message": "the target does not match the source after the restore; run the same restore again "
                "(it converges), and look at the sample of mismatching items",
            }
        self._save(state)
        self._emit_final_metrics(state, succeeded=verified)
        logger.info("restore finished", extra={"summary": self._answer(state)})

    def _fail(self, state: RestoreState | None, error: BaseException, target: str) -> None:
        logger.error("restore failed", extra={"error": str(error), "error_type": type(error).__name__})
        if state is None:
            with domain_metrics(target) as metrics:
                metrics.add(MetricName.RESTORE_FAILED, 1)
            return
        kind = error.kind if isinstance(error, SimpleDBBackupError) else type(error).__name__
        state.status, state.error = "failed", {"kind": kind, "message": str(error)}
        self._emit_final_metrics(state, succeeded=False)
        try:
            self._save(state)
        except SimpleDBBackupError as save_error:
            logger.warning("could not save the failed restore's status", extra={"error": str(save_error)})

    def _emit_final_metrics(self, state: RestoreState, succeeded: bool) -> None:
        """Once per run, when it ends: its items written and deleted over all invocations, and the outcome."""
        with domain_metrics(state.target) as metrics:
            metrics.add(MetricName.RESTORE_ITEMS_WRITTEN, state.written.items_written)
            metrics.add(MetricName.RESTORE_ITEMS_DELETED, state.written.items_deleted)
            metrics.add(MetricName.RESTORE_SUCCEEDED if succeeded else MetricName.RESTORE_FAILED, 1)

    def _answer(self, state: RestoreState) -> dict[str, Any]:
        request = state.request
        answer: dict[str, Any] = {
            "action": "restore",
            "status": state.status,
            "run_id": state.run_id,
            "domain": request.get("domain"),
            "target_domain": state.target,
            "mode": request.get("mode", "merge"),
            "source": state.source,
            "target_created": state.target_created,
            "target_items_before": state.target_items_before,
            "safety_backup": state.safety_backup,
            **({"safety_backup_skipped": state.safety_backup_skipped} if state.safety_backup_skipped else {}),
            "plan": state.plan,
            "written": asdict(state.written),
            "verification": state.verification,
            "phase": state.phase,
            "invocations": state.invocations,
            "duration_seconds": round(state.elapsed_seconds, 3),
        }
        if state.error:
            answer["error"] = state.error
        if state.status == "continued":
            # The handler invokes the function with this event, asynchronously, to resume the run.
            answer["continues_with"] = {**state.request, "run_id": state.run_id}
        answer["message"] = self._message(state)
        return answer

    @staticmethod
    def _message(state: RestoreState) -> str:
        written = state.written
        done = (
            f"{written.items_written} items written, {written.items_trimmed} trimmed of extra attributes, "
            f"{written.items_deleted} deleted"
        )
        if state.status == "continued":
            return (
                f"restore of {state.target} continues in the background ({state.phase}; so far {done}); ask "
                f'{{"action": "status", "domain": "{state.request.get("domain")}", "run_id": "{state.run_id}"}}'
            )
        undo = (
            f"; undo with the safety backup version {state.safety_backup['version_id']}"
            if state.safety_backup
            else ""
        )
        if state.status == "complete":
            return f"restored {state.target}: {done}; verified, the target matches the source{undo}"
        if state.status == "failed":
            reason = state.error["message"] if state.error else "unknown error"
            return f"restore of {state.target} failed ({state.phase}): {reason}; so far {done}{undo}"
        return f"restore of {state.target} is running ({state.phase}; so far {done})"

    # --- status ---------------------------------------------------------------------------------------------

    def status(self, run_id: str) -> dict[str, Any]:
        state = self._load_state(run_id)
        answer = self._answer(state)
        answer["status_updated_at"] = state.updated_at
        return answer


def refusal(error: SimpleDBBackupError, event: object) -> dict[str, Any]:
    """The answer to a refused request: what was wrong, and for a missing ``confirm`` the plan."""
    answer: dict[str, Any] = {"status": "refused"}
    if isinstance(event, dict):
        for name in ("action", "domain", "target_domain", "run_id"):
            if isinstance(event.get(name), str):
                answer[name] = event[name]
    answer["error"] = {"kind": error.kind, "message": str(error)}
    if isinstance(error, ConfirmationNeededError):
        answer["plan"] = error.plan
    return answer
