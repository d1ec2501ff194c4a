"""The structured next steps every answer carries: ``"next": [{"say", "function", "event"}]``.

``say`` is one line for a person; ``function`` is the function to invoke (``restore``, ``backup``); ``event`` is
the event to send it, built from the event models, so that the console user can paste it and the CLI can
render it as its own command line. Message texts never spell events; the steps do.
"""

from typing import Any

from pydantic import BaseModel

from simpledb_backup.events import (
    BackupEvent,
    DiffRequest,
    ListRequest,
    PlanRequest,
    RestoreRunRequest,
    UnlockRequest,
    restore_of,
    status_request,
)
from simpledb_backup.restore.state import RestoreState, TrueState

Step = dict[str, Any]
#: An event larger than this is named, not spelled, in a step (an answer must stay small).
MAX_EVENT_BYTES = 64_000


def step(say: str, event: BaseModel, function: str = "restore") -> Step:
    payload = event.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
    if len(str(payload)) > MAX_EVENT_BYTES:
        return {"say": f"{say} (the event is too large to show: send the request you sent, changed as said)"}
    return {"say": say, "function": function, "event": payload}


def list_dumps_step(domain: str) -> Step:
    return step(f"list the dumps of {domain}", ListRequest(action="list", domain=domain))


def backup_step(domain: str) -> Step:
    return step(f"back {domain} up now", BackupEvent(trigger="manual", domains=[domain]), function="backup")


def follow_step(state: RestoreState) -> Step:
    return step(f"follow run {state.run_id}", status_request(state.domain, state.run_id))


def resume_step(state: RestoreState, when: str = "") -> Step:
    target = state.target if state.target != state.domain else None
    event = RestoreRunRequest(
        action="restore", domain=state.domain, target_domain=target, run_id=state.run_id
    )
    return step(f"{when}resume run {state.run_id} where it stopped", event)


def unlock_step(target: str, confirm: bool) -> Step:
    say = f"remove the stale lock of {target}" if confirm else f"see what unlocking {target} would remove"
    return step(say, UnlockRequest(action="unlock", domain=target, confirm=target if confirm else None))


def undo_steps(state: RestoreState) -> list[Step]:
    if state.safety_backup is None:
        return []
    event = RestoreRunRequest.model_validate(state.safety_backup.undo)
    return [step(f"undo: put {state.target} back as the safety backup found it", event)]


def what_changed_steps(state: RestoreState) -> list[Step]:
    if state.safety_backup is None:
        return []
    event = DiffRequest.model_validate(
        {"action": "diff", "domain": state.target, "from": {"version_id": state.safety_backup.version_id}}
    )
    return [step(f"see what the restore changed in {state.target}", event)]


def again_step(state: RestoreState) -> Step:
    request = RestoreRunRequest.model_validate(state.request)
    return step("run the same restore again (it converges)", request.model_copy(update={"run_id": None}))


def run_steps(state: RestoreState, true_state: TrueState) -> list[Step]:
    """What to do about a run in its true state."""
    match true_state:
        case "running":
            return [follow_step(state)]
        case "parked":
            # Its continuation is queued; should it have been lost (the invocation died as it parked), resuming
            # is safe: one invocation at a time works on a run.
            return [follow_step(state), resume_step(state, "if it does not move within a minute, ")]
        case "stalled":
            return [resume_step(state), unlock_step(state.target, confirm=False)]
        case "complete":
            return [*what_changed_steps(state), *undo_steps(state)]
        case "failed":
            return [again_step(state), *undo_steps(state), *what_changed_steps(state)]
    return []


def plan_steps(plan: PlanRequest, target_items: int, differences: int) -> list[Step]:
    """After a plan: the restore it previews (confirmed when the target holds items)."""
    if differences == 0:
        return []
    confirm = plan.target if target_items else None
    restore = restore_of(plan, confirm)
    say = f"restore as planned into {plan.target}" + (" (the target's name confirms it)" if confirm else "")
    return [step(say, restore)]


def diff_steps(domain: str, older: dict[str, Any], changed: int) -> list[Step]:
    """After a diff that found changes: plan a restore of the older side when it is a dump."""
    if not changed or older.get("kind") != "dump" or not older.get("version_id"):
        return []
    plan = PlanRequest(action="plan", domain=domain, version_id=str(older["version_id"]))
    return [step(f"plan restoring {domain} to the dump of {older.get('time')}", plan)]


def list_steps(domain: str, full_dumps: int) -> list[Step]:
    if not full_dumps:
        return [backup_step(domain)]
    steps = [step(f"plan restoring {domain} to its latest dump", PlanRequest(action="plan", domain=domain))]
    if full_dumps > 1:
        last_night = DiffRequest.model_validate(
            {"action": "diff", "domain": domain, "from": "previous", "to": "latest"}
        )
        steps.append(step("see what changed between the two latest dumps", last_night))
    return steps
