"""The engine's capacity measurement (``sdblocal.capacity``): what it writes, reads and leaves behind.

Its figures are timings and are never asserted on; what is checked is that it does the calls it reports,
over the server's HTTP path, and cleans up after itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest

import sdblocal
from sdblocal.capacity import EngineCapacity, batch_delete_body, batch_put_body, measure_engine, repoman_items
from sdblocal.forms import decode_form


def test_request_bodies_are_what_botocore_would_send() -> None:
    body = batch_put_body("dom", [("i1", [("a", "x & y=z"), ("a", "é")]), ("i2", [("b", "+%")])])
    fields = dict(parse_qsl(body.decode("ascii"), keep_blank_values=True))
    assert decode_form(body) == fields
    assert fields["Action"] == "BatchPutAttributes"
    assert fields["Version"] == "2009-04-15"
    assert [fields[f"Item.1.Attribute.{m}.Value"] for m in (1, 2)] == ["x & y=z", "é"]
    assert fields["Item.2.Attribute.1.Replace"] == "true"
    deleting = dict(parse_qsl(batch_delete_body("dom", ["i1", "i2"]).decode("ascii")))
    assert (deleting["Item.1.ItemName"], deleting["Item.2.ItemName"]) == ("i1", "i2")


@pytest.mark.server
def test_measure_engine_writes_reads_and_cleans_up(engine_server: Any) -> None:
    remote = sdblocal.RemoteControls(engine_server.url)
    remote.reset()
    # The benchmark's server has its latency and caps on: they are off while it measures, then back.
    remote.configure(latency_ms=5, write_calls_per_second=2, select_page_items=3, utf16_order=True)
    before = remote.settings()
    items = repoman_items(130)
    result = measure_engine(engine_server.url, items, clients=3)
    assert remote.settings() == before
    assert isinstance(result, EngineCapacity)
    assert (result.items, result.put_calls, result.delete_calls, result.select_pages) == (130, 6, 6, 1)
    assert result.select_mb > 0.1
    assert min(result.put_calls_per_second, result.delete_calls_per_second, result.put_cpu_ms_per_call) > 0
    assert set(result.as_dict()) >= {"write_calls_per_second", "select_cpu_ms_per_mb"}
    calls = remote.call_counts()
    assert (calls["BatchPutAttributes"], calls["BatchDeleteAttributes"], calls["Select"]) == (6, 6, 2)
    assert remote.throttled_counts() == {}
    assert calls["DeleteDomain"] == 2  # before (a leftover of an earlier run) and after
    remote.reset()
