"""Concurrent writers and paging readers: the engine stays consistent and never blocks for long."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine.conftest import Transport
from engine.helpers import item_names, select_all


def test_parallel_writers_and_readers(transport: Transport, domain: str) -> None:
    def writer(worker: int) -> None:
        client = transport.client()
        for start in range(0, 200, 25):
            client.batch_put_attributes(
                DomainName=domain,
                Items=[
                    {"Name": f"w{worker}-{n:04d}", "Attributes": [{"Name": "worker", "Value": str(worker)}]}
                    for n in range(start, start + 25)
                ],
            )

    def reader(_: int) -> int:
        client = transport.client()
        seen = 0
        for _ in range(5):
            items, _pages = select_all(
                client, f"select itemName() from {domain} where itemName() > 'w' limit 50"
            )
            names = item_names({"Items": items})
            assert names == sorted(names)
            seen = max(seen, len(names))
        return seen

    with ThreadPoolExecutor(max_workers=6) as pool:
        writes = [pool.submit(writer, w) for w in range(4)]
        reads = [pool.submit(reader, r) for r in range(2)]
        for future in writes + reads:
            future.result()
    sdb: Any = transport.client()
    assert sdb.domain_metadata(DomainName=domain)["ItemCount"] == 800
    for worker in range(4):
        count = sdb.select(SelectExpression=f"select count(*) from {domain} where worker = '{worker}'")
        assert count["Items"][0]["Attributes"][0]["Value"] == "200"
