"""The cells of a scan: itemName() ranges [lower, upper), each read in order by one stream at a time, the
Select that reads a stretch of them, and what a scan's streams may hold.

A dump's header lists its cells as its ``segments`` (docs/FORMAT.md).
"""

from dataclasses import dataclass

from pydantic import BaseModel

from simpledb_backup.aws.selectparse import PAGES_WORKED_ON
from simpledb_backup.aws.simpledb import quote_value, select_expression
from simpledb_backup.backup.keyspace import KeySpace
from simpledb_backup.items import MAX_SELECT_LIMIT

#: The most streams a scan runs at once, whatever the ceiling (BackupSegments allows 64).
MAX_STREAMS = 64
#: Memory the streams of one scan may hold together. A few pages are worked on at once (selectparse.PAGE_PERMITS:
#: the body, its items, their lines: about 8 MB each); every other stream holds at most a page body waiting for
#: its turn, its connection's buffers and what it handed on: its page's items (``ITEM_STREAM_BYTES``), or its
#: compressed lines (``ENCODED_STREAM_BYTES``: 4 MB a backup stream in resident memory, measured at 6, 10 and 18
#: streams with malloc's arenas capped, streams.MALLOC_ARENAS). 72 MB holds 12 backup streams: with the 80 MB
#: the process holds before it scans, a backup peaks under 200 MB whatever the domain's size (measured: 147 MB at
#: 10 streams, 176 MB at 18), and a dozen streams already keep a core busy at 250 ms a Select.
MEMORY_BUDGET_BYTES = 72 * 1024 * 1024
WORKED_ON_BYTES = PAGES_WORKED_ON * 8 * 1024 * 1024
ITEM_STREAM_BYTES = 12 * 1024 * 1024
ENCODED_STREAM_BYTES = 4 * 1024 * 1024


def segment_bounds(count: int) -> list[tuple[str | None, str | None]]:
    """``count`` ranges [lower, upper) splitting the hex key space evenly (dumps of format version 1 were read
    so); the first has no lower bound and the last no upper bound, so every name falls in exactly one."""
    points = [f"{(index * 0x10000) // count:04x}" for index in range(1, count)]
    lowers: list[str | None] = [None, *points]
    uppers: list[str | None] = [*points, None]
    return list(zip(lowers, uppers, strict=True))


def select_range(
    domain: str,
    where: str | None,
    after: str | None,
    lower: str | None,
    upper: str | None,
    descending: bool = False,
) -> str:
    """``select *`` of the items (after ``after``, else from ``lower``) below ``upper``, in itemName() order."""
    # Every range predicate is on itemName(), which also makes "order by itemName()" valid (SimpleDB refuses a
    # sort on an attribute that no predicate names: InvalidSortExpression).
    predicates = [f"({where})"] if where else []
    if after is not None:
        predicates.append(f"itemName() > {quote_value(after)}")
    elif lower is not None:
        predicates.append(f"itemName() >= {quote_value(lower)}")
    if upper is not None:
        predicates.append(f"itemName() < {quote_value(upper)}")
    if after is None and lower is None and upper is None:
        predicates.append("itemName() is not null")
    order = "desc" if descending else "asc"
    base = select_expression(domain)
    return f"{base} where {' and '.join(predicates)} order by itemName() {order} limit {MAX_SELECT_LIMIT}"


@dataclass
class Segment:
    """One cell: a range [lower, upper) of item names, read in order by one stream at a time."""

    lower: str | None
    upper: str | None
    #: Last item name consumed from this cell; a resumed stream starts after it.
    cursor: str | None = None
    done: bool = False

    def expression(self, domain: str, where: str | None) -> str:
        return select_range(domain, where, self.cursor, self.lower, self.upper)


def make_segments(count: int) -> list[Segment]:
    return [Segment(lower, upper) for lower, upper in segment_bounds(count)]


class Layout(BaseModel):
    """What the streams know about a scan's cells, kept across invocations: the pages a cell is estimated to
    hold, the splits left in the budget, the cells where a run begins, whether the scan was cut into its first
    runs yet, and the key space the cells were cut in (None: fractions unknown)."""

    pages_per_cell: float = 1.0
    splits_left: int = 0
    starts: list[int] = []
    partitioned: bool = True
    #: The names spread over the key space about evenly (the probe's pages span what the estimate says): the
    #: scan is cut into its runs up front. Otherwise runs are split by what their streams read.
    even: bool = True
    #: Streams to start with: what the probe's latency calls for, then what the last invocation reached.
    streams: int = 0
    prefix: str | None = None
    places: list[str] | None = None

    def keyspace(self) -> KeySpace | None:
        if self.prefix is None or self.places is None:
            return None
        return KeySpace(self.prefix, tuple(self.places))


@dataclass
class ScanSettings:
    """The bounds of one scan's streams."""

    #: The most streams at once (BackupSegments).
    ceiling: int
    #: What one stream holds (ITEM_STREAM_BYTES or ENCODED_STREAM_BYTES).
    stream_bytes: int = ITEM_STREAM_BYTES

    @property
    def max_streams(self) -> int:
        budget = MEMORY_BUDGET_BYTES - WORKED_ON_BYTES
        return max(1, min(self.ceiling, MAX_STREAMS, budget // self.stream_bytes))

    @property
    def queued_pages(self) -> int:
        """Pages waiting for the consumer: two of items (a few MB each), one per stream of encoded lines."""
        return 2 if self.stream_bytes >= ITEM_STREAM_BYTES else self.max_streams
