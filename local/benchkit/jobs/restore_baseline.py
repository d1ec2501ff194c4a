"""The per-item restore the targets compare with: the same dump, read with the same reader, written with one
PutAttributes call per item into a new domain, on the first ``spec.sample`` items only (extrapolated by the
arithmetic: its cost per item is constant by construction)."""

import itertools
import sys
from collections.abc import Callable
from contextlib import closing
from typing import Any

import boto3
from botocore.config import Config

from benchkit.jobs.child import JobOutcome, run_child
from benchkit.results import JobSpec
from simpledb_backup.aws.keys import dump_key
from simpledb_backup.formats.dumpformat import read_dump


def prepare(spec: JobSpec) -> Callable[[], JobOutcome]:
    sdb = boto3.client("sdb", config=Config(retries={"total_max_attempts": 1}))
    s3 = boto3.client("s3", config=Config(retries={"mode": "standard"}))
    target = spec.target or f"{spec.domain}-baseline"
    sample = spec.sample or spec.domain_items

    def run() -> JobOutcome:
        sdb.create_domain(DomainName=target)
        arguments: dict[str, Any] = {"Bucket": spec.bucket, "Key": dump_key(spec.domain)}
        if spec.version_id:
            arguments["VersionId"] = spec.version_id
        body: Any = s3.get_object(**arguments)["Body"]
        written = 0
        with closing(body) as stream:
            for item in itertools.islice(read_dump(stream), sample):
                sdb.put_attributes(
                    DomainName=target,
                    ItemName=item.name,
                    Attributes=[
                        {"Name": attribute, "Value": value, "Replace": True}
                        for attribute, values in item.attributes.items()
                        for value in values
                    ],
                )
                written += 1
        return JobOutcome(written)

    return run


if __name__ == "__main__":
    raise SystemExit(run_child(prepare, sys.argv[1:]))
