"""What the restore function answers: a list of dumps, a plan, a diff, a restore's summary, a status, a refusal.

Pure: answers are built from requests, states and plans; every follow-up event they carry (status, undo,
continuation) is built from the event models.
"""

import json
from typing import Any

from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.s3store import DumpVersion
from simpledb_backup.errors import ConfirmationRequiredError, RefusalError
from simpledb_backup.events import DiffRequest, ListRequest, PlanRequest, RestoreRunRequest, status_request
from simpledb_backup.restore.planning import PlanSummary, Subset, TargetSnapshot
from simpledb_backup.restore.state import RestoreState
from simpledb_backup.runtime import event_payload


def dump_entry(version: DumpVersion) -> dict[str, Any]:
    """One dump as ``list`` shows it: full or subset (with its label and where clause)."""
    return {**version.summary(), "kind": "subset" if version.label is not None else "full"}


def list_answer(request: ListRequest, versions: list[DumpVersion], bucket: str) -> dict[str, Any]:
    key = dump_key(request.domain, request.label)
    dumps = [dump_entry(version) for version in versions]
    subsets = sorted({str(entry["label"]) for entry in dumps if entry["kind"] == "subset"})
    kinds = f"; subsets: {', '.join(subsets)}" if subsets else ""
    which = f"subset {request.label!r} of {request.domain}" if request.label else request.domain
    return {
        "action": "list",
        "status": "ok",
        "domain": request.domain,
        "key": key,
        "count": len(dumps),
        "dumps": dumps,
        "message": (
            f'{len(dumps)} dump(s) of {which}, full dumps first, each key newest first{kinds}; "latest" marks '
            "the newest schedule or manual dump (never a pre-restore safety backup); restore one with "
            '"version_id", or pick by time with "as_of"'
            if dumps
            else f"no dumps of {which} yet (s3://{bucket}/{key})"
        ),
    }


def plan_answer(
    request: PlanRequest | RestoreRunRequest,
    source: dict[str, Any],
    snapshot: TargetSnapshot,
    summary: PlanSummary,
    samples: dict[str, list[dict[str, Any]]],
    note: str | None = None,
) -> dict[str, Any]:
    """The plan; ``samples`` are the summary's sampled changes described in the domain's terms."""
    plan = {**summary.to_dict(), "samples": samples}
    items = plan["items"]
    if not snapshot.exists:
        target_state = f"{request.target} does not exist and will be created"
    else:
        target_state = f"{request.target} holds {snapshot.item_count} items"
    kept = f", {items['kept_not_in_dump']} kept" if items.get("kept_not_in_dump") else ""
    message = (
        f"{request.mode} restore of {request.domain} into {request.target}: {items['create']} to create, "
        f"{items['update']} to update, {items['delete']} to delete, {items['unchanged']} unchanged{kept} "
        f"({target_state})" + (f"; {note}" if note else "")
    )
    return {
        "action": "plan",
        "status": "planned",
        "domain": request.domain,
        "target_domain": request.target,
        "mode": request.mode,
        "source": source,
        "subset": Subset.of(request.items, request.match).describe(),
        "target_exists": snapshot.exists,
        "target_items": snapshot.item_count,
        **plan,
        **({"note": note} if note else {}),
        "message": message,
    }


def restore_answer(state: RestoreState) -> dict[str, Any]:
    request = state.request
    safety_backup = state.safety_backup.model_dump() if state.safety_backup else None
    answer: dict[str, Any] = {
        "action": "restore",
        "status": state.status,
        "run_id": state.run_id,
        "domain": request.get("domain"),
        "target_domain": state.target,
        "mode": request.get("mode", "merge"),
        "source": state.source,
        "target_created": state.target_created,
        "target_items_before": state.target_items_before,
        "safety_backup": safety_backup,
        **({"safety_backup_skipped": state.safety_backup_skipped} if state.safety_backup_skipped else {}),
        "plan": state.plan,
        "written": state.written.model_dump(),
        "verification": state.verification,
        "phase": state.phase,
        "invocations": state.invocations,
        "duration_seconds": round(state.elapsed_seconds, 3),
        "progress": restore_progress(state),
    }
    if state.error:
        answer["error"] = state.error.model_dump()
    if state.status == "continued":
        # The handler invokes the function with this event, asynchronously, to resume the run.
        answer["continues_with"] = event_payload(continuation_request(state))
    answer["message"] = restore_message(state)
    return answer


def restore_progress(state: RestoreState) -> dict[str, Any]:
    """How far a run is: item writes made (puts, trims of extra attributes, deletes) out of those its plan
    counted, its phase and the time its invocations have taken so far."""
    plan = state.plan or {}
    to_write = plan.get("writes", {}).get("total")
    if to_write is None:  # a state saved before plans counted their writes
        items = plan.get("items", {})
        to_write = sum(int(items.get(kind, 0)) for kind in ("create", "update", "delete"))
    written = state.written
    progress: dict[str, Any] = {
        "phase": state.phase,
        "items_to_write": int(to_write),
        "items_written": written.items_written + written.items_trimmed + written.items_deleted,
        "elapsed_seconds": round(state.elapsed_seconds, 3),
    }
    if state.phase == "safety-backup":
        progress["safety_backup_items"] = state.safety_backup_items_so_far
    return progress


def continuation_request(state: RestoreState) -> RestoreRunRequest:
    return RestoreRunRequest.model_validate(state.request).continuation(state.run_id)


def status_answer(state: RestoreState) -> dict[str, Any]:
    return {**restore_answer(state), "status_updated_at": state.updated_at}


def restore_message(state: RestoreState) -> str:
    written = state.written
    done = (
        f"{written.items_written} items written, {written.items_trimmed} trimmed of extra attributes, "
        f"{written.items_deleted} deleted"
    )
    if state.status == "continued":
        status = event_payload(status_request(str(state.request.get("domain")), state.run_id))
        return (
            f"restore of {state.target} continues in the background ({state.phase}; so far {done}); ask "
            f"{json.dumps(status)}"
        )
    undo = (
        f"; undo with the safety backup version {state.safety_backup.version_id}"
        if state.safety_backup
        else ""
    )
    if state.status == "complete":
        return f"restored {state.target}: {done}; verified, the target matches the source{undo}"
    if state.status == "failed":
        reason = state.error.message if state.error else "unknown error"
        return f"restore of {state.target} failed ({state.phase}): {reason}; so far {done}{undo}"
    return f"restore of {state.target} is running ({state.phase}; so far {done})"


def refusal(error: RefusalError, event: object) -> dict[str, Any]:
    """The answer to a refused request: what was wrong, and for a missing ``confirm`` the plan."""
    answer: dict[str, Any] = {"status": "refused"}
    if isinstance(event, dict):
        for name in ("action", "domain", "target_domain", "run_id"):
            value = event.get(name)
            if isinstance(value, str) and len(value) <= 255:
                answer[name] = value
    answer["error"] = {"kind": error.kind, "message": str(error)}
    if isinstance(error, ConfirmationRequiredError) and error.plan is not None:
        answer["plan"] = error.plan
    return answer


def side_label(side: dict[str, Any]) -> str:
    """A diff side in a few words: a dump by version, time and trigger, or the live domain."""
    if side.get("kind") == "live":
        return f"the live domain {side.get('domain')}"
    subset = f" subset {side['label']!r}" if side.get("label") else ""
    return f"dump{subset} {side.get('version_id')} ({side.get('time')}, {side.get('trigger')})"


def diff_answer(
    request: DiffRequest,
    sides: tuple[dict[str, Any], dict[str, Any]],
    counts: dict[str, int],
    attributes: dict[str, int],
    samples: dict[str, list[dict[str, Any]]],
    note: str | None = None,
) -> dict[str, Any]:
    """What changed from one side to the other; ``samples`` are described in the domain's terms."""
    older, newer = sides
    message = (
        f"from {side_label(older)} to {side_label(newer)}: {counts['added']} added, {counts['changed']} "
        f"changed, {counts['removed']} removed, {counts['unchanged']} unchanged"
    ) + (f"; {note}" if note else "")
    return {
        "action": "diff",
        "status": "ok",
        "domain": request.domain,
        "from": older,
        "to": newer,
        "items": counts,
        "attributes": attributes,
        "samples": {kind: described for kind, described in samples.items() if described},
        "sample_names": {
            kind: [entry["item"] for entry in described] for kind, described in samples.items() if described
        },
        **({"note": note} if note else {}),
        "message": message,
    }
