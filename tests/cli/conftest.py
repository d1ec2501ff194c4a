"""Fixtures of the command-line tests: fresh handler containers, a Repoman-shaped domain, the CLI in-process."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from clihelpers import DOMAIN, Cli, CliRun, fresh_containers

from repomandata import fill_domain, repoman_domain_items
from simpledb_backup.items import Item


@pytest.fixture
def handlers(backup_environment: dict[str, str], aws: None) -> Iterator[None]:
    fresh_containers()
    yield
    fresh_containers()


@pytest.fixture
def repoman_domain(handlers: None, sdb_client: Any) -> list[Item]:
    """A Repoman-shaped ``packages`` domain: meta and 59 real Debian packages."""
    items = list(repoman_domain_items(60))
    fill_domain(sdb_client, DOMAIN, items)
    return items


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, handlers: None
) -> Callable[..., CliRun]:
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping: lines as the function's messages have them
    return Cli(capsys, monkeypatch)
