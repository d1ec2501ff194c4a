"""Parallel BatchPutAttributes / BatchDeleteAttributes writers for one restore."""

from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from simpledb_backup.aws.ratecontrol import OutOfTimeError
from simpledb_backup.aws.simpledb import SimpleDB, plan_put_batches
from simpledb_backup.items import Item
from simpledb_backup.restore.state import WriteCounts


def _ignore(_: WriteCounts) -> None:
    pass


class ParallelWriter:
    """BatchPutAttributes / BatchDeleteAttributes calls on a worker pool, with at most two batches per worker
    in flight so memory stays flat however large the restore. Every worker goes through the SimpleDB
    adapter's one retry policy (ratecontrol.RateController), so 503s slow the whole restore down instead of
    failing a batch.

    ``on_done`` hears of each batch as it completes (in the thread that submits or finishes), so a run's
    progress moves during the write. A batch whose call the rate controller did not send because the
    invocation's time ran out (OutOfTimeError) is not written and not counted; ``out_of_time`` says so, and
    the next invocation writes it (writes converge)."""

    def __init__(
        self, sdb: SimpleDB, domain: str, workers: int, on_done: Callable[[WriteCounts], None] = _ignore
    ) -> None:
        self.sdb, self.domain, self.on_done = sdb, domain, on_done
        self.counts = WriteCounts()
        self.out_of_time = False
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
                self.counts = self.counts.plus(future.result())
                self.on_done(future.result())
            elif isinstance(error, OutOfTimeError):
                self.out_of_time = True
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
    """Cut the put batches that can no longer grow off the front of ``buffer``; the last stay in it.

    plan_put_batches is greedy (a batch closes when the next item does not fit), so batching a growing buffer
    this way yields exactly the batches one pass over the whole stream would: the fewest calls.
    """
    batches = list(plan_put_batches(buffer))
    buffer[:] = batches.pop() if batches else []
    return batches
