"""What the restore function answers: a list of dumps, a plan, a restore's summary, a status, a refusal.

Pure: answers are built from requests, states and plans; every follow-up event they carry (status, undo,
continuation) is built from the event models.
"""

import json
from typing import Any

from simpledb_backup.errors import ConfirmationRequiredError, RefusalError
from simpledb_backup.events import ListRequest, PlanRequest, RestoreRunRequest, status_request
from simpledb_backup.keys import dump_key
from simpledb_backup.planning import PlanSummary, Subset, TargetSnapshot
from simpledb_backup.restore.state import RestoreState
from simpledb_backup.runtime import event_payload
from simpledb_backup.s3store import DumpVersion


def list_answer(request: ListRequest, versions: list[DumpVersion], bucket: str) -> dict[str, Any]:
    key = dump_key(request.domain)
    return {
        "action": "list",
        "status": "ok",
        "domain": request.domain,
        "key": key,
        "count": len(versions),
        "dumps": [version.summary() for version in versions],
        "message": (
            f"{len(versions)} dump(s) of {request.domain}, newest first; restore one with "
            '"version_id", or pick by time with "as_of"'
            if versions
            else f"no dumps of {request.domain} yet (s3://{bucket}/{key})"
        ),
    }


def plan_answer(
    request: PlanRequest | RestoreRunRequest,
    source: dict[str, Any],
    snapshot: TargetSnapshot,
    summary: PlanSummary,
) -> dict[str, Any]:
    plan = summary.to_dict()
    items = plan["items"]
    if not snapshot.exists:
        target_state = f"{request.target} does not exist and will be created"
    else:
        target_state = f"{request.target} holds {snapshot.item_count} items"
    message = (
        f"{request.mode} restore of {request.domain} into {request.target}: {items['create']} to create, "
        f"{items['update']} to update, {items['delete']} to delete, {items['unchanged']} unchanged "
        f"({target_state})"
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
    }
    if state.error:
        answer["error"] = state.error.model_dump()
    if state.status == "continued":
        # The handler invokes the function with this event, asynchronously, to resume the run.
        answer["continues_with"] = event_payload(continuation_request(state))
    answer["message"] = restore_message(state)
    return answer


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
