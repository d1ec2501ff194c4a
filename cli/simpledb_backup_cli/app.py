"""The `simpledb-backup` command: options in, one event per function invocation, answers out.

    simpledb-backup [--local | --stack-name NAME] COMMAND DOMAIN [options]

Commands: backup, list, plan, diff, restore, status, undo. ``--json`` prints exactly the function's answer;
otherwise the answer is shown for a person (render). ``restore`` and ``undo`` show the plan first and write only
after the operator has typed the target domain's name (``--yes`` skips the question). Exit status: see errors.
"""

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import boto3
import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from rich.console import Console
from rich.text import Text

from simpledb_backup_cli import render, requests
from simpledb_backup_cli.deployed import DeployedFunctions
from simpledb_backup_cli.errors import (
    CliError,
    ExitStatus,
    NotConfirmedError,
    NothingToUndoError,
)
from simpledb_backup_cli.functions import FunctionName, Functions, LocalFunctions, lambda_context
from simpledb_backup_cli.output import CurrentStderr, Output, unwrapped
from simpledb_backup_cli.progress import follow, progress_display

DEFAULT_STACK = "simpledb-backup"


@dataclass
class Runtime:
    """What the commands share: where the functions are, and where output goes. Tests pass one in (``obj``)
    with functions of their own; otherwise the global options decide."""

    functions_factory: Callable[[FunctionName], Functions] | None = None
    #: The boto3 session --stack-name uses (a default one, for the region given, when None).
    session: Any = None
    stdout: TextIO | None = None
    console: Console | None = None
    error_console: Console | None = None
    _functions: dict[str, Functions] = field(default_factory=dict)

    def functions(self, function: FunctionName) -> Functions:
        if function not in self._functions:
            if self.functions_factory is None:
                raise CliError("no functions to invoke")  # the group callback always sets a factory
            self._functions[function] = self.functions_factory(function)
        return self._functions[function]


def _output(ctx: click.Context, as_json: bool) -> Output:
    runtime: Runtime = ctx.ensure_object(Runtime)
    stdout = runtime.stdout or sys.stdout
    console = runtime.console or Console(file=stdout, **unwrapped(stdout))
    error_console = runtime.error_console or Console(stderr=True, **unwrapped(sys.stderr))
    return Output(as_json, stdout, console, error_console)


def _functions(ctx: click.Context, function: FunctionName) -> Functions:
    runtime: Runtime = ctx.ensure_object(Runtime)
    return runtime.functions(function)


# ----------------------------------------------------------------------------------------------- options
def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print exactly the function's answer, as JSON, for scripts."
    )(command)


def samples_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--samples", "sample_size", type=click.IntRange(0, 100), help="Items to show per kind of change (5)."
    )(command)


def source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Which dump (or file) a plan or restore reads, where it writes, and which items."""
    options: list[Callable[[Any], Any]] = [
        click.option(
            "--version-id", help="The dump with this version id (see `list`); the latest by default."
        ),
        click.option("--as-of", help="The newest dump at or before this time, e.g. 2026-11-26T03:00:00Z."),
        click.option(
            "--mode",
            type=click.Choice(["merge", "exact"]),
            help="merge (default): the dump's items are written over the target, other items stay; "
            "exact: afterwards the target holds exactly the dump.",
        ),
        click.option(
            "--target-domain", help="Where to write (the domain itself by default); a new one is created."
        ),
        click.option(
            "--item", "items", multiple=True, metavar="NAME", help="Only this item (repeat for more)."
        ),
        click.option(
            "--match",
            multiple=True,
            metavar="ATTR=VALUE",
            help="Only items whose attribute has this value, e.g. distribution=stable (repeat for more).",
        ),
        click.option(
            "--source",
            type=click.Choice(["dump", "repoman", "native-export"]),
            help="Read a Repoman backup file or an AWS native export under imports/ instead of a dump.",
        ),
        click.option("--source-key", help="S3 key of the Repoman file or native export (with --source)."),
        samples_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def spec_of(domain: str, options: dict[str, Any]) -> requests.RestoreSpec:
    return requests.RestoreSpec(
        domain=domain,
        version_id=options.get("version_id"),
        as_of=options.get("as_of"),
        mode=options.get("mode"),
        target_domain=options.get("target_domain"),
        items=tuple(options.get("items") or ()),
        match=tuple(options.get("match") or ()),
        source=options.get("source"),
        source_key=options.get("source_key"),
        sample_size=options.get("sample_size"),
    )


# ------------------------------------------------------------------------------------------------- group
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--local",
    is_flag=True,
    help="Run the functions in this process, as `make invoke-local` does: against AWS_ENDPOINT_URL when it is "
    "set (e.g. `make local-aws`), otherwise against an embedded local AWS seeded for this command.",
)
@click.option(
    "--stack-name",
    metavar="NAME",
    help=f"Invoke the functions of this deployed stack through the Lambda API (default: {DEFAULT_STACK}).",
)
@click.option("--region", help="AWS region of the stack (default: your AWS configuration).")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SIMPLEDB_BACKUP_LOG_FILE",
    help="With --local: append the functions' logs to this file instead of printing them on stderr.",
)
@click.option(
    "--local-timeout",
    type=click.FloatRange(min=1, max=900),
    default=900,
    show_default=True,
    metavar="SECONDS",
    help="With --local: how long each invocation may run, as the function's timeout does. Lower it (with "
    "CONTINUATION_MARGIN_SECONDS) to watch a restore continue over several invocations.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    local: bool,
    stack_name: str | None,
    region: str | None,
    log_file: Path | None,
    local_timeout: float,
) -> None:
    """Back up and restore Amazon SimpleDB domains with the simpledb-backup functions.

    \b
    A typical recovery:
      simpledb-backup list packages                    the dumps, newest first
      simpledb-backup diff packages                    what changed since the latest dump
      simpledb-backup plan packages --mode exact       what a restore would change (writes nothing)
      simpledb-backup restore packages --mode exact    the same plan, then restore after you confirm
      simpledb-backup undo packages --run-id RUN       put back what the restore replaced

    Exit status: 0 answered, 3 refused or failed (or not confirmed), 1 the function raised, 2 usage or AWS
    problem.
    """
    if local and stack_name:
        raise click.UsageError("--local and --stack-name exclude each other")
    runtime: Runtime = ctx.ensure_object(Runtime)
    runtime.stdout = runtime.stdout or sys.stdout
    if runtime.functions_factory is not None:
        return
    if local:
        runtime.functions_factory = _local_functions(ctx, log_file, local_timeout)
    else:
        session = runtime.session or boto3.Session(region_name=region)
        runtime.functions_factory = _deployed_functions(session, stack_name or DEFAULT_STACK, region)


def _local_functions(
    ctx: click.Context, log_file: Path | None, timeout_seconds: float
) -> Callable[[FunctionName], Functions]:
    def start(function: FunctionName) -> Functions:
        from localrun import local_stack

        error_console = Console(stderr=True)
        output: TextIO = CurrentStderr()  # type: ignore[assignment]
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            output = ctx.with_resource(log_file.open("a", encoding="utf-8"))
        ctx.with_resource(
            local_stack(function, output, lambda line: error_console.print(Text(line, style="dim")))
        )
        functions = LocalFunctions(partial(lambda_context, timeout_seconds=timeout_seconds))
        # Registered after the local stack, so it runs before the stack stops: a restore's continuations
        # still running in the background end before the command does.
        ctx.call_on_close(functions.finish)
        return functions

    return start


def _deployed_functions(
    session: Any, stack_name: str, region: str | None
) -> Callable[[FunctionName], Functions]:
    functions = DeployedFunctions(session, stack_name, region)
    return lambda _: functions


# ----------------------------------------------------------------------------------------------- commands
@cli.command()
@click.argument("domain")
@click.option("--where", help="A Select where clause for a subset dump (needs --label).")
@click.option("--label", help="The subset dump's label: it goes to dumps/DOMAIN/subset-LABEL.jsonl.gz.")
@json_option
@click.pass_context
def backup(ctx: click.Context, domain: str, where: str | None, label: str | None, as_json: bool) -> int:
    """Back DOMAIN up now: a new dump version (a subset dump with --where and --label)."""
    output = _output(ctx, as_json)
    functions = _functions(ctx, "backup")
    answer = functions.invoke("backup", requests.backup_request(domain, where, label))
    if answer.get("status") == "continued":
        final = functions.finish()  # a local backup's continuations, run here; None when deployed
        answer = final or answer
    return output.answer(answer, render.backup_view)


@cli.command("list")
@click.argument("domain")
@click.option("--limit", type=click.IntRange(1, 1000), help="How many dumps to show (20).")
@click.option("--label", help="Only the dumps of this subset.")
@json_option
@click.pass_context
def list_dumps(ctx: click.Context, domain: str, limit: int | None, label: str | None, as_json: bool) -> int:
    """The dumps of DOMAIN, newest first: full dumps, then subset dumps."""
    output = _output(ctx, as_json)
    answer = _functions(ctx, "restore").invoke("restore", requests.list_request(domain, limit, label))
    return output.answer(answer)


@cli.command()
@click.argument("domain")
@source_options
@json_option
@click.pass_context
def plan(ctx: click.Context, /, domain: str, as_json: bool, **options: Any) -> int:
    """What a restore of DOMAIN would change, in the domain's terms. Writes nothing."""
    output = _output(ctx, as_json)
    answer = _functions(ctx, "restore").invoke("restore", requests.plan_request(spec_of(domain, options)))
    return output.answer(answer)


@cli.command()
@click.argument("domain")
@click.option(
    "--from",
    "source",
    metavar="DUMP",
    help="latest (default), previous (the dump before the latest), a version id, or a time (as of).",
)
@click.option(
    "--to",
    "target",
    metavar="DUMP",
    help="live (default: the domain as it is now), latest, a version id, or a time (as of).",
)
@samples_option
@json_option
@click.pass_context
def diff(
    ctx: click.Context,
    domain: str,
    source: str | None,
    target: str | None,
    sample_size: int | None,
    as_json: bool,
) -> int:
    """What changed in DOMAIN between two dumps, or since a dump. "What changed last night":
    --from previous --to latest."""
    output = _output(ctx, as_json)
    request = requests.diff_request(domain, source, target, sample_size)
    answer = _functions(ctx, "restore").invoke("restore", request)
    return output.answer(answer, render.answer_view)


@cli.command()
@click.argument("domain")
@source_options
@click.option("--yes", is_flag=True, help="Do not ask: confirm the target domain's name (for scripts).")
@click.option(
    "--wait/--no-wait",
    default=True,
    help="Follow a restore that continues in the background until it ends (default), or return at once.",
)
@json_option
@click.pass_context
def restore(ctx: click.Context, /, domain: str, yes: bool, wait: bool, as_json: bool, **options: Any) -> int:
    """Restore DOMAIN from a dump: shows the plan, asks you to type the target domain's name, then writes."""
    output = _output(ctx, as_json)
    return run_restore(ctx, output, spec_of(domain, options), yes, wait)


@cli.command()
@click.argument("domain")
@click.option("--run-id", required=True, help="The restore run, as its answer named it.")
@click.option("--wait", is_flag=True, help="Follow the run until it ends.")
@json_option
@click.pass_context
def status(ctx: click.Context, domain: str, run_id: str, wait: bool, as_json: bool) -> int:
    """The progress, or the final summary, of a restore run."""
    output = _output(ctx, as_json)
    functions = _functions(ctx, "restore")
    answer = functions.invoke("restore", requests.status_request(domain, run_id))
    if wait and answer.get("status") == "continued":
        answer = follow(functions, answer, progress_display(output.error_console))
    return output.answer(answer, lambda shown: render.answer_view(shown, with_plan=False))


@cli.command()
@click.argument("domain")
@click.option("--run-id", required=True, help="The restore run to undo, as its answer named it.")
@click.option("--yes", is_flag=True, help="Do not ask: confirm the target domain's name (for scripts).")
@click.option("--wait/--no-wait", default=True, help="Follow the undo until it ends (default).")
@json_option
@click.pass_context
def undo(ctx: click.Context, domain: str, run_id: str, yes: bool, wait: bool, as_json: bool) -> int:
    """Put back what a restore run replaced, from its safety backup (the same confirmation as restore)."""
    output = _output(ctx, as_json)
    answer = _functions(ctx, "restore").invoke("restore", requests.status_request(domain, run_id))
    if answer.get("status") == "refused":
        return output.answer(answer)
    safety_backup = answer.get("safety_backup")
    undo_event = safety_backup.get("undo") if isinstance(safety_backup, dict) else None
    if undo_event is None:
        reason = answer.get("safety_backup_skipped") or f"its status is {answer.get('status')}"
        raise NothingToUndoError(f"run {run_id} took no safety backup to undo ({reason})")
    return run_restore(ctx, output, requests.undo_spec(undo_event), yes, wait)


def run_restore(ctx: click.Context, output: Output, spec: requests.RestoreSpec, yes: bool, wait: bool) -> int:
    """Plan, confirm, restore, and follow the restore while it continues in the background."""
    functions = _functions(ctx, "restore")
    if not yes:
        planned = functions.invoke("restore", requests.plan_request(spec))
        if planned.get("status") != "planned":
            return output.answer(planned)
        output.info.print(render.plan_view(planned))
        typed = ask_target(output.info, spec.target)
        if typed != spec.target:
            shown = f"typed {typed!r}" if typed else "typed nothing"
            raise NotConfirmedError(f"refused: you {shown}, not {spec.target!r}; nothing was written")
    answer = functions.invoke("restore", requests.restore_request(spec, confirm=spec.target))
    if answer.get("status") == "continued":
        if wait:
            answer = follow(functions, answer, progress_display(output.error_console))
        elif not output.as_json:
            output.note(
                f"the restore continues in the background; follow it with `simpledb-backup status "
                f"{spec.domain} --run-id {answer.get('run_id')} --wait`"
            )
    return output.answer(answer, lambda shown: render.answer_view(shown, with_plan=yes))


def ask_target(console: Console, target: str) -> str:
    """What the operator types when asked for the target domain's name ("" when there is no answer)."""
    try:
        typed = console.input(
            f"Type the name of the domain to restore into ([bold]{target}[/bold]) to go ahead; "
            "anything else cancels: "
        )
    except EOFError:
        return ""
    if not sys.stdin.isatty():  # a terminal shows what was typed; a transcript of piped input should too
        console.print(typed, highlight=False, markup=False)
    return typed.strip()


# -------------------------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None, runtime: Runtime | None = None) -> int:
    """Run one command; returns its exit status. Errors are one line on stderr, not a traceback."""
    debug = os.environ.get("SIMPLEDB_BACKUP_DEBUG") == "1"
    try:
        result = cli.main(args=argv, prog_name="simpledb-backup", obj=runtime, standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as error:
        error.show()
        return int(error.exit_code)
    except click.Abort:
        _error("aborted")
        return int(ExitStatus.INTERRUPTED)
    except KeyboardInterrupt:
        _error("interrupted; a deployed restore goes on by itself (follow it with `status --wait`)")
        return int(ExitStatus.INTERRUPTED)
    except CliError as error:
        _error(str(error))
        return int(error.status)
    except (NoCredentialsError, PartialCredentialsError):
        _error("no AWS credentials found. Log in (aws sso login / aws configure) or set AWS_PROFILE.")
        return int(ExitStatus.USAGE)
    except NoRegionError:
        _error("no AWS region configured. Pass --region or set AWS_REGION.")
        return int(ExitStatus.USAGE)
    except (ClientError, BotoCoreError) as error:
        _error(f"AWS: {error}")
        return int(ExitStatus.USAGE)
    except Exception as error:
        if debug:
            raise
        _error(f"{type(error).__name__}: {error} (SIMPLEDB_BACKUP_DEBUG=1 shows the traceback)")
        return int(ExitStatus.RAISED)
    return int(result) if isinstance(result, int) else int(ExitStatus.ANSWERED)


def _error(message: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text("error: ", style="bold red").append(message)
    )
