"""Fills the benchmark domain with Repoman-shaped items, growing it across sizes, and profiles what it wrote."""

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from benchkit.arithmetic import BATCH_ITEMS
from benchkit.engine import sdb_client
from benchkit.results import HEX, ORDINARY, DomainProfile
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


def ordinary_name(index: int) -> str:
    """The name of the ``index``-th item of a domain with ordinary names: ``user-000123``, in the generator's
    order, which is also the names' sorted order up to a million items."""
    return f"user-{index:06d}"


def named(items: Iterable[Item], names: str, start: int = 0) -> Iterator[Item]:
    """``items`` named as ``names`` says: as generated (HEX: Repoman's SHA-256 digests, and ``meta``), or in
    order as ORDINARY names from the ``start``-th on (``meta`` too: the domain holds no other kind of name)."""
    if names == HEX:
        yield from items
        return
    if names != ORDINARY:
        raise ValueError(f"unknown kind of names {names!r}")
    for index, item in enumerate(items, start=start):
        yield Item(ordinary_name(index), item.attributes)


def generated_items(count: int, names: str = HEX, seed: int = 0, start: int = 0) -> Iterator[Item]:
    """The items ``start`` to ``count`` of the benchmark domain: deterministic, and a prefix of a longer domain
    is the shorter one, so a larger size only adds the items the smaller one lacks."""
    stream = itertools.islice(repoman_domain_items(count, seed), start, None)
    return named(stream, names, start)


#: DomainMetadata's answer, by the names of simpledb_backup.capacity.DomainSize.
METADATA_FIELDS = {
    "item_count": "ItemCount",
    "attribute_name_count": "AttributeNameCount",
    "attribute_value_count": "AttributeValueCount",
    "item_names_size_bytes": "ItemNamesSizeBytes",
    "attribute_names_size_bytes": "AttributeNamesSizeBytes",
    "attribute_values_size_bytes": "AttributeValuesSizeBytes",
}


def domain_metadata(sdb: Any, domain: str) -> dict[str, int]:
    answer = sdb.domain_metadata(DomainName=domain)
    return {field: int(answer.get(name, 0)) for field, name in METADATA_FIELDS.items()}


class DomainFiller:
    """Fills one domain with the first ``n`` generated items, growing it across sizes, and profiles it.

    The generator is deterministic and a prefix of a longer stream is the shorter one, so a larger size only
    adds the items the smaller one lacks.
    """

    def __init__(self, url: str, domain: str, seed: int = 0, workers: int = 4, names: str = HEX) -> None:
        self.domain, self.seed, self.workers, self.names = domain, seed, workers, names
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
        stream = generated_items(count, self.names, self.seed, start=self.counter.items)
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
        return replace(self.counter.profile(), metadata=domain_metadata(self.sdb, self.domain))


#: The item a damaged copy holds that the domain (and so its dump) does not.
EXTRA_ITEM = "bench-extra-item"


def damage_plan(count: int) -> dict[str, int]:
    """How ``count`` damaged items split: one item added (from 3 on), the rest about half deleted, half
    changed; an exact restore writes each of them once (a put or a delete)."""
    added = 1 if count >= 3 else 0
    deleted = (count - added) // 2
    return {"deleted": deleted, "changed": count - added - deleted, "added": added}


def damage_copy(
    sdb: Any, domain: str, items: int, count: int, names: str = HEX, seed: int = 0
) -> dict[str, int]:
    """Damage a filled copy of the benchmark domain as an accident would: delete and change items spread over
    the whole name space (``damage_plan``), and add one it never had. Returns the plan."""
    plan = damage_plan(count)
    touched = plan["deleted"] + plan["changed"]
    step = max(1, items // (touched + 1))
    wanted = {step * (number + 1): number for number in range(touched)}  # never item 0, ``meta``
    for index, item in enumerate(generated_items(items, names, seed)):
        number = wanted.get(index)
        if number is None:
            continue
        if number < plan["deleted"]:
            sdb.delete_attributes(DomainName=domain, ItemName=item.name)
        else:
            attribute = next(iter(item.attributes))
            sdb.put_attributes(
                DomainName=domain,
                ItemName=item.name,
                Attributes=[{"Name": attribute, "Value": "damaged by the benchmark", "Replace": True}],
            )
    if plan["added"]:
        sdb.put_attributes(
            DomainName=domain, ItemName=EXTRA_ITEM, Attributes=[{"Name": "bench", "Value": "not in the dump"}]
        )
    return plan
