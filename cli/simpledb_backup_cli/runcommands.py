"""The commands about restore runs, locks, drills and estimates: restore (and --resume), status, undo, runs,
unlock, drill, estimate.

A restore, a resume and an undo are followed (following) until the run ends or stalls; the run's id and the
command that follows it are printed as soon as they are known, before any long wait.
"""

from functools import partial
from typing import Any

import click

from simpledb_backup_cli import requests, views
from simpledb_backup_cli.cliruntime import (
    confirm_target,
    follower_of,
    functions_of,
    json_option,
    output_of,
    runtime_of,
    source_options,
    spec_of,
    yes_option,
)
from simpledb_backup_cli.errors import ExitStatus, NothingToUndoError, NotResumableError
from simpledb_backup_cli.following import goes_on, has_ended
from simpledb_backup_cli.functions import Answer
from simpledb_backup_cli.output import Output

WAIT_OPTION = click.option(
    "--wait/--no-wait",
    default=True,
    help="Follow the run until it ends or stalls (default), or return after its first invocation.",
)


def _ended_view(ctx: click.Context, with_plan: bool) -> Any:
    return partial(views.answer_view, commands=runtime_of(ctx).commands, with_plan=with_plan)


def run_result(ctx: click.Context, output: Output, answer: Answer, with_plan: bool, waited: bool) -> int:
    """Show a run's last answer; a run that stalled while followed exits 3 (it waits to be resumed)."""
    status = output.answer(answer, _ended_view(ctx, with_plan))
    commands = runtime_of(ctx).commands
    domain, run_id = str(answer.get("domain")), str(answer.get("run_id"))
    if not has_ended(answer) and answer.get("state") == "stalled" and waited:
        return int(ExitStatus.REFUSED_OR_FAILED)
    if goes_on(answer) and not waited:
        output.note(f"the run goes on by itself; follow it with `{commands.status(domain, run_id)}`")
    return status


# ------------------------------------------------------------------------------------------------ restore
@click.command()
@click.argument("domain")
@source_options
@click.option(
    "--resume",
    "resume_run_id",
    metavar="RUN_ID",
    help="Continue this parked or stalled run (see `runs`) where it stands, instead of starting one; only "
    "--target-domain goes with it (the run keeps what it was asked).",
)
@yes_option
@WAIT_OPTION
@json_option
@click.pass_context
def restore(
    ctx: click.Context,
    /,
    domain: str,
    resume_run_id: str | None,
    yes: bool,
    wait: bool,
    as_json: bool,
    **options: Any,
) -> int:
    """Restore DOMAIN from a dump: shows the plan, asks you to type the target domain's name, then writes.
    With --resume, continues a run that stalled or is parked."""
    output = output_of(ctx, as_json)
    if resume_run_id is not None:
        given = sorted(
            name for name, value in options.items() if value not in (None, ()) and name != "target_domain"
        )
        if given:
            raise click.UsageError(f"--resume continues the run as it was asked; drop {', '.join(given)}")
        return resume_restore(ctx, output, domain, resume_run_id, options.get("target_domain"), yes, wait)
    return run_restore(ctx, output, spec_of(domain, options), yes, wait)


def run_restore(ctx: click.Context, output: Output, spec: requests.RestoreSpec, yes: bool, wait: bool) -> int:
    """Plan, confirm, restore, and follow the restore while it continues in the background."""
    functions = functions_of(ctx, "restore")
    request = requests.restore_request(spec, confirm=spec.target)
    if not yes:
        planned = functions.invoke("restore", requests.plan_request(spec))
        if planned.get("status") != "planned":
            return output.answer(planned, _ended_view(ctx, True))
        output.info.print(views.answer_view(planned, runtime_of(ctx).commands))
        confirm_target(output.info, spec.target, "restore into")
    answer = follower_of(ctx, output).restore(request, spec.domain, None, wait)
    return run_result(ctx, output, answer, with_plan=yes, waited=wait)


def resume_restore(
    ctx: click.Context,
    output: Output,
    domain: str,
    run_id: str,
    target_domain: str | None,
    yes: bool,
    wait: bool,
) -> int:
    """Where the run stands, the operator's confirmation, then the restore with its run id, followed."""
    commands = runtime_of(ctx).commands
    status = functions_of(ctx, "restore").invoke("restore", requests.status_request(domain, run_id))
    if status.get("status") == "refused":
        return output.answer(status, _ended_view(ctx, False))
    if has_ended(status):
        raise NotResumableError(
            f"run {run_id} has ended ({status.get('status')}): there is nothing to resume; "
            f"`{commands.status(domain, run_id, wait=False)}` shows how",
            {"run_id": run_id, "state": status.get("state") or status.get("status")},
        )
    if status.get("state") == "running":
        raise NotResumableError(
            f"run {run_id} is running (last heartbeat {status.get('heartbeat_at')}): nothing to resume; follow it "
            f"with `{commands.status(domain, run_id)}`",
            {"run_id": run_id, "state": "running"},
        )
    target = str(status.get("target_domain") or target_domain or domain)
    if not yes:
        output.info.print(views.answer_view(status, commands, with_plan=False))
        confirm_target(output.info, target, "restore into")
    request = requests.resume_request(domain, run_id, target)
    answer = follower_of(ctx, output).restore(request, domain, run_id, wait)
    return run_result(ctx, output, answer, with_plan=False, waited=wait)


@click.command()
@click.argument("domain")
@click.option("--run-id", required=True, help="The restore run, as its answer (or `runs`) named it.")
@click.option("--wait", is_flag=True, help="Follow the run until it ends or stalls.")
@json_option
@click.pass_context
def status(ctx: click.Context, domain: str, run_id: str, wait: bool, as_json: bool) -> int:
    """The progress, or the final summary, of a restore run: its state (running, parked, stalled, ...)."""
    output = output_of(ctx, as_json)
    answer = functions_of(ctx, "restore").invoke("restore", requests.status_request(domain, run_id))
    if wait and goes_on(answer):
        answer = follower_of(ctx, output).follow(domain, run_id, answer)
    return run_result(ctx, output, answer, with_plan=False, waited=wait)


@click.command()
@click.argument("domain")
@click.option("--run-id", required=True, help="The restore run to undo, as its answer named it.")
@yes_option
@WAIT_OPTION
@json_option
@click.pass_context
def undo(ctx: click.Context, domain: str, run_id: str, yes: bool, wait: bool, as_json: bool) -> int:
    """Put back what a restore run replaced, from its safety backup (the same confirmation as restore)."""
    output = output_of(ctx, as_json)
    answer = functions_of(ctx, "restore").invoke("restore", requests.status_request(domain, run_id))
    if answer.get("status") == "refused":
        return output.answer(answer, _ended_view(ctx, False))
    safety_backup = answer.get("safety_backup")
    undo_event = safety_backup.get("undo") if isinstance(safety_backup, dict) else None
    if undo_event is None:
        reason = answer.get("safety_backup_skipped") or f"its status is {answer.get('status')}"
        raise NothingToUndoError(f"run {run_id} took no safety backup to undo ({reason})")
    return run_restore(ctx, output, requests.undo_spec(undo_event), yes, wait)


# ------------------------------------------------------------------------------------- runs and locks
@click.command()
@click.argument("domain")
@json_option
@click.pass_context
def runs(ctx: click.Context, domain: str, as_json: bool) -> int:
    """The restore runs of DOMAIN, newest first, with their state: running, parked, stalled (resume it with
    `restore --resume`), complete, failed, refused."""
    output = output_of(ctx, as_json)
    answer = functions_of(ctx, "restore").invoke("restore", requests.runs_request(domain))
    return output.answer(answer, _ended_view(ctx, False))


def needs_confirmation(answer: Answer) -> bool:
    error = answer.get("error")
    kind = error.get("kind") if isinstance(error, dict) else None
    return kind == "confirmation-required" or answer.get("status") in ("planned", "confirmation-required")


@click.command()
@click.argument("domain")
@yes_option
@json_option
@click.pass_context
def unlock(ctx: click.Context, domain: str, yes: bool, as_json: bool) -> int:
    """Remove the stale lock of DOMAIN, left by a run whose invocations died: shows the lock, then asks you to
    type the domain's name (as a restore does). A live lock is refused."""
    output = output_of(ctx, as_json)
    functions = functions_of(ctx, "restore")
    commands = runtime_of(ctx).commands
    if not yes:
        shown = functions.invoke("restore", requests.unlock_request(domain))
        if not needs_confirmation(shown):
            return output.answer(shown, _ended_view(ctx, False))
        output.info.print(views.answer_view(shown, commands))
        confirm_target(output.info, domain, "unlock")
    hint = f"`{commands.runs(domain)}` shows whether a run still holds it"
    answer = follower_of(ctx, output).answer_of(
        "restore", requests.unlock_request(domain, domain), "unlock", hint
    )
    return output.answer(answer, _ended_view(ctx, False))


# ------------------------------------------------------------------------------------ drills, estimates
@click.command()
@click.argument("domain")
@json_option
@click.pass_context
def drill(ctx: click.Context, domain: str, as_json: bool) -> int:
    """Run a restore drill of DOMAIN now, as its weekly schedule does: its latest dump restored into a scratch
    domain, verified against the dump, and deleted."""
    output = output_of(ctx, as_json)
    follower = follower_of(ctx, output, "drill")
    hint = "its result is in the drill function's log and metrics (DrillSucceeded / DrillFailed)"
    answer = follower.answer_of("drill", requests.drill_request(domain), "drill", hint)
    if answer.get("status") == "continued":
        answer = follower.finish("drill", hint, answer)
    return output.answer(answer, _ended_view(ctx, False))


@click.command()
@click.argument("domain")
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    help="Assume this SimpleDB latency per call instead of measuring it.",
)
@json_option
@click.pass_context
def estimate(ctx: click.Context, domain: str, latency_ms: float | None, as_json: bool) -> int:
    """How long, in how many invocations and at what cost a backup and a restore of DOMAIN would run, from its
    size (DomainMetadata) and SimpleDB's latency. Writes nothing."""
    output = output_of(ctx, as_json)
    answer = functions_of(ctx, "restore").invoke("restore", requests.estimate_request(domain, latency_ms))
    return output.answer(answer, _ended_view(ctx, False))


COMMANDS = (restore, status, undo, runs, unlock, drill, estimate)
