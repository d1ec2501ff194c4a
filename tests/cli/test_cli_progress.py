"""A restore that continues over several invocations: `simpledb-backup --local restore` runs the continuations
in the background, as Lambda would, polls `status` and shows how far the run is until it ends."""

import io
import itertools
import json
import re
from typing import Any

import pytest
from clihelpers import DOMAIN, Cli
from rich.console import Console

import sdblocal
from localrun import Invocations, LocalContext
from repomandata import fill_domain, repoman_domain_items
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.scan import scan_domain
from simpledb_backup.items import Item
from simpledb_backup_cli.functions import FunctionName, LocalFunctions

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

PROGRESS_LINE = re.compile(r"^(?P<phase>[a-z-]+): (?P<written>[\d,]+) of (?P<total>[\d,]+) items written")


def short_invocation(function: FunctionName) -> LocalContext:
    """Each invocation's clock advances 1 s per reading: with the 30 s margin and a 36 s timeout, every
    invocation gets about six readings before it hands over to the next one. Each has a clock of its own, so
    the status polls in between do not eat into a restore invocation's time."""
    return LocalContext(
        function_name=f"simpledb-backup-{function}", timeout_seconds=36, clock=itertools.count().__next__
    )


@pytest.fixture
def lost_domain(
    handlers: None, sdb_client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> list[Item]:
    """A 400-item domain that was backed up and then deleted."""
    items = list(repoman_domain_items(400))
    fill_domain(sdb_client, DOMAIN, items)
    backup = Cli(capsys, monkeypatch)("--local", "backup", DOMAIN, "--json")
    assert backup.status == 0
    sdb_client.delete_domain(DomainName=DOMAIN)
    sdblocal.controls.configure(latency_ms=15)
    yield items
    sdblocal.controls.reset()


def contents(sdb_client: Any) -> list[Item]:
    return sorted(item for page in scan_domain(SimpleDB(sdb_client), DOMAIN, 4) for item in page)


def test_the_progress_of_a_continued_restore_is_shown_until_it_ends(
    lost_domain: list[Item],
    sdb_client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Cli(capsys, monkeypatch, LocalFunctions(short_invocation))("--local", "restore", DOMAIN, "--yes")
    assert run.status == 0, run.stderr
    assert "complete: restored packages" in run.stdout
    assert contents(sdb_client) == sorted(lost_domain)

    # Without a terminal, a line each time the run's progress changes (on stderr: stdout is the answer).
    progress = [match for line in run.stderr.splitlines() if (match := PROGRESS_LINE.match(line))]
    written = [int(match["written"].replace(",", "")) for match in progress]
    assert len(progress) > 2
    assert written == sorted(written)
    assert written[0] < written[-1] == int(progress[-1]["total"].replace(",", "")) == len(lost_domain)
    assert "writing" in {match["phase"] for match in progress}


def test_a_terminal_gets_a_progress_bar(
    lost_domain: list[Item],
    sdb_client: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = io.StringIO()
    console = Console(file=terminal, force_terminal=True, width=120, color_system="standard")
    run = Cli(capsys, monkeypatch, LocalFunctions(short_invocation))(
        "--local", "restore", DOMAIN, "--yes", "--json", error_console=console
    )
    assert run.status == 0, run.stderr
    answer = json.loads(run.stdout)  # --json: the answer alone on stdout, the bar on the terminal
    assert answer["status"] == "complete"
    assert answer["invocations"] > 2
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.getvalue())
    assert f"{len(lost_domain)}/{len(lost_domain)} items written" in drawn
    assert "━" in drawn  # the bar
    assert contents(sdb_client) == sorted(lost_domain)


def test_following_a_parked_local_run_says_that_nothing_continues_it(
    lost_domain: list[Item], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first invocation of a restore whose continuation never runs (the command that started it ended).
    first = next(
        Invocations("restore", {"action": "restore", "domain": DOMAIN}, lambda: short_invocation("restore"))
    )
    assert first["status"] == "continued"
    run = Cli(capsys, monkeypatch)("--local", "status", DOMAIN, "--run-id", first["run_id"], "--wait")
    assert run.status == 3
    assert "the run is parked and nothing in this process continues it" in run.stderr
