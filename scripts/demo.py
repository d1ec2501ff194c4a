"""`make demo`: the nightly backup and a safe restore, end to end, against an embedded local AWS.

1. start the local AWS endpoint (moto's server with the project's SimpleDB engine);
2. create the backup bucket as template.yaml declares it (versioning and lifecycle read from the template);
3. fill a domain shaped exactly like Repoman's with real Debian package metadata (tests/fixtures/debian);
4. run the nightly backup, change some packages, run it again;
5. list the two dump versions with their counts;
6. an accident deletes packages and damages `meta`; list, then plan a restore;
7. restore the latest dump in exact mode;
8. verify that the domain equals the chosen dump.
"""

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / folder) for folder in ("layers/shared", "local")]

import boto3  # noqa: E402

from localrun import invoke, seed_local_stack, start_embedded_aws, use_function_environment  # noqa: E402
from repomandata import mutate_packages, simulate_accident  # noqa: E402
from simpledb_backup.dumpformat import read_dump  # noqa: E402
from simpledb_backup.items import Item  # noqa: E402
from simpledb_backup.keys import dump_key  # noqa: E402
from simpledb_backup.observability import logger  # noqa: E402
from simpledb_backup.scan import scan_domain  # noqa: E402
from simpledb_backup.simpledb import SimpleDB  # noqa: E402

STEPS = 8
LOG_FILE = Path(__file__).resolve().parent.parent / "build" / "demo-logs.jsonl"


class Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.step = 0

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
    with LOG_FILE.open("a") as log_file, contextlib.redirect_stdout(log_file):
        previous, logger.registered_handler.stream = logger.registered_handler.stream, log_file  # type: ignore[attr-defined]
        try:
            yield
        finally:
            logger.registered_handler.stream = previous  # type: ignore[attr-defined]


def run_backup(progress: Progress) -> dict[str, Any]:
    with function_output_to_log_file():
        [response] = invoke("backup", {"trigger": "schedule"})
    dump = response["dumps"][0]
    progress.detail(
        f"version {dump['version_id']}: {dump['items']} items, {dump['attributes']} attributes, "
        f"{dump['values']} values, {dump['size_bytes']:,} bytes gzip, {dump['duration_seconds']} s"
    )
    return dict(dump)


def restore(event: dict[str, Any]) -> dict[str, Any]:
    with function_output_to_log_file():
        responses = invoke("restore", event)
    return dict(responses[-1])


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

        progress(f"Listing the dumps of {domain!r}")
        listing = restore({"action": "list", "domain": domain})
        for dump in listing["dumps"]:
            progress.detail(
                f"{dump['version_id']}  {dump['time']}  {dump['items']:>6} items  "
                f"{dump['size_bytes']:>9,} bytes  trigger={dump['trigger']}"
            )

        accident = simulate_accident(
            boto3.client("sdb"), domain, domain_items(domain), delete_count=25, seed=2
        )
        progress(
            f"Accident: {len(accident.deleted)} packages deleted and 'meta' damaged; planning an exact restore"
        )
        plan = restore({"action": "plan", "domain": domain, "mode": "exact"})
        progress.detail(f"items: {plan['items']}")
        progress.detail(f"attributes: {plan['attributes']}")
        progress.detail(f"sample of items to create: {plan['samples']['create'][:3]}")
        refused = restore({"action": "restore", "domain": domain, "mode": "exact"})
        progress.detail(f"restore without confirm: {refused['status']}: {refused['error']['message']}")

        progress("Restoring the latest dump in exact mode, with the confirmation it asked for")
        result = restore({"action": "restore", "domain": domain, "mode": "exact", "confirm": domain})
        safety = result["safety_backup"] or {}
        progress.detail(f"{result['status']}: {result['message']}")
        progress.detail(f"written: {result['written']}")
        progress.detail(f"safety backup (trigger pre-restore): version {safety.get('version_id')}")
        progress.detail(f"verification: {result['verification']}")

        progress("Checking independently that the domain equals the chosen dump")
        equal = result["status"] == "complete" and domain_items(domain) == dump_items(
            bucket, domain, second["version_id"]
        )
        progress.detail(f"domain == dump {second['version_id']}: {equal}")
        progress.detail(f"first dump {first['version_id']} is still there to go further back")
        print(
            f"\nDemo finished in {time.monotonic() - progress.started:.1f} s. The functions' logs: {LOG_FILE}"
        )
        return 0 if equal else 1
    finally:
        server.stop()


def args_items(items: int | None) -> int | None:
    return None if items is None else items + 1  # + the meta item


if __name__ == "__main__":
    sys.exit(main())
