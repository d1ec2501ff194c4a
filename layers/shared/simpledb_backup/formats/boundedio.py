"""Reading untrusted bytes in bounded memory, for every source a restore reads (docs/FORMAT.md, "Limits").

Anyone who may write under ``imports/`` (or alter a dump) chooses these bytes, so nothing here lets their size
decide how much memory a read takes:

* ``CappedReader`` counts, and optionally hashes, what is read from a stream and refuses more than a cap. It
  never asks the stream for "everything" (``read()`` without a size on an S3 body would load the object).
* ``JsonTextGuard`` sits between a stream and the streaming JSON parser (ijson with its yajl2 C backend).
  yajl buffers each token whole, so a 300 MB string would take 300 MB; the guard refuses any run of bytes
  longer than ``MAX_JSON_RUN_BYTES`` without a string delimiter, which bounds every string, number and gap,
  before the parser sees it. It also refuses ``\\uD800``-style escapes of lone surrogates: yajl would turn
  a lone high surrogate into ``?`` silently, and no such text can be stored in SimpleDB anyway.
* ``JsonEvents`` pulls ijson's events through the guard, caps the nesting depth at ``MAX_JSON_DEPTH`` and
  turns every parser error into a ``DumpCorruptError`` naming the object.

Every refusal is a DumpCorruptError whose message starts with the object's name and names the limit.
"""

import re
from collections.abc import Callable, Iterator
from typing import IO, Any, Protocol

import ijson  # type: ignore[import-untyped]  # ships no type information

from simpledb_backup.errors import DumpCorruptError
from simpledb_backup.items import MAX_VALUE_BYTES

#: Bytes asked of a stream at a time (and ijson's buffer).
CHUNK_BYTES = 64 * 1024
#: The longest run of bytes without a string delimiter (``"``) a JSON source may hold. A legal name or value is
#: at most 1,024 UTF-8 bytes, 6,146 bytes as a JSON string even with every byte escaped as ``\\u00XX``; the gaps
#: between strings are punctuation and indentation. 64 KiB leaves ten times that, and bounds what yajl buffers.
MAX_JSON_RUN_BYTES = 64 * 1024
#: The deepest nesting of arrays and objects a JSON source may have. A Repoman backup file nests 8 levels, a
#: native export's data file 5, its manifests 2.
MAX_JSON_DEPTH = 16

# Only an escaped backslash or an escaped quote can change which quotes delimit strings; other escapes (\\n,
# \\uXXXX) neither contain a quote nor pair a backslash. Replacing just these two keeps the scan fast.
_QUOTE_OR_BACKSLASH_ESCAPE = re.compile(rb'\\[\\"]')
_SURROGATE_HINT = re.compile(rb"\\u[dD][89a-fA-F]")
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
_LONG_RUN = re.compile(rb'"[^"]{%d}' % (MAX_JSON_RUN_BYTES + 1))
assert 2 + 6 * MAX_VALUE_BYTES < MAX_JSON_RUN_BYTES


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


class CappedReader:
    """Reads ``stream`` in chunks, counting (and hashing) the bytes, and refuses more than ``limit`` of them."""

    def __init__(
        self,
        stream: Readable,
        what: str,
        limit: int | None = None,
        why: str = "",
        hasher: Hasher | None = None,
    ) -> None:
        self._stream, self.what, self.limit, self.why, self._hasher = stream, what, limit, why, hasher
        self.count = 0

    def read(self, size: int = CHUNK_BYTES, /) -> bytes:
        if size is None or size < 0:
            size = CHUNK_BYTES  # never "read everything"
        data = self._stream.read(size)
        self.count += len(data)
        if self.limit is not None and self.count > self.limit:
            raise DumpCorruptError(
                f"{self.what} is larger than {self.limit:,} bytes{', ' + self.why if self.why else ''}"
            )
        if self._hasher is not None:
            self._hasher.update(data)
        return data

    def drain(self) -> None:
        """Read to the end (within the cap), so a hash covers the whole object."""
        while self.read(CHUNK_BYTES):
            pass


class Prefixed:
    """A stream that first returns ``prefix``, then the rest of ``stream`` (to sniff a file's first bytes)."""

    def __init__(self, prefix: bytes, stream: Readable) -> None:
        self._prefix, self._stream = prefix, stream

    def read(self, size: int = CHUNK_BYTES, /) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return self._stream.read(size)


class TranslatedErrors:
    """A stream whose read errors (a damaged gzip member, say) become DumpCorruptError naming the object."""

    def __init__(
        self, stream: Readable, what: str, errors: tuple[type[BaseException], ...], how: str
    ) -> None:
        self._stream, self._what, self._errors, self._how = stream, what, errors, how

    def read(self, size: int = CHUNK_BYTES, /) -> bytes:
        try:
            return self._stream.read(size)
        except self._errors as error:
            raise DumpCorruptError(f"{self._what} {self._how}: {error}") from error


class JsonTextGuard:
    """Passes JSON text through unchanged, refusing what would make the parser buffer without bound.

    Each block handed on ends just before a string delimiter (a ``"`` that is not escaped) or at the end of the
    stream, so every block starts outside any escape: escapes are then found by a left-to-right scan. The
    bytes after the block's last delimiter are kept for the next block; a run longer than the cap is refused.
    Everything is C-speed regular expressions except for blocks that hold a surrogate escape, which are rare.
    """

    def __init__(self, stream: Readable, what: str) -> None:
        self._stream, self._what = stream, what
        self._kept = b""
        self._offset = 0  # offset in the stream of the first kept byte, for messages
        self._ended = False

    def read(self, size: int = CHUNK_BYTES, /) -> bytes:
        if size == 0:
            return b""  # ijson probes with read(0) whether the stream gives bytes or text
        pieces, fresh = [self._kept], 0
        while not self._ended:
            chunk = self._stream.read(CHUNK_BYTES)
            if not chunk:
                self._ended = True
                break
            pieces.append(chunk)
            fresh += len(chunk)
            if fresh < CHUNK_BYTES:
                continue  # a stream that answers in small reads is scanned a whole chunk at a time
            fresh = 0
            data = b"".join(pieces)
            pieces = [data]
            cut = self._check(data, final=False)
            if cut > 0:
                self._kept = data[cut:]
                self._offset += cut
                return data[:cut]
        data = b"".join(pieces)
        if data:
            self._check(data, final=True)
            self._kept = b""
            self._offset += len(data)
        return data

    def _check(self, data: bytes, final: bool) -> int:
        """Check ``data`` (starting outside any escape); return where the next block must start."""
        plain = _QUOTE_OR_BACKSLASH_ESCAPE.sub(b"__", data)  # an escaped quote is not a delimiter
        last = len(plain) if final else plain.rfind(b'"')
        if last <= 0:
            if len(plain) > MAX_JSON_RUN_BYTES:
                self._refuse_run(0)
            return 0
        first = plain.find(b'"')
        if first > MAX_JSON_RUN_BYTES:
            self._refuse_run(0)
        long_run = _LONG_RUN.search(plain, 0, last if not final else len(plain))
        if long_run is not None:
            self._refuse_run(long_run.start())
        if final and len(plain) - plain.rfind(b'"') - 1 > MAX_JSON_RUN_BYTES:
            self._refuse_run(plain.rfind(b'"'))
        block = data if final else data[:last]
        if _SURROGATE_HINT.search(block):
            self._check_surrogates(block)
        return last

    def _refuse_run(self, position: int) -> None:
        raise DumpCorruptError(
            f"{self._what}: more than {MAX_JSON_RUN_BYTES:,} bytes without a string delimiter near byte "
            f"{self._offset + position:,}; no JSON string or gap in a legal file is that long (a SimpleDB name "
            f"or value is at most {MAX_VALUE_BYTES:,} bytes)"
        )

    def _check_surrogates(self, block: bytes) -> None:
        pending_high: int | None = None  # end of a high surrogate escape that needs a low one right after it
        for escape in _ESCAPE.finditer(block):
            code = int(escape.group(1), 16) if escape.group(1) else None
            is_low = code is not None and 0xDC00 <= code <= 0xDFFF
            if pending_high is not None and not (is_low and escape.start() == pending_high):
                self._refuse_surrogate(pending_high - 6, block)
            if pending_high is None and is_low:
                self._refuse_surrogate(escape.start(), block)
            pending_high = escape.end() if code is not None and 0xD800 <= code <= 0xDBFF else None
        if pending_high is not None:
            self._refuse_surrogate(pending_high - 6, block)

    def _refuse_surrogate(self, position: int, block: bytes) -> None:
        escape = block[position : position + 6].decode("ascii", "replace")
        raise DumpCorruptError(
            f"{self._what}: the escape {escape} near byte {self._offset + position:,} is a lone surrogate, "
            "which is not text: SimpleDB stores only UTF-8 text"
        )


class JsonEvents:
    """ijson's events for one JSON text (or a sequence of them), through the guard, with a depth cap."""

    def __init__(self, stream: Readable, what: str, multiple_values: bool = False) -> None:
        self.what = what
        self.depth = 0
        self._events: Iterator[tuple[str, Any]] = ijson.basic_parse(
            JsonTextGuard(stream, what), buf_size=CHUNK_BYTES, multiple_values=multiple_values
        )

    def next(self) -> tuple[str, Any]:
        """The next (event, value); ("end", None) after the last one."""
        try:
            event, value = next(self._events)
        except StopIteration:
            return "end", None
        except ijson.JSONError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise DumpCorruptError(f"{self.what} is not valid JSON: {reason}") from error
        except UnicodeDecodeError as error:  # yajl's text for a lone low surrogate escape; the guard stops it
            raise DumpCorruptError(f"{self.what} is not valid UTF-8 JSON text: {error}") from error
        if event == "start_map" or event == "start_array":
            self.depth += 1
            if self.depth > MAX_JSON_DEPTH:
                raise DumpCorruptError(
                    f"{self.what}: nesting deeper than {MAX_JSON_DEPTH} levels; no legal file nests that deep"
                )
        elif event == "end_map" or event == "end_array":
            self.depth -= 1
        return event, value

    def skip(self, event: str, budget: Callable[[], None]) -> None:
        """Skip the value that ``event`` starts, calling ``budget`` for every event it holds."""
        depth = 1 if event in ("start_map", "start_array") else 0
        while depth:
            budget()
            event, _ = self.next()
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
            elif event == "end":
                raise DumpCorruptError(f"{self.what} is not valid JSON: it ends inside a value")

    def build(self, event: str, value: Any, budget: Callable[[], None]) -> Any:
        """The plain Python value that ``event`` starts (a small one: ``budget`` bounds its events)."""
        if event == "start_map":
            mapping: dict[str, Any] = {}
            while True:
                budget()
                event, key = self.next()
                if event == "end_map":
                    return mapping
                if event != "map_key":
                    raise DumpCorruptError(f"{self.what} is not valid JSON: it ends inside an object")
                mapping[key] = self.build(*self.next(), budget)
        if event == "start_array":
            array: list[Any] = []
            while True:
                budget()
                event, element = self.next()
                if event == "end_array":
                    return array
                if event == "end":
                    raise DumpCorruptError(f"{self.what} is not valid JSON: it ends inside an array")
                array.append(self.build(event, element, budget))
        if event in ("end", "end_map", "end_array", "map_key"):
            raise DumpCorruptError(f"{self.what} is not valid JSON: a value is missing")
        return value


def json_kind(event: str) -> str:
    """What a JSON value starting with ``event`` is, for messages."""
    return {
        "start_map": "an object",
        "start_array": "an array",
        "string": "a string",
        "number": "a number",
        "boolean": "a boolean",
        "null": "null",
        "end": "the end of the file",
    }.get(event, event)


def event_budget(what: str, limit: int, of: str) -> Callable[[], None]:
    """A callable that refuses once it has been called more than ``limit`` times."""
    remaining = limit

    def spend() -> None:
        nonlocal remaining
        remaining -= 1
        if remaining < 0:
            raise DumpCorruptError(
                f"{what}: {of} holds more than {limit:,} JSON values, more than a legal one can"
            )

    return spend


def read_capped(stream: IO[bytes], what: str, limit: int, why: str) -> bytes:
    """A whole small object, refused past ``limit`` bytes."""
    reader = CappedReader(stream, what, limit, why)
    parts = []
    while chunk := reader.read(CHUNK_BYTES):
        parts.append(chunk)
    return b"".join(parts)
