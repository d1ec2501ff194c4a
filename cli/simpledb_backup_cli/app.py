"""The `simpledb-backup` command: options in, one event per function invocation, answers out.

    simpledb-backup [--local | --stack-name NAME] COMMAND DOMAIN [options]

Commands: backup, list, plan, diff, restore, status, undo, runs, unlock, drill, estimate (the run commands are in
runcommands). ``--json`` prints exactly the function's answer (or the command's own refusal, in the same shape);
otherwise the answer is shown for a person (views). ``restore``, ``undo`` and ``unlock`` show what they would do
first and write only after the operator has typed the target domain's name (``--yes`` skips the question). A run
the command follows goes on when the operator presses Ctrl-C (following). Exit status: see errors.
"""

import os
import signal
import sys
from collections.abc import Callable, Sequence
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
    ProfileNotFound,
)
from rich.console import Console
from rich.text import Text

from simpledb_backup_cli import requests, runcommands, views
from simpledb_backup_cli.cliruntime import (
    Runtime,
    follower_of,
    functions_of,
    json_option,
    output_of,
    runtime_of,
    samples_option,
    source_options,
    spec_of,
)
from simpledb_backup_cli.deployed import DeployedFunctions
from simpledb_backup_cli.errors import CliError, ExitStatus, StoppedFollowingError
from simpledb_backup_cli.functions import (
    FunctionName,
    Functions,
    LocalFunctions,
    WorkerFunctions,
    lambda_context,
)
from simpledb_backup_cli.output import CurrentStderr, Discard, error_document, print_json

DEFAULT_STACK = "simpledb-backup"
STACK_VARIABLE = "SIMPLEDB_BACKUP_STACK"
DEFAULT_LOCAL_TIMEOUT = 900.0


# ------------------------------------------------------------------------------------------------- group
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(
    package_name="simpledb-backup", prog_name="simpledb-backup", message="%(prog)s %(version)s"
)
@click.option(
    "--local",
    is_flag=True,
    help="Run the functions on this machine, as `make invoke-local` does: against AWS_ENDPOINT_URL when it is "
    "set (e.g. `make local-aws`), otherwise against an embedded local AWS seeded for this command.",
)
@click.option(
    "--stack-name",
    metavar="NAME",
    envvar=STACK_VARIABLE,
    help=f"Invoke the functions of this deployed stack through the Lambda API (default: {DEFAULT_STACK}, or "
    f"${STACK_VARIABLE}).",
)
@click.option("--region", help="AWS region of the stack (default: your AWS configuration).")
@click.option(
    "--profile", help="AWS profile of your configuration to use (default: AWS_PROFILE, or the default)."
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress and no notes on stderr: only the answer, the question before a write, a run's id and "
    "errors.",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SIMPLEDB_BACKUP_LOG_FILE",
    help="With --local: append the functions' logs to this file instead of printing them on stderr.",
)
@click.option(
    "--local-timeout",
    type=click.FloatRange(min=1, max=900),
    default=DEFAULT_LOCAL_TIMEOUT,
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
    profile: str | None,
    quiet: bool,
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
      simpledb-backup runs packages                    the restore runs, and whether one stalled
      simpledb-backup restore packages --resume RUN    continue a parked or stalled run
      simpledb-backup undo packages --run-id RUN       put back what the restore replaced

    Exit status: 0 answered, 3 refused or failed (or not confirmed, or the run followed stalled), 1 the
    function raised, 2 usage or AWS problem, 130 Ctrl-C (the run goes on; the command says how to follow it).
    """
    from_command_line = ctx.get_parameter_source("stack_name") == click.core.ParameterSource.COMMANDLINE
    if local and stack_name and from_command_line:
        raise click.UsageError("--local and --stack-name exclude each other")
    runtime = runtime_of(ctx)
    runtime.stdout = runtime.stdout or sys.stdout
    runtime.quiet = runtime.quiet or quiet
    # What the commands shown to the operator repeat, so that they work as shown.
    if local:
        timeout = ("--local-timeout", f"{local_timeout:g}") if local_timeout != DEFAULT_LOCAL_TIMEOUT else ()
        runtime.global_options = ("--local", *timeout)
    else:
        given = [
            ("--stack-name", stack_name if from_command_line else None),
            ("--region", region),
            ("--profile", profile),
        ]
        runtime.global_options = tuple(part for option, value in given if value for part in (option, value))
    if runtime.functions_factory is not None:
        return
    if local:
        runtime.functions_factory = _local_functions(ctx, runtime, log_file, local_timeout)
        return
    session = runtime.session or boto3.Session(region_name=region, profile_name=profile)
    runtime.functions_factory = _deployed_functions(session, stack_name or DEFAULT_STACK, region)


def _local_functions(
    ctx: click.Context, runtime: Runtime, log_file: Path | None, timeout_seconds: float
) -> Callable[[FunctionName], Functions]:
    def start(function: FunctionName) -> Functions:
        from localrun import local_stack

        error_console = Console(stderr=True)
        logs: TextIO = Discard() if runtime.quiet else CurrentStderr()  # type: ignore[assignment]
        in_process_logs = logs
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            in_process_logs = ctx.with_resource(log_file.open("a", encoding="utf-8"))
        embedded = not os.environ.get("AWS_ENDPOINT_URL")
        report: Callable[[str], None] = (
            (lambda line: None)
            if runtime.quiet
            else (lambda line: error_console.print(Text(line, style="dim")))
        )
        ctx.with_resource(local_stack(function, in_process_logs, report))
        in_process = LocalFunctions(partial(lambda_context, timeout_seconds=timeout_seconds))
        functions = WorkerFunctions(in_process, timeout_seconds, log_file, logs, embedded)
        if embedded:
            # The embedded AWS stops with the command: its workers end first (or are stopped, when the command
            # stops early), registered after the local stack so that they run before it stops.
            runtime.before_exit = functions.stop
            ctx.call_on_close(functions.wait)
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
    output = output_of(ctx, as_json)
    request = requests.backup_request(domain, where, label)
    follower = follower_of(ctx, output, "backup")
    hint = f"`{runtime_of(ctx).commands.line('list', domain)}` shows its dump once it is published"
    answer = follower.answer_of("backup", request, "backup", hint)
    if answer.get("status") == "continued":
        answer = follower.finish("backup", hint, answer)  # a local backup's continuations; deployed: as it is
    return output.answer(answer, partial(views.answer_view, commands=runtime_of(ctx).commands))


@cli.command("list")
@click.argument("domain")
@click.option("--limit", type=click.IntRange(1, 1000), help="How many dumps to show (20).")
@click.option("--label", help="Only the dumps of this subset.")
@json_option
@click.pass_context
def list_dumps(ctx: click.Context, domain: str, limit: int | None, label: str | None, as_json: bool) -> int:
    """The dumps of DOMAIN, newest first: full dumps, then subset dumps."""
    output = output_of(ctx, as_json)
    answer = functions_of(ctx, "restore").invoke("restore", requests.list_request(domain, limit, label))
    return output.answer(answer, partial(views.answer_view, commands=runtime_of(ctx).commands))


@cli.command()
@click.argument("domain")
@source_options
@json_option
@click.pass_context
def plan(ctx: click.Context, /, domain: str, as_json: bool, **options: Any) -> int:
    """What a restore of DOMAIN would change, in the domain's terms. Writes nothing."""
    output = output_of(ctx, as_json)
    answer = functions_of(ctx, "restore").invoke("restore", requests.plan_request(spec_of(domain, options)))
    return output.answer(answer, partial(views.answer_view, commands=runtime_of(ctx).commands))


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
    output = output_of(ctx, as_json)
    request = requests.diff_request(domain, source, target, sample_size)
    answer = functions_of(ctx, "restore").invoke("restore", request)
    return output.answer(answer, partial(views.answer_view, commands=runtime_of(ctx).commands))


for _command in runcommands.COMMANDS:
    cli.add_command(_command)


# -------------------------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None, runtime: Runtime | None = None) -> int:
    """Run one command; returns its exit status. Errors are one line on stderr, not a traceback (and, with
    --json, a JSON document on stdout as well)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    report = Report("--json" in arguments, runtime)
    try:
        result = cli.main(args=arguments, prog_name="simpledb-backup", obj=runtime, standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.ClickException as error:
        return report.usage(error)
    except (click.Abort, KeyboardInterrupt):
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        return report.error(
            CliError("interrupted (Ctrl-C); nothing that writes had been sent"),
            ExitStatus.INTERRUPTED,
            "interrupted",
        )
    except StoppedFollowingError as stopped:
        return report.stopped(stopped)
    except CliError as error:
        return report.error(error)
    except (NoCredentialsError, PartialCredentialsError):
        return report.error(
            CliError(
                "no AWS credentials found. Log in (aws sso login / aws configure), or set AWS_PROFILE or --profile."
            )
        )
    except ProfileNotFound as error:
        return report.error(CliError(f"{error} (--profile or AWS_PROFILE)"))
    except NoRegionError:
        return report.error(CliError("no AWS region configured. Pass --region or set AWS_REGION."))
    except (ClientError, BotoCoreError) as error:
        return report.error(CliError(f"AWS: {error}"), kind="aws")
    except Exception as error:
        if os.environ.get("SIMPLEDB_BACKUP_DEBUG") == "1":
            raise
        return report.error(
            CliError(f"{type(error).__name__}: {error} (SIMPLEDB_BACKUP_DEBUG=1 shows the traceback)"),
            ExitStatus.RAISED,
            "error",
        )
    return int(result) if isinstance(result, int) else int(ExitStatus.ANSWERED)


class Report:
    """How main reports what ended a command: a line on stderr, and with --json the same as a JSON document on
    stdout (stdout always carries one JSON document then)."""

    def __init__(self, as_json: bool, runtime: Runtime | None) -> None:
        self.as_json, self.runtime = as_json, runtime

    def _json(self, document: dict[str, Any]) -> None:
        if self.as_json:
            stdout = (self.runtime.stdout if self.runtime else None) or sys.stdout
            print_json(stdout, document)

    def usage(self, error: click.ClickException) -> int:
        error.show()
        self._json(
            {
                "status": "error",
                "error": {"kind": "usage", "message": error.format_message()},
                "exit_status": error.exit_code,
            }
        )
        return int(error.exit_code)

    def error(self, error: CliError, status: ExitStatus | None = None, kind: str | None = None) -> int:
        if status is not None:
            error.status = status
        if kind is not None:
            error.kind = kind
        _line(Text("error: ", style="bold red").append(str(error)))
        self._json(error_document(error))
        return int(error.status)

    def stopped(self, stopped: StoppedFollowingError) -> int:
        _line(Text(str(stopped), style="bold yellow"))
        self._json(error_document(stopped))
        return int(stopped.status)


def _line(text: Text) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(text)
