"""Issue 11's findings 1 to 4, reproduced against moto with the project's SimpleDB engine and shown fixed, and
the progress a long restore reports.

1. Plans spoke in hashes: now every sample names the package (name, version, distribution, component,
   architecture) or the meta item's distributions, components and architectures, for every kind of change.
2. After a restore, "latest" meant the pre-restore safety dump in list, in the converter and in the item-drop
   baseline: now it is the newest schedule or manual dump everywhere.
3. Subset dumps were dead ends: now they are listed, plannable and restorable by version id (an exact restore
   removes extra items only inside the subset) and convertible.
4. A bucket without versioning was accepted: now the backup refuses it before writing anything.
"""

import functools
import importlib.util
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from restore_helpers import DOMAIN, contents, dump, fill, forever, request, runs_out_after, service, writes

import sdblocal
from repomandata import (
    delete_items,
    mutate_packages,
    repoman_domain_items,
    simulate_accident,
)
from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.s3store import BucketStore
from simpledb_backup.aws.simpledb import SimpleDB
from simpledb_backup.backup.request import run_backup_request
from simpledb_backup.backup.service import BackupService
from simpledb_backup.events import BackupEvent
from simpledb_backup.formats.repoman import (
    KEY_ATTRIBUTES,
    META_ITEM_NAME,
    items_from_repoman_stream,
    repoman_item_name,
)
from simpledb_backup.items import Item

PACKAGE_FIELDS = ("package", "version", "distribution", "component", "architecture")
STABLE = "`distribution` = 'stable'"


def package_terms(item: Item) -> dict[str, str]:
    """What a description of a Repoman package must say: the item's own key attributes."""
    return {"item": item.name} | {
        field: item.attributes[attribute][0]
        for attribute, field in zip(KEY_ATTRIBUTES, PACKAGE_FIELDS, strict=True)
    }


def by_item(descriptions: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {description["item"]: description for description in descriptions}


def backups(sdb_client: Any, s3_client: Any, bucket: str) -> BackupService:
    return BackupService(SimpleDB(sdb_client), BucketStore(s3_client, bucket), segments=4)


@functools.cache
def dump_to_repoman() -> Any:
    path = Path(__file__).resolve().parents[2] / "scripts" / "dump_to_repoman.py"
    spec = importlib.util.spec_from_file_location("dump_to_repoman_for_findings", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- finding 1: plans in the domain's terms ----------------------------------------------------------------


@pytest.fixture
def damaged_repository(sdb_client: Any, s3_client: Any, bucket: str) -> dict[str, Any]:
    """A Repoman domain of 19 packages and meta, dumped; then 3 packages deleted, meta damaged (a distribution
    and the origin dropped) and 2 packages replaced by new builds."""
    items = list(repoman_domain_items(20))
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    accident = simulate_accident(sdb_client, DOMAIN, items, delete_count=3, seed=3)
    untouched = [item for item in items if item not in accident.deleted and item.name != META_ITEM_NAME]
    rebuilt = mutate_packages(sdb_client, DOMAIN, untouched, count=2, seed=4)
    return {"items": items, "accident": accident, "rebuilt": rebuilt}


def test_finding_1_a_plan_names_packages_for_every_kind_of_change(
    damaged_repository: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    accident, rebuilt = damaged_repository["accident"], damaged_repository["rebuilt"]
    sdblocal.controls.reset_counts()
    plan = service(sdb_client, s3_client, bucket).handle(
        request(action="plan", mode="exact", sample_size=10), forever
    )
    assert plan["items"] == {"create": 5, "update": 1, "delete": 2, "unchanged": 14}
    gone = [*accident.deleted, *(change.old for change in rebuilt)]
    assert by_item(plan["samples"]["create"]) == {item.name: package_terms(item) for item in gone}
    # Items only the target holds (the new builds) are read back by name, so they are named too.
    assert by_item(plan["samples"]["delete"]) == {
        change.new.name: package_terms(change.new) for change in rebuilt
    }
    [meta] = plan["samples"]["update"]
    dropped = accident.meta_before.attributes["dists"][-1]
    assert meta["item"] == META_ITEM_NAME
    assert meta["meta_changes"] == {"dists": {"added": [dropped], "removed": []}}
    # Repoman 1.0.7's health check leaves origin "" (docs/SOURCES.md); the accident removed even that.
    assert meta["changes"]["origin"] == {
        "before": [],
        "after": list(accident.meta_before.attributes["origin"]),
    }
    assert dropped in meta["meta"]["dists"]
    assert len(plan["samples"]["unchanged"]) == 10
    assert all(set(PACKAGE_FIELDS) <= set(entry) for entry in plan["samples"]["unchanged"])
    assert plan["sample_names"]["delete"] == [entry["item"] for entry in plan["samples"]["delete"]]
    # Described without a second scan: one GetAttributes per sampled item only the target can describe.
    counts = sdblocal.controls.call_counts()
    assert counts.get("GetAttributes") == 1 + 2  # meta's "before" and the two new builds
    assert writes() == {}
    json.dumps(plan)


def test_finding_1_merge_samples_the_items_it_keeps_and_a_restore_carries_the_samples(
    damaged_repository: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    rebuilt = damaged_repository["rebuilt"]
    restore_service = service(sdb_client, s3_client, bucket)
    plan = restore_service.handle(request(action="plan", sample_size=10), forever)
    assert plan["items"]["kept_not_in_dump"] == 2
    assert by_item(plan["samples"]["keep"]) == {
        change.new.name: package_terms(change.new) for change in rebuilt
    }
    assert "delete" not in plan["samples"]
    answer = restore_service.handle(request(action="restore", confirm=DOMAIN, sample_size=10), forever)
    assert answer["status"] == "complete"
    assert answer["plan"]["samples"] == plan["samples"]
    assert answer["plan"]["sample_names"] == plan["sample_names"]
    json.dumps(answer)


# --- finding 2: "latest" is the newest schedule or manual dump ----------------------------------------------


@pytest.fixture
def restored_after_accident(sdb_client: Any, s3_client: Any, bucket: str) -> dict[str, Any]:
    """A nightly dump of 19 packages and meta, an accident (2 packages deleted), then a restore of only one of
    them: the safety backup (18 items) is now the newest version of the dump key."""
    items = list(repoman_domain_items(20))
    fill(sdb_client, DOMAIN, items)
    nightly = backups(sdb_client, s3_client, bucket).backup(DOMAIN, "schedule", forever)
    lost = [item for item in items if item.name != META_ITEM_NAME][:2]
    delete_items(sdb_client, DOMAIN, [item.name for item in lost])
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", confirm=DOMAIN, items=[lost[0].name]), forever
    )
    assert answer["status"] == "complete"
    return {"nightly": nightly.version_id, "safety": answer["safety_backup"]["version_id"], "items": items}


def test_finding_2_list_marks_the_nightly_dump_latest_and_the_safety_backup_pre_restore(
    restored_after_accident: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    listed = service(sdb_client, s3_client, bucket).handle(request(action="list"), forever)
    assert [entry["version_id"] for entry in listed["dumps"]] == [
        restored_after_accident["safety"],
        restored_after_accident["nightly"],
    ]
    safety, nightly = listed["dumps"]
    assert (safety["latest"], safety["pre_restore"], safety["trigger"], safety["items"]) == (
        False,
        True,
        "pre-restore",
        18,
    )
    assert (nightly["latest"], nightly["pre_restore"], nightly["trigger"], nightly["items"]) == (
        True,
        False,
        "schedule",
        20,
    )
    assert {entry["kind"] for entry in listed["dumps"]} == {"full"}
    # Still restorable by version id, and "latest" plans from the nightly dump.
    restore_service = service(sdb_client, s3_client, bucket)
    by_version = restore_service.handle(request(action="plan", version_id=safety["version_id"]), forever)
    assert by_version["source"]["pre_restore"] is True
    latest = restore_service.handle(request(action="plan"), forever)
    assert latest["source"]["version_id"] == nightly["version_id"]
    assert latest["source"]["latest"] is True


def test_finding_2_the_converter_takes_the_newest_nightly_dump_and_says_which(
    restored_after_accident: dict[str, Any],
    bucket: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "backup.json"
    assert dump_to_repoman().main([f"s3://{bucket}/{dump_key(DOMAIN)}", "-o", str(output)]) == 0
    err = capsys.readouterr().err
    assert f"versionId={restored_after_accident['nightly']}" in err
    assert "schedule dump" in err
    assert "the newest schedule or manual dump" in err
    with output.open("rb") as converted_file:
        converted = list(items_from_repoman_stream(converted_file, str(output)))
    assert sorted(converted) == sorted(restored_after_accident["items"])  # 19 packages, not the 18 left


def test_finding_2_the_item_drop_is_measured_against_the_last_nightly_dump(
    sdb_client: Any, s3_client: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's sequence: 19 items, an accident leaves 8, a partial restore brings 12 back, and the next
    nightly dump of 12 items reports a 37 % drop against the last nightly dump, not 0 % against the safety
    backup the restore took."""
    items = list(repoman_domain_items(19))
    fill(sdb_client, DOMAIN, items)
    backup_service = backups(sdb_client, s3_client, bucket)
    assert backup_service.backup(DOMAIN, "schedule", forever).items == 19
    delete_items(sdb_client, DOMAIN, [item.name for item in items[8:]])
    partial = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", confirm=DOMAIN, items=[item.name for item in items[8:12]]), forever
    )
    assert partial["safety_backup"]["items"] == 8
    assert len(contents(sdb_client, DOMAIN)) == 12
    capsys.readouterr()
    outcome = run_backup_request(
        BackupEvent(trigger="schedule"), backup_service, (DOMAIN,), forever, lambda _: None
    )
    [result] = outcome.results
    assert result.items == 12
    assert result.item_drop_percent == pytest.approx(100 * 7 / 19, abs=0.01)  # 36.84 %
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')
    ]
    assert [record["BackupItemDropPercent"] for record in emitted if "BackupItemDropPercent" in record] == [
        [pytest.approx(36.84, abs=0.01)]
    ]


# --- finding 3: subset dumps --------------------------------------------------------------------------------


def distribution(item: Item) -> str:
    return item.attributes["distribution"][0] if "distribution" in item.attributes else ""


def moved(item: Item, to: str) -> Item:
    """The same package filed in another distribution, named as Repoman names it."""
    attributes = {**item.attributes, "distribution": (to,)}
    name, version, _, component, architecture = (attributes[key][0] for key in KEY_ATTRIBUTES)
    return Item(repoman_item_name(name, version, to, component, architecture), attributes)


@pytest.fixture
def subset_dumped(sdb_client: Any, s3_client: Any, bucket: str) -> dict[str, Any]:
    """A Repoman domain (meta, 30 bookworm and 10 stable packages) with a full dump and a subset dump of its
    stable packages."""
    base = list(repoman_domain_items(31))
    items = base + [moved(item, "stable") for item in base[1:11]]
    fill(sdb_client, DOMAIN, items)
    backup_service = backups(sdb_client, s3_client, bucket)
    full = backup_service.backup(DOMAIN, "schedule", forever)
    subset = backup_service.backup(DOMAIN, "manual", forever, where=STABLE, label="stable")
    stable = [item for item in items if distribution(item) == "stable"]
    assert subset.items == len(stable) > 3
    return {"items": items, "stable": stable, "full": full.version_id, "subset": subset.version_id}


def test_finding_3_list_shows_subset_dumps_with_label_and_where_after_the_full_dumps(
    subset_dumped: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    restore_service = service(sdb_client, s3_client, bucket)
    listed = restore_service.handle(request(action="list"), forever)
    full, subset = listed["dumps"]
    assert (full["version_id"], full["kind"], full["latest"]) == (subset_dumped["full"], "full", True)
    assert "label" not in full
    assert subset["version_id"] == subset_dumped["subset"]
    assert (subset["kind"], subset["label"], subset["where"], subset["latest"]) == (
        "subset",
        "stable",
        STABLE,
        True,
    )
    assert subset["items"] == len(subset_dumped["stable"])
    only = restore_service.handle(request(action="list", label="stable"), forever)
    assert [entry["version_id"] for entry in only["dumps"]] == [subset_dumped["subset"]]
    assert only["key"] == dump_key(DOMAIN, "stable")
    json.dumps(listed)


def test_finding_3_a_subset_dump_is_planned_by_version_id(
    subset_dumped: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    plan = service(sdb_client, s3_client, bucket).handle(
        request(action="plan", mode="exact", version_id=subset_dumped["subset"]), forever
    )
    assert plan["status"] == "planned"
    assert (plan["source"]["label"], plan["source"]["where"]) == ("stable", STABLE)
    assert plan["subset"] == {"match": {"distribution": "stable"}}
    # Only the subset is compared: nothing outside it would be deleted.
    assert plan["items"] == {"create": 0, "update": 0, "delete": 0, "unchanged": len(subset_dumped["stable"])}


def test_finding_3_an_exact_subset_restore_removes_extra_items_only_inside_the_subset(
    subset_dumped: dict[str, Any], sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items, stable = subset_dumped["items"], subset_dumped["stable"]
    others = [item for item in items if distribution(item) not in ("stable", "")]
    extra_stable = Item("extra-stable", {**stable[0].attributes, "version": ("99",)})
    extra_other = Item("extra-testing", {**others[0].attributes, "version": ("99",)})
    fill(sdb_client, DOMAIN, [extra_stable, extra_other])
    delete_items(sdb_client, DOMAIN, [stable[1].name, others[1].name])
    answer = service(sdb_client, s3_client, bucket).handle(
        request(action="restore", mode="exact", version_id=subset_dumped["subset"], confirm=DOMAIN), forever
    )
    assert answer["status"] == "complete"
    assert answer["plan"]["items"] == {"create": 1, "update": 0, "delete": 1, "unchanged": len(stable) - 1}
    assert answer["verification"]["verified"] is True
    after = contents(sdb_client, DOMAIN)
    assert "extra-stable" not in after  # inside the subset, not in the dump: removed
    assert stable[1].name in after  # inside the subset, in the dump: back
    assert "extra-testing" in after  # outside the subset: never deleted
    assert others[1].name not in after  # outside the subset: not the subset dump's to bring back
    assert META_ITEM_NAME in after


def test_finding_3_an_exact_restore_of_a_subset_whose_clause_cannot_be_evaluated_is_refused(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = list(repoman_domain_items(30))
    fill(sdb_client, DOMAIN, items)
    clause = "`distribution` = 'bookworm' or `distribution` = 'testing'"
    subset = backups(sdb_client, s3_client, bucket).backup(
        DOMAIN, "manual", forever, where=clause, label="two"
    )
    restore_service = service(sdb_client, s3_client, bucket)
    sdblocal.controls.reset_counts()
    with pytest.raises(Exception, match="cannot be evaluated here") as refused:
        restore_service.handle(
            request(action="restore", mode="exact", version_id=subset.version_id, confirm=DOMAIN), forever
        )
    assert type(refused.value).__name__ == "InvalidRequestError"
    assert writes() == {}
    merge = restore_service.handle(request(action="plan", version_id=subset.version_id), forever)
    assert merge["status"] == "planned"
    assert "outside it are counted as kept" in merge["note"]


def test_finding_3_a_subset_dump_converts_with_the_meta_of_the_latest_full_dump(
    subset_dumped: dict[str, Any], bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "stable.json"
    url = f"s3://{bucket}/{dump_key(DOMAIN, 'stable')}"
    assert dump_to_repoman().main([url, "-o", str(output)]) == 0
    err = capsys.readouterr().err
    assert f"taking it from s3://{bucket}/{dump_key(DOMAIN)}?versionId={subset_dumped['full']}" in err
    assert "subset 'stable'" in err
    with output.open("rb") as converted_file:
        converted = sorted(items_from_repoman_stream(converted_file, str(output)))
    meta = next(item for item in subset_dumped["items"] if item.name == META_ITEM_NAME)
    assert converted == sorted([meta, *subset_dumped["stable"]])


def test_finding_3_a_local_subset_dump_needs_meta_from(
    subset_dumped: dict[str, Any],
    s3_client: Any,
    bucket: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    subset_file, full_file = tmp_path / "subset.jsonl.gz", tmp_path / "full.jsonl.gz"
    subset_file.write_bytes(
        s3_client.get_object(Bucket=bucket, Key=dump_key(DOMAIN, "stable"))["Body"].read()
    )
    full_file.write_bytes(s3_client.get_object(Bucket=bucket, Key=dump_key(DOMAIN))["Body"].read())
    output = tmp_path / "out.json"
    assert dump_to_repoman().main([str(subset_file), "-o", str(output)]) == 1
    assert "pass --meta-from FULL_DUMP" in capsys.readouterr().err
    assert not output.exists()
    assert dump_to_repoman().main([str(subset_file), "-o", str(output), "--meta-from", str(full_file)]) == 0
    assert (
        len(list(items_from_repoman_stream(output.open("rb"), str(output))))
        == len(subset_dumped["stable"]) + 1
    )


# --- finding 4: a bucket without versioning -----------------------------------------------------------------


@pytest.mark.parametrize("versioning", [None, "Suspended"])
def test_finding_4_a_bucket_without_versioning_is_refused_before_anything_is_written(
    sdb_client: Any, s3_client: Any, versioning: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = "plain-bucket"
    s3_client.create_bucket(Bucket=plain)
    if versioning:
        s3_client.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": versioning})
    fill(sdb_client, DOMAIN, list(repoman_domain_items(5)))
    capsys.readouterr()
    outcome = run_backup_request(
        BackupEvent(trigger="manual"),
        backups(sdb_client, s3_client, plain),
        (DOMAIN,),
        forever,
        lambda _: None,
    )
    [failure] = outcome.failures
    assert (failure["domain"], failure["kind"]) == (DOMAIN, "bucket-not-versioned")
    assert f"bucket '{plain}' has" in failure["message"]
    assert "put-bucket-versioning" in failure["message"]
    assert outcome.results == []
    assert outcome.summary()["status"] == "failed"
    assert s3_client.list_objects_v2(Bucket=plain)["KeyCount"] == 0
    assert s3_client.list_multipart_uploads(Bucket=plain).get("Uploads", []) == []
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')
    ]
    assert [(record["domain"], record["BackupFailed"]) for record in emitted if "BackupFailed" in record] == [
        (DOMAIN, [1.0])
    ]


# --- progress of a long restore ---------------------------------------------------------------------------


def test_a_continued_restore_reports_its_progress_in_every_answer_and_in_status(
    sdb_client: Any, s3_client: Any, bucket: str
) -> None:
    items = list(repoman_domain_items(300))
    fill(sdb_client, DOMAIN, items)
    dump(sdb_client, s3_client, bucket)
    delete_items(sdb_client, DOMAIN, [item.name for item in items[1:201]])
    restore_service = service(sdb_client, s3_client, bucket, restore_workers=1)
    event = request(action="restore", mode="exact", confirm=DOMAIN)
    answers = []
    while True:
        answer = restore_service.handle(event, runs_out_after(2 if not answers else 5))
        answers.append(answer)
        json.dumps(answer)
        if answer["status"] != "continued":
            break
        assert len(answers) < 60
        status = restore_service.handle(request(action="status", run_id=answer["run_id"]), forever)
        assert status["progress"] == answer["progress"]
        event = request(**answer["continues_with"])
    progress = [answer["progress"] for answer in answers]
    assert len(progress) > 2
    assert {entry["items_to_write"] for entry in progress} == {200}
    written = [entry["items_written"] for entry in progress]
    assert written == sorted(written)  # never goes back
    assert any(0 < count < 200 for count in written)  # the writes were interrupted part-way at least once
    assert progress[-1] == {**progress[-1], "phase": "done", "items_written": 200}
    elapsed = [entry["elapsed_seconds"] for entry in progress]
    assert elapsed == sorted(elapsed)
    assert answers[-1]["status"] == "complete"
