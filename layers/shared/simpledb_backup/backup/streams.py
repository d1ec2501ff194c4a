"""The Select streams of one scan: as many as raise the pages read per second, each reading a run of cells.

A stream is a thread reading one run (consecutive cells, scan.py) page by page with NextToken, doing the
caller's work on each page in its own thread (the backup encodes and compresses it there), and handing the
result to the consuming thread through a bounded queue. The consumer commits each page to its cells (cursor,
done), so a checkpoint taken between two pages is exact, and decides how many streams run:

* Where the names spread evenly (the probe's pages say so, scan.py), the scan is first cut into as many runs as
  the memory budget allows streams and nine tenths of its split budget pays for (scan.split_budget: every run
  ends on a part-filled page), each a whole number of estimated pages less a fifth, so it ends on a nearly full
  page. The runs wait for streams. Where names crowd, runs are split only by what their streams have read.
* ``StreamCount`` starts as many streams as the probe's latency calls for (at least four) and doubles them each
  time the pages per second rose by a fifth over the last round of pages (one page per stream), until they stop
  rising or reach the ceiling (BackupSegments) or the memory budget: a slow SimpleDB gets many streams, a fast
  one or a busy CPU few.
* A stream with no run left to take splits the run with the most pages left (by its own pages per cell so
  far, weighed with the plan's estimate), keeping the front part for its stream, with the rest of the budget.
* Only a few pages are parsed and worked on at once (selectparse.PAGE_PERMITS), and malloc's arenas are capped,
  so a stream waiting for SimpleDB holds little memory.

A NextToken SimpleDB refuses (InvalidNextToken: expired) restarts the run's query after its last name; only
refusals that keep coming without the run moving on, or too many in one run, fail the scan.
"""

import ctypes
import math
import queue
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from typing import Any

from simpledb_backup.aws.selectparse import PAGE_PERMITS
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.cells import Layout, ScanSettings, Segment, select_range
from simpledb_backup.errors import NextTokenRefusedError, StorageError
from simpledb_backup.items import Item

#: Streams a scan starts with, before it has measured anything.
INITIAL_STREAMS = 4
#: The pages per second must rise by this factor for the streams to double again.
RISE = 1.2
#: A round lasts at least this long, so a fast local service is not judged on a few milliseconds.
MIN_ROUND_SECONDS = 0.05
#: A run is split only when at least this many pages are left in it.
MIN_SPLIT_PAGES = 2.5
#: The share of the split budget kept for splitting runs that turn out larger than estimated (the rest cuts the
#: scan up front, where an even spread of names makes the estimate good).
STEAL_SHARE = 0.1
#: How many pages of a run's own reading weigh as much as the plan's estimate of its pages per cell.
PRIOR_PAGES = 4.0
UNEVEN_PRIOR_PAGES = 0.25
#: A shortened run is aimed to end this much of a page short of a whole number of pages.
SPLIT_MARGIN_PAGES = 0.2
#: Refused NextTokens a run tolerates in a row without reading an item in between, and in all: a few, and one
#: for every four pages it read (an expired token now and then is the service's right; every token is not).
TOKEN_REFUSALS_IN_A_ROW = 3
TOKEN_REFUSALS_PER_RUN = 10
PAGES_PER_REFUSAL = 4

Work = Callable[[list[Item]], Any]
#: glibc's malloc gives threads arenas of their own, up to eight per core, and keeps what they freed: with dozens
#: of streams parsing and encoding 1 MB pages in turn, that cost about 7 MB of resident memory per stream
#: (measured; Python's own heap grew 2 MB). Two arenas hold the same work in a fifth of that.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc malloc.h


@cache
def limit_malloc_arenas() -> bool:
    """Cap glibc's malloc arenas for the threads to come (Lambda's Linux); True when it was set. Elsewhere (no
    glibc) nothing changes."""
    with suppress(OSError, AttributeError):
        return bool(ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, MALLOC_ARENAS))
    return False


class StreamCount:
    """How many streams should run: doubled while the pages per second keep rising, within ``ceiling``; back
    to the last count that paid once a doubling did not (streams that finish are then not replaced)."""

    def __init__(
        self, ceiling: int, initial: int = INITIAL_STREAMS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ceiling = ceiling
        self.target = max(1, min(max(INITIAL_STREAMS, initial), ceiling))
        self._clock = clock
        self._started: float | None = None
        self._pages = 0
        self._rate: float | None = None
        self._before: int | None = None  # the count before the last doubling
        self._rising = self.target < ceiling

    def page(self) -> None:
        """One more page was read; at the end of a round, compare its rate with the last round's."""
        now = self._clock()
        if self._started is None:
            self._started = now
            return
        self._pages += 1
        elapsed = now - self._started
        if self._pages < self.target or elapsed < MIN_ROUND_SECONDS:
            return
        rate = self._pages / elapsed
        rose = self._rate is None or rate >= self._rate * RISE
        if self._rising and rose:
            self._before, self.target = self.target, min(self.ceiling, 2 * self.target)
            self._rising = self.target < self.ceiling
        elif self._rising or not rose:
            if not rose and self._before is not None:
                self.target = self._before  # the doubling did not pay
            self._before, self._rising = None, False
        self._rate, self._started, self._pages = rate, now, 0


class Run:
    """Consecutive cells [first, end) one stream reads with one Select in itemName() order.

    ``after`` (the last name the stream worked on) and ``end`` (which a split lowers) are shared between the
    stream and the consumer, under ``lock``; the rest belongs to the consumer.
    """

    def __init__(self, first: int, end: int, after: str | None) -> None:
        self.first, self.end, self.after = first, end, after
        self.lock = threading.Lock()
        self.commit_from = first
        self.start_offset: float | None = None
        #: Where the first item the run read lies, and its last one so far (its density is measured between).
        self.data_offset: float | None = None
        self.last_offset: float | None = None
        self.pages = 0
        #: ``pages`` when the run was last split: where names crowd, a run is split again only once it has
        #: read a page of what it kept (its estimate was made for the range it had).
        self.split_at_pages = -1
        self.finished = False


@dataclass
class _Message:
    run: Run
    payload: Any = None
    last_name: str | None = None
    first_name: str | None = None
    #: The run's range has no items left (its Select ended, or it passed the run's end).
    exhausted: bool = False
    #: The stream stops after this message.
    final: bool = False
    error: BaseException | None = None


class _Cells:
    """Where a name lies among the cells, as a cell index and as a fractional offset (for estimates)."""

    def __init__(self, segments: Sequence[Segment], layout: Layout) -> None:
        self.segments = segments
        self._lowers = [segment.lower or "" for segment in segments]
        self._keyspace = layout.keyspace()

    def index(self, name: str) -> int:
        return max(0, bisect_right(self._lowers, name) - 1)

    def offset(self, name: str | None, first: int) -> float:
        if name is None:
            return float(first)
        index = self.index(name)
        segment = self.segments[index]
        if self._keyspace is None or segment.lower is None or segment.upper is None:
            return index + 0.5
        low, high = self._keyspace.position(segment.lower), self._keyspace.position(segment.upper)
        fraction = (self._keyspace.position(name) - low) / (high - low) if high > low else 0.5
        return index + min(max(fraction, 0.0), 0.999)

    def upper(self, end: int) -> str | None:
        return self.segments[end - 1].upper


class StreamPool[Payload]:
    """The streams of one scan over ``segments``; ``pages()`` yields (cell, payload) in arrival order."""

    def __init__(
        self,
        sdb: SimpleDB,
        domain: str,
        where: str | None,
        segments: list[Segment],
        layout: Layout,
        make_work: Callable[[Run], Callable[[list[Item]], Payload]],
        settings: ScanSettings,
        per_cell: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        limit_malloc_arenas()
        self.segments, self.layout, self.make_work = segments, layout, make_work
        self.count = StreamCount(settings.max_streams, layout.streams, clock)
        self.cells = _Cells(segments, layout)
        self._queue: queue.Queue[_Message] = queue.Queue(maxsize=settings.queued_pages)
        self._stop = threading.Event()
        self._stream = _Stream(sdb, domain, where, self.cells, self._queue, self._stop)
        self._runs: list[Run] = []
        #: Runs waiting for a stream, started before any split.
        self._waiting = self._initial_runs(per_cell)
        #: The most streams that ran at once, and how many runs were started.
        self.peak_streams = 0
        self.runs_started = 0

    def _initial_runs(self, per_cell: bool) -> list[Run]:
        """Runs over the unfinished cells: one per cell (``per_cell``), else one per stretch of consecutive
        unfinished cells, a new one where a run began (``layout.starts``) or stopped (a cell with a cursor)."""
        runs: list[Run] = []
        starts = set(self.layout.starts)
        for index, segment in enumerate(self.segments):
            if segment.done:
                continue
            joins = not per_cell and segment.cursor is None and index not in starts
            if runs and runs[-1].end == index and joins:
                runs[-1].end = index + 1
            else:
                runs.append(Run(index, index + 1, segment.cursor))
        return runs

    def pages(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[tuple[int, Payload]]:
        """Every page of the unfinished cells, as the streams read them, until they are all read or
        ``should_stop()`` turns true (pages read after that are dropped: the cells say what was consumed). A
        page counts as consumed once the caller asks for the next one. A stream's error is raised once every
        stream has stopped."""
        if not self.layout.partitioned:
            self._partition()
        self._rebalance()
        failure: BaseException | None = None
        try:
            while self._running():
                message = self._queue.get()
                if message.final:
                    message.run.finished = True
                if message.error is not None:
                    failure = failure or message.error
                    self._stop.set()
                if self._stop.is_set():
                    continue  # read before the stop: dropped, the next invocation reads it again
                if message.last_name is not None:
                    yield self.cells.index(message.last_name), message.payload
                    self._commit(message)
                    self.count.page()
                    self.layout.streams = self.count.target
                self._commit_end(message)
                if should_stop():
                    self._stop.set()
                else:
                    self._rebalance()
        finally:
            self._stop.set()
            # A consumer that stopped early must not leave streams blocked on the queue.
            while self._running():
                message = self._queue.get()
                if message.final:
                    message.run.finished = True
        if failure is not None:
            raise failure

    def _running(self) -> bool:
        """Streams are still reading, or runs wait for one (always started by ``_rebalance`` while fewer
        streams run than the count asks for, so the consumer never waits for a stream that is not there)."""
        streaming = any(not run.finished for run in self._runs)
        return streaming or (bool(self._waiting) and not self._stop.is_set())

    def _start(self, run: Run) -> None:
        work = self.make_work(run)
        run.start_offset = self.cells.offset(run.after, run.first)
        self._runs.append(run)
        self.runs_started += 1
        thread = threading.Thread(
            target=self._stream.read, args=(run, work), name="select-stream", daemon=True
        )
        thread.start()
        self.peak_streams = max(self.peak_streams, sum(not each.finished for each in self._runs))

    # --- the consumer's side -----------------------------------------------------------------------------------

    def _commit(self, message: _Message) -> None:
        """Record a consumed page in its run's cells: the cells it passed are done, its last one has its name."""
        run, name = message.run, message.last_name
        assert name is not None
        cell = self.cells.index(name)
        self._finish(run.commit_from, cell)
        self.segments[cell].cursor = name
        run.commit_from = cell
        if run.data_offset is None and message.first_name is not None:
            run.data_offset = self.cells.offset(message.first_name, run.first)
        run.last_offset = self.cells.offset(name, run.first)
        run.pages += 1

    def _commit_end(self, message: _Message) -> None:
        """A run whose range has no items left: all its cells are done."""
        run = message.run
        if message.exhausted:
            self._finish(run.commit_from, run.end)

    def _finish(self, first: int, end: int) -> None:
        """Cells read to their end: done, their cursor no longer needed (a checkpoint stays small)."""
        for segment in self.segments[first:end]:
            segment.done, segment.cursor = True, None

    def _partition(self) -> None:
        """Cut the scan's one run into as many as streams may run and the budget pays for, each a whole number
        of estimated pages less SPLIT_MARGIN_PAGES (the last takes the rest)."""
        self.layout.partitioned = True
        if len(self._waiting) != 1 or not self.layout.even:
            return
        run = self._waiting[0]
        usable = self.layout.splits_left - int(self.layout.splits_left * STEAL_SHARE)
        parts = min(self.count.ceiling, usable + 1)
        start = self.cells.offset(run.after, run.first)
        per_cell = self.layout.pages_per_cell
        total = (run.end - start) * per_cell
        if parts < 2 or total < MIN_SPLIT_PAGES:
            return
        whole = max(1, round((total + SPLIT_MARGIN_PAGES * (parts - 1)) / parts))
        boundary = start
        for _ in range(parts - 1):
            boundary += (whole - SPLIT_MARGIN_PAGES) / per_cell
            cell, last = math.ceil(boundary), self._waiting[-1]
            if not last.first < cell < last.end:
                break
            self._cut(last, cell, start=False)

    def _cut(self, run: Run, cell: int, start: bool = True) -> Run | None:
        """Split ``run`` at ``cell``: it keeps the cells before, a new run takes the rest (started, or waiting).
        Decided under the run's lock: None, and nothing changes, once its stream has worked past ``cell``."""
        with run.lock:
            reached = self.cells.index(run.after) if run.after is not None else run.first - 1
            if not reached < cell < run.end:
                return None
            rest = Run(cell, run.end, None)
            run.end = cell
            run.split_at_pages = run.pages
        self.layout.splits_left -= 1
        self.layout.starts.append(cell)
        if start:
            self._start(rest)
        else:
            self._waiting.append(rest)
        return rest

    def _rebalance(self) -> None:
        """Start waiting runs, then split runs, until the streams the count asks for run, or the budget or the
        runs allow no more."""
        while not self._stop.is_set() and sum(not run.finished for run in self._runs) < self.count.target:
            if self._waiting:
                self._start(self._waiting.pop(0))
                continue
            if self.layout.splits_left <= 0:
                return
            split = self._best_split()
            if split is None or self._cut(*split) is None:
                return

    def _pages_per_cell(self, run: Run) -> float:
        """The run's pages per cell between its first item and its last so far, weighed with the plan's
        estimate (PRIOR_PAGES of it where names spread evenly, little where they crowd)."""
        prior = self.layout.pages_per_cell
        if run.last_offset is None or run.data_offset is None:
            return prior
        span = max(0.0, run.last_offset - run.data_offset)
        weight = PRIOR_PAGES if self.layout.even else UNEVEN_PRIOR_PAGES
        return (run.pages + weight) / (span + weight / prior)

    def _best_split(self) -> tuple[Run, int] | None:
        """The run with the most pages left and where to cut it (its lock held while deciding, so its stream
        cannot pass the cut): the run keeps a whole number of pages less SPLIT_MARGIN_PAGES from where its
        stream is, about half of what is left. None when no run has MIN_SPLIT_PAGES left."""
        candidates = sorted(
            (
                run
                for run in self._runs
                if not run.finished and (self.layout.even or run.pages > max(0, run.split_at_pages))
            ),
            key=lambda run: (run.end - self.cells.offset(run.after, run.first)) * self._pages_per_cell(run),
            reverse=True,
        )
        for run in candidates:
            with run.lock:
                per_cell = self._pages_per_cell(run)
                current = self.cells.offset(run.after, run.first)
                left = (run.end - current) * per_cell
                if left < MIN_SPLIT_PAGES:
                    return None
                keep = max(1.0, math.floor(left / 2 + 0.5)) - SPLIT_MARGIN_PAGES
                lowest = (self.cells.index(run.after) if run.after is not None else run.first) + 1
                boundary = max(lowest, math.ceil(current + keep / per_cell))
                if boundary < run.end:
                    return run, boundary
        return None


class _Stream:
    """What a stream's thread does: read its run page by page, work on each page, hand it to the consumer."""

    def __init__(
        self,
        sdb: SimpleDB,
        domain: str,
        where: str | None,
        cells: _Cells,
        handed: "queue.Queue[_Message]",
        stop: threading.Event,
    ) -> None:
        self.sdb, self.domain, self.where, self.cells = sdb, domain, where, cells
        self.segments = cells.segments
        self._queue, self._stop = handed, stop

    def read(self, run: Run, work: Work) -> None:
        try:
            self._read_pages(run, work)
        except BaseException as error:  # handed to the consuming thread, which raises it
            self._queue.put(_Message(run, final=True, error=error))

    def _read_pages(self, run: Run, work: Work) -> None:
        token: str | None = None
        expression, upper = "", None
        refusals = refusals_in_a_row = pages = 0
        while not self._stop.is_set():
            with run.lock:
                current_upper, after = self.cells.upper(run.end), run.after
            if token is None or current_upper != upper:
                # A new query after the run's last name: at its start, after a refused NextToken, or once a split
                # lowered its end (a NextToken belongs to the query that returned it).
                lower = self.segments[run.first].lower if after is None else None
                upper, token = current_upper, None
                expression = select_range(self.domain, self.where, after, lower, upper)
            with PAGE_PERMITS.page():  # parsed and worked on while holding one of a few permits
                try:
                    items, token = self.sdb.select_page(self.domain, expression, token)
                except NextTokenRefusedError as error:
                    refusals, refusals_in_a_row = refusals + 1, refusals_in_a_row + 1
                    allowed = TOKEN_REFUSALS_PER_RUN + pages // PAGES_PER_REFUSAL
                    if refusals_in_a_row >= TOKEN_REFUSALS_IN_A_ROW or refusals > allowed:
                        raise self._refused_too_often(run, refusals) from error
                    token = None
                    continue
                pages += 1
                if items:
                    refusals_in_a_row = 0
                if self._stop.is_set():
                    break
                if not self._hand_over(run, work, items, token is None):
                    return
        self._queue.put(_Message(run, final=True))

    def _hand_over(self, run: Run, work: Work, items: list[Item], ended: bool) -> bool:
        """Work on a page and queue the result; False once the run is exhausted."""
        with run.lock:
            upper = self.cells.upper(run.end)
            kept = items if upper is None else [item for item in items if item.name < upper]
            if kept:
                self._check_inside(run, kept[0].name)
                run.after = kept[-1].name
        exhausted = ended or len(kept) < len(items)
        if kept:
            payload = work(kept)
            self._queue.put(_Message(run, payload, kept[-1].name, kept[0].name, exhausted, final=exhausted))
        elif exhausted:
            self._queue.put(_Message(run, exhausted=True, final=True))
        # else an empty page with a NextToken: SimpleDB stopped early, nothing to hand over
        return not exhausted

    def _check_inside(self, run: Run, name: str) -> None:
        lower = self.segments[run.first].lower
        if lower is not None and name < lower:
            raise StorageError(
                f"SimpleDB returned item {name[:80]!r} below the itemName() range {lower[:40]!r} its Select on "
                f"{self.domain!r} asked for"
            )

    def _refused_too_often(self, run: Run, refusals: int) -> NextTokenRefusedError:
        with run.lock:
            after = run.after
        lower, upper = self.segments[run.first].lower, self.cells.upper(run.end)
        return NextTokenRefusedError(
            f"SimpleDB refused the NextToken of the Select over itemName() [{lower!r:.40}, {upper!r:.40}) of "
            f"{self.domain!r} {refusals} times (restarting after item {after!r:.80} each time); the scan stops "
            "rather than retry forever"
        )
