"""The engine's own capacity, measured over HTTP against a running server (``python -m sdblocal.capacity``).

What the benchmark needs to know of the engine it measures the product against, in the same run:

* the **uncapped write rate**: BatchPutAttributes calls of 25 items (Replace on every pair, as the restore
  sends them), then BatchDeleteAttributes calls of 25 whole items, posted by a few threads at once, per
  second of wall time, and the engine's CPU per call;
* the engine's **CPU per MB of Select page**: the backup's own query (``select *`` over the whole domain in
  item-name order, ``limit 2500``), followed page by page through NextToken; the engine's CPU per MB (10**6
  bytes) of response bodies, from the first read of the pages (nothing rendered before) and from a second read.

The requests are encoded once, before anything is timed, as botocore encodes them (the engine does not check
signatures), and sent over keep-alive connections with ``http.client``: the client does as little as a client
can, so the figures are the engine's. The engine's CPU is read from the server itself
(``GET /_sdblocal/cpu``: user + system time of its process), so the server may run in any process. A domain
of its own is created, filled, read, emptied and deleted. The engine's controls (caps, faults, latency, Select
quirks) are turned off while it measures and set back as they were afterwards, so it can run between the
benchmark's jobs on the benchmark's server; its calls show in the call counts.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import batched
from typing import Final
from urllib.parse import quote, urlencode, urlsplit

from repomandata import repoman_domain_items

from .remote import RemoteControls

#: Items of a BatchPutAttributes / BatchDeleteAttributes call, the most SimpleDB takes.
BATCH_ITEMS: Final = 25
DOMAIN: Final = "sdblocal-capacity"
MB: Final = 1e6
_SIGNATURE_FIELDS: Final = {
    "AWSAccessKeyId": "capacity",
    "SignatureMethod": "HmacSHA256",
    "SignatureVersion": "2",
    "Timestamp": "2026-01-01T00:00:00Z",
    "Signature": "c2lnbmF0dXJlLW5vdC1jaGVja2VkLWJ5LXRoZS1lbmdpbmU=",
}
_NEXT_TOKEN = re.compile(rb"<NextToken>([^<]*)</NextToken>")

Pairs = Sequence[tuple[str, str]]
ItemData = tuple[str, Pairs]


@dataclass(frozen=True, slots=True)
class EngineCapacity:
    items: int
    clients: int
    put_calls: int
    put_calls_per_second: float
    put_cpu_ms_per_call: float
    delete_calls: int
    delete_calls_per_second: float
    delete_cpu_ms_per_call: float
    select_pages: int
    select_mb: float
    select_cpu_ms_per_mb: float  # the first read of every page
    select_cpu_ms_per_mb_again: float  # the same pages read a second time

    @property
    def write_calls_per_second(self) -> float:
        """BatchPutAttributes and BatchDeleteAttributes calls together, per second of their wall time."""
        calls = self.put_calls + self.delete_calls
        seconds = (
            self.put_calls / self.put_calls_per_second + self.delete_calls / self.delete_calls_per_second
        )
        return calls / seconds

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "write_calls_per_second": self.write_calls_per_second}


def _form(action: str, fields: Iterable[tuple[str, str]]) -> bytes:
    params = [("Action", action), ("Version", "2009-04-15"), *fields, *_SIGNATURE_FIELDS.items()]
    return urlencode(params, quote_via=quote, safe="-_.~").encode("ascii")


def batch_put_body(domain: str, items: Sequence[ItemData]) -> bytes:
    """A BatchPutAttributes request body as botocore sends it, Replace=true on every pair."""
    fields = [("DomainName", domain)]
    for n, (name, pairs) in enumerate(items, 1):
        fields.append((f"Item.{n}.ItemName", name))
        for m, (attribute, value) in enumerate(pairs, 1):
            prefix = f"Item.{n}.Attribute.{m}."
            fields += [(prefix + "Name", attribute), (prefix + "Value", value), (prefix + "Replace", "true")]
    return _form("BatchPutAttributes", fields)


def batch_delete_body(domain: str, names: Sequence[str]) -> bytes:
    """A BatchDeleteAttributes request body deleting whole items."""
    fields = [("DomainName", domain), *((f"Item.{n}.ItemName", name) for n, name in enumerate(names, 1))]
    return _form("BatchDeleteAttributes", fields)


def select_body(expression: str, next_token: str | None) -> bytes:
    fields = [("SelectExpression", expression)] + ([("NextToken", next_token)] if next_token else [])
    return _form("Select", fields)


class _Connection:
    """One keep-alive connection to the server; every answer must be 200."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)

    def post(self, body: bytes) -> bytes:
        self._connection.request(
            "POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        )
        response = self._connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"the engine answered {response.status}: {answer[:300]!r}")
        return answer

    def close(self) -> None:
        self._connection.close()


def _post_all(url: str, bodies: Sequence[bytes], clients: int) -> float:
    """Post every body, ``clients`` connections at once; the wall seconds it took."""
    shares = [bodies[index::clients] for index in range(clients)]
    failures: list[BaseException] = []
    start = threading.Barrier(clients + 1)

    def send(share: Sequence[bytes]) -> None:
        connection = _Connection(url)
        try:
            start.wait()
            for body in share:
                connection.post(body)
        except BaseException as error:  # reported by the measuring thread
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(share,), daemon=True) for share in shares]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise failures[0]
    return elapsed


def _read_all(url: str, expression: str) -> tuple[int, int]:
    """Every page of a select, one after the other: (pages, response bytes)."""
    connection = _Connection(url)
    pages = size = 0
    token: str | None = None
    try:
        while True:
            answer = connection.post(select_body(expression, token))
            pages, size = pages + 1, size + len(answer)
            match = _NEXT_TOKEN.search(answer)
            if match is None:
                return pages, size
            token = match.group(1).decode("utf-8")
    finally:
        connection.close()


def _set_controls(controls: RemoteControls, settings: dict[str, float]) -> None:
    """Set every control to ``settings`` (as :meth:`RemoteControls.settings` answers them)."""
    controls.configure(
        fault_rate=settings["fault_rate"],
        latency_ms=settings["latency_ms"],
        write_calls_per_second=settings["write_calls_per_second"],
        write_calls_burst=settings["write_calls_burst"],
        select_calls_per_second=settings["select_calls_per_second"],
        select_calls_burst=settings["select_calls_burst"],
        select_page_items=int(settings["select_page_items"]),
        empty_select_pages=int(settings["empty_select_pages"]),
        empty_select_page_rate=settings["empty_select_page_rate"],
        expire_next_tokens=int(settings["expire_next_tokens"]),
        utf16_order=bool(settings["utf16_order"]),
    )


def measure_engine(
    url: str, items: Sequence[ItemData], clients: int = 4, domain: str = DOMAIN
) -> EngineCapacity:
    """Write ``items`` (25 a call, ``clients`` at once), read them back by Select twice, delete them."""
    controls = RemoteControls(url, timeout=120.0)
    saved = controls.settings()
    _set_controls(controls, dict.fromkeys(saved, 0.0))  # no cap, fault, latency or Select quirk
    try:
        return _measure(url, controls, items, clients, domain)
    finally:
        _set_controls(controls, saved)  # the caps, latency and faults the server had (buckets start full)


def _measure(
    url: str, controls: RemoteControls, items: Sequence[ItemData], clients: int, domain: str
) -> EngineCapacity:
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        raise ValueError("item names must be unique")
    puts = [batch_put_body(domain, list(batch)) for batch in batched(items, BATCH_ITEMS, strict=False)]
    deletes = [batch_delete_body(domain, list(batch)) for batch in batched(names, BATCH_ITEMS, strict=False)]
    expression = f"select * from `{domain}` where itemName() is not null order by itemName() asc limit 2500"
    setup = _Connection(url)
    try:
        setup.post(_form("DeleteDomain", [("DomainName", domain)]))
        setup.post(_form("CreateDomain", [("DomainName", domain)]))
        cpu = controls.cpu_seconds()
        put_seconds = _post_all(url, puts, clients)
        put_cpu, cpu = controls.cpu_seconds() - cpu, controls.cpu_seconds()
        pages, size = _read_all(url, expression)
        select_cpu, cpu = controls.cpu_seconds() - cpu, controls.cpu_seconds()
        _read_all(url, expression)
        again_cpu, cpu = controls.cpu_seconds() - cpu, controls.cpu_seconds()
        delete_seconds = _post_all(url, deletes, clients)
        delete_cpu = controls.cpu_seconds() - cpu
        setup.post(_form("DeleteDomain", [("DomainName", domain)]))
    finally:
        setup.close()
    return EngineCapacity(
        items=len(items),
        clients=clients,
        put_calls=len(puts),
        put_calls_per_second=len(puts) / put_seconds,
        put_cpu_ms_per_call=put_cpu * 1000 / len(puts),
        delete_calls=len(deletes),
        delete_calls_per_second=len(deletes) / delete_seconds,
        delete_cpu_ms_per_call=delete_cpu * 1000 / len(deletes),
        select_pages=pages,
        select_mb=size / MB,
        select_cpu_ms_per_mb=select_cpu * 1000 / (size / MB),
        select_cpu_ms_per_mb_again=again_cpu * 1000 / (size / MB),
    )


def repoman_items(count: int) -> list[ItemData]:
    """The benchmark's items (local/repomandata.py: Repoman packages, ~1.3 KB each), as (name, pairs)."""
    return [
        (item.name, [(name, value) for name, values in item.attributes.items() for value in values])
        for item in repoman_domain_items(count, seed=0)
    ]


class _ServerProcess:
    """``python -m sdblocal.server`` on a free loopback port, so the engine never shares this GIL."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sdblocal.server", "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        match = re.search(r"(http://\S+)", line)
        if match is None:
            self.process.kill()
            raise RuntimeError(f"the engine did not start: {line!r}")
        self.url = match.group(1)

    def __enter__(self) -> _ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sdblocal.capacity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running engine (default: one started in a process of its own)")
    parser.add_argument("--items", type=int, default=10_000, help="Repoman-shaped items to write and read")
    parser.add_argument("--clients", type=int, default=4, help="connections writing at once")
    args = parser.parse_args(argv)
    items = repoman_items(args.items)
    if args.url:
        result = measure_engine(args.url, items, args.clients)
    else:
        with _ServerProcess() as server:
            result = measure_engine(server.url, items, args.clients)
    json.dump(result.as_dict(), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
