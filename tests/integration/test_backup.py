"""The backup against moto with the project's SimpleDB engine, through the real boto3 wire path."""

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

import sdblocal
from localrun import LocalContext, invoke
from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.ratecontrol import RateController, RateSettings
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup import service as backup_module
from simpledb_backup.backup.service import BackupService
from simpledb_backup.errors import BackupFailedError, ThrottledError
from simpledb_backup.formats.dumpformat import read_dump
from simpledb_backup.items import Item, make_item
from simpledb_backup.runtime import Deadline

DOMAIN = "packages"


def put_items(sdb_client: Any, domain: str, items: list[Item]) -> None:
    sdb_client.create_domain(DomainName=domain)
    SimpleDB(sdb_client).write_items(domain, items)


def sample_items(count: int, payload: int = 200) -> list[Item]:
    return [
        make_item(
            f"{(index * 7919) % 65536:04x}{index:060x}",
            [("name", f"pkg{index}"), ("tags", "a"), ("tags", "b"), ("control", "x" * payload)],
        )
        for index in range(count)
    ]


def stored_dump(s3_client: Any, bucket: str, key: str, version_id: str | None = None) -> Iterator[Item]:
    arguments = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    return iter(read_dump(io.BytesIO(s3_client.get_object(**arguments)["Body"].read())))


def versions(s3_client: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    answer = s3_client.list_object_versions(Bucket=bucket, Prefix=key)
    return [version for version in answer.get("Versions", []) if version["Key"] == key]


FOREVER = Deadline(lambda: 900.0, 30.0)


def service(
    sdb_client: Any, s3_client: Any, bucket: str, segments: int = 4, sdb: SimpleDB | None = None
) -> BackupService:
    return BackupService(sdb or SimpleDB(sdb_client), BucketStore(s3_client, bucket), segments=segments)


def test_awkward_content_is_dumped_losslessly(sdb_client: Any, s3_client: Any, bucket: str) -> None:
    awkward = [
        make_item("multi", [("dists", "stable"), ("dists", "testing"), ("dists", "unstable")]),
        make_item("empty-value", [("description", ""), ("name", "x")]),
        make_item("unicode-é€😀", [("näme", "välue ✓"), ("quote'`\"", "a\nb")]),
        make_item("xml-invalid\x01", [("ctl\x02", "value\x00with\x1fcontrol\ufffe")]),
    ]
    put_items(sdb_client, DOMAIN, awkward)
    result = service(sdb_client, s3_client, bucket).backup(DOMAIN, "manual", FOREVER)
    assert result.status == "complete"
    assert sorted(stored_dump(s3_client, bucket, dump_key(DOMAIN))) == sorted(awkward)


def test_a_domain_larger_than_one_select_page_is_dumped_completely(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = sample_items(6000, payload=300)  # 6000 items > 2500 per page, ~2 MB > 1 MB per page
    put_items(sdb_client, DOMAIN, items)
    sdblocal.controls.reset_counts()
    result = service(sdb_client, s3_client, bucket, segments=2).backup(DOMAIN, "manual", FOREVER)
    assert result.items == 6000
    assert sorted(stored_dump(s3_client, bucket, dump_key(DOMAIN))) == sorted(items)
    assert sdblocal.controls.call_counts()["Select"] > 2  # both streams needed several pages


def test_each_run_adds_a_version_with_its_counts_in_metadata(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    put_items(sdb_client, DOMAIN, sample_items(30))
    backups = service(sdb_client, s3_client, bucket)
    first = backups.backup(DOMAIN, "schedule", FOREVER)
    SimpleDB(sdb_client).delete_item(DOMAIN, sample_items(1)[0].name)
    second = backups.backup(DOMAIN, "schedule", FOREVER)
    key = dump_key(DOMAIN)
    assert {version["VersionId"] for version in versions(s3_client, bucket, key)} == {
        first.version_id,
        second.version_id,
    }
    head = s3_client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["Metadata"]["item-count"] == "29"
    assert head["Metadata"]["trigger"] == "schedule"
    assert head["Metadata"]["format-version"] == "2"
    assert second.item_drop_percent == pytest.approx(100 / 30, abs=0.01)
    assert "ChecksumSHA256" in head


def test_a_run_that_fails_part_way_leaves_no_new_version(
    sdb_client: Any, s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_items(sdb_client, DOMAIN, sample_items(3000))
    service(sdb_client, s3_client, bucket).backup(DOMAIN, "schedule", FOREVER)
    before = versions(s3_client, bucket, dump_key(DOMAIN))
    sdblocal.controls.configure(fault_rate=1.0, seed=7)  # every SimpleDB call answers 503
    impatient = SimpleDB(
        sdb_client, RateController(RateSettings(initial_rate=1000.0, min_rate=1000.0, give_up_after=0.05))
    )
    with pytest.raises(ThrottledError):
        service(sdb_client, s3_client, bucket, sdb=impatient).backup(DOMAIN, "schedule", FOREVER)
    assert versions(s3_client, bucket, dump_key(DOMAIN)) == before
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_subset_dump_goes_to_its_own_key(sdb_client: Any, s3_client: Any, bucket: str) -> None:
    items = [
        make_item(f"p{index}", [("distribution", "stable" if index % 2 else "testing")])
        for index in range(10)
    ]
    put_items(sdb_client, DOMAIN, items)
    result = service(sdb_client, s3_client, bucket).backup(
        DOMAIN, "manual", FOREVER, where="`distribution` = 'stable'", label="stable"
    )
    assert result.key == dump_key(DOMAIN, "stable") != dump_key(DOMAIN)
    assert sorted(stored_dump(s3_client, bucket, result.key)) == sorted(items[1::2])
    assert versions(s3_client, bucket, dump_key(DOMAIN)) == []


def load_event(name: str) -> dict[str, Any]:
    with open(f"events/{name}") as event_file:
        document: dict[str, Any] = json.load(event_file)
    return document


@pytest.mark.usefixtures("backup_environment")
def test_one_bad_domain_does_not_stop_the_others(
    sdb_client: Any,
    s3_client: Any,
    bucket: str,
    capfd: pytest.CaptureFixture[str],
    log_lines: Any,
) -> None:
    put_items(sdb_client, DOMAIN, sample_items(20))  # "other-domain" is configured but does not exist
    with pytest.raises(
        BackupFailedError, match="other-domain: SimpleDB domain 'other-domain' does not exist"
    ):
        # Every configured domain in one invocation (the nightly schedules send one domain each).
        invoke("backup", load_event("backup-manual.json"))
    assert len(versions(s3_client, bucket, dump_key(DOMAIN))) == 1
    emitted = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    failure_logs = [record for record in log_lines() if record.get("message") == "domain backup failed"]
    assert failure_logs[0]["domain"] == "other-domain"
    assert failure_logs[0]["error_kind"] == "domain-not-found"
    metrics = {
        (record.get("domain"), name)
        for record in emitted
        if "_aws" in record
        for name in record
        if name.startswith("Backup")
    }
    assert ("packages", "BackupSucceeded") in metrics
    assert ("other-domain", "BackupFailed") in metrics


@pytest.mark.usefixtures("backup_environment")
def test_the_nightly_event_backs_up_through_the_handler(
    sdb_client: Any, s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMAIN_NAMES", DOMAIN)
    load_handler_settings_fresh()
    put_items(sdb_client, DOMAIN, sample_items(50))
    [response] = invoke("backup", load_event("backup-nightly.json"))
    assert response["status"] == "ok"
    assert response["dumps"][0]["items"] == 50
    assert response["dumps"][0]["trigger"] == "schedule"


def load_handler_settings_fresh() -> None:
    from localrun import load_handler

    handler = load_handler("backup")
    handler.settings.cache_clear()
    handler.backup_service.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_handler_caches() -> Iterator[None]:
    load_handler_settings_fresh()
    yield
    load_handler_settings_fresh()


class SteppingClock:
    """A clock that advances one second every time it is read, so invocations run out of time quickly."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.mark.usefixtures("backup_environment")
def test_time_running_out_several_times_still_gives_one_exact_version(
    sdb_client: Any, s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMAIN_NAMES", DOMAIN)
    monkeypatch.setenv("BACKUP_SEGMENTS", "2")
    # Small parts, so parts of the one multipart upload are written by different invocations.
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 256)
    monkeypatch.setattr(backup_module, "PART_SIZE", 4096)
    items = sample_items(10000, payload=400)  # about 5 MB: several 1 MB Select pages per segment
    put_items(sdb_client, DOMAIN, items)
    sdblocal.controls.configure(latency_ms=20)  # the streams read ahead only a page or so while time runs out
    clock = SteppingClock()
    # Each invocation has 33 "seconds" and stops with 30 left: a page or two per invocation.
    responses = invoke(
        "backup",
        {"trigger": "manual"},
        context_factory=lambda: LocalContext("simpledb-backup-backup", timeout_seconds=32, clock=clock),
    )
    assert len(responses) >= 4
    assert [response["status"] for response in responses[:-1]] == ["continued"] * (len(responses) - 1)
    assert responses[-1]["status"] == "ok"
    assert len(versions(s3_client, bucket, dump_key(DOMAIN))) == 1
    dumped = list(stored_dump(s3_client, bucket, dump_key(DOMAIN)))
    assert len(dumped) == len({item.name for item in dumped}) == 10000
    assert sorted(dumped) == sorted(items)
    staging = s3_client.head_object(
        Bucket=bucket, Key=f"checkpoints/{responses[0]['dumps'][0]['run_id']}/dump.jsonl.gz"
    )
    part_count = int(staging["ETag"].strip('"').rsplit("-", 1)[1])  # a multipart ETag ends in -<parts>
    assert part_count > len(responses)


@pytest.mark.usefixtures("backup_environment")
def test_a_backup_that_never_gets_time_to_work_stops_instead_of_looping(
    sdb_client: Any, s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOMAIN_NAMES", DOMAIN)
    put_items(sdb_client, DOMAIN, sample_items(50))

    def no_time() -> LocalContext:  # 20 s an invocation against a 30 s margin: out of time from the start
        return LocalContext("simpledb-backup-backup", timeout_seconds=20)

    with pytest.raises(BackupFailedError, match="made no progress in 3 invocations"):
        invoke("backup", {"trigger": "manual"}, context_factory=no_time)
    assert versions(s3_client, bucket, dump_key(DOMAIN)) == []
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
