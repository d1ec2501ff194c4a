"""Bounded reading of untrusted JSON (simpledb_backup.formats.boundedio): legal text passes unchanged however it is
cut into reads, and what would make the parser buffer without bound is refused naming the limit."""

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simpledb_backup.errors import DumpCorruptError
from simpledb_backup.formats.boundedio import (
    MAX_JSON_DEPTH,
    MAX_JSON_RUN_BYTES,
    CappedReader,
    JsonEvents,
    JsonTextGuard,
)


class Trickle(io.RawIOBase):
    """``data`` served in reads of the given sizes (cycled), to put every byte at a read boundary."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.position, self.reads = data, sizes, 0, 0

    def read(self, size: int = -1) -> bytes:
        step = self.sizes[self.reads % len(self.sizes)]
        self.reads += 1
        chunk = self.data[self.position : self.position + min(step, size)]
        self.position += len(chunk)
        return chunk


def guarded(data: bytes, sizes: list[int]) -> bytes:
    guard = JsonTextGuard(Trickle(data, sizes), "test.json")
    parts = []
    while part := guard.read(65536):
        parts.append(part)
    return b"".join(parts)


# Any text a SimpleDB name or value can hold (no lone surrogates), with the characters that matter here.
texts = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]) | st.sampled_from(['"', "\\", "\n", "\U0001f600"]),
    max_size=300,
)
documents = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(texts, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300)
@given(documents, st.booleans(), st.lists(st.integers(1, 70), min_size=1, max_size=5))
def test_legal_json_passes_unchanged_however_it_is_read(
    document: object, ascii_only: bool, sizes: list[int]
) -> None:
    data = json.dumps(document, ensure_ascii=ascii_only, indent=1).encode()
    assert guarded(data, sizes) == data
    assert json.loads(guarded(data, sizes)) == document


@settings(max_examples=40, deadline=None)
@given(documents, st.booleans(), st.lists(st.integers(1, 70_000), min_size=1, max_size=4))
def test_legal_json_longer_than_a_block_passes_unchanged(
    document: object, ascii_only: bool, sizes: list[int]
) -> None:
    # Repeated past several 64 KiB blocks, so blocks are cut inside strings, escapes and surrogate pairs. Each
    # copy holds a string, as every record of a source does (the gaps between strings are what is capped).
    one = json.dumps({"item": document}, ensure_ascii=ascii_only)
    data = ("[" + ",".join([one] * (200_000 // (len(one) + 1) + 1)) + "]").encode()
    assert guarded(data, sizes) == data


def test_a_string_of_the_longest_legal_escaped_value_passes() -> None:
    value = "\x01" * 1024  # 1,024 bytes, every one escaped as \u0001: 6,146 bytes of JSON
    data = json.dumps([value]).encode()
    assert guarded(data, [1000]) == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'["' + b"x" * (MAX_JSON_RUN_BYTES + 1) + b'"]',
            "more than 65,536 bytes without a string delimiter",
        ),
        (b"[" + b" " * (MAX_JSON_RUN_BYTES + 1) + b"]", "more than 65,536 bytes"),
        (
            b'["' + b'\\"' * MAX_JSON_RUN_BYTES + b'"]',
            "more than 65,536 bytes",
        ),  # escaped quotes do not count
        (b"9" * (MAX_JSON_RUN_BYTES + 1), "more than 65,536 bytes"),
        (b'["a\\ud800"]', r"the escape \\ud800 near byte 3 is a lone surrogate"),
        (b'["a\\udfff"]', r"the escape \\udfff near byte 3 is a lone surrogate"),
        (b'["\\ud83d\\u0041"]', r"the escape \\ud83d near byte 2 is a lone surrogate"),
        (b'["\\ud83d\\ud83d\\ude00"]', r"the escape \\ud83d near byte 2 is a lone surrogate"),
        (b'["\\ud83d"]', r"the escape \\ud83d near byte 2 is a lone surrogate"),
        (b'["\\uD83D\\uDE00\\uDC00"]', r"the escape \\uDC00 near byte 14 is a lone surrogate"),
    ],
)
@pytest.mark.parametrize("sizes", [[65536], [1], [3, 7]])
def test_what_would_buffer_without_bound_is_refused(data: bytes, message: str, sizes: list[int]) -> None:
    with pytest.raises(DumpCorruptError, match=f"^test.json: {message}"):
        guarded(data, sizes)


@pytest.mark.parametrize("data", [b'["\\\\ud800"]', b'["\\\\\\ud83d\\ude00"]', b'["\\ud83d\\ude00\\\\"]'])
def test_an_escaped_backslash_is_not_an_escape(data: bytes) -> None:
    for sizes in ([1], [2], [65536]):
        assert guarded(data, sizes) == data


def test_a_run_is_refused_as_soon_as_it_passes_the_cap() -> None:
    class Endless(io.RawIOBase):
        served = 0

        def read(self, size: int = -1) -> bytes:
            self.served += size
            return b" " * size

    endless = Endless()
    with pytest.raises(DumpCorruptError, match="more than 65,536 bytes"):
        JsonTextGuard(endless, "test.json").read(65536)
    assert endless.served <= 2 * 65536


def all_events(events: JsonEvents) -> list[tuple[str, object]]:
    read = []
    while (event := events.next())[0] != "end":
        read.append(event)
    return read


def test_nesting_is_capped() -> None:
    deepest = b'["",' * (MAX_JSON_DEPTH - 1) + b'[""]' + b"]" * (MAX_JSON_DEPTH - 1)
    assert len(all_events(JsonEvents(io.BytesIO(deepest), "test.json"))) == 3 * MAX_JSON_DEPTH
    events = JsonEvents(io.BytesIO(b'["",' * (MAX_JSON_DEPTH + 1)), "test.json")
    with pytest.raises(DumpCorruptError, match=f"test.json: nesting deeper than {MAX_JSON_DEPTH} levels"):
        all_events(events)


def test_parser_errors_name_the_object() -> None:
    events = JsonEvents(io.BytesIO(b"[1,]"), "imports/x.json")
    with pytest.raises(DumpCorruptError, match=r"^imports/x\.json is not valid JSON: parse error"):
        all_events(events)


def test_a_capped_reader_counts_hashes_and_refuses_past_its_cap() -> None:
    import hashlib

    digest = hashlib.md5(usedforsecurity=False)
    reader = CappedReader(io.BytesIO(b"x" * 100), "imports/x.json", limit=60, why="a test cap", hasher=digest)
    assert reader.read(50) == b"x" * 50
    assert reader.count == 50
    with pytest.raises(DumpCorruptError, match=r"^imports/x\.json is larger than 60 bytes, a test cap$"):
        reader.read(50)
    unbounded = CappedReader(io.BytesIO(b"y" * 10), "k")
    assert unbounded.read(-1) == b"y" * 10  # never "read everything": a chunk at a time
