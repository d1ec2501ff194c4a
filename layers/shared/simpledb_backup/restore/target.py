"""The target domain as a restore sees it: one read gives a compact snapshot to plan or verify against (and,
when asked, the count and digest of its items), and its creation.

A restore reads its target twice: once before writing (the plan's snapshot, from the same scan as the safety
backup: prepare.py) and once to verify (``read`` with totals). A read stops early when ``should_stop`` says so
(the invocation runs short of time); it is then incomplete and answers None.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.scan import make_segments, scan_segments, segment_count_for
from simpledb_backup.errors import DomainNotFoundError
from simpledb_backup.formats.dumpformat import DumpTotals, encode_item_line
from simpledb_backup.items import Item
from simpledb_backup.observability import logger
from simpledb_backup.restore.planning import Subset, TargetSnapshot

DOMAIN_CREATION_WAIT_SECONDS = 60.0


def _never() -> bool:
    return False


@dataclass(frozen=True)
class TargetRead:
    """One whole read of the target: fingerprints of the items a subset can select, and (if asked for) the
    count and order-independent digest of all its items, as the dump format computes them."""

    snapshot: TargetSnapshot
    totals: DumpTotals | None = None


class TargetDomain:
    def __init__(
        self,
        sdb: SimpleDB,
        segments: int,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sdb, self.segments = sdb, segments
        self.sleep, self.monotonic = sleep, monotonic

    def read(
        self,
        target: str,
        subset: Subset,
        with_totals: bool = False,
        should_stop: Callable[[], bool] = _never,
    ) -> TargetRead | None:
        """The target read by parallel Select streams (ConsistentRead); None when ``should_stop`` ended the
        read before its end."""
        try:
            metadata = self.sdb.domain_metadata(target)
        except DomainNotFoundError:
            return TargetRead(TargetSnapshot(subset, exists=False), DumpTotals() if with_totals else None)
        snapshot, totals = TargetSnapshot(subset), DumpTotals() if with_totals else None
        segments = make_segments(segment_count_for(metadata, self.segments))
        for _, page in scan_segments(self.sdb, target, segments, should_stop=should_stop):
            snapshot.add(page)
            if totals is not None:
                _add_all(totals, page)
        if not all(segment.done for segment in segments):
            return None
        return TargetRead(snapshot, totals)

    def snapshot(self, target: str, subset: Subset) -> TargetSnapshot:
        """Fingerprints of the target's items (a whole read, however long it takes)."""
        read = self.read(target, subset)
        if read is None:  # pragma: no cover - a read without should_stop always ends
            raise RuntimeError("a read without a stop condition stopped")
        return read.snapshot

    def create(self, target: str) -> None:
        # CreateDomain "may take 10 or more seconds to complete" (SimpleDB API Reference); writes sent before
        # the domain answers would fail with NoSuchDomain, so wait until DomainMetadata finds it.
        self.sdb.create_domain(target)
        deadline = self.monotonic() + DOMAIN_CREATION_WAIT_SECONDS
        while not self.sdb.domain_exists(target):
            if self.monotonic() > deadline:
                raise DomainNotFoundError(
                    f"SimpleDB domain {target!r} was created but is still not available after "
                    f"{DOMAIN_CREATION_WAIT_SECONDS:.0f} s; run the restore again"
                )
            self.sleep(1.0)
        logger.info("target domain created", extra={"target_domain": target})


def _add_all(totals: DumpTotals, page: list[Item]) -> None:
    for item in page:
        totals.add(item, encode_item_line(item))
