"""A published dump always restores: the backup applies its reader's rules as it writes, against the SimpleDB
behaviours nobody here chose (the engine's Select quirks, docs/ENGINE.md): pages in UTF-16 order, empty and
short pages, NextTokens refused as expired, and answers that break a rule (an item without attributes, an item
repeated on the next page). What breaks a rule fails the backup loudly and publishes nothing."""

import hashlib
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from restore_helpers import NEW_DOMAIN, contents, request
from restore_helpers import service as restore_service

import sdblocal
from localrun import invoke, load_handler
from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.selectparse import PARSED_ITEMS
from simpledb_backup.aws.simpledb import SimpleDB, plan_put_batches
from simpledb_backup.backup.service import BackupService
from simpledb_backup.config import Retention
from simpledb_backup.errors import BackupFailedError
from simpledb_backup.formats.dumpformat import read_dump
from simpledb_backup.items import Item, make_item
from simpledb_backup.runtime import Deadline

DOMAIN = "packages"
FOREVER = Deadline(lambda: 900.0, 30.0)


def fill(sdb_client: Any, domain: str, items: list[Item]) -> None:
    sdb_client.create_domain(DomainName=domain)
    database = SimpleDB(sdb_client)
    for batch in plan_put_batches(items):
        database.put_items(domain, batch)


def bulky(name: str, attributes: int = 20) -> Item:
    """An item of about ``attributes`` KB, so that a few dozen fill several 1 MB Select pages."""
    return make_item(
        name, [(f"a{index:02d}", f"{name[:8]}-{index}-" + "x" * 1000) for index in range(attributes)]
    )


def versions(s3_client: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    answer = s3_client.list_object_versions(Bucket=bucket, Prefix=key)
    return [version for version in answer.get("Versions", []) if version["Key"] == key]


def dumped(s3_client: Any, bucket: str, version_id: str) -> Any:
    body = s3_client.get_object(Bucket=bucket, Key=dump_key(DOMAIN), VersionId=version_id)["Body"].read()
    return read_dump(io.BytesIO(body))


def backups(sdb_client: Any, s3_client: Any, bucket: str, **options: Any) -> BackupService:
    return BackupService(SimpleDB(sdb_client), BucketStore(s3_client, bucket), **options)


@pytest.fixture(autouse=True)
def _fresh_handler() -> Iterator[None]:
    handler = load_handler("backup")
    handler.settings.cache_clear()
    handler.backup_service.cache_clear()
    yield
    handler.settings.cache_clear()
    handler.backup_service.cache_clear()


# --- UTF-16 order -------------------------------------------------------------------------------------------

#: Names whose code point and UTF-16 orders differ: a character above U+FFFF beside one from U+E000 to U+FFFF.
COLLIDING = ["\ue000", "\U0010fffd", "\uffff", "\U00010000", "\ufffd", "\U0001f600"]


def utf16_domain() -> list[Item]:
    return [bulky(f"n-{group:03d}-{suffix}", 10) for group in range(60) for suffix in COLLIDING]


def test_names_in_utf16_order_back_up_and_restore_equal(sdb_client: Any, s3_client: Any, bucket: str) -> None:
    items = utf16_domain()  # 360 items of 10 KB: 4 MB, several streams
    fill(sdb_client, DOMAIN, items)
    sdblocal.controls.configure(utf16_order=True, select_page_items=40)
    result = backups(sdb_client, s3_client, bucket, segments=8).backup(DOMAIN, "manual", FOREVER)
    assert result.status == "complete"
    reader = dumped(s3_client, bucket, str(result.version_id))
    assert sorted(reader) == sorted(items)
    assert reader.trailer is not None
    assert reader.trailer.collation == "utf-16"
    assert len(reader.header.segments) > 1  # cut into cells, read by several streams

    answer = restore_service(sdb_client, s3_client, bucket).handle(
        request(action="restore", target_domain=NEW_DOMAIN, mode="exact", version_id=result.version_id),
        FOREVER,
    )
    assert answer["status"] == "complete", answer
    assert contents(sdb_client, NEW_DOMAIN) == {item.name: item.attributes for item in items}


# --- answers that break a rule --------------------------------------------------------------------------------


@pytest.fixture
def tamper_select_pages() -> Iterator[Any]:
    """``tamper(items, next_token_was_sent)`` changes the items of each Select page the backup function's
    adapter parsed, after the call (botocore's public ``after-call`` event); removed after the test, since the
    function's client outlives it."""
    client = load_handler("backup").backup_service().sdb.client
    registered: list[tuple[str, Any]] = []

    def install(tamper: Any) -> None:
        def sent(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["with_token"] = bool(params["body"].get("NextToken"))

        def received(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            if PARSED_ITEMS in parsed:
                parsed[PARSED_ITEMS] = tamper(parsed[PARSED_ITEMS], context.get("with_token", False))

        registered.extend([("before-call.sdb.Select", sent), ("after-call.sdb.Select", received)])
        for event, handler in registered[-2:]:
            client.meta.events.register(event, handler)

    yield install
    for event, handler in registered:
        client.meta.events.unregister(event, handler)


def failing_backup(capfd: pytest.CaptureFixture[str]) -> tuple[str, set[tuple[str, str]]]:
    """Run the handler expecting it to fail; its error and the (domain, metric) pairs it emitted."""
    with pytest.raises(BackupFailedError) as failure:
        invoke("backup", {"trigger": "manual", "domains": [DOMAIN]})
    emitted = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    metrics = {
        (record.get("domain"), name)
        for record in emitted
        if "_aws" in record
        for name in record
        if name.startswith("Backup") and record[name]
    }
    return str(failure.value), metrics


def nothing_published(s3_client: Any, bucket: str) -> None:
    assert versions(s3_client, bucket, dump_key(DOMAIN)) == []
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.usefixtures("backup_environment")
def test_an_item_without_attributes_fails_the_backup_loudly_and_publishes_nothing(
    sdb_client: Any, s3_client: Any, bucket: str, capfd: pytest.CaptureFixture[str], tamper_select_pages: Any
) -> None:
    fill(sdb_client, DOMAIN, [make_item(f"item-{index:03d}", [("n", str(index))]) for index in range(30)])

    def strip_one(items: list[Item], _: bool) -> list[Item]:
        return [Item(item.name, {}) if item.name == "item-017" else item for item in items]

    tamper_select_pages(strip_one)
    message, metrics = failing_backup(capfd)
    assert (
        "line 19 of the dump breaks the rule 'simpledb-limits': item 'item-017' has no attributes" in message
    )
    assert (DOMAIN, "BackupFailed") in metrics
    assert (DOMAIN, "BackupSucceeded") not in metrics
    nothing_published(s3_client, bucket)


@pytest.mark.usefixtures("backup_environment")
def test_an_item_repeated_on_the_next_page_fails_the_backup_loudly_and_publishes_nothing(
    sdb_client: Any, s3_client: Any, bucket: str, capfd: pytest.CaptureFixture[str], tamper_select_pages: Any
) -> None:
    fill(sdb_client, DOMAIN, [make_item(f"item-{index:03d}", [("n", str(index))]) for index in range(30)])
    sdblocal.controls.configure(select_page_items=10)
    previous: list[Item] = []

    def repeat_last(items: list[Item], with_token: bool) -> list[Item]:
        page = [previous[-1], *items] if with_token and previous else items
        previous[:] = items
        return page

    tamper_select_pages(repeat_last)
    message, metrics = failing_backup(capfd)
    assert (
        "line 12 of the dump breaks the rule 'ascending-names': item 'item-009' appears a second time"
        in message
    )
    assert (DOMAIN, "BackupFailed") in metrics
    nothing_published(s3_client, bucket)


# --- NextTokens and pages the service may send -----------------------------------------------------------------


def test_a_next_token_refused_once_still_completes(sdb_client: Any, s3_client: Any, bucket: str) -> None:
    items = [make_item(f"item-{index:03d}", [("n", str(index))]) for index in range(60)]
    fill(sdb_client, DOMAIN, items)
    sdblocal.controls.configure(select_page_items=7, expire_next_tokens=1)
    result = backups(sdb_client, s3_client, bucket).backup(DOMAIN, "manual", FOREVER)
    assert result.status == "complete"
    assert sdblocal.controls.settings()["expire_next_tokens"] == 0  # it was refused, and the run went on
    assert list(dumped(s3_client, bucket, str(result.version_id))) == items


@pytest.mark.usefixtures("backup_environment")
def test_next_tokens_refused_again_and_again_fail_the_backup_loudly(
    sdb_client: Any, s3_client: Any, bucket: str, capfd: pytest.CaptureFixture[str]
) -> None:
    fill(sdb_client, DOMAIN, [make_item(f"item-{index:03d}", [("n", str(index))]) for index in range(60)])
    sdblocal.controls.configure(select_page_items=2, expire_next_tokens=1000)
    message, metrics = failing_backup(capfd)
    assert (
        f"SimpleDB refused the NextToken of the Select over itemName() [None, None) of '{DOMAIN}'" in message
    )
    assert (DOMAIN, "BackupFailed") in metrics
    nothing_published(s3_client, bucket)


def test_empty_and_short_pages_with_a_next_token_are_followed_to_the_end(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = [bulky(f"{index:04x}" * 8, 10) for index in range(0, 0x10000, 0x10000 // 300)]
    fill(sdb_client, DOMAIN, items)
    sdblocal.controls.configure(empty_select_pages=3, empty_select_page_rate=0.2, seed=3, select_page_items=9)
    result = backups(sdb_client, s3_client, bucket, segments=8).backup(DOMAIN, "manual", FOREVER)
    assert sorted(dumped(s3_client, bucket, str(result.version_id))) == sorted(items)


# --- any names get the same parallelism ---------------------------------------------------------------------


def fresh_selects(client: Any) -> list[int]:
    """A counter of the Select calls sent without a NextToken: the queries the scan's runs began."""
    count = [0]

    def sent(params: dict[str, Any], **_: Any) -> None:
        count[0] += not params["body"].get("NextToken")

    client.meta.events.register("before-call.sdb.Select", sent)
    return count


def test_ordinary_names_get_as_many_streams_as_hex_digests(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    """Counted with the engine's calls, not timed: each run is one query begun (a Select without NextToken),
    and every Select call is a page."""
    runs, pages = {}, {}
    for domain, name in (
        ("hex-names", lambda index: hashlib.sha256(str(index).encode()).hexdigest()),
        ("user-names", lambda index: f"user-{index:06d}"),
    ):
        items = [bulky(name(index), 40) for index in range(500)]  # 20 MB: about 20 pages
        fill(sdb_client, domain, items)
        sdb = SimpleDB(sdb_client)
        begun = fresh_selects(sdb_client)
        sdblocal.controls.reset_counts()
        result = BackupService(sdb, BucketStore(s3_client, bucket), segments=16).backup(
            domain, "manual", FOREVER
        )
        assert result.items == 500
        runs[domain], pages[domain] = begun[0], sdblocal.controls.call_counts()["Select"]
        sdb_client.meta.events.unregister("before-call.sdb.Select")  # the counter goes with its domain
    # Both cut into as many runs up front (the two probes, then a run per ~4 pages the budget pays for); a
    # stream that finishes early may split one more, whichever names.
    assert min(runs.values()) >= 2 + 6
    assert abs(runs["user-names"] - runs["hex-names"]) <= 1
    assert max(pages.values()) <= 20 + 3 + 2  # the fewest pages, 3 more at most, and the estimate's slack


# --- retention in the publishing call ----------------------------------------------------------------------------


def test_retention_is_set_in_the_publishing_call(sdb_client: Any, s3_client: Any) -> None:
    s3_client.create_bucket(Bucket="locked-dumps", ObjectLockEnabledForBucket=True)
    s3_client.put_bucket_versioning(Bucket="locked-dumps", VersioningConfiguration={"Status": "Enabled"})
    fill(sdb_client, DOMAIN, [make_item("a", [("n", "1")])])
    calls: list[tuple[str, dict[str, Any]]] = []
    s3_client.meta.events.register(
        "before-call.s3", lambda model, params, **_: calls.append((model.name, params))
    )
    result = BackupService(
        SimpleDB(sdb_client), BucketStore(s3_client, "locked-dumps"), retention=Retention(3, "COMPLIANCE")
    ).backup(DOMAIN, "schedule", FOREVER)
    [copy] = [params for name, params in calls if name == "CopyObject"]
    assert copy["headers"]["x-amz-object-lock-mode"] == "COMPLIANCE"
    assert "x-amz-object-lock-retain-until-date" in copy["headers"]
    assert "PutObjectRetention" not in [name for name, _ in calls]  # no second step that could fail
    head = s3_client.head_object(Bucket="locked-dumps", Key=dump_key(DOMAIN), VersionId=result.version_id)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > head["LastModified"]


# --- a mistyped manual backup -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("backup_environment")
@pytest.mark.parametrize(
    ("event", "field", "message"),
    [
        ({"domains": ["pakages"]}, "domains", "domains ['pakages'] are not configured for backup"),
        ({"trigger": "sometimes"}, "trigger", "trigger: Input should be 'schedule' or 'manual'"),
        ({"domains": "packages"}, "domains", "domains: Input should be a valid list"),
        ({"domain": "packages"}, "domain", "domain: unknown field"),
    ],
)
def test_a_mistyped_manual_backup_is_refused_naming_the_configured_domains(
    sdb_client: Any,
    s3_client: Any,
    bucket: str,
    capfd: pytest.CaptureFixture[str],
    event: dict[str, Any],
    field: str,
    message: str,
) -> None:
    fill(sdb_client, DOMAIN, [make_item("a", [("n", "1")])])
    sdblocal.controls.reset_counts()
    [answer] = invoke("backup", event)  # an answer, not a Lambda error
    assert answer["status"] == "refused"
    assert message in answer["error"]
    assert answer["field"] == field
    assert answer["configured_domains"] == ["packages", "other-domain"]
    emitted = capfd.readouterr().out
    assert "BackupFailed" not in emitted
    assert sdblocal.controls.call_counts() == {}  # nothing read
    assert versions(s3_client, bucket, dump_key(DOMAIN)) == []
