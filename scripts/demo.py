"""`make demo`: the nightly backup and a safe restore, end to end, against an embedded local AWS.

1. start the local AWS endpoint (moto's server with the project's SimpleDB engine);
2. create the backup bucket as template.yaml declares it (versioning and lifecycle read from the template);
3. fill a domain shaped exactly like Repoman's with real Debian package metadata (tests/fixtures/debian);
4. run the nightly backup, give some packages a new build, run it again;
5. ask what changed last night: `simpledb-backup diff --from previous --to latest`;
6. list the dump versions: `simpledb-backup list`;
7. an accident deletes packages and damages `meta`; plan an exact restore: `simpledb-backup plan`;
8. restore the latest dump in exact mode: `simpledb-backup restore`, which shows the plan and asks for the
   domain's name (a wrong name refuses and writes nothing; the right one restores);
9. verify independently that the domain equals the chosen dump;
10. run the weekly restore drill on demand: `simpledb-backup drill`, and check that its scratch domain is gone.

Steps 5 to 8 and 10 run the operator's command line, `simpledb-backup --local`, against this demo's endpoint,
exactly as an operator would type them (a restore and a drill run in a local worker process, as Lambda runs
them apart from the command); the functions' structured logs go to build/demo-logs.jsonl. Everything it imports
is installed by `make setup`.
"""

import argparse
import contextlib
import io
import shlex
import sys
import time
from collections.abc import Sequence
from typing import Any

import boto3

from localrun import (
    ROOT,
    function_output,
    invoke,
    seed_local_stack,
    start_embedded_aws,
    use_function_environment,
)
from repomandata import mutate_packages, simulate_accident
from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.scan import scan_domain
from simpledb_backup.events import BackupEvent
from simpledb_backup.formats.dumpformat import read_dump
from simpledb_backup.items import Item
from simpledb_backup.runtime import event_payload
from simpledb_backup_cli.app import main as cli_main

STEPS = 10
LOG_FILE = ROOT / "build" / "demo-logs.jsonl"


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.step = 0
        self.failed: list[str] = []

    def __call__(self, message: str) -> None:
        self.step += 1
        print(f"\n[{self.step}/{STEPS}] {message}", flush=True)

    def detail(self, message: str) -> None:
        print(f"      {message}", flush=True)


def domain_items(domain: str) -> list[Item]:
    return sorted(item for page in scan_domain(SimpleDB(boto3.client("sdb")), domain, 4) for item in page)


def dump_items(bucket: str, domain: str, version_id: str) -> list[Item]:
    body = boto3.client("s3").get_object(Bucket=bucket, Key=dump_key(domain), VersionId=version_id)["Body"]
    return sorted(read_dump(io.BytesIO(body.read())))


@contextlib.contextmanager
def function_output_to_log_file() -> Any:
    """The functions' structured logs and metric records go to LOG_FILE, so the demo's output stays readable."""
    LOG_FILE.parent.mkdir(exist_ok=True)
    with LOG_FILE.open("a") as log_file, function_output(log_file):
        yield


def run_backup(progress: Progress) -> dict[str, Any]:
    with function_output_to_log_file():
        [response] = invoke("backup", event_payload(BackupEvent(trigger="schedule")))
    dump = response["dumps"][0]
    progress.detail(
        f"version {dump['version_id']}: {dump['items']} items, {dump['attributes']} attributes, "
        f"{dump['values']} values, {dump['size_bytes']:,} bytes gzip, {dump['duration_seconds']} s"
    )
    return dict(dump)


def run_drill(progress: Progress, domain: str) -> None:
    """What each domain's drill schedule does every week, on demand: `simpledb-backup drill`."""
    expect(progress, "drill", operator(["drill", domain]))
    scratch = f"simpledb-backup-drill-{domain}"
    left = scratch in boto3.client("sdb").list_domains().get("DomainNames", [])
    progress.detail(
        f"scratch domain {scratch} deleted: {not left}; metrics DrillSucceeded, DrillDuration, DrillItems"
    )
    if left:
        progress.failed.append("the restore drill did not clean up")


def operator(arguments: Sequence[str], typed: str | None = None) -> int:
    """Run `simpledb-backup --local ARGUMENTS` as an operator would type it, against this demo's local AWS (the
    environment carries AWS_ENDPOINT_URL); ``typed`` is what the operator types when asked. In this process:
    the command's entry point, without starting a Python for each step."""
    print(f"\n      $ simpledb-backup --local {shlex.join(arguments)}", flush=True)
    stdin = sys.stdin
    sys.stdin = io.StringIO("" if typed is None else typed + "\n")
    try:
        return cli_main(["--local", "--log-file", str(LOG_FILE), *arguments])
    finally:
        sys.stdin = stdin


def expect(progress: Progress, what: str, status: int, expected: int = 0) -> None:
    if status != expected:
        progress.failed.append(f"{what} (exit status {status}, expected {expected})")
        progress.detail(f"!! {what} exited {status}, expected {expected}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=None, help="package items (default: the whole fixture)")
    arguments = parser.parse_args()
    progress = Progress()
    LOG_FILE.unlink(missing_ok=True)
    environment = use_function_environment("backup")
    bucket, domain = environment["BACKUP_BUCKET"], environment["DOMAIN_NAMES"].split(",")[0]

    progress("Starting the local AWS endpoint (moto + the SimpleDB engine)")
    server = start_embedded_aws()
    progress.detail(f"listening at {server.url}")
    try:
        progress(f"Creating bucket {bucket} and filling domain {domain!r} like Repoman's")
        seeded = seed_local_stack(bucket, domain, args_items(arguments.items))
        bucket_summary = seeded["bucket"]
        progress.detail(
            f"versioning {bucket_summary['versioning']}, lifecycle rules {bucket_summary['lifecycle_rules']}"
        )
        progress.detail(
            f"{seeded['items']} items: meta + packages from Debian bookworm, control text in controltxtNN"
        )

        progress("Nightly backup #1")
        first = run_backup(progress)
        changes = mutate_packages(boto3.client("sdb"), domain, domain_items(domain), count=10, seed=1)
        progress(f"{len(changes)} packages get a new build, then nightly backup #2")
        second = run_backup(progress)

        progress("What changed last night? The diff of the two nightly dumps")
        status = operator(["diff", domain, "--from", "previous", "--to", "latest"])
        expect(progress, "diff", status)

        progress(f"Listing the dumps of {domain!r}")
        expect(progress, "list", operator(["list", domain]))

        accident = simulate_accident(
            boto3.client("sdb"), domain, domain_items(domain), delete_count=25, seed=2
        )
        progress(
            f"Accident: {len(accident.deleted)} packages deleted and 'meta' damaged; planning an exact restore"
        )
        expect(progress, "plan", operator(["plan", domain, "--mode", "exact"]))

        progress("Restoring the latest dump in exact mode: the command asks for the domain's name first")
        progress.detail("a slip of the keyboard refuses, and nothing is written:")
        restore = ["restore", domain, "--mode", "exact", "--samples", "3"]
        expect(progress, "restore with a wrong name", operator(restore, typed="pakages"), 3)
        progress.detail("the right name restores:")
        expect(progress, "restore", operator(restore, typed=domain))

        progress("Checking independently that the domain equals the chosen dump")
        equal = domain_items(domain) == dump_items(bucket, domain, second["version_id"])
        progress.detail(f"domain == dump {second['version_id']}: {equal}")
        progress.detail(f"first dump {first['version_id']} is still there to go further back")
        if not equal:
            progress.failed.append("the domain does not equal the dump")

        progress(
            f"Weekly restore drill of {domain!r}: its latest dump into a scratch domain, verified, deleted"
        )
        run_drill(progress, domain)
        print(
            f"\nDemo finished in {time.monotonic() - progress.started:.1f} s. The functions' logs: {LOG_FILE}"
        )
        for failure in progress.failed:
            print(f"FAILED: {failure}", file=sys.stderr)
        return 1 if progress.failed else 0
    finally:
        server.stop()


def args_items(items: int | None) -> int | None:
    return None if items is None else items + 1  # + the meta item


if __name__ == "__main__":
    sys.exit(main())
