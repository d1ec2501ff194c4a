"""The `simpledb-backup` command line that sends a given event: how the CLI shows an answer's next steps
(docs/ANSWERS.md, ``"next": [{"say", "function", "event"}]``) and how it tells the operator to follow or resume a
run (pure).

Each command line is the inverse of what ``requests`` builds from the command's options: run it and the same
event is sent (tests/cli/test_cli_next_steps.py holds it for every kind of event). An event no command sends
(a backup's resume_run_id, a field the command has no option for) has no command line: the caller shows the
event itself.
"""

import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import Any

PROGRAM = "simpledb-backup"

#: A restore or plan request's fields, each as its option (the spec's options, requests.RestoreSpec).
SPEC_OPTIONS = {
    "version_id": "--version-id",
    "as_of": "--as-of",
    "mode": "--mode",
    "target_domain": "--target-domain",
    "source": "--source",
    "source_key": "--source-key",
    "sample_size": "--samples",
}


class CommandLine:
    """Command lines for events, with the global options of the command the operator ran (``--local``,
    ``--stack-name`` ...), so that what is shown works as it is."""

    def __init__(self, global_options: Sequence[str] = ()) -> None:
        self.global_options = tuple(global_options)

    def line(self, *arguments: str) -> str:
        return shlex.join([PROGRAM, *self.global_options, *arguments])

    def for_step(self, step: Mapping[str, Any]) -> str | None:
        """The command that sends a next step's event, or None when no command sends exactly that event."""
        event = step.get("event")
        if not isinstance(event, Mapping):
            return None
        build = BUILDERS.get(str(step.get("function")))
        arguments = build(event) if build else None
        return None if arguments is None else self.line(*arguments)

    def status(self, domain: str, run_id: str, wait: bool = True) -> str:
        return self.line("status", domain, "--run-id", run_id, *(["--wait"] if wait else []))

    def resume(self, domain: str, run_id: str, target_domain: str | None = None) -> str:
        target = ["--target-domain", target_domain] if target_domain and target_domain != domain else []
        return self.line("restore", domain, "--resume", run_id, *target)

    def runs(self, domain: str) -> str:
        return self.line("runs", domain)


Arguments = list[str] | None


def _known(event: Mapping[str, Any], allowed: set[str]) -> bool:
    return set(event) <= allowed


def _spec_arguments(event: Mapping[str, Any]) -> list[str]:
    arguments: list[str] = []
    for field, option in SPEC_OPTIONS.items():
        value = event.get(field)
        if value is None or (field == "source" and value == "dump"):
            continue
        arguments += [option, str(value)]
    for item in event.get("items") or []:
        arguments += ["--item", str(item)]
    for name, value in (event.get("match") or {}).items():
        arguments += ["--match", f"{name}={value}"]
    return arguments


SPEC_FIELDS = {"action", "domain", "items", "match", *SPEC_OPTIONS}


def _restore(event: Mapping[str, Any]) -> Arguments:
    action, domain = event.get("action"), str(event.get("domain"))
    if action == "list" and _known(event, {"action", "domain", "limit", "label"}):
        arguments = ["list", domain]
        if event.get("limit") is not None:
            arguments += ["--limit", str(event["limit"])]
        if event.get("label") is not None:
            arguments += ["--label", str(event["label"])]
        return arguments
    if action == "plan" and _known(event, SPEC_FIELDS):
        return ["plan", domain, *_spec_arguments(event)]
    if action == "restore" and event.get("run_id"):
        if not _known(event, {"action", "domain", "run_id", "target_domain", "confirm"}):
            return None
        target = event.get("target_domain")
        return ["restore", domain, "--resume", str(event["run_id"])] + (
            ["--target-domain", str(target)] if target and target != domain else []
        )
    if action == "restore" and _known(event, SPEC_FIELDS | {"confirm"}):
        # The operator confirms by typing the target's name when asked: ``confirm`` is not an option.
        return ["restore", domain, *_spec_arguments(event)]
    if action == "status" and _known(event, {"action", "domain", "run_id"}):
        return ["status", domain, "--run-id", str(event.get("run_id"))]
    if action in ("runs", "unlock") and _known(event, {"action", "domain", "confirm"}):
        return [str(action), domain]
    if action == "estimate" and _known(event, {"action", "domain", "latency_ms"}):
        latency = event.get("latency_ms")
        return ["estimate", domain, *(["--latency-ms", str(latency)] if latency is not None else [])]
    if action == "diff" and _known(event, {"action", "domain", "from", "to", "sample_size"}):
        return _diff(event)
    return None


def _diff(event: Mapping[str, Any]) -> Arguments:
    arguments = ["diff", str(event.get("domain"))]
    for field, option in (("from", "--from"), ("to", "--to")):
        side = event.get(field)
        if side is None:
            continue
        if isinstance(side, Mapping):
            side = side.get("version_id") or side.get("as_of")
        arguments += [option, str(side)]
    if event.get("sample_size") is not None:
        arguments += ["--samples", str(event["sample_size"])]
    return arguments


def _backup(event: Mapping[str, Any]) -> Arguments:
    domains = event.get("domains")
    if not _known(event, {"trigger", "domains", "where", "label"}) or not isinstance(domains, list):
        return None
    if len(domains) != 1:
        return None
    arguments = ["backup", str(domains[0])]
    for field in ("where", "label"):
        if event.get(field) is not None:
            arguments += [f"--{field}", str(event[field])]
    return arguments


def _drill(event: Mapping[str, Any]) -> Arguments:
    if not _known(event, {"trigger", "domain"}) or not event.get("domain"):
        return None
    return ["drill", str(event["domain"])]


BUILDERS: dict[str, Callable[[Mapping[str, Any]], Arguments]] = {
    "restore": _restore,
    "backup": _backup,
    "drill": _drill,
}
