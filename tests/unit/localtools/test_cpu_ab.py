"""scripts/cpu_ab.py compares like with like: its before and now arms read the same pages into the same items
and write the same bytes; its report names every arm and ratio (no timing is asserted)."""

import gzip
import importlib.util
import sys
import zlib
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "cpu_ab.py"


@pytest.fixture(scope="module")
def cpu_ab() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cpu_ab", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cpu_ab"] = module
    spec.loader.exec_module(module)
    return module


def test_the_before_and_now_arms_agree(cpu_ab: ModuleType) -> None:
    from simpledb_backup.aws.selectparse import parse_select_response
    from simpledb_backup.formats.dumpformat import DumpEncoder

    pages = cpu_ab.select_pages(700)
    assert len(pages) == 2  # a full page of about 1 MB, then the rest
    for page in pages:
        items, token = parse_select_response(page)
        assert (items, token) == cpu_ab.old_parse(page) == cpu_ab.botocore_parser()(page)
        old, new = cpu_ab.OldEncoder(), DumpEncoder()
        old_bytes = old.write_items(items) + old.close_member()
        new_bytes = new.write_items(items) + new.close_member()
        assert gzip.decompress(new_bytes) == zlib.decompress(old_bytes, 31)
        assert (old.totals.items, old.totals.digest) == (new.totals.items, new.totals.digest)


def test_one_round_reports_every_arm_and_ratio(cpu_ab: ModuleType) -> None:
    pages = cpu_ab.select_pages(120)
    base64_pages = cpu_ab.select_pages(40, base64_values=True)
    assert cpu_ab.old_parse(base64_pages[0]) == cpu_ab.botocore_parser()(base64_pages[0])
    arms, sizes = cpu_ab.build_arms(pages, base64_pages)
    seconds = cpu_ab.measure(arms, rounds=1, seed=0)
    assert set(sizes) == set(cpu_ab.COMPRESSORS)
    extra = {
        "memory": {"tracemalloc_before": 1.0, "tracemalloc_now": 1.0, "rss_before": 1.0, "rss_now": 1.0},
        "imports": {"lxml.etree": 1.0},
        "first_parse_in_thread_ms": 1.0,
    }
    text = cpu_ab.report(pages, base64_pages, seconds, sizes, extra)
    assert all(f"| {name} |" in text for name in arms)
    assert all(f"| {old} / {new} |" in text for old, new in cpu_ab.RATIOS)
