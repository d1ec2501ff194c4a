"""IAM sufficiency and least privilege, decided by a policy evaluator (@cloud-copilot/iam-simulate).

One broad run of the three functions (scenario.py) is recorded twice, with Object Lock off and on, and every
call is evaluated against the policies template.yaml gives their roles (and the bucket's and keys' policies)
in realistic deployments: several domains, a restore target pattern, a customer managed KMS key on and off,
replication on and off, drills on and off. Every call must be allowed; every action of every statement must be
used by some call or be justified below; docs/IAM.md lists the calls, and must list exactly these.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from iamcheck.deployment import CUSTOMER_KEY_ARN, Deployment, Variant, deployment
from iamcheck.recorder import RECORDER, RecordedCall
from iamcheck.requests import IamRequest
from iamcheck.scenario import DOMAINS, STACK, run_everything
from iamcheck.simulator import decide

DOC = Path(__file__).resolve().parents[2] / "docs" / "IAM.md"
LOCK_DAYS = {"off": 0, "on": 30}
VARIANTS = [
    Variant(kms_key=kms, replication=replication) for kms in (False, True) for replication in (False, True)
] + [Variant(drills=False)]

# Statements (function, Sid) or actions (function, Sid, action) no call of the functions' code can use, and why.
JUSTIFIED = {
    ("*", "Logs"): "Lambda's runtime writes the function's logs to its log group with the function's role",
    (
        "*",
        "XRayRequiresStar",
    ): "Lambda sends the function's X-Ray trace segments (Tracing: Active) with its role",
    ("*", "OnFailureDestination"): "Lambda sends a failed asynchronous invocation to the queue with the role",
    ("drill", "MissingKeyIsNotFound"): (
        "a lock released between the drill's conditional put and its read of it must read as gone (404), not as "
        "AccessDenied (403); the scenario cannot time that race"
    ),
    ("restore", "StageSafetyDump", "s3:AbortMultipartUpload"): (
        "a safety dump that fails before its first checkpoint aborts its staging upload (the backup's abort is "
        "exercised above; the integration suite's failure paths are checked by the plugin)"
    ),
}


def justified(function: str, sid: str, action: str) -> bool:
    return any(key in JUSTIFIED for key in ((function, sid), ("*", sid), (function, sid, action)))


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[RecordedCall]]:
    """The scenario's calls with Object Lock off and on (each in its own moto account)."""
    import moto

    import sdblocal

    recorded: dict[str, list[RecordedCall]] = {}
    for lock, days in LOCK_DAYS.items():
        monkeypatch = pytest.MonkeyPatch()
        sdblocal.activate()
        try:
            with moto.mock_aws():
                import boto3

                sdblocal.controls.reset()
                RECORDER.clear()
                run_everything(
                    boto3.client("sdb"), boto3.client("s3"), f"{STACK}-bucket-{lock}", days, monkeypatch
                )
                recorded[lock] = list(dict.fromkeys(RECORDER.calls()))
                assert not RECORDER.errors, RECORDER.errors
                RECORDER.clear()
                sdblocal.controls.reset()
        finally:
            monkeypatch.undo()
    return recorded


Decided = list[tuple[str, Variant, RecordedCall, Any]]


@pytest.fixture(scope="module")
def decided(recordings: dict[str, list[RecordedCall]]) -> Decided:
    out: Decided = []
    for lock, calls in recordings.items():
        for variant in VARIANTS:
            for call in calls:
                for decision in decide(deployment(call.environment, variant), call):
                    out.append((lock, variant, call, decision))
    return out


def test_the_scenario_exercises_every_function_and_kind_of_call(
    recordings: dict[str, list[RecordedCall]],
) -> None:
    operations = {(call.function, call.operation) for calls in recordings.values() for call in calls}
    for function in ("backup", "restore", "drill"):
        assert (function, "lambda.Invoke") in operations  # a real hand-off to the next invocation
    assert ("backup", "s3.PutObjectRetention") in operations or ("backup", "s3.CopyObject") in operations
    assert ("drill", "sdb.DeleteDomain") in operations
    assert ("restore", "sdb.BatchDeleteAttributes") in operations  # the exact restore removed a stray item


def test_every_call_is_allowed_in_every_deployment(decided: Decided) -> None:
    refused = sorted(
        {
            f"[Object Lock {lock}; {variant.label()}] {call.function}: {call.operation} -> "
            f"{decision.request.action} {decision.request.resource} {decision.request.context_dict()}: "
            f"{decision.decision} {decision.denies} {decision.errors or ''}"
            for lock, variant, call, decision in decided
            if not decision.allowed
        }
    )
    assert not refused, "\n".join(refused)


def statements_of(dep: Deployment, function: str) -> Iterable[tuple[str, str, str]]:
    """(policy, statement identifier, action) of every Allow the function's role has."""
    for policy in dep.role_policies[function]:
        statements = policy.document["Statement"]
        for index, statement in enumerate(statements if isinstance(statements, list) else [statements], 1):
            if statement["Effect"] != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                yield policy.name, str(statement.get("Sid", index)), action


def test_every_statement_of_every_role_is_used_or_justified(decided: Decided) -> None:
    granted: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for lock, variant, call, _ in decided:
        dep = deployment(call.environment, variant)
        for function in ("backup", "restore", "drill"):
            for policy, sid, action in statements_of(dep, function):
                granted[(function, policy, sid, action)].add(f"Object Lock {lock}; {variant.label()}")
    # Per-domain policies repeat one statement (one Sid) per domain: a statement is used when any copy is.
    used = {
        (call.function, sid, decision.request.action)
        for _, _, call, decision in decided
        if decision.allowed
        for _, sid in decision.identity_allows
    }
    unused = sorted(
        {
            f"{function}: {sid} grants {action}, used by no call"
            for (function, _, sid, action) in granted
            if (function, sid, action) not in used and not justified(function, sid, action)
        }
    )
    assert not unused, "\n".join(unused)


def test_every_statement_has_a_sid(decided: Decided) -> None:
    """Sids name the statements in docs/IAM.md and in the findings above."""
    dep = deployment(decided[0][2].environment, Variant(kms_key=True, replication=True))
    for function in ("backup", "restore", "drill"):
        for policy in dep.role_policies[function]:
            for statement in policy.document["Statement"]:
                assert "Sid" in statement, (function, policy.name, statement)


# ------------------------------------------------------------------------------------------------ docs/IAM.md
def shape(text: str, dep: Deployment) -> str:
    """A resource or key with its run-specific parts named, so the list is the same on every run."""
    text = text.replace(f"arn:aws:s3:::{dep.bucket}", "<bucket>").replace(CUSTOMER_KEY_ARN, "<KmsKeyArn>")
    text = re.sub(r"arn:aws:kms:[^:]+:\d+:key/[0-9a-f-]+", "<state key>", text)
    text = re.sub(r"arn:aws:sdb:[^:]+:\d+:domain/", "domain/", text)
    text = re.sub(r"arn:aws:lambda:[^:]+:\d+:function:", "function:", text)
    text = re.sub(r"(?:[a-z]+-)?\d{8}T\d{6}Z-[0-9a-f]{8,12}", "<run>", text)
    text = re.sub(r"pending-\d+", "pending-<n>", text)
    text = re.sub(rf"{STACK}-drill-(?:{'|'.join(map(re.escape, DOMAINS))})", "<stack>-drill-<domain>", text)
    text = re.sub(rf"{STACK}-restored-[A-Za-z0-9_.-]+", "<stack>-restored-…", text)
    text = re.sub(rf"{STACK}-", "<stack>-", text)
    text = re.sub(rf"(?<![\w.-])(?:{'|'.join(map(re.escape, DOMAINS))})(?![\w-])", "<domain>", text)
    return re.sub(r"imports/[^ ]+", "imports/…", text)


def describe(request: IamRequest, dep: Deployment) -> str:
    context = request.context_dict()
    resource = shape(request.resource, dep)
    if "s3:prefix" in context:
        resource += f" (prefix {shape(context['s3:prefix'], dep)})"
    if "s3:object-lock-mode" in context:
        resource += " (with a retention)"
    return resource


def listed_calls(decided: Decided) -> dict[str, list[str]]:
    """function -> its table rows: call | action | resource | allowed by | when."""
    seen: dict[tuple[str, str, str, str, str], set[tuple[str, bool]]] = defaultdict(set)
    for lock, variant, call, decision in decided:
        dep = deployment(call.environment, variant)
        statement = ", ".join(sorted({sid for _, sid in decision.identity_allows})) or "-"
        row = (
            call.function,
            call.operation,
            decision.request.action,
            describe(decision.request, dep),
            statement,
        )
        seen[row].add((lock, variant.kms_key))
    tables: dict[str, list[str]] = defaultdict(list)
    all_cases = {(lock, kms) for lock in LOCK_DAYS for kms in (False, True)}
    for row, cases in sorted(seen.items()):
        when = []
        if all(lock == "on" for lock, _ in cases):
            when.append("Object Lock on")
        if all(kms for _, kms in cases):
            when.append("KMS key set")
        if cases != all_cases and not when:
            when.append("sometimes")
        function, operation, action, resource, statement = row
        tables[function].append(
            f"| `{operation}` | `{action}` | `{resource}` | {statement} | {', '.join(when) or 'always'} |"
        )
    return tables


def render(tables: dict[str, list[str]]) -> str:
    header = "| call | IAM action | resource | allowed by | when |\n| --- | --- | --- | --- | --- |"
    sections = [
        f"### {function}\n\n{header}\n" + "\n".join(tables[function])
        for function in ("backup", "restore", "drill")
    ]
    return "\n\n".join(sections) + "\n"


BEGIN, END = "<!-- calls:begin (tests/iamcheck writes this part) -->", "<!-- calls:end -->"


def test_docs_list_exactly_the_recorded_calls(decided: Decided) -> None:
    listed = render(listed_calls(decided))
    text = DOC.read_text(encoding="utf-8")
    before, _, rest = text.partition(BEGIN)
    _, _, after = rest.partition(END)
    current = rest.partition(END)[0].strip("\n") + "\n"
    if os.environ.get("UPDATE_IAM_DOC") == "1":
        DOC.write_text(f"{before}{BEGIN}\n{listed}{END}{after}", encoding="utf-8")
        return
    assert current == listed, (
        "docs/IAM.md does not list the calls the functions make: regenerate it with "
        "`UPDATE_IAM_DOC=1 .venv/bin/python -m pytest -n 0 tests/iamcheck/test_iam_sufficiency.py`"
    )
