"""A corpus of malformed and hostile inputs (tests/hostile/corpus.py: events, dumps, Repoman backup files and
native exports), each run through the restore function's handler as ``plan`` and as a confirmed ``restore``
against a target domain that already holds items. Every one must answer ``"status": "refused"`` with a
message naming the field or the limit, and the engine's call counts must show zero SimpleDB writes.

One local AWS serves a whole module (per xdist worker): the domain and a good dump are made once, and each
case clears imports/ and uploads its own objects, so the corpus runs in seconds.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from restore_helpers import DOMAIN, as_dict, contents, dump, fill, package, writes

import sdblocal
from hostile.corpus import CASES, Case
from localrun import ROOT, invoke, load_handler
from simpledb_backup.aws import clients
from simpledb_backup.items import Item
from statekey import LOCAL_STATE_KEY_ALIAS, create_state_key

TEMPLATE = ROOT / "template.yaml"

BUCKET = "simpledb-backup-test"  # the shared fixtures' bucket (tests/conftest.py)
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ACTIONS = ("plan", "restore")
ENVIRONMENT = {
    "BACKUP_BUCKET": BUCKET,
    "DOMAIN_NAMES": "packages,other-domain",
    "BACKUP_SEGMENTS": "4",
    "RESTORE_WORKERS": "4",
    "RESTORE_TARGET_PATTERN": "restored-*",
    "CONTINUATION_MARGIN_SECONDS": "30",
    "STATE_KEY_ID": LOCAL_STATE_KEY_ALIAS,
}


@dataclass
class World:
    sdb: Any
    s3: Any


def live_items() -> list[Item]:
    return [
        package("a1", name="alpha", version="1.0", distribution="stable"),
        package("b1", name="beta", version="2.0", distribution="stable", tags=["x", "y"]),
        package("meta", dists=["stable"], comps="main", archs="amd64"),
    ]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """The restore function's environment (as tests/conftest.py's backup_environment gives it), a bucket,
    the target domain holding items, and one good dump of it."""
    import boto3
    import moto
    from botocore.config import Config

    with pytest.MonkeyPatch.context() as patch:
        for name, value in ENVIRONMENT.items():
            patch.setenv(name, value)
        sdblocal.activate()
        with moto.mock_aws():
            sdblocal.controls.reset()
            sdb = boto3.client("sdb", config=Config(retries={"total_max_attempts": 1}))
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            create_state_key(boto3.client("kms"), LOCAL_STATE_KEY_ALIAS, TEMPLATE)
            s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
            fill(sdb, DOMAIN, live_items())
            dump(sdb, s3, BUCKET)  # a good dump exists: "latest" and as_of have something to find
            handler = load_handler("restore")
            fresh_container(handler)
            yield World(sdb, s3)
            fresh_container(handler)
            sdblocal.controls.reset()


def fresh_container(handler: Any) -> None:
    handler.settings.cache_clear()
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    clients.kms_client.cache_clear()


def clear_imports(s3: Any) -> None:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="imports/").get("Contents", [])
    if listed:
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": entry["Key"]} for entry in listed]})


def test_the_corpus_is_large_and_covers_every_source() -> None:
    assert len(CASES) >= 150
    assert len({case.id for case in CASES}) == len(CASES)
    kinds = {
        kind: sum(case.kind == kind for case in CASES)
        for kind in ("event", "dump", "repoman", "native-export")
    }
    assert min(kinds.values()) >= 40, kinds


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_hostile_input_is_refused_and_writes_nothing(world: World, case: Case, action: str) -> None:
    clear_imports(world.s3)
    upload = case.upload()
    version_id = None
    for key, body in upload.objects.items():
        answer = world.s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=upload.metadata.get(key, {}))
        version_id = answer.get("VersionId")
    sdblocal.controls.reset_counts()

    answers: list[dict[str, Any]] = invoke("restore", case.event(action, version_id))

    assert len(answers) == 1
    answer = answers[0]
    assert answer["status"] == "refused", answer
    message = answer["error"]["message"]
    assert re.search(case.expect, message), f"{message[:2000]!r} does not match {case.expect!r}"
    assert writes() == {}
    assert contents(world.sdb, DOMAIN) == as_dict(live_items())
