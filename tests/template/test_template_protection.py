"""Backups the account itself cannot destroy, shown by the policy evaluator (@cloud-copilot/iam-simulate, as
tests/iamcheck runs it) on the transformed template: what the bucket policy denies to a principal of the account
with every S3 right, what it leaves to the backup administrator, the retention bounds, which role may write the
working objects, the drill's reach and the scheduler's trust."""

from __future__ import annotations

from typing import Any

import pytest

from iamcheck.deployment import NamedPolicy, Variant, deployment
from iamcheck.requests import ACCOUNT_ID, REGION, IamRequest, domain_arn
from iamcheck.simulator import decision_of, principal_simulation, simulator

STACK = "simpledb-backup"
BUCKET = "simpledb-backup-protected"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
ADMIN = f"arn:aws:iam::{ACCOUNT_ID}:role/BackupAdministrator"
OPERATOR = f"arn:aws:iam::{ACCOUNT_ID}:role/AccountAdministrator"
#: Every S3 right, as an account administrator's role has.
S3_EVERYTHING = (
    NamedPolicy(
        "s3-everything",
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "All", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        },
    ),
)
DOMAINS = "packages,repo-meta.v2"


def environment(
    lock_days: int = 0, mode: str = "GOVERNANCE", domains: str = DOMAINS
) -> tuple[tuple[str, str], ...]:
    return (
        ("BACKUP_BUCKET", BUCKET),
        ("DOMAIN_NAMES", domains),
        ("RESTORE_TARGET_PATTERN", f"{STACK}-restored-*"),
        ("DUMP_RETENTION_DAYS", str(lock_days)),
        ("DUMP_RETENTION_MODE", mode),
        ("DRILL_SCRATCH_PREFIX", f"{STACK}-drill-"),
        ("STATE_KEY_ID", ""),
    )


def by(role_arn: str, request: IamRequest, administrator: str = ADMIN, lock_days: int = 0) -> str:
    """The decision for a principal of the account holding every S3 right."""
    dep = deployment(environment(lock_days), Variant(administrator=administrator))
    principal = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_arn.rsplit('/', 1)[1]}/session"
    answer = simulator().run(
        principal_simulation(principal, role_arn, S3_EVERYTHING, request, dep.bucket_policy)
    )
    decision = decision_of(request, answer)
    assert decision.errors is None, decision.errors
    return decision.decision


def as_function(function: str, request: IamRequest, lock_days: int = 0, domains: str = DOMAINS) -> str:
    dep = deployment(environment(lock_days, domains=domains), Variant(administrator=ADMIN))
    answer = simulator().run(
        principal_simulation(
            dep.principal(function),
            dep.role_arns[function],
            dep.role_policies[function],
            request,
            dep.resource_policy(request),
        )
    )
    decision = decision_of(request, answer)
    assert decision.errors is None, decision.errors
    return decision.decision


def obj(key: str, action: str, **context: str) -> IamRequest:
    return IamRequest(action, f"{BUCKET_ARN}/{key}", tuple(context.items()))


def bucket(action: str) -> IamRequest:
    return IamRequest(action, BUCKET_ARN)


DESTRUCTIVE = [
    obj("dumps/packages/full.jsonl.gz", "s3:DeleteObjectVersion"),
    obj("dumps/packages/full.jsonl.gz", "s3:DeleteObject"),  # a delete marker starts the old ones' expiry
    obj("dumps/packages/full.jsonl.gz", "s3:BypassGovernanceRetention"),
    obj("dumps/packages/full.jsonl.gz", "s3:PutObjectLegalHold"),
    bucket("s3:PutLifecycleConfiguration"),
    bucket("s3:PutBucketPolicy"),
    bucket("s3:DeleteBucketPolicy"),
    bucket("s3:PutBucketVersioning"),
    bucket("s3:PutBucketObjectLockConfiguration"),
    bucket("s3:PutReplicationConfiguration"),
]
FORGERIES = [
    obj("dumps/packages/full.jsonl.gz", "s3:PutObject"),
    obj("restores/restore-20260101T000000Z-0123456789ab.json", "s3:PutObject"),
    obj("drills/drill-20260101T000000Z-0123456789ab.json", "s3:PutObject"),
    obj("locks/packages.lock", "s3:PutObject"),
    obj("locks/packages.lock", "s3:DeleteObject"),
    obj("locks/packages.last-restore", "s3:PutObject"),
    obj("checkpoints/backup-20260101T000000Z-0123456789ab/state.json", "s3:PutObject"),
]


@pytest.mark.parametrize(
    "request_", DESTRUCTIVE + FORGERIES, ids=lambda r: f"{r.action} {r.resource.split(':::')[1]}"
)
def test_an_account_administrator_cannot_destroy_or_forge_backups(request_: IamRequest) -> None:
    assert by(OPERATOR, request_) == "ExplicitlyDenied"


@pytest.mark.parametrize(
    "request_", DESTRUCTIVE + FORGERIES, ids=lambda r: f"{r.action} {r.resource.split(':::')[1]}"
)
def test_the_backup_administrator_can(request_: IamRequest) -> None:
    assert by(ADMIN, request_) == "Allowed"


@pytest.mark.parametrize("request_", DESTRUCTIVE, ids=lambda r: f"{r.action} {r.resource.split(':::')[1]}")
def test_without_an_administrator_nobody_can(request_: IamRequest) -> None:
    assert by(ADMIN, request_, administrator="") == "ExplicitlyDenied"


def test_what_the_protection_leaves_alone() -> None:
    # Reading, listing, uploading imports: the account's usual business.
    assert by(OPERATOR, obj("dumps/packages/full.jsonl.gz", "s3:GetObject")) == "Allowed"
    assert by(OPERATOR, bucket("s3:ListBucketVersions")) == "Allowed"
    assert by(OPERATOR, obj("imports/packages-repoman-backup.json", "s3:PutObject")) == "Allowed"


# ------------------------------------------------------------------------------------------------ retention
def retention(mode: str, days: int) -> IamRequest:
    return obj(
        "dumps/packages/full.jsonl.gz",
        "s3:PutObjectRetention",
        **{"s3:object-lock-mode": mode, "s3:object-lock-remaining-retention-days": str(days)},
    )


@pytest.mark.parametrize("function", ["backup", "restore"])
def test_the_functions_lock_dumps_only_in_the_configured_mode_and_days(function: str) -> None:
    assert as_function(function, retention("GOVERNANCE", 30), lock_days=30) == "Allowed"
    assert as_function(function, retention("GOVERNANCE", 31), lock_days=30) != "Allowed"
    assert as_function(function, retention("COMPLIANCE", 30), lock_days=30) != "Allowed"
    # Locking off: no retention at all.
    assert as_function(function, retention("GOVERNANCE", 1), lock_days=0) == "ImplicitlyDenied"


def test_nobody_but_the_administrator_locks_beyond_the_configured_retention() -> None:
    assert by(OPERATOR, retention("GOVERNANCE", 30), lock_days=30) == "Allowed"
    assert by(OPERATOR, retention("GOVERNANCE", 3650), lock_days=30) == "ExplicitlyDenied"
    assert by(OPERATOR, retention("COMPLIANCE", 30), lock_days=30) == "ExplicitlyDenied"
    assert by(ADMIN, retention("COMPLIANCE", 3650), lock_days=30) == "Allowed"


# ------------------------------------------------------------------------------------------------ working objects
@pytest.mark.parametrize(
    ("function", "key", "action", "allowed"),
    [
        ("restore", "restores/restore-1.json", "s3:PutObject", True),
        ("restore", "drills/drill-1.json", "s3:PutObject", False),
        ("restore", "locks/packages.lock", "s3:DeleteObject", True),
        ("restore", f"locks/{STACK}-restored-packages.lock", "s3:PutObject", True),
        ("restore", "locks/another-application.lock", "s3:PutObject", False),  # not a restore target
        ("restore", f"locks/{STACK}-drill-packages.lock", "s3:PutObject", False),
        ("drill", "drills/drill-1.json", "s3:PutObject", True),
        ("drill", f"locks/{STACK}-drill-packages.lock", "s3:DeleteObject", True),
        ("drill", "locks/packages.lock", "s3:DeleteObject", False),  # a configured domain's restore lock
        ("drill", "locks/packages.last-restore", "s3:PutObject", False),  # would block the domain's backups
        ("drill", "dumps/packages/full.jsonl.gz", "s3:PutObject", False),
        ("backup", "locks/packages.lock", "s3:PutObject", False),
        ("backup", "locks/packages.lock", "s3:GetObject", True),
        ("backup", "restores/restore-1.json", "s3:PutObject", False),
        (
            "backup",
            "dumps/packages/full.jsonl.gz",
            "s3:AbortMultipartUpload",
            False,
        ),  # staged in checkpoints/
    ],
)
def test_each_role_writes_only_its_own_working_objects(
    function: str, key: str, action: str, allowed: bool
) -> None:
    assert (as_function(function, obj(key, action)) == "Allowed") is allowed


def test_a_drill_never_touches_a_configured_domain_even_one_named_like_its_scratch_domains() -> None:
    scratch_named = f"{STACK}-drill-legacy"
    domains = f"packages,{scratch_named}"
    assert (
        as_function(
            "drill",
            IamRequest("sdb:BatchPutAttributes", domain_arn(f"{STACK}-drill-packages")),
            domains=domains,
        )
        == "Allowed"
    )
    for domain in ("packages", scratch_named):
        for action in ("sdb:DeleteDomain", "sdb:BatchPutAttributes", "sdb:Select"):
            assert as_function("drill", IamRequest(action, domain_arn(domain)), domains=domains) != "Allowed"
    decision = as_function(
        "drill", IamRequest("sdb:DeleteDomain", domain_arn(scratch_named)), domains=domains
    )
    assert decision == "ExplicitlyDenied"  # the explicit deny of every configured domain, by name


def test_restore_targets_carry_the_stack_name() -> None:
    assert (
        as_function("restore", IamRequest("sdb:CreateDomain", domain_arn(f"{STACK}-restored-packages")))
        == "Allowed"
    )
    assert (
        as_function("restore", IamRequest("sdb:CreateDomain", domain_arn("restored-packages")))
        == "ImplicitlyDenied"
    )
    assert (
        as_function("restore", IamRequest("sdb:CreateDomain", domain_arn("other-stack-restored-x")))
        == "ImplicitlyDenied"
    )


# ------------------------------------------------------------------------------------------------ scheduler
def assume_scheduler_role(source_arn: str, source_account: str = ACCOUNT_ID) -> str:
    dep = deployment(environment(), Variant())
    trust = dep.resolver.resolve(
        dep.template["Resources"]["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]
    )
    simulation: dict[str, Any] = {
        "identityPolicies": [],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
        "resourcePolicy": trust,
        "request": {
            "action": "sts:AssumeRole",
            "principal": "scheduler.amazonaws.com",
            "resource": {
                "accountId": ACCOUNT_ID,
                "resource": f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK}-SchedulerRole",
            },
            "contextVariables": {"aws:SourceArn": source_arn, "aws:SourceAccount": source_account},
        },
    }
    answer = simulator().run(simulation)
    assert answer["errors"] is None, answer["errors"]
    return str(answer["decision"])


def test_the_scheduler_role_is_assumed_only_for_this_stacks_schedules() -> None:
    schedule = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule"
    assert assume_scheduler_role(f"{schedule}/{STACK}/backup-packages") == "Allowed"
    assert assume_scheduler_role(f"{schedule}/{STACK}-drills/drill-packages") == "Allowed"
    assert assume_scheduler_role(f"{schedule}/default/someone-elses") != "Allowed"
    assert assume_scheduler_role(f"{schedule}/{STACK}-other/backup-packages") != "Allowed"
    assert (
        assume_scheduler_role(f"{schedule}/{STACK}/backup-packages", source_account="210987654321")
        != "Allowed"
    )
