"""Every command of `simpledb-backup --local`, readable and with --json, against the real handlers (moto with
the project's SimpleDB engine); --json prints exactly what the function answers; exit statuses."""

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from clihelpers import DOMAIN, CliRun, writes

import sdblocal
from localrun import LocalContext, function_output, load_handler
from repomandata import mutate_packages, simulate_accident
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.scan import scan_domain
from simpledb_backup.items import Attributes, Item
from simpledb_backup_cli.describe import describe_item

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

Run = Callable[..., CliRun]


def contents(sdb_client: Any, domain: str = DOMAIN) -> dict[str, Attributes]:
    return {
        item.name: item.attributes for page in scan_domain(SimpleDB(sdb_client), domain, 4) for item in page
    }


def answer_of(event: dict[str, Any]) -> dict[str, Any]:
    """The restore function's own answer to ``event``, invoked directly."""
    with function_output(io.StringIO()):
        answer: dict[str, Any] = load_handler("restore").lambda_handler(
            event, LocalContext(function_name="simpledb-backup-restore")
        )
    return answer


def backed_up(cli: Run) -> str:
    run = cli("--local", "backup", DOMAIN, "--json")
    assert run.status == 0, run.stderr
    version_id: str = json.loads(run.stdout)["dumps"][0]["version_id"]
    return version_id


def damage(sdb_client: Any, items: list[Item]) -> None:
    """New builds of some packages, then an accident: packages deleted and meta damaged."""
    changed = mutate_packages(sdb_client, DOMAIN, items, count=3, seed=1)
    current = sorted(item for page in scan_domain(SimpleDB(sdb_client), DOMAIN, 4) for item in page)
    simulate_accident(sdb_client, DOMAIN, current, delete_count=4, seed=2)
    assert changed


def shows_every_sample(answer: dict[str, Any], output: str) -> None:
    """Each sampled item of the answer appears in the output, described as describe_item describes it."""
    samples = answer["samples"] if "samples" in answer else answer["plan"]["samples"]
    shown = [sample for kind in samples.values() for sample in kind]
    assert shown
    for sample in shown:
        assert describe_item(sample).plain in output


def test_backup_writes_a_dump_and_shows_it(cli: Run, repoman_domain: list[Item], s3_client: Any) -> None:
    readable = cli("--local", "backup", DOMAIN)
    assert readable.status == 0, readable.stderr
    as_json = cli("--local", "backup", DOMAIN, "--json")
    assert as_json.status == 0
    answer = json.loads(as_json.stdout)  # stdout is the answer alone
    assert answer["status"] == "ok"
    [dump] = answer["dumps"]
    assert dump["domain"] == DOMAIN
    assert dump["items"] == len(repoman_domain)
    versions = s3_client.list_object_versions(Bucket="simpledb-backup-test", Prefix=f"dumps/{DOMAIN}/")
    version_ids = [version["VersionId"] for version in versions["Versions"]]
    assert dump["version_id"] in version_ids
    [first] = [version for version in version_ids if version != dump["version_id"]]
    assert first in readable.stdout
    assert "Dumps written" in readable.stdout


def test_list_shows_a_table_of_dumps_and_json_is_the_functions_answer(
    cli: Run, repoman_domain: list[Item]
) -> None:
    first, second = backed_up(cli), backed_up(cli)
    as_json = cli("--local", "list", DOMAIN, "--json")
    assert as_json.status == 0
    assert json.loads(as_json.stdout) == answer_of({"action": "list", "domain": DOMAIN})
    readable = cli("--local", "list", DOMAIN)
    assert readable.status == 0
    rows = [line for line in readable.stdout.splitlines() if first in line or second in line]
    assert [second in rows[0], first in rows[1]] == [True, True]  # newest first
    assert "latest" in rows[0]
    assert "latest" not in rows[1]
    assert f"{len(repoman_domain)}" in rows[0]


def test_plan_groups_the_changes_and_describes_each_sample(
    cli: Run, repoman_domain: list[Item], sdb_client: Any
) -> None:
    backed_up(cli)
    damage(sdb_client, repoman_domain)
    sdblocal.controls.reset_counts()
    as_json = cli("--local", "plan", DOMAIN, "--mode", "exact", "--json")
    assert as_json.status == 0
    answer = json.loads(as_json.stdout)
    assert answer == answer_of({"action": "plan", "domain": DOMAIN, "mode": "exact"})
    readable = cli("--local", "plan", DOMAIN, "--mode", "exact")
    assert readable.status == 0
    assert answer["message"] in readable.stdout
    for kind, count in answer["items"].items():
        if count and kind in answer["samples"]:
            assert f"{kind.capitalize()} ({count})" in readable.stdout
    shows_every_sample(answer, readable.stdout)
    assert writes() == {}  # a plan writes nothing


def test_a_subset_plan_sends_items_and_matches(cli: Run, repoman_domain: list[Item], sdb_client: Any) -> None:
    backed_up(cli)
    damage(sdb_client, repoman_domain)
    packages = [item for item in repoman_domain if item.name != "meta"]
    distribution = packages[0].attributes["distribution"][0]
    run = cli(
        "--local", "plan", DOMAIN, "--item", packages[0].name, "--item", packages[1].name,
        "--match", f"distribution={distribution}", "--json",
    )  # fmt: skip
    assert run.status == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer == answer_of(
        {
            "action": "plan",
            "domain": DOMAIN,
            "items": [packages[0].name, packages[1].name],
            "match": {"distribution": distribution},
        }
    )


def test_diff_of_last_night_names_the_changed_packages(
    cli: Run, repoman_domain: list[Item], sdb_client: Any
) -> None:
    backed_up(cli)
    mutate_packages(sdb_client, DOMAIN, repoman_domain, count=3, seed=1)
    backed_up(cli)
    as_json = cli("--local", "diff", DOMAIN, "--from", "previous", "--to", "latest", "--json")
    assert as_json.status == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    assert answer == answer_of({"action": "diff", "domain": DOMAIN, "from": "previous", "to": "latest"})
    assert answer["items"]["added"] == 3
    assert answer["items"]["removed"] == 3
    readable = cli("--local", "diff", DOMAIN, "--from", "previous", "--to", "latest")
    assert readable.status == 0
    shows_every_sample(answer, readable.stdout)


def test_restore_yes_restores_without_asking(cli: Run, repoman_domain: list[Item], sdb_client: Any) -> None:
    backed_up(cli)
    damage(sdb_client, repoman_domain)
    readable = cli("--local", "restore", DOMAIN, "--mode", "exact", "--yes")
    assert readable.status == 0, readable.stderr
    assert contents(sdb_client) == {item.name: item.attributes for item in repoman_domain}
    assert "Type the name" not in readable.stdout + readable.stderr
    assert "complete: restored packages" in readable.stdout
    assert "undo with: simpledb-backup --local undo packages --run-id restore-" in readable.stdout

    damage(sdb_client, repoman_domain)
    as_json = cli("--local", "restore", DOMAIN, "--mode", "exact", "--yes", "--json")
    assert as_json.status == 0
    answer = json.loads(as_json.stdout)
    assert answer["status"] == "complete"
    assert answer["verification"]["verified"] is True
    assert contents(sdb_client) == {item.name: item.attributes for item in repoman_domain}


def test_restore_asks_for_the_domain_name_and_a_wrong_one_writes_nothing(
    cli: Run, repoman_domain: list[Item], sdb_client: Any
) -> None:
    backed_up(cli)
    damage(sdb_client, repoman_domain)
    damaged = contents(sdb_client)
    for typed in ("pakages", "", None):
        sdblocal.controls.reset_counts()
        refused = cli("--local", "restore", DOMAIN, "--mode", "exact", typed=typed)
        assert refused.status == 3
        assert "Type the name of the domain to restore into (packages)" in refused.stdout
        assert "nothing was written" in refused.stderr
        assert writes() == {}
        assert contents(sdb_client) == damaged

    confirmed = cli("--local", "restore", DOMAIN, "--mode", "exact", typed=DOMAIN)
    assert confirmed.status == 0, confirmed.stderr
    assert confirmed.stdout.index("Type the name") < confirmed.stdout.index("complete: restored")
    assert contents(sdb_client) == {item.name: item.attributes for item in repoman_domain}


def test_restore_with_json_asks_on_stderr_and_prints_only_the_answer(
    cli: Run, repoman_domain: list[Item], sdb_client: Any
) -> None:
    backed_up(cli)
    damage(sdb_client, repoman_domain)
    run = cli("--local", "restore", DOMAIN, "--mode", "exact", "--json", typed=DOMAIN)
    assert run.status == 0
    assert json.loads(run.stdout)["status"] == "complete"
    assert "Type the name" in run.stderr
    assert "to create" in run.stderr  # the plan, for the person answering


def test_a_refused_restore_exits_3_with_the_functions_reason(cli: Run, repoman_domain: list[Item]) -> None:
    backed_up(cli)
    sdblocal.controls.reset_counts()
    readable = cli("--local", "restore", DOMAIN, "--version-id", "no-such-version", "--yes")
    assert readable.status == 3
    assert "refused (dump-not-found)" in readable.stdout
    assert "no-such-version" in readable.stdout
    as_json = cli("--local", "plan", DOMAIN, "--version-id", "no-such-version", "--json")
    assert as_json.status == 3
    assert json.loads(as_json.stdout) == answer_of(
        {"action": "plan", "domain": DOMAIN, "version_id": "no-such-version"}
    )
    assert writes() == {}


def test_status_and_undo_put_back_what_the_restore_replaced(
    cli: Run, repoman_domain: list[Item], sdb_client: Any
) -> None:
    backed_up(cli)
    damage(sdb_client, repoman_domain)
    damaged = contents(sdb_client)
    restored = json.loads(cli("--local", "restore", DOMAIN, "--mode", "exact", "--yes", "--json").stdout)
    run_id = restored["run_id"]

    as_json = cli("--local", "status", DOMAIN, "--run-id", run_id, "--json")
    assert as_json.status == 0
    status = json.loads(as_json.stdout)
    assert status == answer_of({"action": "status", "domain": DOMAIN, "run_id": run_id})
    readable = cli("--local", "status", DOMAIN, "--run-id", run_id)
    assert readable.status == 0
    assert f"safety backup: version {status['safety_backup']['version_id']}" in readable.stdout

    sdblocal.controls.reset_counts()
    declined = cli("--local", "undo", DOMAIN, "--run-id", run_id, typed="no")
    assert declined.status == 3
    assert writes() == {}
    undone = cli("--local", "undo", DOMAIN, "--run-id", run_id, typed=DOMAIN)
    assert undone.status == 0, undone.stderr
    assert f"source: dump {status['safety_backup']['version_id']}" in undone.stdout  # the plan of the undo
    assert contents(sdb_client) == damaged


def test_undo_of_a_run_without_safety_backup_is_refused(cli: Run, repoman_domain: list[Item]) -> None:
    backed_up(cli)
    new_domain = cli("--local", "restore", DOMAIN, "--target-domain", "restored-packages", "--yes", "--json")
    answer = json.loads(new_domain.stdout)
    assert answer["status"] == "complete"
    assert answer["safety_backup"] is None
    undo = cli("--local", "undo", DOMAIN, "--run-id", answer["run_id"], "--yes")
    assert undo.status == 3
    assert "took no safety backup to undo (the target is new)" in undo.stderr


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (("backup", "not-configured"), 3, "refused"),  # answered refused, naming the configured domains
        (("status", DOMAIN, "--run-id", "restore-20261126T030000Z-0123456789ab"), 3, "no restore run"),
        (("plan", DOMAIN, "--mode", "replace"), 2, "'replace' is not one of 'merge', 'exact'"),
        (("plan", DOMAIN, "--match", "distribution"), 2, "expected ATTRIBUTE=VALUE"),
        (("plan", DOMAIN, "--version-id", "v", "--as-of", "2026-01-01"), 2, "either 'version_id' or 'as_of'"),
        (("status", DOMAIN, "--run-id", "not-a-run"), 2, "run_id: String should match pattern"),
        (("--stack-name", "other", "list", DOMAIN), 2, "--local and --stack-name exclude each other"),
    ],
)
def test_exit_statuses_and_one_line_errors(
    cli: Run, repoman_domain: list[Item], arguments: tuple[str, ...], status: int, message: str
) -> None:
    run = cli("--local", *arguments)
    assert run.status == status
    assert message in run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
