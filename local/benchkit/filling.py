"""Fills the benchmark domain with Repoman-shaped items, growing it across sizes, and profiles what it wrote."""

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from benchkit.arithmetic import BATCH_ITEMS
from benchkit.engine import sdb_client
from benchkit.results import DomainProfile
from repomandata import put_items, repoman_domain_items
from sdblocal.xmltext import item_xml
from simpledb_backup.items import Item


class ProfileCounter:
    """Counts what a domain holds the way the least number of calls is computed from it."""

    def __init__(self) -> None:
        self.items = self.data_bytes = self.response_bytes = 0

    def add(self, item: Item) -> None:
        pairs = [(attribute, value) for attribute, values in item.attributes.items() for value in values]
        self.items += 1
        self.data_bytes += len(item.name.encode()) + sum(
            len(attribute.encode()) + len(value.encode()) for attribute, value in pairs
        )
        self.response_bytes += len(item_xml(item.name, pairs).encode("utf-8", "surrogatepass"))

    def profile(self) -> DomainProfile:
        return DomainProfile(self.items, self.data_bytes, self.response_bytes)


class DomainFiller:
    """Fills one domain with the first ``n`` generated items, growing it across sizes, and profiles it.

    The generator is deterministic and a prefix of a longer stream is the shorter one, so a larger size only
    adds the items the smaller one lacks.
    """

    def __init__(self, url: str, domain: str, seed: int = 0, workers: int = 4) -> None:
        self.domain, self.seed, self.workers = domain, seed, workers
        self.counter = ProfileCounter()
        self.sdb = sdb_client(url, max_pool_connections=workers + 2)
        self.sdb.create_domain(DomainName=domain)

    def _profiled(self, items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            self.counter.add(item)
            yield item

    def fill_to(self, count: int, progress: Callable[[int], None] | None = None) -> DomainProfile:
        if count < self.counter.items:
            raise ValueError("sizes must grow: the domain cannot shrink")
        stream = itertools.islice(repoman_domain_items(count, self.seed), self.counter.items, None)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            pending: set[Future[int]] = set()
            for batch in itertools.batched(self._profiled(stream), BATCH_ITEMS, strict=False):
                if len(pending) >= 2 * self.workers:  # bounded: the generator runs ahead of the writers
                    done = next(iter(pending))
                    done.result()
                    pending.discard(done)
                pending.add(pool.submit(put_items, self.sdb, self.domain, list(batch)))
                if progress is not None and self.counter.items % 5000 < BATCH_ITEMS:
                    progress(self.counter.items)
            for future in pending:
                future.result()
        return self.counter.profile()
