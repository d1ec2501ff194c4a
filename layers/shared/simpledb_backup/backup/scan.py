"""Parallel, segmented reading of a domain: one Select stream per itemName() range.

Used by the backup (to dump a domain) and the restore (to read the target it compares a dump with).
Pages are handed over through a bounded queue, so memory stays flat however large the domain is.
"""

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from simpledb_backup.aws.simpledb import DomainMetadata, SimpleDB, quote_value, select_expression
from simpledb_backup.items import MAX_SELECT_LIMIT, Item


def segment_bounds(count: int) -> list[tuple[str | None, str | None]]:
    """Split the item-name space into ``count`` ranges [lower, upper).

    Repoman names items by hex SHA-256 digest, so even splits of the hex key space give even segments. The
    first range has no lower bound and the last no upper bound, so every possible name (``meta`` included,
    and any non-hex name) falls in exactly one range, whatever the domain holds.
    """
    points = [f"{(index * 0x10000) // count:04x}" for index in range(1, count)]
    lowers: list[str | None] = [None, *points]
    uppers: list[str | None] = [*points, None]
    return list(zip(lowers, uppers, strict=True))


@dataclass
class Segment:
    lower: str | None
    upper: str | None
    #: Last item name consumed from this segment; a resumed stream starts after it.
    cursor: str | None = None
    done: bool = False

    def expression(self, domain: str, where: str | None) -> str:
        # Every range predicate is on itemName(), which also makes "order by itemName()" valid
        # (SimpleDB refuses a sort on an attribute that no predicate names: InvalidSortExpression).
        predicates = [f"({where})"] if where else []
        if self.cursor is not None:
            predicates.append(f"itemName() > {quote_value(self.cursor)}")
        elif self.lower is not None:
            predicates.append(f"itemName() >= {quote_value(self.lower)}")
        if self.upper is not None:
            predicates.append(f"itemName() < {quote_value(self.upper)}")
        if self.cursor is None and self.lower is None and self.upper is None:
            predicates.append("itemName() is not null")
        base = select_expression(domain)
        return f"{base} where {' and '.join(predicates)} order by itemName() asc limit {MAX_SELECT_LIMIT}"


def make_segments(count: int) -> list[Segment]:
    return [Segment(lower, upper) for lower, upper in segment_bounds(count)]


# XML around the data of a Select page, calibrated on Repoman items (2,078 bytes of XML for 1,312 of data):
# per name/value pair the <Attribute><Name/><Value/></Attribute> tags and the attribute name, per item its tags.
_XML_BYTES_PER_VALUE = 65
_XML_BYTES_PER_ITEM = 30
_SELECT_PAGE_BYTES = 1024 * 1024  # Select answers at most 1 MB a page
#: Each stream ends on a part-filled page; one stream per 20 pages keeps that within 5 % of the minimum.
_PAGES_PER_STREAM = 20


def estimated_select_pages(metadata: DomainMetadata) -> int:
    """The fewest Select pages a scan of the whole domain can take (2,500 items or 1 MB a page)."""
    response_bytes = (
        metadata.item_names_size_bytes
        + metadata.attribute_values_size_bytes
        + metadata.attribute_value_count * _XML_BYTES_PER_VALUE
        + metadata.item_count * _XML_BYTES_PER_ITEM
    )
    return max(-(-metadata.item_count // MAX_SELECT_LIMIT), -(-response_bytes // _SELECT_PAGE_BYTES))


def segment_count_for(metadata: DomainMetadata, max_segments: int) -> int:
    """Streams for a domain of this size: up to ``max_segments``, but one per 20 pages at most, so a small
    domain is read with few streams and the Select calls stay within 5 % of the minimum."""
    return max(1, min(max_segments, 1 + estimated_select_pages(metadata) // _PAGES_PER_STREAM))


_END = object()


class _SegmentReader(threading.Thread):
    """Reads one segment's Select pages into the shared queue until done or told to stop.

    Each page travels with a flag saying whether it is the segment's last, so the segment counts as done only
    once the consumer has taken that page, never merely because it was read.
    """

    def __init__(
        self,
        sdb: SimpleDB,
        domain: str,
        index: int,
        expression: str,
        pages: "queue.Queue[tuple[int, Any, bool]]",
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"segment-{index}", daemon=True)
        self.sdb, self.domain, self.index, self.expression = sdb, domain, index, expression
        self.pages, self.stop = pages, stop

    def run(self) -> None:
        try:
            next_token: str | None = None
            while not self.stop.is_set():
                items, next_token = self.sdb.select_page(self.domain, self.expression, next_token)
                if self.stop.is_set():
                    break  # read after the consumer stopped: dropped, the next run reads it again
                self.pages.put((self.index, items, not next_token))
                if not next_token:
                    break
            self.pages.put((self.index, _END, True))
        except BaseException as error:  # handed to the consuming thread, which raises it
            self.pages.put((self.index, error, True))


def scan_segments(
    sdb: SimpleDB,
    domain: str,
    segments: list[Segment],
    where: str | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[tuple[int, list[Item]]]:
    """Yield (segment index, page of items) from every unfinished segment, in arrival order.

    After the consumer handles a page, the segment's ``cursor`` is advanced to that page's last item name.
    When ``should_stop()`` turns true the streams stop; pages they had read ahead are dropped, so the work
    after the deadline is one page at most, and each segment's ``done`` says whether its last page was
    consumed. A stream's error is raised here once every stream has stopped.
    """
    pending = [(index, segment) for index, segment in enumerate(segments) if not segment.done]
    if not pending:
        return
    stop = threading.Event()
    # Bounded: two decoded pages waiting keep the consumer fed; every other stream holds at most the page it
    # read, blocked on the queue, which keeps memory flat (make bench measured 9-13 MB less than one per stream).
    pages: queue.Queue[tuple[int, Any, bool]] = queue.Queue(maxsize=2)
    readers = [
        _SegmentReader(sdb, domain, index, segment.expression(domain, where), pages, stop)
        for index, segment in pending
    ]
    for reader in readers:
        reader.start()
    running, failure = len(readers), None
    try:
        while running:
            index, payload, last = pages.get()
            if payload is _END or isinstance(payload, BaseException):
                running -= 1
                if isinstance(payload, BaseException):
                    failure = failure or payload
                    stop.set()
                continue
            if stop.is_set():
                continue  # read ahead before the stop; the segment's cursor has not moved past it
            if payload:
                yield index, payload
                segments[index].cursor = payload[-1].name
            segments[index].done = last
            if should_stop():
                stop.set()
    finally:
        stop.set()
        while running:  # a consumer that stopped early must not leave readers blocked on a full queue
            _, payload, _ = pages.get()
            if payload is _END or isinstance(payload, BaseException):
                running -= 1
    if failure is not None:
        raise failure


def scan_domain(
    sdb: SimpleDB,
    domain: str,
    max_segments: int,
    where: str | None = None,
    metadata: DomainMetadata | None = None,
) -> Iterator[list[Item]]:
    """Every item of a domain (or of a where-subset), page by page, read by parallel streams sized to it
    (from ``metadata`` when the caller already has it, else from a DomainMetadata call)."""
    size = metadata or sdb.domain_metadata(domain)
    segments = make_segments(segment_count_for(size, max_segments))
    for _, items in scan_segments(sdb, domain, segments, where):
        yield items
