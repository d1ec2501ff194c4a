"""Every bomb and oversized input is refused in bounded memory (issue 10, finding 2).

Each input goes through the restore function's handler in a child process of its own (tests/hostile/
memory_child.py: one prepared process per test worker, moto in-process there, forked for every case), which
reports its peak resident set size (VmHWM) for the restore alone: it must stay under 300 MB, with zero
SimpleDB writes, and the answer must be "refused" naming the limit that was hit.

The inputs are many times larger than the caps, so without a cap the peak would be far above 300 MB (issue
10 measured 1 to 4 GB on these shapes); each refusal message names its cap, proving the cap is what stopped
it. The bombs are built as streams (tests/hostile/bombs.py): a 3 GiB bomb is made in milliseconds from one
repeated deflate block and is 3 MB on disk, so the test itself stays small and each case takes seconds.

moto serves an object from memory (its GetObject answers with the whole body as bytes), so in-process it
would charge the child for the S3 side of a large uncompressed object; the large inputs here are therefore
compressed bombs, and the 300 MiB Repoman file is refused from its size before it is fetched. The token cap
that bounds one huge string in a Repoman file is the same code (boundedio.JsonTextGuard) that the 1 GiB
string in a native-export data file proves here.
"""

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hostile.bombs import gzip_bomb, repeated_file, write
from hostile.memory_child import LATEST_UPLOAD, RESULT_PREFIX
from simpledb_backup.formats.boundedio import MAX_JSON_DEPTH, MAX_JSON_RUN_BYTES
from simpledb_backup.formats.dumpformat import MAX_LINE_BYTES
from simpledb_backup.formats.repoman import MAX_REPOMAN_FILE_BYTES

CHILD = Path(__file__).resolve().parents[1] / "hostile" / "memory_child.py"
PEAK_LIMIT_KB = 300 * 1000  # 300 MB
MiB = 1 << 20
GiB = 1 << 30
DUMP_KEY = "dumps/packages/full.jsonl.gz"
REPOMAN_KEY = "imports/big-backup.json"
EXPORT_BASE = "imports/exports/AWSSimpleDB/3eb4eaed-872b-4e08-b4b6-ff6999a83e01/packages/"
HEADER = json.dumps(
    {
        "type": "header",
        "format": "simpledb-backup-dump",
        "version": 1,
        "domain": "packages",
        "started_at": "2026-11-26T03:00:00.000Z",
        "tool": "memory-bounds",
        "select_expression": "select * from `packages`",
        "where": None,
        "label": None,
        "trigger": "manual",
        "run_id": "bomb",
        "segments": [[None, None]],
    }
).encode()


@dataclass(frozen=True)
class Input:
    id: str
    build: Callable[[Path], dict[str, Path]]  # S3 key -> file, written under the given folder
    event: dict[str, Any]
    expect: str
    actions: tuple[str, ...] = ("plan", "restore")


def dump_event() -> dict[str, Any]:
    return {"domain": "packages", "version_id": LATEST_UPLOAD}


def repoman_event() -> dict[str, Any]:
    return {"domain": "packages", "source": "repoman", "source_key": REPOMAN_KEY}


def native_export(folder: Path, data: Path) -> dict[str, Path]:
    """An export whose one data file is ``data``, its MD5 and count declared as a real export would."""
    import base64
    import hashlib

    md5 = hashlib.md5(usedforsecurity=False)
    with data.open("rb") as file:
        while chunk := file.read(MiB):
            md5.update(chunk)
    entry = {
        "itemCount": 1,
        "md5Checksum": base64.b64encode(md5.digest()).decode(),
        "dataFileS3Key": f"{EXPORT_BASE}data/dataFile00000.json",
    }
    files = write(folder / "manifest-file.json", iter([json.dumps(entry).encode() + b"\n"]))
    summary = write(
        folder / "manifest-summary.json",
        iter([json.dumps({"itemCount": 1, "domainName": "packages"}).encode()]),
    )
    return {
        f"{EXPORT_BASE}manifest-summary.json": summary,
        f"{EXPORT_BASE}manifest-file.json": files,
        f"{EXPORT_BASE}data/dataFile00000.json": data,
    }


def export_event() -> dict[str, Any]:
    return {"domain": "packages", "source": "native-export", "source_key": EXPORT_BASE}


ENTRY = (
    b'{"name": "p", "version": "1", "distribution": "d", "component": "c", "architecture": "a", '
    b'"controltxt0": "Package: p\\nVersion: 1\\n' + b"x" * 180 + b'"}, '
)

INPUTS = [
    Input(
        "dump-inflating-to-1-GiB-in-one-line",
        lambda folder: {DUMP_KEY: write(folder / "dump.gz", gzip_bomb(HEADER + b"\n", b"x", GiB))},
        dump_event(),
        f"line 2 of the dump is longer than {MAX_LINE_BYTES:,} bytes",
    ),
    Input(
        "dump-of-256-MiB-of-compressed-newlines",
        lambda folder: {DUMP_KEY: write(folder / "dump.gz", gzip_bomb(HEADER + b"\n", b"\n", 256 * MiB))},
        dump_event(),
        "line 2 of the dump is not valid JSON",
    ),
    Input(
        "dump-holding-one-256-MiB-line",
        lambda folder: {
            DUMP_KEY: write(
                folder / "dump.gz",
                gzip_bomb(
                    HEADER + b'\n{"type":"item","name":"a","attributes":{"n":["', b"v", 256 * MiB, b'"]}}\n'
                ),
            )
        },
        dump_event(),
        f"line 2 of the dump is longer than {MAX_LINE_BYTES:,} bytes",
    ),
    Input(
        "dump-header-inflating-to-1-GiB",
        lambda folder: {DUMP_KEY: write(folder / "dump.gz", gzip_bomb(b"{", b" ", GiB, b"}\n"))},
        dump_event(),
        f"line 1 of the dump is longer than {MAX_LINE_BYTES:,} bytes",
    ),
    Input(
        "native-export-data-file-inflating-to-3-GiB",
        lambda folder: native_export(
            folder, write(folder / "data.json.gz", gzip_bomb(b"[", b" ", 3 * GiB, b"]"))
        ),
        export_event(),
        f"more than {MAX_JSON_RUN_BYTES:,} bytes without a string delimiter",
    ),
    Input(
        "native-export-data-file-of-one-1-GiB-string",
        lambda folder: native_export(
            folder, write(folder / "data.json.gz", gzip_bomb(b'[{"itemName": "', b"n", GiB, b'"}]'))
        ),
        export_event(),
        f"more than {MAX_JSON_RUN_BYTES:,} bytes without a string delimiter",
    ),
    Input(
        "native-export-nested-100000-levels",
        lambda folder: native_export(
            folder, write(folder / "data.json", iter([b'[{"itemName": "x", "a": ' + b'["",' * 100_000]))
        ),
        export_event(),
        f"nesting deeper than {MAX_JSON_DEPTH} levels",
    ),
    Input(
        "repoman-file-of-300-MiB",
        lambda folder: {
            REPOMAN_KEY: repeated_file(
                folder / "backup.json",
                b'{"metadata": {"dists": ["d"]}, "packages": {"p": {"d": {"c": {"a": [',
                ENTRY,
                300 * MiB,
                b"{}]}}}}}",
            )
        },
        repoman_event(),
        f"larger than {MAX_REPOMAN_FILE_BYTES:,}",
        # Refused from S3's size before a byte is fetched, the same for plan and restore. Putting 300 MiB
        # into moto takes most of this file's time, so it runs once.
        ("restore",),
    ),
    Input(
        "repoman-file-nested-100000-levels",
        lambda folder: {
            REPOMAN_KEY: write(folder / "backup.json", iter([b'{"metadata": {"dists": ' + b'["",' * 100_000]))
        },
        repoman_event(),
        r"'metadata'\['dists'\] must be a string or a list of strings",
    ),
]


@pytest.fixture(scope="module")
def child() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, str(CHILD)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "READY"
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=60)


def run_in_child(
    process: subprocess.Popen[str], files: dict[str, Path], event: dict[str, Any]
) -> dict[str, Any]:
    assert process.stdin is not None
    assert process.stdout is not None
    spec = {"files": {key: str(path) for key, path in files.items()}, "event": event}
    process.stdin.write(json.dumps(spec) + "\n")
    process.stdin.flush()
    while True:
        line = process.stdout.readline()
        assert line, "the child process ended"
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result


RUNS = [(case, action) for case in INPUTS for action in case.actions]


@pytest.mark.parametrize(("case", "action"), RUNS, ids=[f"{case.id}-{action}" for case, action in RUNS])
def test_a_bomb_is_refused_in_bounded_memory(
    child: subprocess.Popen[str], tmp_path: Path, case: Input, action: str
) -> None:
    event = {"action": action, **case.event, **({"confirm": "packages"} if action == "restore" else {})}

    result = run_in_child(child, case.build(tmp_path), event)

    assert "error" not in result, result.get("error")
    answer = result["answers"][0]
    assert answer["status"] == "refused", answer
    assert re.search(case.expect, answer["error"]["message"]), answer["error"]["message"]
    assert result["writes"] == {}
    assert result["peak_kb"] < PEAK_LIMIT_KB, (
        f"peak {result['peak_kb']} kB (baseline {result['baseline_kb']} kB)"
    )
