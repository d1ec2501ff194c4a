"""The library floor of the backup's CPU: the least CPU the libraries the backup uses need for its work on the
same Select pages, in the same run, which the backup's client CPU per MB of Select XML is judged against.

Setup (not measured): the domain's ``select * … limit 2500`` pages, as the engine answers them (the bodies the
client receives, up to ``spec.floor_pages`` of them). Measured, ``ROUNDS`` times, the fastest round kept, in CPU
seconds of this process (``time.process_time``): for every page, the work a backup must do and nothing else,
each step by the fastest way we know with those libraries:

* **parse** with lxml (libxml2): the whole page parsed at once, its elements walked once in C order, the
  item names and every attribute name and value taken as strings, values grouped by attribute;
* **lines**: each item as its canonical dump line, attribute names and values sorted, with orjson;
* **digest**: SHA-256 of each line (hashlib), summed as the dump's digest is;
* **compress**: the page's lines with ISA-L (isal) at the product's compression level, one gzip stream.

No HTTP, no signing, no threads, no queue, no upload, no Base64 and no checks of the page's shape: what the
product spends beyond this floor is its own code's (docs/PERFORMANCE.md, "Backup client CPU").
"""

import hashlib
import itertools
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
import orjson
from botocore.config import Config
from isal import isal_zlib
from lxml import etree

from benchkit.arithmetic import SELECT_PAGE_ITEMS
from benchkit.jobs.child import JobOutcome, run_child
from benchkit.results import FLOOR_STEPS, JobSpec
from simpledb_backup.aws.simpledb import quote_name
from simpledb_backup.formats.dumpformat import COMPRESSION_LEVEL

ROUNDS = 5
_GZIP_WBITS = 31
_DIGEST_MODULUS = 2**256


_NAMESPACES = {"sdb": "http://sdb.amazonaws.com/doc/2009-04-15/"}
_ITEMS = etree.XPath("sdb:SelectResult/sdb:Item", namespaces=_NAMESPACES)
# An item's attribute names and values in document order, two strings per Attribute, in one query in C.
_TEXTS = etree.XPath("sdb:Attribute/*/text()", namespaces=_NAMESPACES, smart_strings=False)

Attributes = dict[str, tuple[str, ...]]
Parsed = tuple[str, Attributes]


def canonical(names: list[str], values: list[str]) -> Attributes:
    """An item's attributes in the dump's canonical order (names sorted, each one's values sorted): built at
    once when the names come sorted and distinct, as SimpleDB usually sends them, else grouped and sorted."""
    if all(before < after for before, after in itertools.pairwise(names)):
        return dict(zip(names, zip(values, strict=True), strict=True))
    grouped: dict[str, list[str]] = {}
    for name, value in zip(names, values, strict=True):
        grouped.setdefault(name, []).append(value)
    return {name: tuple(sorted(set(grouped[name]))) for name in sorted(grouped)}


def parse_page(page: bytes) -> list[Parsed]:
    """The items of a Select page, in the page's order: each item's texts in one query, paired by position, or
    its elements walked when an empty name or value left a text out."""
    items: list[Parsed] = []
    for element in _ITEMS(etree.fromstring(page)):
        texts = _TEXTS(element)
        if len(texts) == 2 * (len(element) - 1):
            names, values = texts[0::2], texts[1::2]
        else:
            names = [attribute[0].text or "" for attribute in element[1:]]
            values = [attribute[1].text or "" for attribute in element[1:]]
        items.append((element[0].text or "", canonical(names, values)))
    return items


def item_lines(items: list[Parsed]) -> list[bytes]:
    return [
        orjson.dumps({"type": "item", "name": name, "attributes": attributes}) for name, attributes in items
    ]


def digest(lines: list[bytes]) -> int:
    total = 0
    for line in lines:
        total += int.from_bytes(hashlib.sha256(line).digest(), "big")
    return total % _DIGEST_MODULUS


def fetch_pages(spec: JobSpec) -> list[bytes]:
    """The domain's Select pages as the engine sends them (botocore parses them too; that is not measured)."""
    sdb = boto3.client("sdb", config=Config(retries={"total_max_attempts": 1}))
    bodies: list[bytes] = []

    def keep(response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict.get("status_code") == 200:
            bodies.append(bytes(response_dict["body"]))

    sdb.meta.events.register("before-parse.simpledb.Select", keep)
    expression = f"select * from {quote_name(spec.domain)} limit {SELECT_PAGE_ITEMS}"
    arguments: dict[str, Any] = {"SelectExpression": expression, "ConsistentRead": True}
    while len(bodies) < (spec.floor_pages or 10**9):
        answer = sdb.select(**arguments)
        if not answer.get("NextToken"):
            break
        arguments["NextToken"] = answer["NextToken"]
    return bodies


def one_round(pages: list[bytes], clock: Callable[[], float] = time.process_time) -> dict[str, float]:
    """CPU seconds of each step over every page."""
    spent = dict.fromkeys(FLOOR_STEPS, 0.0)
    compressor = isal_zlib.compressobj(COMPRESSION_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)
    for page in pages:
        started = clock()
        items = parse_page(page)
        parsed = clock()
        lines = item_lines(items)
        encoded = clock()
        digest(lines)
        digested = clock()
        compressor.compress(b"\n".join([*lines, b""]))
        compressed = clock()
        spent["parse"] += parsed - started
        spent["lines"] += encoded - parsed
        spent["digest"] += digested - encoded
        spent["compress"] += compressed - digested
    started = clock()
    compressor.flush()
    spent["compress"] += clock() - started
    return spent


def prepare(spec: JobSpec) -> Callable[[], JobOutcome]:
    pages = fetch_pages(spec)

    def run() -> JobOutcome:
        rounds = [one_round(pages) for _ in range(ROUNDS)]
        best = min(rounds, key=lambda spent: sum(spent.values()))
        extra = {
            "pages": len(pages),
            "xml_bytes": sum(map(len, pages)),
            "rounds": ROUNDS,
            "cpu": {step: round(seconds, 4) for step, seconds in best.items()},
            "round_totals": [round(sum(spent.values()), 4) for spent in rounds],
        }
        return JobOutcome(0, 0, extra)

    return run


if __name__ == "__main__":
    raise SystemExit(run_child(prepare, sys.argv[1:]))
