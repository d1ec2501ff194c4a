"""Parallel reading of a domain: Select streams over itemName() ranges, as many as the service rewards.

Used by the backup (to dump a domain) and the restore (to read the target it compares a dump with).

How a domain is split, for any names (keyspace.py): one Select page ascending and one descending show the
domain's first and last names; the names between are cut into fine *cells* (at most MAX_SEGMENTS, the ranges a
dump's header lists), evenly by the key space those names suggest. A *run* is a stretch of consecutive cells one
stream reads with one Select ``order by itemName()``; streams are added by splitting the run with the most pages
left (streams.py), only at cell boundaries, so each cell is read in order by one stream and the header written
before the first item stays true. Every run ends with a part-filled page, so the splits a scan may make come
from a budget of extra pages: within 5 % of the fewest pages the domain needs, at most 3 extra below 100 pages.
"""

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.cells import (
    ENCODED_STREAM_BYTES,
    ITEM_STREAM_BYTES,
    Layout,
    ScanSettings,
    Segment,
    make_segments,
    segment_bounds,
    select_range,
)
from simpledb_backup.backup.keyspace import KeySpace, common_prefix
from simpledb_backup.backup.streams import StreamPool
from simpledb_backup.capacity import DomainSize, min_select_pages, most_runs
from simpledb_backup.formats.dumpformat import MAX_SEGMENTS, collation_safe
from simpledb_backup.items import Item

__all__ = [
    "ENCODED_STREAM_BYTES",
    "ITEM_STREAM_BYTES",
    "DomainScan",
    "Layout",
    "ScanSettings",
    "Segment",
    "make_segments",
    "plan_scan",
    "scan_domain",
    "scan_segments",
    "segment_bounds",
]

#: Cells per estimated page of the middle of the domain: a split lands within an eighth of a page of its aim.
CELLS_PER_PAGE = 8
#: Bytes the cells' bounds may take in the header and in a checkpoint (read back whole, at most 1 MB).
STATE_BYTES_FOR_CELLS = 256 * 1024
#: Pages a domain must be estimated to need before it is split at all (its first pages probe the names).
SPLIT_FROM_PAGES = 3
#: A probe page spanning between half and twice the key space an average page does means evenly spread names.
EVEN_SPREAD = (0.5, 2.0)
#: Client CPU a Select page costs (parsing, checking, encoding: docs/PERFORMANCE.md), to turn the probe's latency
#: into the streams that keep the CPU busy while others wait for SimpleDB (Little's law).
PAGE_CPU_SECONDS = 0.025


def split_budget(estimated_pages: int) -> int:
    """Splits (new runs) a scan may make; half a page of the allowance goes to the run that ends where the
    descending probe's page begins: every run but the first is one split."""
    return most_runs(estimated_pages) - 1


def estimated_select_pages(metadata: DomainSize) -> int:
    """The fewest Select pages a scan of the whole domain can take (2,500 items or 1 MB a page); none for an
    empty domain."""
    return min_select_pages(metadata) if metadata.item_count > 0 else 0


@dataclass
class FirstPage:
    """A page the probe read before the cells existed, for the scan to hand on first."""

    cell: int
    items: list[Item]
    done: bool


@dataclass
class Plan:
    """A domain's cells, their layout, and the probe's pages."""

    segments: list[Segment]
    layout: Layout
    pages: list[FirstPage] = field(default_factory=list)


def _first_page(sdb: SimpleDB, domain: str, expression: str) -> tuple[list[Item], str | None]:
    """The first page holding an item (SimpleDB may answer empty pages with a NextToken), and its NextToken."""
    items, token = sdb.select_page(domain, expression, None)
    while not items and token:
        items, token = sdb.select_page(domain, expression, token)
    return items, token


def _probe(
    sdb: SimpleDB, domain: str, where: str | None
) -> tuple[tuple[list[Item], str | None], list[Item], float]:
    """The domain's first page ascending and, read at the same time, its first page descending; and how long
    the two took."""
    found: dict[str, Any] = {}
    started = time.monotonic()

    def descending() -> None:
        try:
            found["items"], _ = _first_page(sdb, domain, select_range(domain, where, None, None, None, True))
        except BaseException as error:  # raised in the calling thread below
            found["error"] = error

    thread = threading.Thread(target=descending, name="probe-descending", daemon=True)
    thread.start()
    try:
        ascending = _first_page(sdb, domain, select_range(domain, where, None, None, None))
    finally:
        thread.join()
    if "error" in found:
        raise found["error"]
    return ascending, found["items"], time.monotonic() - started


def plan_scan(
    sdb: SimpleDB, domain: str, where: str | None, estimated_pages: int, settings: ScanSettings
) -> Plan:
    """Cut a domain into cells from its own names; one cell when it is small or one stream is all there is."""
    if estimated_pages < SPLIT_FROM_PAGES or settings.max_streams < 2:
        return Plan([Segment(None, None)], Layout())
    (first_items, token), last_items, seconds = _probe(sdb, domain, where)
    if token is None:  # the first page held everything
        last_name = first_items[-1].name if first_items else None
        return Plan([Segment(None, None, last_name, True)], Layout(), [FirstPage(0, first_items, True)])
    low = first_items[-1].name
    ascending_tail = list(reversed(last_items))
    # The last cell starts at a name of the descending page, one that sorts alike in both collations, so the
    # page holds that cell whole; without one, the page's items are read again by the streams.
    high = next((item.name for item in ascending_tail if item.name > low and collation_safe(item.name)), None)
    names = [item.name for item in first_items] + [item.name for item in ascending_tail]
    middle_pages = max(1, estimated_pages - 2)
    cells = min(MAX_SEGMENTS - 2, max(1, CELLS_PER_PAGE * middle_pages), _cells_that_fit(low, high))
    keyspace = KeySpace.learn(names, low, high or names[-1]) if names[-1] > low else None
    points = keyspace.split_points(low, high or names[-1], cells - 1) if keyspace else []
    bounds: list[str | None] = [None, *points, *([high] if high else []), None]
    segments = [Segment(lower, upper) for lower, upper in pairwise(bounds)]
    segments[0].cursor = low
    if high is not None:
        segments[-1].done = True
    per_cell = middle_pages / max(1, len(points) + 1)
    layout = Layout(
        pages_per_cell=per_cell,
        splits_left=split_budget(estimated_pages),
        partitioned=False,
        even=keyspace is not None and _spread_evenly(keyspace, points, per_cell, first_items, ascending_tail),
        streams=min(settings.max_streams, max(1, math.ceil(seconds / PAGE_CPU_SECONDS))),
        prefix=keyspace.prefix if keyspace else None,
        places=list(keyspace.places) if keyspace else None,
    )
    pages = [FirstPage(0, first_items, False)]
    if high is not None:
        pages.append(
            FirstPage(len(segments) - 1, [item for item in ascending_tail if item.name >= high], True)
        )
    return Plan(segments, layout, pages)


def _cells_that_fit(low: str, high: str | None) -> int:
    """Cells whose bounds fit the header and a checkpoint in STATE_BYTES_FOR_CELLS, for bounds as long as the
    names' common prefix and a few dozen characters (UTF-8, and a JSON escape at worst)."""
    bound_bytes = 6 * len(common_prefix(low, high or low)) + 64
    return max(1, STATE_BYTES_FOR_CELLS // (2 * bound_bytes))


def _spread_evenly(
    keyspace: KeySpace, points: list[str], per_cell: float, first: list[Item], last: list[Item]
) -> bool:
    """Whether each probe page spans about the key space an average page does (EVEN_SPREAD): names spread
    evenly (digests, numbered ids) then, where dates or URLs crowd into a small part of it. A page's span is
    measured over its middle 80 % of names, so an outlier at an end (Repoman's ``meta``) does not count."""
    if len(points) < 2 or len(first) < 10 or len(last) < 10:
        return False
    cell = (keyspace.position(points[-1]) - keyspace.position(points[0])) / (len(points) - 1)
    if cell <= 0:
        return False
    page = cell / per_cell
    low, high = EVEN_SPREAD
    for items in (first, last):
        lower, upper = items[len(items) // 10].name, items[len(items) * 9 // 10].name
        span = (keyspace.position(upper) - keyspace.position(lower)) / 0.8
        if not low <= span / page <= high:
            return False
    return True


def legacy_layout(segments: Sequence[Segment], estimated_pages: int) -> Layout:
    """The layout of cells made without a probe (fixed hex ranges, a checkpoint of an older release)."""
    return Layout(pages_per_cell=max(1.0, estimated_pages / max(1, len(segments))), splits_left=0)


def scan_segments(
    sdb: SimpleDB,
    domain: str,
    segments: list[Segment],
    where: str | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    max_streams: int = 8,
) -> Iterator[tuple[int, list[Item]]]:
    """Yield (cell index, page of items) from every unfinished cell of ``segments``, in arrival order, with up to
    ``max_streams`` streams, one per run of unfinished cells (no splits: ``segments`` were cut by the caller).

    After the consumer handles a page, each cell's ``cursor`` and ``done`` say how far it was read; when
    ``should_stop()`` turns true the streams stop, and pages read after that are dropped.
    """
    pool = StreamPool[list[Item]](
        sdb,
        domain,
        where,
        segments,
        legacy_layout(segments, len(segments)),
        lambda _: list,
        ScanSettings(max_streams),
        per_cell=True,
    )
    yield from pool.pages(should_stop)


class DomainScan:
    """Every item of a domain (or of a where-subset), page by page, read by as many parallel streams as pay
    off (up to ``max_streams``), its size from ``metadata`` when the caller already has it, else from
    DomainMetadata. ``complete`` says whether the last ``pages()`` read it to the end."""

    def __init__(
        self,
        sdb: SimpleDB,
        domain: str,
        max_streams: int,
        where: str | None = None,
        metadata: DomainSize | None = None,
    ) -> None:
        self.sdb, self.domain, self.where, self.metadata = sdb, domain, where, metadata
        self.settings = ScanSettings(max_streams)
        self.complete = False

    def pages(self, should_stop: Callable[[], bool] = lambda: False) -> Iterator[list[Item]]:
        """The pages in arrival order, until the domain is read or ``should_stop()`` turns true."""
        size = self.metadata or self.sdb.domain_metadata(self.domain)
        plan = plan_scan(self.sdb, self.domain, self.where, estimated_select_pages(size), self.settings)
        for page in plan.pages:
            if page.items:
                yield page.items
        pool = StreamPool[list[Item]](
            self.sdb, self.domain, self.where, plan.segments, plan.layout, lambda _: list, self.settings
        )
        for _, items in pool.pages(should_stop):
            yield items
        self.complete = all(segment.done for segment in plan.segments)


def scan_domain(
    sdb: SimpleDB,
    domain: str,
    max_segments: int,
    where: str | None = None,
    metadata: DomainSize | None = None,
) -> Iterator[list[Item]]:
    """Every item of a domain (or of a where-subset), page by page (``DomainScan``, read to the end)."""
    yield from DomainScan(sdb, domain, max_segments, where, metadata).pages()
