"""Dropped connections on SimpleDB and S3 calls of both functions, through their handlers: nothing is lost,
and every configured domain is attempted whatever another domain met (README's promise)."""

import io
import json
from collections.abc import Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from restore_helpers import DOMAIN, as_dict, contents, fill, original_domain

from faults import NetworkFaults, read_timeout
from localrun import invoke, load_handler
from simpledb_backup.aws import clients
from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.s3store import BucketStore, ResumableBody
from simpledb_backup.errors import StorageError
from simpledb_backup.formats.dumpformat import read_dump

OTHER = "other-domain"


class EveryClientOf:
    """Stands for every client boto3's default session creates from now on for one service: botocore copies
    the session's event handlers into each new client, so faults registered here reach the handlers' clients."""

    def __init__(self, service: str) -> None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = boto3.DEFAULT_SESSION._session  # type: ignore[union-attr]
        self.meta = SimpleNamespace(
            events=session,
            service_model=SimpleNamespace(service_id=SimpleNamespace(hyphenize=lambda: service)),
        )


@pytest.fixture
def fresh_clients(backup_environment: dict[str, str], aws: None) -> Iterator[None]:
    def clear() -> None:
        clients.sdb_client.cache_clear()
        clients.s3_client.cache_clear()
        clients.kms_client.cache_clear()
        for function in ("backup", "restore"):
            load_handler(function).settings.cache_clear()
        load_handler("backup").backup_service.cache_clear()

    clear()
    boto3.setup_default_session()  # a session of this test's own, for its faults' handlers
    yield
    clear()
    boto3.DEFAULT_SESSION = None  # drop them


def dumped(s3_client: Any, bucket: str, domain: str) -> dict[str, Any]:
    body = s3_client.get_object(Bucket=bucket, Key=dump_key(domain))["Body"].read()
    return {item.name: item.attributes for item in read_dump(io.BytesIO(body))}


@pytest.mark.usefixtures("fresh_clients")
def test_a_backup_through_resets_on_simpledb_and_s3_dumps_every_domain_whole(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    fill(sdb_client, OTHER, original_domain()[:10])
    sdb, s3 = NetworkFaults(EveryClientOf("simpledb")), NetworkFaults(EveryClientOf("s3"))
    sdb.fail("DomainMetadata", calls=[1])
    sdb.fail("Select", calls=[1, 3], after_response=True)  # the page was read, its answer lost: read again
    s3.fail("CreateMultipartUpload", calls=[1])
    s3.fail("UploadPart", calls=[1], error=read_timeout)
    s3.fail("CopyObject", calls=[2])
    [answer] = invoke("backup", {"trigger": "manual"})
    assert answer["status"] == "ok"
    assert {dump["domain"] for dump in answer["dumps"]} == {DOMAIN, OTHER}
    assert len(sdb.injected) == 3
    assert len(s3.injected) == 3
    assert dumped(s3_client, bucket, DOMAIN) == as_dict(original_domain())
    assert dumped(s3_client, bucket, OTHER) == as_dict(original_domain()[:10])


@pytest.mark.usefixtures("fresh_clients")
def test_every_domain_is_attempted_whatever_the_first_one_met(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    fill(sdb_client, OTHER, original_domain()[:10])
    s3 = NetworkFaults(EveryClientOf("s3"))
    # Every attempt botocore makes for the first domain: it fails; the second domain's attempt goes through.
    s3.fail("CreateMultipartUpload", calls=range(1, clients.S3_ATTEMPTS + 1))
    handler = load_handler("backup")
    with pytest.raises(Exception, match="could not be reached"):
        invoke("backup", {"trigger": "manual"})
    assert handler is not None
    assert dumped(s3_client, bucket, OTHER) == as_dict(original_domain()[:10])


@pytest.mark.usefixtures("fresh_clients")
def test_a_restore_through_resets_on_simpledb_and_s3_ends_exact(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, DOMAIN, original_domain())
    [backed_up] = invoke("backup", {"trigger": "manual", "domains": [DOMAIN]})
    assert backed_up["status"] == "ok"
    sdb_client.delete_attributes(DomainName=DOMAIN, ItemName="a1")
    sdb_client.put_attributes(DomainName=DOMAIN, ItemName="zz", Attributes=[{"Name": "x", "Value": "1"}])
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    clients.kms_client.cache_clear()
    sdb, s3 = NetworkFaults(EveryClientOf("simpledb")), NetworkFaults(EveryClientOf("s3"))
    sdb.fail("BatchPutAttributes", calls=[1], after_response=True)
    sdb.fail("DeleteAttributes", calls=[1])
    sdb.fail("Select", calls=[2])
    s3.fail("GetObject", calls=[1, 2])
    s3.fail("PutObject", calls=[1, 3], error=read_timeout)
    [answer] = invoke("restore", {"action": "restore", "domain": DOMAIN, "mode": "exact", "confirm": DOMAIN})
    assert answer["status"] == "complete", answer
    assert answer["verification"]["verified"] is True
    assert sdb.injected
    assert s3.injected
    assert contents(sdb_client, DOMAIN) == as_dict(original_domain())


# --- a download that breaks while it streams -------------------------------------------------------------------


class BreakingBody:
    """A streaming body that raises a read timeout once ``fail_at`` bytes were read."""

    def __init__(self, data: bytes, fail_at: int | None) -> None:
        self.stream, self.fail_at = io.BytesIO(data), fail_at

    def read(self, size: int = -1) -> bytes:
        if self.fail_at is not None and self.stream.tell() >= self.fail_at:
            raise ReadTimeoutError(endpoint_url="http://s3", error=TimeoutError("read timed out"))
        if self.fail_at is not None and size > 0:
            size = min(size, self.fail_at - self.stream.tell())
        return self.stream.read(size)

    def close(self) -> None:
        pass


class FlakyS3:
    """get_object answers ``data`` from the Range asked for; the first ``breaks`` bodies break mid-way."""

    def __init__(self, data: bytes, breaks: int) -> None:
        self.data, self.breaks, self.requests = data, breaks, []

    def get_object(self, **arguments: Any) -> dict[str, Any]:
        self.requests.append(arguments)
        offset = int(arguments.get("Range", "bytes=0-").removeprefix("bytes=").rstrip("-"))
        fail_at = 1000 if self.breaks > 0 else None
        self.breaks -= 1
        return {"Body": BreakingBody(self.data[offset:], fail_at), "VersionId": "v1"}


def test_a_download_that_breaks_resumes_on_the_same_version_from_where_it_stopped() -> None:
    data = bytes(range(256)) * 40
    client = FlakyS3(data, breaks=3)
    with BucketStore(client, "bucket").open("dumps/x", "v1") as body:
        assert body.read() == data
    assert [request.get("Range") for request in client.requests] == [
        None,
        "bytes=1000-",
        "bytes=2000-",
        "bytes=3000-",
    ]
    assert {request["VersionId"] for request in client.requests} == {"v1"}


def test_a_download_that_keeps_breaking_fails_with_a_storage_error() -> None:
    client = FlakyS3(b"x" * 100_000, breaks=100)
    with (
        pytest.raises(StorageError, match="kept breaking"),
        BucketStore(client, "bucket").open("k", "v") as body,
    ):
        body.read()


def test_a_resumable_body_is_a_raw_stream() -> None:
    assert issubclass(ResumableBody, io.RawIOBase)
    assert json.dumps({"ok": True})
    assert isinstance(load_handler("restore"), ModuleType)
