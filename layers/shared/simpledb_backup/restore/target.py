"""The target domain as a restore sees it: a compact snapshot to plan against, its totals to verify against,
and its creation."""

import time
from collections.abc import Callable

from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.scan import scan_domain
from simpledb_backup.errors import DomainNotFoundError
from simpledb_backup.formats.dumpformat import DumpTotals, encode_item_line
from simpledb_backup.observability import logger
from simpledb_backup.restore.planning import Subset, TargetSnapshot

DOMAIN_CREATION_WAIT_SECONDS = 60.0


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

    def snapshot(self, target: str, subset: Subset) -> TargetSnapshot:
        """Fingerprints of the target's items, read by parallel Select streams (ConsistentRead)."""
        try:
            metadata = self.sdb.domain_metadata(target)
        except DomainNotFoundError:
            return TargetSnapshot(subset, exists=False)
        pages = scan_domain(self.sdb, target, self.segments, metadata=metadata)
        return TargetSnapshot.from_pages(pages, subset)

    def totals(self, target: str) -> DumpTotals:
        """Count and order-independent digest of the target's items, as the dump format computes them: one
        scan, no per-item state, memory flat whatever the domain's size."""
        totals = DumpTotals()
        for page in scan_domain(self.sdb, target, self.segments):
            for item in page:
                totals.add(item, encode_item_line(item))
        return totals

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
