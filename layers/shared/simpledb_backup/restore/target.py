"""The target domain as a restore sees it: one read gives a compact snapshot to plan or verify against (and,
when asked, the count and digest of its items), and its creation.

A restore reads its target twice: once before writing (the plan's snapshot, from the same scan as the safety
backup: prepare.py) and once to verify (``totals``: the count and digest alone, so memory stays flat; a snapshot
only where the totals cannot decide, or to explain a mismatch). A read stops early when ``should_stop`` says so
(the invocation runs short of time); it is then incomplete and answers None.
"""

import time
from collections.abc import Callable
from functools import partial

from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.scan import DomainScan
from simpledb_backup.errors import DomainNotFoundError
from simpledb_backup.formats.dumpformat import DumpTotals, encode_item_line
from simpledb_backup.items import Item
from simpledb_backup.observability import logger
from simpledb_backup.restore.planning import Subset, TargetSnapshot

DOMAIN_CREATION_WAIT_SECONDS = 60.0


def _never() -> bool:
    return False


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
        self, target: str, subset: Subset, should_stop: Callable[[], bool] = _never
    ) -> TargetSnapshot | None:
        """Fingerprints of the target's items a subset can select, read by parallel Select streams
        (ConsistentRead); None when ``should_stop`` ended the read before its end."""
        snapshot = TargetSnapshot(subset)
        found = self._scan(target, snapshot.add, should_stop)
        if found is None:
            return None
        return snapshot if found else TargetSnapshot(subset, exists=False)

    def snapshot(self, target: str, subset: Subset) -> TargetSnapshot:
        """Fingerprints of the target's items (a whole read, however long it takes)."""
        snapshot = self.read(target, subset)
        if snapshot is None:  # pragma: no cover - a read without should_stop always ends
            raise RuntimeError("a read without a stop condition stopped")
        return snapshot

    def totals(self, target: str, should_stop: Callable[[], bool] = _never) -> DumpTotals | None:
        """The count and order-independent digest of the target's items, from one whole read that keeps
        nothing else: its memory stays flat however large the target (a snapshot holds a fingerprint of every
        item). None when ``should_stop`` ended the read before its end."""
        totals = DumpTotals()
        found = self._scan(target, partial(_add_all, totals), should_stop)
        return None if found is None else totals

    def _scan(
        self, target: str, take: Callable[[list[Item]], None], should_stop: Callable[[], bool]
    ) -> bool | None:
        """Every page of the target to ``take``: True once read to its end, False when the domain does not
        exist, None when ``should_stop`` ended the read first."""
        try:
            metadata = self.sdb.domain_metadata(target)
        except DomainNotFoundError:
            return False
        scan = DomainScan(self.sdb, target, self.segments, metadata=metadata)
        for page in scan.pages(should_stop):
            take(page)
        return True if scan.complete else None

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
