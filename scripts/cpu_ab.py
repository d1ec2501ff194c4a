"""The backup's client CPU per MB of Select XML: the code before issue 12 against today's, A/B in one process.

    scripts/cpu_ab.py [--items 3000] [--rounds 15] [--json results.json]

Select pages are rendered by the engine (local/sdblocal) from Repoman-shaped items (local/repomandata.py),
``select * ... limit 2500`` pages of about 1 MB each, exactly the bytes the backup's client receives. Every
round runs every arm once over all pages, in a new random order each round, in this one process; each arm is
timed in CPU seconds of the process (``time.process_time``), so other load on the machine inflates both
sides of a comparison alike. Reported: the median over rounds in ms of CPU per MB of Select XML (MB = 10**6
bytes of response bodies), and for each pair the median of the per-round ratios, measured side by side.

Arms:

* parse: botocore's own parser (the sequential baseline's path), the ElementTree parser of 9891a0b (copied
  below as it was), today's ``selectparse`` (streaming), and the same with the whole body as one chunk; and
  old against new on pages where every item also holds a Base64 value (a third as many items);
* encode: item lines by ``json.dumps`` (before) and ``encode_item_line`` (orjson), SHA-256 of the lines, and
  the compression candidates over the same lines, one compressor per round as one gzip member per dump:
  zlib 6 (before), ISA-L (isal) levels 0-3, zlib-ng levels 1, 4 and 6, with the output size of each;
* total: the old parser and the old encoder (json, digest, zlib 6) against ``parse_select_response`` and
  ``DumpEncoder.write_items``, the product's own path;
* the library floor (benchkit/jobs/backup_floor.py, what make bench judges the backup's CPU against): its parse
  alone, and its whole work (parse, lines, digest, isal at the product's level) over the same pages.

Then the peak memory of parsing one page, old against new: tracemalloc in this process (Python's heap only;
libxml2 allocates outside it) and the peak RSS growth in a fresh child process per parser (everything). And
the import time of the new modules (``python -X importtime`` in a child, median of five).
"""

import argparse
import gc
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
import xml.etree.ElementTree as ElementTree
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / folder) for folder in ("layers/shared", "local")]

import botocore.session  # noqa: E402
from botocore.parsers import create_parser  # noqa: E402
from isal import isal_zlib  # noqa: E402
from zlib_ng import zlib_ng  # noqa: E402

from benchkit.jobs import backup_floor  # noqa: E402
from repomandata import repoman_domain_items  # noqa: E402
from sdblocal.engine import SimpleDBEngine  # noqa: E402
from sdblocal.model import PutAttribute  # noqa: E402
from sdblocal.responses import OPERATIONS, success_document  # noqa: E402
from simpledb_backup.aws.selectparse import parse_select_response  # noqa: E402
from simpledb_backup.aws.simpledb import item_from_wire  # noqa: E402
from simpledb_backup.formats import dumpformat  # noqa: E402
from simpledb_backup.formats.dumpformat import DumpEncoder, DumpTotals, encode_item_line  # noqa: E402
from simpledb_backup.items import Item, make_item  # noqa: E402

DOMAIN = "cpu-ab"
MB = 1e6
BASE64_ARM = "parse, a Base64 value in every item"


# --- the code before issue 12 (9891a0b), as it was -----------------------------------------------------------


def _old_local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def _old_decode(text: str, encoding: str | None) -> str:
    import base64

    return base64.b64decode(text).decode("utf-8") if encoding == "base64" else text


def _old_element_text(element: ElementTree.Element, encoded: bool) -> str:
    return _old_decode(element.text or "", "base64" if encoded else None)


def _old_pair_from_element(element: ElementTree.Element) -> tuple[str, str]:
    name = value = None
    name_encoded = value_encoded = False
    for child in element:
        tag = _old_local_name(child.tag)
        if tag == "Name":
            name, name_encoded = child, name_encoded or child.get("encoding") == "base64"
        elif tag == "Value":
            value, value_encoded = child, value_encoded or child.get("encoding") == "base64"
        elif tag == "AlternateNameEncoding":
            name_encoded = name_encoded or child.text == "base64"
        elif tag == "AlternateValueEncoding":
            value_encoded = value_encoded or child.text == "base64"
    if name is None or value is None:
        raise ValueError("an Attribute without Name or Value")
    return _old_element_text(name, name_encoded), _old_element_text(value, value_encoded)


def _old_item_from_element(element: ElementTree.Element) -> Item:
    name = None
    name_encoded = False
    pairs = []
    for child in element:
        tag = _old_local_name(child.tag)
        if tag == "Name":
            name, name_encoded = child, name_encoded or child.get("encoding") == "base64"
        elif tag == "AlternateNameEncoding":
            name_encoded = name_encoded or child.text == "base64"
        elif tag == "Attribute":
            pairs.append(_old_pair_from_element(child))
    if name is None:
        raise ValueError("an Item without Name")
    return make_item(_old_element_text(name, name_encoded), pairs)


def old_parse(body: bytes) -> tuple[list[Item], str | None]:
    root = ElementTree.fromstring(body)
    items: list[Item] = []
    next_token = None
    for result in root:
        if _old_local_name(result.tag) != "SelectResult":
            continue
        for element in result:
            tag = _old_local_name(element.tag)
            if tag == "Item":
                items.append(_old_item_from_element(element))
            elif tag == "NextToken":
                next_token = element.text
    return items, next_token


def old_item_line(item: Item) -> bytes:
    record = {"type": "item", "name": item.name, "attributes": item.attributes}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class OldEncoder:
    """DumpEncoder.write_items of 9891a0b: json lines, the digest, zlib level 6 as one gzip member."""

    def __init__(self) -> None:
        self.totals = DumpTotals()
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)

    def write_items(self, items: list[Item]) -> bytes:
        lines = []
        for item in items:
            line = old_item_line(item)
            self.totals.add(item, line)
            lines.append(line)
        lines.append(b"")
        return bytes(self._compressor.compress(b"\n".join(lines)))

    def close_member(self) -> bytes:
        return bytes(self._compressor.flush())


# --- pages -------------------------------------------------------------------------------------------------


def select_pages(items: int, seed: int = 0, base64_values: bool = False) -> list[bytes]:
    """Every page of ``select * limit 2500`` over a Repoman-shaped domain, as the engine answers it.

    With ``base64_values`` every item also holds a value XML cannot carry, which SimpleDB sends as Base64: the
    worst case for the parser, whose fast path reads plain text.
    """
    backend = SimpleDBEngine()
    backend.create_domain(DOMAIN)
    for item in repoman_domain_items(items, seed):
        pairs = [PutAttribute(name, value) for name, values in item.attributes.items() for value in values]
        if base64_values:
            pairs.append(PutAttribute("checksum-raw", "\x00\x01" + item.name[:40]))
        backend.put_attributes(DOMAIN, item.name, pairs)
    pages, token = [], None
    while True:
        params = {"SelectExpression": f"select * from `{DOMAIN}` limit 2500"}
        if token:
            params["NextToken"] = token
        result = OPERATIONS["Select"](backend, params, 0)
        assert result is not None
        pages.append(success_document("Select", result, "cpu-ab").encode("utf-8"))
        match = re.search(r"<NextToken>([^<]*)</NextToken>", result)
        if not match:
            return pages
        token = match.group(1)


def botocore_parser() -> Callable[[bytes], tuple[list[Item], str | None]]:
    service = botocore.session.get_session().get_service_model("sdb")
    shape = service.operation_model("Select").output_shape
    assert shape is not None
    parser = create_parser(service.metadata["protocol"])

    def parse(body: bytes) -> tuple[list[Item], str | None]:
        parsed = parser.parse({"body": body, "headers": {}, "status_code": 200}, shape)
        return [item_from_wire(wire) for wire in parsed.get("Items", [])], parsed.get("NextToken")

    return parse


# --- arms --------------------------------------------------------------------------------------------------


def gzip_compressor(module: Any, level: int) -> Callable[[], Any]:
    """A factory of gzip (wbits 31) compressors of a zlib-compatible module at one level."""
    return lambda: module.compressobj(level, module.DEFLATED, 31)


COMPRESSORS: dict[str, Callable[[], Any]] = {
    "zlib 6 (before)": gzip_compressor(zlib, 6),
    **{f"isal {level}": gzip_compressor(isal_zlib, level) for level in range(4)},
    **{f"zlib-ng {level}": gzip_compressor(zlib_ng, level) for level in (1, 4, 6)},
}


def build_arms(
    pages: list[bytes], base64_pages: list[bytes]
) -> tuple[dict[str, Callable[[], Any]], dict[str, int]]:
    """The arms, each a function over all pages; and the compressed size each compressor gives."""
    botocore_parse = botocore_parser()
    page_items = [parse_select_response(page)[0] for page in pages]
    page_lines = [[encode_item_line(item) for item in items] for items in page_items]
    page_blobs = [b"\n".join([*lines, b""]) for lines in page_lines]

    def over(some_pages: list[bytes], function: Callable[[bytes], Any]) -> Callable[[], None]:
        def run() -> None:
            for page in some_pages:
                function(page)

        return run

    def over_pages(function: Callable[[bytes], Any]) -> Callable[[], None]:
        return over(pages, function)

    def compress(factory: Callable[[], Any]) -> Callable[[], int]:
        def run() -> int:
            compressor = factory()
            size = sum(len(compressor.compress(blob)) for blob in page_blobs)
            return size + len(compressor.flush())

        return run

    def sha256() -> None:
        for lines in page_lines:
            for line in lines:
                dumpformat.line_digest(line)

    def total_old() -> None:
        encoder = OldEncoder()
        for page in pages:
            encoder.write_items(old_parse(page)[0])
        encoder.close_member()

    def total_new() -> None:
        encoder = DumpEncoder()
        for page in pages:
            encoder.write_items(parse_select_response(page)[0])
        encoder.close_member()

    def total_floor() -> None:
        backup_floor.one_round(pages)

    arms: dict[str, Callable[[], Any]] = {
        "parse: botocore (baseline)": over_pages(botocore_parse),
        "parse: ElementTree (before)": over_pages(old_parse),
        "parse: selectparse (now)": over_pages(parse_select_response),
        "parse: selectparse, one chunk": over_pages(lambda page: parse_select_response(page, len(page))),
        f"{BASE64_ARM}: ElementTree (before)": over(base64_pages, old_parse),
        f"{BASE64_ARM}: selectparse (now)": over(base64_pages, parse_select_response),
        "lines: json.dumps (before)": lambda: [old_item_line(item) for items in page_items for item in items],
        "lines: orjson (now)": lambda: [encode_item_line(item) for items in page_items for item in items],
        "SHA-256 of the lines": sha256,
        **{f"gzip: {name}": compress(factory) for name, factory in COMPRESSORS.items()},
        "parse: library floor": over_pages(backup_floor.parse_page),
        "total: before": total_old,
        "total: now": total_new,
        "total: library floor": total_floor,
    }
    sizes = {name: compress(factory)() for name, factory in COMPRESSORS.items()}
    return arms, sizes


def measure(arms: dict[str, Callable[[], Any]], rounds: int, seed: int) -> dict[str, list[float]]:
    """CPU seconds of each arm in each round; arms run in a new random order every round."""
    order = list(arms)
    shuffle = random.Random(seed)
    seconds: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(rounds):
        shuffle.shuffle(order)
        for name in order:
            gc.collect()
            started = time.process_time()
            arms[name]()
            seconds[name].append(time.process_time() - started)
    return seconds


RATIOS = [
    ("parse: ElementTree (before)", "parse: selectparse (now)"),
    ("parse: botocore (baseline)", "parse: selectparse (now)"),
    ("parse: selectparse, one chunk", "parse: selectparse (now)"),
    (f"{BASE64_ARM}: ElementTree (before)", f"{BASE64_ARM}: selectparse (now)"),
    ("lines: json.dumps (before)", "lines: orjson (now)"),
    ("gzip: zlib 6 (before)", "gzip: isal 3"),
    ("gzip: zlib 6 (before)", "gzip: isal 2"),
    ("gzip: zlib 6 (before)", "gzip: zlib-ng 6"),
    ("total: before", "total: now"),
    ("parse: selectparse (now)", "parse: library floor"),
    ("total: now", "total: library floor"),
]


# --- memory and import time ------------------------------------------------------------------------------


def tracemalloc_peak(parse: Callable[[bytes], Any], page: bytes) -> float:
    """MB Python allocated at the peak of parsing ``page``, the items it returns included."""
    parse(page[: page.index(b"<Item>")] + page[page.index(b"<NextToken>") :])  # warm up: one-time costs
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = parse(page)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return (peak - before) / MB


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(which: str, page_path: str) -> None:
    """In a fresh process: the growth of the peak RSS while one page is parsed (printed as JSON)."""
    page = Path(page_path).read_bytes()
    parse = old_parse if which == "before" else parse_select_response
    parse(page[: page.index(b"<Item>")] + page[page.index(b"<NextToken>") :])
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM) to the current RSS
    before = _status_kb("VmHWM")
    result = parse(page)
    print(
        json.dumps(
            {"peak_rss_growth_mb": (_status_kb("VmHWM") - before) * 1024 / MB, "items": len(result[0])}
        )
    )


def rss_peak(which: str, page: bytes) -> float:
    path = Path(f"/tmp/cpu_ab_page_{os.getpid()}.xml")
    path.write_bytes(page)
    try:
        output = subprocess.run(
            [sys.executable, __file__, "--memory-child", which, str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        path.unlink()
    return float(json.loads(output)["peak_rss_growth_mb"])


IMPORTS = [
    "lxml.etree",
    "orjson",
    "isal.isal_zlib",
    "simpledb_backup.aws.selectparse",
    "simpledb_backup.formats.dumpformat",
]


def import_times(runs: int = 5) -> dict[str, float]:
    """Median cumulative import time in ms of each module, in a fresh interpreter that imports the two modules."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "layers/shared")}
    samples: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(runs):
        stderr = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-c",
                "import simpledb_backup.aws.selectparse, simpledb_backup.formats.dumpformat",
            ],
            check=True,
            capture_output=True,
            text=True,
            env=environment,
        ).stderr
        for line in stderr.splitlines():
            parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2] in samples:
                samples[parts[2]].append(int(parts[1]) / 1000)
    return {name: statistics.median(values) for name, values in samples.items() if values}


def first_parse_in_a_thread(page: bytes) -> float:
    """ms of the first parse in a new thread beyond a warm one: each thread compiles its schema and queries."""
    small = page[: page.index(b"<Item>")] + page[page.index(b"<NextToken>") :]
    spent: list[float] = []

    def run() -> None:
        started = time.perf_counter()
        parse_select_response(small)
        first = time.perf_counter() - started
        started = time.perf_counter()
        parse_select_response(small)
        spent.append((first - (time.perf_counter() - started)) * 1000)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return spent[0]


# --- report ------------------------------------------------------------------------------------------------


def report(
    pages: Sequence[bytes],
    base64_pages: Sequence[bytes],
    seconds: dict[str, list[float]],
    sizes: dict[str, int],
    extra: dict[str, Any],
) -> str:
    megabytes = sum(map(len, pages)) / MB
    base64_megabytes = sum(map(len, base64_pages)) / MB
    lines = [
        f"{len(pages)} Select pages, {megabytes:.2f} MB of XML ({megabytes / len(pages):.2f} MB a page; "
        f"with a Base64 value in every item: {len(base64_pages)} pages, {base64_megabytes:.2f} MB), "
        f"{len(seconds['total: now'])} rounds; CPU ms per MB of Select XML, median over rounds (min - max)",
        "",
        "| arm | ms/MB | range | output bytes | size vs zlib 6 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    base = sizes["zlib 6 (before)"]
    for name, values in seconds.items():
        volume = base64_megabytes if name.startswith(BASE64_ARM) else megabytes
        per_mb = [value * 1000 / volume for value in values]
        size = sizes.get(name.removeprefix("gzip: "))
        size_cells = f"{size:,} | {size / base:.3f}" if size is not None else " | "
        lines.append(
            f"| {name} | {statistics.median(per_mb):.2f} | {min(per_mb):.2f} - {max(per_mb):.2f} | {size_cells} |"
        )
    lines += ["", "| before / now (same rounds) | median ratio | range |", "| --- | ---: | ---: |"]
    for old, new in RATIOS:
        ratios = [a / b for a, b in zip(seconds[old], seconds[new], strict=True)]
        lines.append(
            f"| {old} / {new} | {statistics.median(ratios):.2f}x | {min(ratios):.2f} - {max(ratios):.2f} |"
        )
    memory = extra["memory"]
    lines += [
        "",
        "Parsing one page (the first, the items it returns included): before (ElementTree) / now (selectparse)",
        f"- tracemalloc peak (Python heap only): {memory['tracemalloc_before']:.2f} MB / {memory['tracemalloc_now']:.2f} MB",
        f"- peak RSS growth, fresh process each: {memory['rss_before']:.2f} MB / {memory['rss_now']:.2f} MB",
        "",
        "Import time, ms cumulative (python -X importtime, median of 5): "
        + ", ".join(f"{name} {value:.1f}" for name, value in extra["imports"].items()),
        f"First parse in a new thread (its schema and queries compiled): +{extra['first_parse_in_thread_ms']:.1f} ms",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--items", type=int, default=3000, help="Repoman-shaped items in the domain (default 3000)"
    )
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--memory-child", nargs=2, metavar=("WHICH", "PAGE"), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.memory_child:
        memory_child(*arguments.memory_child)
        return 0

    pages = select_pages(arguments.items, arguments.seed)
    base64_pages = select_pages(arguments.items // 3, arguments.seed, base64_values=True)
    for page in pages + base64_pages:  # the arms must agree before they are timed
        assert parse_select_response(page) == old_parse(page) == botocore_parser()(page)
    arms, sizes = build_arms(pages, base64_pages)
    seconds = measure(arms, arguments.rounds, arguments.seed)
    extra = {
        "memory": {
            "tracemalloc_before": tracemalloc_peak(old_parse, pages[0]),
            "tracemalloc_now": tracemalloc_peak(parse_select_response, pages[0]),
            "rss_before": statistics.median(rss_peak("before", pages[0]) for _ in range(3)),
            "rss_now": statistics.median(rss_peak("now", pages[0]) for _ in range(3)),
        },
        "imports": import_times(),
        "first_parse_in_thread_ms": first_parse_in_a_thread(pages[0]),
    }
    print(report(pages, base64_pages, seconds, sizes, extra))
    if arguments.json:
        arguments.json.write_text(
            json.dumps(
                {
                    "pages": [len(page) for page in pages],
                    "base64_pages": [len(page) for page in base64_pages],
                    "seconds": seconds,
                    "sizes": sizes,
                    **extra,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
