"""docs/PERFORMANCE.md as the benchmark writes it: generated tables in marked regions, the rest by hand.

A region is the text between two marker comments::

    <!-- bench:targets -->
    (a table, generated)
    <!-- /bench:targets -->

Only the text between a region's markers is rewritten; every other line of the file is written by hand and
left exactly as it is. The raw results of every size the file shows are kept in a comment (``bench-results``)
so that a run at one size replaces that size's rows and keeps the others, and the tables can be rendered again
without measuring. Pure: text in, text out.
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence

from benchkit.results import SizeReport
from benchkit.tables import TABLES, render_tables

_REGION = re.compile(
    r"(<!-- bench:(?P<name>[a-z-]+) -->\n)(?P<body>.*?)(<!-- /bench:(?P=name) -->)", re.DOTALL
)
RESULTS_MARKER = "bench-results"
_RESULTS = re.compile(r"<!-- " + RESULTS_MARKER + r"\n(?P<json>.*?)\n-->", re.DOTALL)


class DocumentError(ValueError):
    """The document and the generator disagree on the regions: nothing is written."""


def region_names(text: str) -> list[str]:
    return [match.group("name") for match in _REGION.finditer(text)]


def check_regions(text: str, tables: Iterable[str] = TABLES) -> None:
    """Raise DocumentError unless ``text`` has exactly one region for each table, and no other."""
    names, expected = region_names(text), set(tables)
    missing = sorted(expected - set(names))
    unknown = sorted(set(names) - expected)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if missing or unknown or repeated:
        raise DocumentError(
            f"the document's marked regions do not match the tables: missing {missing}, unknown {unknown}, "
            f"repeated {repeated}"
        )


def fill_regions(text: str, tables: Mapping[str, str]) -> str:
    """``text`` with each region's body replaced by its table; every region must have one, and vice versa."""
    check_regions(text, tables)
    return _REGION.sub(
        lambda match: f"{match.group(1)}\n{tables[match.group('name')].strip()}\n\n{match.group(4)}", text
    )


def load_reports(text: str) -> list[SizeReport]:
    """The raw results kept in the document (none if absent or unreadable)."""
    match = _RESULTS.search(text)
    if not match:
        return []
    try:
        return [SizeReport.from_dict(document) for document in json.loads(match.group("json"))]
    except (ValueError, KeyError, TypeError):
        return []


def store_reports(text: str, reports: Sequence[SizeReport]) -> str:
    """``text`` keeping ``reports`` as its raw results (replacing those it kept; at its end if it kept none)."""
    ordered = sorted(reports, key=lambda report: report.key)
    payload = json.dumps([report.to_dict() for report in ordered], indent=1, sort_keys=True)
    block = f"<!-- {RESULTS_MARKER}\n{payload}\n-->"
    if _RESULTS.search(text):
        return _RESULTS.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + "\n\n" + block + "\n"


def merge_reports(previous: Sequence[SizeReport], current: Sequence[SizeReport]) -> list[SizeReport]:
    """This run's domains (a size and a kind of names) replace the same domains of earlier runs; others are
    kept."""
    merged = {report.key: report for report in previous}
    merged.update({report.key: report for report in current})
    return [merged[key] for key in sorted(merged)]


def update_document(text: str, reports: Sequence[SizeReport]) -> str:
    """``text`` with ``reports`` kept as its raw results and every table rendered from them."""
    return fill_regions(store_reports(text, reports), render_tables(reports))
