"""The readable output and the events, pure: answers shaped as docs/ANSWERS.md gives them (packages named by
name, version, distribution, component and architecture; before and after for updates), and the requests the
options make."""

import io
from typing import Any

import pytest
from rich.console import Console, RenderableType

from simpledb_backup_cli import render
from simpledb_backup_cli.describe import change_lines, describe_item
from simpledb_backup_cli.errors import CliError
from simpledb_backup_cli.progress import RunProgress, run_progress
from simpledb_backup_cli.requests import (
    RestoreSpec,
    diff_request,
    match_values,
    plan_request,
    restore_request,
    source_reference,
    wire_event,
)

ZLIB = {
    "item": "72c670bb8a20",
    "package": "zlib1g",
    "version": "1:1.2.13.dfsg-1",
    "distribution": "stable",
    "component": "main",
    "architecture": "amd64",
}
LIBC_UPDATE = {
    "item": "449fa79beb4f",
    "package": "libc6",
    "version": "2.36-9+deb12u4",
    "distribution": "stable",
    "component": "main",
    "architecture": "arm64",
    "changes": {
        "version": {"before": ["2.36-9+deb12u3"], "after": ["2.36-9+deb12u4"]},
        "control text": {"before": "1204 chars", "after": "1210 chars"},
    },
}
META_UPDATE = {
    "item": "meta",
    "meta": {"dists": ["stable", "testing"], "comps": ["main"], "archs": ["amd64", "arm64"]},
    "meta_changes": {"dists": {"added": ["testing"], "removed": ["sid"]}},
    "changes": {"dists": {"before": ["stable", "sid"], "after": ["stable", "testing"]}},
}
OTHER = {"item": "user-17", "attributes": {"email": "a@example.org", "role": "admin"}}


def text(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(renderable)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def test_items_are_described_in_the_domains_terms() -> None:
    assert describe_item(ZLIB).plain == "zlib1g 1:1.2.13.dfsg-1 stable/main/amd64"
    assert describe_item("72c670bb8a20").plain == "72c670bb8a20"  # a bare name stays a name
    assert describe_item(OTHER).plain == "user-17  email=a@example.org, role=admin"
    assert describe_item(META_UPDATE).plain == "meta: dists stable, testing; comps main; archs amd64, arm64"
    assert [line.plain for line in change_lines(LIBC_UPDATE)] == [
        "version: 2.36-9+deb12u3 → 2.36-9+deb12u4",
        "control text: 1204 chars → 1210 chars",
    ]
    assert [line.plain for line in change_lines(META_UPDATE)] == [
        "dists: stable, sid → stable, testing",
        "dists: +testing -sid ",
    ]
    assert change_lines({"item": "x", "changes": {"tags": {"before": [], "after": ["a"]}}})[0].plain == (
        "tags: (none) → a"
    )


def test_a_plan_is_grouped_by_change_with_before_and_after() -> None:
    plan = {
        "action": "plan",
        "status": "planned",
        "mode": "merge",
        "message": "merge restore of packages into packages: 12 to create, 2 to update, ...",
        "source": {"kind": "dump", "key": "dumps/packages/full.jsonl.gz", "version_id": "v2",
                   "time": "2026-11-26T03:00:00+00:00", "items": 296, "trigger": "schedule", "latest": True},
        "items": {"create": 12, "update": 2, "delete": 0, "unchanged": 280, "kept_not_in_dump": 1},
        "attributes": {"added": 1, "changed": 3},
        "samples": {"create": [ZLIB], "update": [LIBC_UPDATE, META_UPDATE], "keep": [OTHER]},
        "sample_names": {"create": ["72c670bb8a20"]},
    }  # fmt: skip
    shown = text(render.plan_view(plan))
    assert "source: dump v2 (2026-11-26 03:00:00 UTC, 296 items, trigger schedule, latest)" in shown
    order = [shown.index(heading) for heading in ("Create (12)", "Update (2)", "Keep (in the target")]
    assert order == sorted(order)
    assert "  + zlib1g 1:1.2.13.dfsg-1 stable/main/amd64" in shown
    assert "… and 11 more" in shown
    assert "  ~ libc6 2.36-9+deb12u4 stable/main/arm64" in shown
    assert "      version: 2.36-9+deb12u3 → 2.36-9+deb12u4" in shown
    assert "  = user-17  email=a@example.org, role=admin" in shown
    assert "attributes: 1 added, 3 changed" in shown


def test_a_diff_names_both_ends() -> None:
    diff = {
        "action": "diff",
        "status": "ok",
        "domain": "packages",
        "from": {"kind": "dump", "version_id": "v1", "time": "2026-11-25T03:00:00Z", "items": 296,
                 "trigger": "schedule"},
        "to": {"kind": "live", "domain": "packages"},
        "items": {"added": 1, "changed": 1, "removed": 0, "unchanged": 295},
        "samples": {"added": [ZLIB], "changed": [LIBC_UPDATE], "removed": []},
        "message": "1 added, 1 changed since dump v1",
    }  # fmt: skip
    shown = text(render.diff_view(diff))
    assert "from: dump v1 (2026-11-25 03:00:00 UTC, 296 items, trigger schedule)" in shown
    assert "to:   the live domain packages" in shown
    assert "Added (1)" in shown
    assert "Changed (1)" in shown
    assert "Removed" not in shown.split("Unchanged")[1]  # no samples: no section
    assert "      control text: 1204 chars → 1210 chars" in shown


def test_the_list_marks_latest_pre_restore_and_subset_dumps() -> None:
    listing = {
        "action": "list",
        "status": "ok",
        "domain": "packages",
        "dumps": [
            {"version_id": "v3", "time": "2026-11-26T09:00:00+00:00", "items": 271, "size_bytes": 123_456,
             "trigger": "pre-restore", "latest": False, "kind": "full", "pre_restore": True},
            {"version_id": "v2", "time": "2026-11-26T03:00:00+00:00", "items": 296, "size_bytes": 126_288,
             "trigger": "schedule", "latest": True, "kind": "full", "pre_restore": False},
            {"version_id": "s1", "time": "2026-11-26T04:00:00+00:00", "items": 40, "size_bytes": 900,
             "trigger": "manual", "latest": True, "kind": "subset", "label": "stable",
             "where": "`distribution` = 'stable'", "pre_restore": False},
        ],
    }  # fmt: skip
    rows = {line.split()[0]: line for line in text(render.dumps_view(listing)).splitlines() if line.split()}
    assert "pre-restore safety backup" in rows["v3"]
    assert "latest" not in rows["v3"]
    assert "latest" in rows["v2"]
    assert "120.6 KB" in rows["v3"]
    assert "subset stable where `distribution` = 'stable'" in rows["s1"]


def test_progress_comes_from_the_answer_or_else_from_its_plan_and_writes() -> None:
    contract = {"status": "continued", "phase": "writing",
                "progress": {"phase": "writing", "items_to_write": 300, "items_written": 120, "elapsed_seconds": 42}}  # fmt: skip
    assert run_progress(contract) == RunProgress("writing", 300, 120, 42.0)
    counted = {
        "status": "continued",
        "phase": "writing",
        "plan": {"items": {"create": 100, "update": 20, "delete": 5, "unchanged": 9}},
        "written": {"items_written": 50, "items_deleted": 5},
        "duration_seconds": 3.5,
    }
    assert run_progress(counted) == RunProgress("writing", 125, 55, 3.5)


def test_the_options_make_the_functions_events() -> None:
    spec = RestoreSpec(
        domain="packages",
        as_of="2026-11-26T03:00:00Z",
        mode="exact",
        target_domain="restored-packages",
        items=("a1", "b1"),
        match=("distribution=stable", "component=main"),
    )
    assert wire_event(restore_request(spec, confirm="restored-packages")) == {
        "domain": "packages",
        "action": "restore",
        "as_of": "2026-11-26T03:00:00Z",
        "target_domain": "restored-packages",
        "mode": "exact",
        "items": ["a1", "b1"],
        "match": {"distribution": "stable", "component": "main"},
        "confirm": "restored-packages",
    }
    assert wire_event(plan_request(RestoreSpec(domain="packages"))) == {
        "domain": "packages",
        "action": "plan",
    }
    with pytest.raises(CliError, match="give either 'version_id' or 'as_of', not both"):
        plan_request(RestoreSpec(domain="packages", version_id="v", as_of="2026-01-01"))
    with pytest.raises(CliError, match="domain: invalid domain name 'x'"):
        plan_request(RestoreSpec(domain="x"))


def test_diff_ends_and_matches_are_read_from_the_command_line() -> None:
    assert source_reference("previous") == "previous"
    assert source_reference("live") == "live"
    assert source_reference("2026-11-26") == {"as_of": "2026-11-26"}
    assert source_reference("2026-11-26T03:00:00Z") == {"as_of": "2026-11-26T03:00:00Z"}
    assert source_reference("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY") == {
        "version_id": "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    }
    assert match_values(("distribution=stable", "note=a=b")) == {"distribution": "stable", "note": "a=b"}
    with pytest.raises(CliError, match="given twice"):
        match_values(("distribution=stable", "distribution=testing"))


def test_the_diff_event_is_the_contracts() -> None:
    event: dict[str, Any] = wire_event(diff_request("packages", "previous", "latest", None))
    assert event == {"action": "diff", "domain": "packages", "from": "previous", "to": "latest"}
    by_version = wire_event(diff_request("packages", "v1", "2026-11-26T03:00:00Z", 3))
    assert by_version["from"] == {"version_id": "v1"}
    assert by_version["to"]["as_of"].startswith("2026-11-26T03:00:00")
    assert by_version["sample_size"] == 3


RUN = "restore-20261126T030000Z-0123456789ab"


def test_runs_are_listed_with_their_state_and_progress() -> None:
    from simpledb_backup_cli.views import answer_view

    answer = {
        "action": "runs",
        "status": "ok",
        "domain": "packages",
        "runs": [
            {
                "run_id": RUN,
                "state": "stalled",
                "phase": "writing",
                "started_at": "2026-11-26T03:00:00+00:00",
                "updated_at": "2026-11-26T03:14:00+00:00",
                "heartbeat_at": "2026-11-26T03:14:00+00:00",
                "items_to_write": 5000,
                "items_written": 1234,
                "source": {"kind": "dump", "version_id": "v1", "time": "2026-11-25T03:00:00+00:00"},
            },
            {"run_id": "restore-20261125T030000Z-abcdefabcdef", "state": "complete", "phase": "done"},
        ],
        "more": 3,
    }
    shown = text(answer_view(answer))
    assert RUN in shown  # never shortened: it is what --resume takes
    assert "stalled" in shown
    assert "complete" in shown
    assert "1,234 of 5,000" in shown
    assert "2026-11-26 03:14:00 UTC" in shown
    assert "dump v1" in shown
    assert "… and 3 older run(s)" in shown
    assert "no restore runs of packages" in text(
        answer_view({"action": "runs", "status": "ok", "domain": "packages", "runs": []})
    )


def test_an_estimate_shows_time_invocations_calls_and_cost() -> None:
    from simpledb_backup_cli.views import answer_view

    answer = {
        "action": "estimate",
        "status": "ok",
        "domain": "packages",
        "metadata": {"item_count": 296000, "attribute_value_count": 4140000},
        "latency_ms": {"select": 12.0, "write": 30.0, "measured": True},
        "backup": {
            "seconds": 95.0,
            "invocations": 1,
            "select_pages": 1200,
            "streams": 4,
            "lambda_gb_seconds": 95.0,
            "cost_usd": 0.0016,
        },
        "restore": {
            "seconds": 5400.0,
            "invocations": 7,
            "write_calls": 11840,
            "lambda_gb_seconds": 5400.0,
            "cost_usd": 0.09,
        },
        "assumptions": ["SimpleDB answers each write in 30 ms"],
    }
    shown = text(answer_view(answer))
    assert "Estimate for packages" in shown
    assert "item count 296,000" in shown
    assert "latency per call (measured): select 12.0 ms, write 30.0 ms" in shown
    assert "95 s" in shown
    assert "90.0 min" in shown
    assert "11,840" in shown
    assert "0.0016" in shown
    assert "assumes: SimpleDB answers each write in 30 ms" in shown


def test_a_status_shows_its_state_and_next_steps_as_commands() -> None:
    from simpledb_backup_cli.commands import CommandLine
    from simpledb_backup_cli.views import answer_view

    answer = {
        "action": "restore",
        "status": "continued",
        "state": "stalled",
        "stalled_since": "2026-11-26T03:14:00Z",
        "heartbeat_at": "2026-11-26T03:14:00Z",
        "run_id": RUN,
        "domain": "packages",
        "target_domain": "restored-packages",
        "phase": "writing",
        "samples_omitted": {"create": 12},
        "next": [
            {
                "say": "Resume it.",
                "function": "restore",
                "event": {
                    "action": "restore",
                    "domain": "packages",
                    "target_domain": "restored-packages",
                    "run_id": RUN,
                },
            },
            {
                "say": "Back up by hand.",
                "function": "backup",
                "event": {"trigger": "manual", "resume_run_id": "x", "domains": []},
            },
            {"say": "Too large to show."},
        ],
    }
    shown = text(answer_view(answer, CommandLine(("--local",))))
    assert "state: stalled (since 2026-11-26 03:14:00 UTC: nothing runs it" in shown
    assert "last heartbeat: 2026-11-26 03:14:00 UTC" in shown
    assert (
        f"$ simpledb-backup --local restore packages --resume {RUN} --target-domain restored-packages"
        in shown
    )
    assert (
        'invoke the backup function with {"trigger": "manual", "resume_run_id": "x", "domains": []}' in shown
    )
    assert "Too large to show." in shown
    assert "samples left out to keep the answer under Lambda's size limit: 12 create" in shown
    # Without next steps, a stalled run still says how to resume it.
    del answer["next"]
    assert (
        f"resume it with: simpledb-backup restore packages --resume {RUN} --target-domain restored-packages"
        in text(answer_view(answer))
    )


def test_a_refusal_names_the_configured_domains() -> None:
    from simpledb_backup_cli.views import answer_view

    refused = {
        "status": "refused",
        "error": {"kind": "invalid-request", "message": "domain: 'pakages' is not configured"},
        "configured_domains": ["packages", "users"],
    }
    shown = text(answer_view(refused))
    assert "refused (invalid-request): domain: 'pakages' is not configured" in shown
    assert "configured domains: packages, users" in shown


def test_unlock_says_which_lock_it_removed_and_which_run_ends() -> None:
    from simpledb_backup_cli.views import answer_view

    answer = {
        "action": "unlock",
        "status": "ok",
        "domain": "packages",
        "removed": {
            "target_domain": "packages",
            "readable": True,
            "run_id": RUN,
            "taken_at": "2026-11-26T03:00:00Z",
        },
        "run": {
            "run_id": RUN,
            "state": "stalled",
            "phase": "writing",
            "items_to_write": 300,
            "items_written": 120,
        },
        "message": f"removed the restore lock of packages held by run {RUN}",
    }
    shown = text(answer_view(answer))
    assert f"ok: removed the restore lock of packages held by run {RUN}" in shown
    assert f"removed the lock of packages (run {RUN}, taken 2026-11-26 03:00:00 UTC)" in shown
    assert f"run {RUN}: stalled, writing, 120 of 300 item writes made" in shown
