"""The sequential backup the targets compare with: one Select loop, every item in memory, one PutObject.

``select * … limit 2500`` following NextToken (the fewest pages one stream can make) on a plain boto3 client
(botocore parses the pages), every item kept in a list, then encoded with the product's dump encoder.
"""

import sys
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from benchkit.arithmetic import SELECT_PAGE_ITEMS
from benchkit.jobs.child import JobOutcome, run_child
from benchkit.jobs.wire import WireRecorder
from benchkit.results import JobSpec
from simpledb_backup.aws.simpledb import item_from_wire, quote_name
from simpledb_backup.formats.dumpformat import DumpEncoder, DumpHeader
from simpledb_backup.items import Item


def prepare(spec: JobSpec) -> Callable[[], JobOutcome]:
    sdb = boto3.client("sdb", config=Config(retries={"total_max_attempts": 1}))
    s3 = boto3.client("s3", config=Config(retries={"mode": "standard"}))
    recorder = WireRecorder().attach(sdb)
    expression = f"select * from {quote_name(spec.domain)} limit {SELECT_PAGE_ITEMS}"

    def run() -> JobOutcome:
        items: list[Item] = []
        next_token: str | None = None
        while True:
            arguments: dict[str, Any] = {"SelectExpression": expression, "ConsistentRead": True}
            if next_token:
                arguments["NextToken"] = next_token
            answer: Any = sdb.select(**arguments)
            items.extend(item_from_wire(wire) for wire in answer.get("Items", []))
            next_token = answer.get("NextToken")
            if not next_token:
                break
        encoder = DumpEncoder()
        header = DumpHeader(spec.domain, "", expression, "manual", "baseline")
        data = encoder.write_header(header) + encoder.write_items(items) + encoder.write_trailer("")[0]
        s3.put_object(Bucket=spec.bucket, Key=f"bench/baseline/{spec.domain}.jsonl.gz", Body=data)
        return JobOutcome(len(items), len(data), {"lanes": recorder.summary()})

    return run


if __name__ == "__main__":
    raise SystemExit(run_child(prepare, sys.argv[1:]))
