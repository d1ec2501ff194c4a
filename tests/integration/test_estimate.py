"""The restore function's ``estimate`` action: reads the domain's metadata and times a few small Selects, writes
nothing, and answers the capacity model's prediction for the deployed settings."""

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from restore_helpers import DOMAIN, fill, writes

import sdblocal
from localrun import LocalContext, load_handler
from repomandata import repoman_domain_items
from simpledb_backup.aws import clients
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.capacity import Deployment, Latency, UnitCosts, estimate_backup
from simpledb_backup.config import Settings
from simpledb_backup.errors import InvalidRequestError
from simpledb_backup.events import EstimateRequest, parse_restore_request
from simpledb_backup.restore.estimate import CapacityEstimator, FunctionLimits

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

EVENT = json.loads((Path(__file__).resolve().parents[2] / "events" / "restore-estimate.json").read_text())


@pytest.fixture
def handler(backup_environment: dict[str, str], aws: None) -> Iterator[ModuleType]:
    module = load_handler("restore")
    for cached in (module.settings, clients.sdb_client, clients.s3_client):
        cached.cache_clear()
    yield module
    for cached in (module.settings, clients.sdb_client, clients.s3_client):
        cached.cache_clear()


def test_the_handler_estimates_a_backup_and_a_restore_without_writing(
    handler: ModuleType, sdb_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")
    fill(sdb_client, DOMAIN, repoman_domain_items(300))
    sdblocal.controls.reset_counts()
    answer = handler.lambda_handler(EVENT, LocalContext(function_name="simpledb-backup-restore"))
    json.dumps(answer)
    assert answer["status"] == "ok"
    assert answer["metadata"]["item_count"] == 300
    assert answer["latency_ms"]["measured"] is True
    assert answer["settings"] == {
        "segments": 4,
        "restore_workers": 4,
        "memory_mb": 2048,
        "timeout_seconds": 900.0,
        "continuation_margin_seconds": 30.0,
    }
    assert set(answer["backup"]) >= {
        "seconds",
        "invocations",
        "select_pages",
        "streams",
        "lambda_gb_seconds",
        "cost_usd",
    }
    assert set(answer["restore"]) >= {
        "seconds",
        "invocations",
        "write_calls",
        "lambda_gb_seconds",
        "cost_usd",
    }
    assert answer["restore"]["write_calls"] == 12  # 300 items, 25 a call
    assert answer["backup"]["invocations"] == answer["restore"]["invocations"] == 1
    assert answer["assumptions"]
    assert {step["function"] for step in answer["next"]} == {"backup", "restore"}
    counts = sdblocal.controls.call_counts()
    assert counts == {"DomainMetadata": 1, "Select": 3}
    assert writes() == {}


def test_a_given_latency_is_used_instead_of_measured(sdb_client: Any) -> None:
    fill(sdb_client, DOMAIN, repoman_domain_items(50))
    settings = Settings(backup_bucket="bucket", domain_names=(DOMAIN,), segments=4, restore_workers=8)
    estimator = CapacityEstimator(SimpleDB(sdb_client), settings, FunctionLimits(memory_mb=1769))
    sdblocal.controls.reset_counts()
    answer = estimator.estimate(EstimateRequest(action="estimate", domain=DOMAIN, latency_ms=250.0))
    assert answer["latency_ms"] == {"select": 250.0, "write": 250.0, "measured": False}
    assert sdblocal.controls.call_counts() == {"DomainMetadata": 1}
    metadata = SimpleDB(sdb_client).domain_metadata(DOMAIN)
    expected = estimate_backup(
        metadata,
        Latency(250.0, 250.0),
        Deployment(4, 8, memory_mb=1769, margin_seconds=90.0),
        UnitCosts(),
    )
    assert answer["backup"]["seconds"] == round(expected.seconds, 1)
    assert answer["backup"]["select_pages"] == expected.select_pages


def test_only_a_configured_domain_is_estimated(sdb_client: Any) -> None:
    settings = Settings(backup_bucket="bucket", domain_names=(DOMAIN,))
    estimator = CapacityEstimator(SimpleDB(sdb_client), settings)
    with pytest.raises(InvalidRequestError, match="not a configured domain"):
        estimator.estimate(EstimateRequest(action="estimate", domain="other-domain"))


def test_the_event_parses_and_a_latency_must_be_positive() -> None:
    assert parse_restore_request(EVENT) == EstimateRequest(action="estimate", domain=DOMAIN)
    with pytest.raises(InvalidRequestError, match="latency_ms"):
        parse_restore_request({**EVENT, "latency_ms": 0})


def test_lambda_says_the_memory() -> None:
    assert FunctionLimits.from_environment({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008"}).memory_mb == 3008
    assert FunctionLimits.from_environment({}) == FunctionLimits(1024, 900.0)
