"""What every command shares: where the functions are, where output goes, the command line that repeats the
operator's global options, the options several commands take, and the question before a write."""

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import click
from rich.console import Console

from simpledb_backup_cli import requests
from simpledb_backup_cli.commands import CommandLine
from simpledb_backup_cli.errors import CliError, InterruptedAtQuestionError, NotConfirmedError
from simpledb_backup_cli.following import Follower
from simpledb_backup_cli.functions import FunctionName, Functions
from simpledb_backup_cli.output import Output, unwrapped


@dataclass
class Runtime:
    """What the commands share: where the functions are, and where output goes. Tests pass one in (``obj``)
    with functions of their own; otherwise the global options decide."""

    functions_factory: Callable[[FunctionName], Functions] | None = None
    #: The boto3 session --stack-name uses (a default one, for the region and profile given, when None).
    session: Any = None
    stdout: TextIO | None = None
    console: Console | None = None
    error_console: Console | None = None
    quiet: bool = False
    #: The global options the operator gave, repeated in every command the output shows.
    global_options: tuple[str, ...] = ()
    #: Run before an abrupt exit (a second Ctrl-C): stops what cannot outlive the command.
    before_exit: Callable[[], None] = lambda: None
    _functions: dict[str, Functions] = field(default_factory=dict)

    def functions(self, function: FunctionName) -> Functions:
        if function not in self._functions:
            if self.functions_factory is None:
                raise CliError("no functions to invoke")  # the group callback always sets a factory
            self._functions[function] = self.functions_factory(function)
        return self._functions[function]

    @property
    def commands(self) -> CommandLine:
        return CommandLine(self.global_options)


def runtime_of(ctx: click.Context) -> Runtime:
    runtime: Runtime = ctx.ensure_object(Runtime)
    return runtime


def output_of(ctx: click.Context, as_json: bool) -> Output:
    runtime = runtime_of(ctx)
    stdout = runtime.stdout or sys.stdout
    console = runtime.console or Console(file=stdout, **unwrapped(stdout))
    error_console = runtime.error_console or Console(stderr=True, **unwrapped(sys.stderr))
    return Output(as_json, stdout, console, error_console, runtime.quiet)


def functions_of(ctx: click.Context, function: FunctionName) -> Functions:
    return runtime_of(ctx).functions(function)


def follower_of(ctx: click.Context, output: Output, function: FunctionName = "restore") -> Follower:
    runtime = runtime_of(ctx)
    return Follower(runtime.functions(function), output, runtime.commands, runtime.before_exit)


# ----------------------------------------------------------------------------------------------- options
def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print exactly the function's answer, as JSON, for scripts (the command's own refusals too).",
    )(command)


def yes_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--yes", is_flag=True, help="Do not ask: confirm the target domain's name (for scripts)."
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


# ---------------------------------------------------------------------------------------- the question
def confirm_target(console: Console, target: str, what: str) -> None:
    """Ask the operator to type ``target`` before ``what`` writes; NotConfirmedError when they do not."""
    try:
        typed = ask_target(console, target, what)
    except KeyboardInterrupt:
        raise InterruptedAtQuestionError(
            "not confirmed (Ctrl-C): nothing was sent, nothing was written"
        ) from None
    if typed != target:
        shown = f"typed {typed!r}" if typed else "typed nothing"
        raise NotConfirmedError(f"refused: you {shown}, not {target!r}; nothing was written")


def ask_target(console: Console, target: str, what: str = "restore into") -> str:
    """What the operator types when asked for the target domain's name ("" when there is no answer)."""
    try:
        typed = console.input(
            f"Type the name of the domain to {what} ([bold]{target}[/bold]) to go ahead; anything else cancels: "
        )
    except EOFError:
        return ""
    if not sys.stdin.isatty():  # a terminal shows what was typed; a transcript of piped input should too
        console.print(typed, highlight=False, markup=False)
    return typed.strip()
