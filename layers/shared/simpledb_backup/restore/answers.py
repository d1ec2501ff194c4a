"""What the restore function answers: a list of dumps, a plan, a diff, a restore's summary, a status, a
domain's runs, an unlock, a refusal.

Pure: answers are built from requests, states and plans. Every answer carries its structured next steps
(``next``, nextsteps.py) and stays well under Lambda's response limit (fitting.py); messages are for a person
and never spell an event.
"""

from datetime import datetime, timedelta
from typing import Any

from simpledb_backup.aws.keys import dump_key
from simpledb_backup.aws.s3store import DumpVersion
from simpledb_backup.errors import ConfirmationRequiredError, RefusalError, RestoreInProgressError
from simpledb_backup.events import DiffRequest, ListRequest, PlanRequest, RestoreRunRequest, RunsRequest
from simpledb_backup.restore.fitting import (
    DIFF_SAMPLES_BYTES,
    MAX_ANSWER_BYTES,
    PLAN_SAMPLES_BYTES,
    fit_list,
    fit_names,
    fit_samples,
)
from simpledb_backup.restore.lock import LockHolder
from simpledb_backup.restore.nextsteps import (
    again_step,
    diff_steps,
    list_steps,
    plan_steps,
    run_steps,
    undo_steps,
    unlock_step,
)
from simpledb_backup.restore.planning import PlanSummary, Subset, TargetSnapshot
from simpledb_backup.restore.state import STALL_SECONDS, RestoreState, TrueState, instant, run_state
from simpledb_backup.runtime import event_payload


def dump_entry(version: DumpVersion) -> dict[str, Any]:
    """One dump as ``list`` shows it: full or subset (with its label and where clause)."""
    return {**version.summary(), "kind": "subset" if version.label is not None else "full"}


def list_answer(request: ListRequest, versions: list[DumpVersion], bucket: str) -> dict[str, Any]:
    key = dump_key(request.domain, request.label)
    dumps, omitted = fit_list([dump_entry(version) for version in versions], MAX_ANSWER_BYTES // 2)
    subsets = sorted({str(entry["label"]) for entry in dumps if entry["kind"] == "subset"})
    kinds = f"; subsets: {', '.join(subsets)}" if subsets else ""
    which = f"subset {request.label!r} of {request.domain}" if request.label else request.domain
    full = sum(entry["kind"] == "full" and not entry.get("pre_restore") for entry in dumps)
    return {
        "action": "list",
        "status": "ok",
        "domain": request.domain,
        "key": key,
        "count": len(dumps),
        "dumps": dumps,
        **({"dumps_omitted": omitted} if omitted else {}),
        "message": (
            f'{len(dumps)} dump(s) of {which}, full dumps first, each key newest first{kinds}; "latest" marks '
            "the newest schedule or manual dump (never a pre-restore safety backup); restore one by its "
            "version id, or pick one by time"
            if dumps
            else f"no dumps of {which} yet (s3://{bucket}/{key})"
        ),
        "next": list_steps(request.domain, full if request.label is None else len(dumps)),
    }


def _fitted_samples(
    samples: dict[str, list[dict[str, Any]]], budget: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[str]], dict[str, int]]:
    kept, omitted = fit_samples(samples, budget)
    kept = {kind: entries for kind, entries in kept.items() if entries}
    names = {kind: [str(entry.get("item", "")) for entry in entries] for kind, entries in kept.items()}
    return kept, names, omitted


def plan_answer(
    request: PlanRequest | RestoreRunRequest,
    source: dict[str, Any],
    snapshot: TargetSnapshot,
    summary: PlanSummary,
    samples: dict[str, list[dict[str, Any]]],
    note: str | None = None,
    asked: PlanRequest | None = None,
) -> dict[str, Any]:
    """The plan; ``samples`` are the summary's sampled changes described in the domain's terms; ``asked`` is
    the plan as requested (its next step restores exactly that)."""
    plan = summary.to_dict()
    kept, names, omitted = _fitted_samples(samples, PLAN_SAMPLES_BYTES)
    items = plan["items"]
    if not snapshot.exists:
        target_state = f"{request.target} does not exist and will be created"
    else:
        target_state = f"{request.target} holds {snapshot.item_count} items"
    kept_note = f", {items['kept_not_in_dump']} kept" if items.get("kept_not_in_dump") else ""
    message = (
        f"{request.mode} restore of {request.domain} into {request.target}: {items['create']} to create, "
        f"{items['update']} to update, {items['delete']} to delete, {items['unchanged']} unchanged{kept_note} "
        f"({target_state})" + (f"; {note}" if note else "")
    )
    planned = asked or PlanRequest.model_validate(
        {
            **request.model_dump(mode="json", exclude_none=True, exclude={"confirm", "run_id"}),
            "action": "plan",
        }
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
        "samples": kept,
        "sample_names": names,
        **({"samples_omitted": omitted} if omitted else {}),
        **({"note": note} if note else {}),
        "message": message,
        "next": plan_steps(planned, snapshot.item_count, summary.differences),
    }


def restore_answer(state: RestoreState, now: datetime | None = None) -> dict[str, Any]:
    """A run's summary as it stands; with ``now``, its true state (running, stalled, parked, ...) too."""
    request = state.request
    safety_backup = state.safety_backup.model_dump() if state.safety_backup else None
    true_state, stalled_since = run_state(state, now) if now else (_saved_state(state), None)
    answer: dict[str, Any] = {
        "action": "restore",
        "status": state.status,
        "state": true_state,
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
        "verification": _fitted_verification(state.verification),
        "phase": state.phase,
        "invocations": state.invocations,
        "duration_seconds": round(state.elapsed_seconds, 3),
        "started_at": state.started_at,
        "heartbeat_at": state.heartbeat_at or None,
        **({"stalled_since": _iso(stalled_since)} if stalled_since else {}),
        "progress": restore_progress(state),
    }
    if state.error:
        answer["error"] = state.error.model_dump()
    if state.status == "continued":
        # The handler invokes the function with this event, asynchronously, to resume the run.
        answer["continues_with"] = event_payload(continuation_request(state))
    answer["message"] = restore_message(state, true_state, stalled_since)
    answer["next"] = run_steps(state, true_state)
    return answer


def _saved_state(state: RestoreState) -> TrueState:
    """The true state of a run answered by the invocation that works on it (it is alive, or it parked)."""
    if state.status == "continued":
        return "parked"
    return "running" if state.status == "running" else state.status


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fitted_verification(verification: dict[str, Any] | None) -> dict[str, Any] | None:
    if not verification or not verification.get("sample"):
        return verification
    names, omitted = fit_names(list(verification["sample"]))
    return {**verification, "sample": names, **({"sample_omitted": omitted} if omitted else {})}


def restore_progress(state: RestoreState) -> dict[str, Any]:
    """How far a run is: item writes made (puts, trims of extra attributes, deletes) out of those its plan
    counted, its phase and the time its invocations have taken so far."""
    plan = state.plan or {}
    to_write = plan.get("writes", {}).get("total")
    if to_write is None:  # a state saved before plans counted their writes
        items = plan.get("items", {})
        to_write = sum(int(items.get(kind, 0)) for kind in ("create", "update", "delete"))
    progress: dict[str, Any] = {
        "phase": state.phase,
        "items_to_write": int(to_write),
        "items_written": state.written.items,
        "elapsed_seconds": round(state.elapsed_seconds, 3),
    }
    if state.phase == "planning":
        progress["target_items_read"] = state.safety_backup_items_so_far
    if state.phase == "safety-backup":
        progress["safety_backup_items"] = state.safety_backup_items_so_far
    return progress


def continuation_request(state: RestoreState) -> RestoreRunRequest:
    return RestoreRunRequest.model_validate(state.request).continuation(state.run_id)


def status_answer(state: RestoreState, now: datetime) -> dict[str, Any]:
    return {**restore_answer(state, now), "status_updated_at": state.updated_at}


def restore_message(state: RestoreState, true_state: TrueState, stalled_since: datetime | None) -> str:
    written = state.written
    done = (
        f"{written.items_written} items written, {written.items_trimmed} trimmed of extra attributes, "
        f"{written.items_deleted} deleted"
    )
    undo = (
        f"; undo with the safety backup version {state.safety_backup.version_id}"
        if state.safety_backup
        else ""
    )
    if true_state == "stalled":
        since = f" since {_iso(stalled_since)}" if stalled_since else ""
        return (
            f"restore of {state.target} is stalled{since} ({state.phase}; so far {done}): the invocation "
            "working on it died or timed out, or its continuation never started; resume it"
        )
    if true_state == "parked":
        return f"restore of {state.target} continues in a new invocation ({state.phase}; so far {done})"
    if true_state == "complete":
        return f"restored {state.target}: {done}; verified, the target matches the source{undo}"
    if true_state in ("failed", "refused"):
        reason = state.error.message if state.error else "unknown error"
        return f"restore of {state.target} {true_state} ({state.phase}): {reason}; so far {done}{undo}"
    return f"restore of {state.target} is running ({state.phase}; so far {done})"


def run_entry(state: RestoreState, now: datetime) -> dict[str, Any]:
    """One run as ``runs`` lists it."""
    true_state, stalled_since = run_state(state, now)
    progress = restore_progress(state)
    return {
        "run_id": state.run_id,
        "state": true_state,
        "phase": state.phase,
        "domain": state.domain,
        "target_domain": state.target,
        "mode": state.request.get("mode", "merge"),
        "started_at": state.started_at,
        "updated_at": state.updated_at,
        "heartbeat_at": state.heartbeat_at or None,
        **({"stalled_since": _iso(stalled_since)} if stalled_since else {}),
        "items_to_write": progress["items_to_write"],
        "items_written": progress["items_written"],
        "source": state.source,
        **({"error": state.error.model_dump()} if state.error else {}),
    }


def runs_answer(request: RunsRequest, states: list[RestoreState], more: int, now: datetime) -> dict[str, Any]:
    runs, omitted = fit_list([run_entry(state, now) for state in states], MAX_ANSWER_BYTES // 2)
    active = [(state, entry["state"]) for state, entry in zip(states, runs, strict=False)]
    steps = [
        step
        for state, true_state in active
        if true_state in ("running", "parked", "stalled")
        for step in run_steps(state, true_state)
    ]
    counts = ", ".join(
        f"{sum(entry['state'] == name for entry in runs)} {name}"
        for name in ("running", "parked", "stalled", "complete", "failed", "refused")
        if any(entry["state"] == name for entry in runs)
    )
    return {
        "action": "runs",
        "status": "ok",
        "domain": request.domain,
        "runs": runs,
        "more": more + omitted,
        "message": (
            f"{len(runs)} restore run(s) of {request.domain}, newest first: {counts}"
            if runs
            else f"no restore runs of {request.domain}"
        ),
        "next": steps,
    }


def stateless_lock_live_until(holder: LockHolder) -> datetime:
    """Until when a lock whose run saved no state may still be live: a run saves its state as soon as it holds
    the lock, so one that has not, a stall window after the lock was taken, is gone (and the lock's expiry
    ends it in any case)."""
    taken = instant(holder.taken_at) if holder.taken_at != "unknown" else None
    return min((taken or holder.expires_at) + timedelta(seconds=STALL_SECONDS), holder.expires_at)


def lock_refusal(
    target: str, holder: LockHolder | None, held: RestoreState | None, now: datetime
) -> RestoreInProgressError:
    """Who holds the target's lock, in what state, and what to do about it."""
    if holder is None:
        return RestoreInProgressError(
            f"{target} is locked by a restore whose lock cannot be read; if no restore of {target} runs, "
            "remove the lock",
            [unlock_step(target, confirm=False)],
        )
    if held is None:
        return RestoreInProgressError(
            f"another restore (run {holder.run_id}, of {holder.domain} into {target}, since "
            f"{holder.taken_at}) holds the lock on {target} and saved no state; after "
            f"{stateless_lock_live_until(holder).isoformat(timespec='seconds')} its lock may be removed",
            [unlock_step(target, confirm=False)],
        )
    true_state, stalled_since = run_state(held, now)
    return RestoreInProgressError(
        f"another restore (run {holder.run_id}, of {holder.domain} into {target}) holds the lock on "
        f"{target}: {restore_message(held, true_state, stalled_since)}",
        run_steps(held, true_state) if true_state != "complete" else [],
    )


def lock_entry(target: str, holder: LockHolder | None) -> dict[str, Any]:
    """A target's lock as unlock describes it."""
    if holder is None:
        return {"target_domain": target, "readable": False}
    return {
        "target_domain": target,
        "readable": True,
        "run_id": holder.run_id,
        "domain": holder.domain,
        "taken_at": holder.taken_at,
        "expires_at": holder.expires_at.isoformat(),
    }


def unlock_answer(
    target: str, holder: LockHolder | None, run: RestoreState | None, removed: bool, now: datetime
) -> dict[str, Any]:
    """What unlock removed (or, ``removed`` False, that the target had no lock)."""
    entry = run_entry(run, now) if run is not None else None
    if not removed:
        message, steps = f"{target} has no restore lock: nothing to remove", []
    else:
        message = f"removed the restore lock of {target}" + (
            f" held by run {run.run_id}, which ends here (state {run.status}); its writes so far stay"
            if run is not None
            else ""
        )
        steps = [*(undo_steps(run) if run is not None else []), *([again_step(run)] if run else [])]
    return {
        "action": "unlock",
        "status": "ok",
        "domain": target,
        "removed": lock_entry(target, holder) if removed else None,
        **({"run": entry} if entry is not None else {}),
        "message": message,
        "next": steps,
    }


def refusal(error: RefusalError, event: object) -> dict[str, Any]:
    """The answer to a refused request: what was wrong, what to do next, and for a missing ``confirm`` the
    plan."""
    answer: dict[str, Any] = {"status": "refused"}
    if isinstance(event, dict):
        for name in ("action", "domain", "target_domain", "run_id"):
            value = event.get(name)
            if isinstance(value, str) and len(value) <= 255:
                answer[name] = value
    answer["error"] = {"kind": error.kind, "message": str(error)}
    configured = getattr(error, "configured_domains", None)
    if configured is not None:
        answer["configured_domains"] = list(configured)
    if isinstance(error, ConfirmationRequiredError) and error.plan is not None:
        answer["plan"] = error.plan
    answer["next"] = error.next_steps
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
    kept, names, omitted = _fitted_samples(samples, DIFF_SAMPLES_BYTES)
    changed = counts["added"] + counts["changed"] + counts["removed"]
    return {
        "action": "diff",
        "status": "ok",
        "domain": request.domain,
        "from": older,
        "to": newer,
        "items": counts,
        "attributes": attributes,
        "samples": kept,
        "sample_names": names,
        **({"samples_omitted": omitted} if omitted else {}),
        **({"note": note} if note else {}),
        "message": message,
        "next": diff_steps(request.domain, older, changed),
    }
