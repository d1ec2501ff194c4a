"""One invocation per domain: each domain's schedule invokes the backup function with that domain alone
(template.yaml, one schedule per domain), so one domain's size, failure or timeout never delays or fails
another."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from restore_helpers import fill, original_domain  # "missing-domain" is configured and never created

from localrun import LocalContext, invoke, load_handler
from repomandata import repoman_domain_items
from simpledb_backup.aws import clients
from simpledb_backup.errors import BackupFailedError

EVENTS = Path(__file__).resolve().parents[2] / "events"
DOMAINS = ("packages", "big-domain", "missing-domain")


def schedule_input(domain: str) -> dict[str, Any]:
    """What a domain's schedule sends (events/backup-nightly.json, rendered for ``domain``)."""
    event: dict[str, Any] = json.loads((EVENTS / "backup-nightly.json").read_text())
    return {**event, "domains": [domain]}


@pytest.fixture
def three_domains(
    backup_environment: dict[str, str], aws: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("DOMAIN_NAMES", ",".join(DOMAINS))
    clients.sdb_client.cache_clear()
    clients.s3_client.cache_clear()
    clients.kms_client.cache_clear()
    handler = load_handler("backup")
    handler.settings.cache_clear()
    handler.backup_service.cache_clear()
    yield
    handler.settings.cache_clear()
    handler.backup_service.cache_clear()


@pytest.mark.usefixtures("three_domains")
def test_each_domain_is_backed_up_by_its_own_invocation_whatever_the_others_do(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    fill(sdb_client, "packages", original_domain())
    fill(sdb_client, "big-domain", list(repoman_domain_items(1500)))  # ~2 MB: several Select pages
    ticks = iter(range(10**6))

    def short() -> LocalContext:  # a 32 s timeout against a 30 s margin: about a page per invocation
        return LocalContext("simpledb-backup-backup", timeout_seconds=32, clock=lambda: next(ticks))

    with pytest.raises(BackupFailedError, match="missing-domain"):
        invoke("backup", schedule_input("missing-domain"))
    big = invoke("backup", schedule_input("big-domain"), context_factory=short)
    [small] = invoke("backup", schedule_input("packages"))

    assert len(big) > 1
    assert [answer["status"] for answer in big] == ["continued"] * (len(big) - 1) + ["ok"]
    assert all(
        answer["continues_with"] is None or answer["continues_with"]["domains"] == [] for answer in big
    )
    assert big[-1]["dumps"][0]["items"] == 1500
    assert small["status"] == "ok"
    assert small["dumps"][0]["items"] == len(original_domain())
    versions = s3_client.list_object_versions(Bucket=bucket, Prefix="dumps/").get("Versions", [])
    assert sorted(version["Key"] for version in versions) == [
        "dumps/big-domain/full.jsonl.gz",
        "dumps/packages/full.jsonl.gz",
    ]
