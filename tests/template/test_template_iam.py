"""Scoped IAM: action-level grants on exact ARNs. The backup reads SimpleDB and writes dumps, the restore writes
the configured domains and the target pattern, the drill writes and deletes scratch domains and nothing else.

The only ``"Resource": "*"`` grants are xray:PutTraceSegments / xray:PutTelemetryRecords (X-Ray has no
resource-level permissions, AWS requires "*"). The bucket policy's ``"Principal": "*"`` is a Deny for everyone
without TLS, which is what such a statement needs.
"""

from fnmatch import fnmatchcase
from typing import Any

import pytest
from cfnsupport import (
    ACCOUNT_ID,
    DOMAINS_OF_THREE,
    REGION,
    STACK_NAME,
    THREE_DOMAINS,
    allowed,
    as_list,
    policy_statements,
    resolver,
    resources_of_type,
    role_statements,
    translate,
)

ACTIONS_THAT_REQUIRE_STAR = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
SDB_WRITES = {
    "sdb:PutAttributes",
    "sdb:BatchPutAttributes",
    "sdb:DeleteAttributes",
    "sdb:BatchDeleteAttributes",
    "sdb:CreateDomain",
    "sdb:DeleteDomain",
}
RESTORE_SDB_ACTIONS = {
    "sdb:Select",
    "sdb:DomainMetadata",
    "sdb:GetAttributes",
    "sdb:PutAttributes",
    "sdb:BatchPutAttributes",
    "sdb:DeleteAttributes",
    "sdb:BatchDeleteAttributes",
    "sdb:CreateDomain",
}
# A drill writes a fresh scratch domain: it never reads back or deletes single items.
DRILL_SDB_ACTIONS = {
    "sdb:Select",
    "sdb:DomainMetadata",
    "sdb:PutAttributes",
    "sdb:BatchPutAttributes",
    "sdb:CreateDomain",
    "sdb:DeleteDomain",
}
DRILL_PREFIX = f"{STACK_NAME}-drill-"
BUCKET_ARN = "<BackupBucket.Arn>"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0000"
DESTINATION_ARN = "arn:aws:s3:::simpledb-backup-copy-eu"
DESTINATION_KEY_ARN = "arn:aws:kms:eu-west-1:210987654321:key/1111"
FUNCTION_ROLES = ("BackupRole", "RestoreRole", "DrillRole")


def domain_arn(name: str) -> str:
    return f"arn:aws:sdb:{REGION}:{ACCOUNT_ID}:domain/{name}"


def grants(
    template: dict[str, Any], role: str, overrides: dict[str, Any] | None = None
) -> dict[str, set[str]]:
    return allowed(role_statements(template, role, overrides))


@pytest.fixture(scope="module")
def three_domains() -> dict[str, Any]:
    return translate(THREE_DOMAINS)


@pytest.fixture(scope="module")
def backup(three_domains: dict[str, Any]) -> dict[str, set[str]]:
    return grants(three_domains, "BackupRole", THREE_DOMAINS)


@pytest.fixture(scope="module")
def restore(three_domains: dict[str, Any]) -> dict[str, set[str]]:
    return grants(three_domains, "RestoreRole", THREE_DOMAINS)


@pytest.fixture(scope="module")
def drill(three_domains: dict[str, Any]) -> dict[str, set[str]]:
    return grants(three_domains, "DrillRole", THREE_DOMAINS)


def every_role(template: dict[str, Any]) -> list[str]:
    return list(resources_of_type(template, "AWS::IAM::Role"))


def test_functions_use_the_explicit_roles(translated: dict[str, Any]) -> None:
    functions = resources_of_type(translated, "AWS::Lambda::Function")
    roles = {logical_id: function["Properties"]["Role"] for logical_id, function in functions.items()}
    assert roles == {
        "BackupFunction": {"Fn::GetAtt": ["BackupRole", "Arn"]},
        "RestoreFunction": {"Fn::GetAtt": ["RestoreRole", "Arn"]},
        "DrillFunction": {"Fn::GetAtt": ["DrillRole", "Arn"]},
    }
    for role in every_role(translated):
        # No AWS managed policies (AWSLambdaBasicExecutionRole would grant logs:* on "*").
        assert "ManagedPolicyArns" not in translated["Resources"][role]["Properties"], role


# ------------------------------------------------------------------------------------------------ backup
def test_backup_reads_only_the_configured_domains(backup: dict[str, set[str]]) -> None:
    sdb = {action: resources for action, resources in backup.items() if action.startswith("sdb:")}
    expected = {domain_arn(domain) for domain in DOMAINS_OF_THREE}
    assert sdb == {"sdb:Select": expected, "sdb:DomainMetadata": expected}


def test_backup_has_no_delete_and_no_sdb_write(backup: dict[str, set[str]]) -> None:
    assert not [action for action in backup if "Delete" in action]
    assert not set(backup) & SDB_WRITES


def test_backup_s3_access_is_limited_to_dumps_and_checkpoints(backup: dict[str, set[str]]) -> None:
    assert backup["s3:PutObject"] == {f"{BUCKET_ARN}/dumps/*", f"{BUCKET_ARN}/checkpoints/*"}
    # Multipart uploads are staged under checkpoints/ only (tests/iamcheck: no call aborts one elsewhere).
    assert backup["s3:AbortMultipartUpload"] == {f"{BUCKET_ARN}/checkpoints/*"}
    # Reading a restore's lock is how it skips a domain a restore is writing.
    assert backup["s3:GetObject"] == {f"{BUCKET_ARN}/checkpoints/*", f"{BUCKET_ARN}/locks/*"}
    # Without Object Lock no role may set a retention at all (test_retention_only_with_object_lock...).
    assert "s3:PutObjectRetention" not in backup
    # ListBucket on the bucket (key names only) so that a missing key is a 404, not AccessDenied.
    assert backup["s3:ListBucket"] == {BUCKET_ARN}
    # The item-drop baseline walks the dump key's versions; a bucket without versioning is refused.
    assert backup["s3:GetObjectVersion"] == {f"{BUCKET_ARN}/dumps/*"}
    assert backup["s3:ListBucketVersions"] == backup["s3:GetBucketVersioning"] == {BUCKET_ARN}
    assert {action for action in backup if action.startswith("s3:")} == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:GetBucketVersioning",
    }


# ------------------------------------------------------------------------------------------------ restore
def target_locks(*targets: str) -> set[str]:
    return {f"{BUCKET_ARN}/locks/{target}.*" for target in targets}


def test_restore_deletes_only_its_targets_locks(restore: dict[str, set[str]]) -> None:
    deletes = {action: resources for action, resources in restore.items() if "Delete" in action}
    sdb_deletes = {"sdb:DeleteAttributes", "sdb:BatchDeleteAttributes"}
    # locks/<target>.lock and .last-restore of the configured domains and of the target pattern, no other.
    assert deletes.pop("s3:DeleteObject") == target_locks(*DOMAINS_OF_THREE, f"{STACK_NAME}-restored-*")
    assert set(deletes) == sdb_deletes  # deleting attributes is what an exact restore does
    assert "s3:DeleteObjectVersion" not in restore


def test_restore_s3_access(restore: dict[str, set[str]], three_domains: dict[str, Any]) -> None:
    assert restore["s3:GetObjectVersion"] == {f"{BUCKET_ARN}/dumps/*", f"{BUCKET_ARN}/imports/*"}
    locks = target_locks(*DOMAINS_OF_THREE, f"{STACK_NAME}-restored-*")
    assert (
        restore["s3:PutObject"]
        == {f"{BUCKET_ARN}/{prefix}/*" for prefix in ("dumps", "restores", "checkpoints")} | locks
    )
    assert (
        restore["s3:GetObject"]
        == {f"{BUCKET_ARN}/{prefix}/*" for prefix in ("dumps", "imports", "restores", "checkpoints")} | locks
    )
    # The pre-restore safety dump is locked like any published dump, only with Object Lock on.
    assert "s3:PutObjectRetention" not in restore
    assert restore["s3:AbortMultipartUpload"] == {f"{BUCKET_ARN}/checkpoints/*"}
    assert restore["s3:ListBucket"] == restore["s3:ListBucketVersions"] == {BUCKET_ARN}
    assert restore["s3:GetBucketVersioning"] == {BUCKET_ARN}  # its safety dump refuses an unversioned bucket
    statements = role_statements(three_domains, "RestoreRole", THREE_DOMAINS)
    (listing,) = [s for s in statements if "s3:ListBucketVersions" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["dumps/*", "imports/*"]}}


def test_restore_writes_configured_domains_and_the_target_pattern(restore: dict[str, set[str]]) -> None:
    # The default pattern carries the stack's name: two stacks never write each other's restore targets.
    expected = {domain_arn(domain) for domain in DOMAINS_OF_THREE} | {domain_arn(f"{STACK_NAME}-restored-*")}
    sdb = {action: resources for action, resources in restore.items() if action.startswith("sdb:")}
    assert set(sdb) == RESTORE_SDB_ACTIONS
    assert all(resources == expected for resources in sdb.values())


def test_restore_without_a_target_pattern_writes_exactly_the_configured_domains(
    three_domains: dict[str, Any],
) -> None:
    overrides = {**THREE_DOMAINS, "RestoreTargetDomainPattern": ""}
    sdb = {
        action: resources
        for action, resources in grants(three_domains, "RestoreRole", overrides).items()
        if action.startswith("sdb:")
    }
    assert set(sdb) == RESTORE_SDB_ACTIONS
    assert all(resources == {domain_arn(domain) for domain in DOMAINS_OF_THREE} for resources in sdb.values())
    exact = {**THREE_DOMAINS, "RestoreTargetDomainPattern": "restored-packages"}
    writes = grants(three_domains, "RestoreRole", exact)["sdb:PutAttributes"]
    assert domain_arn("restored-packages") in writes
    assert not [arn for arn in writes if arn.endswith("*")]


# ------------------------------------------------------------------------------------------------ drill
def test_drill_touches_only_scratch_domains(drill: dict[str, set[str]]) -> None:
    sdb = {action: resources for action, resources in drill.items() if action.startswith("sdb:")}
    assert set(sdb) == DRILL_SDB_ACTIONS
    assert all(resources == {domain_arn(f"{DRILL_PREFIX}*")} for resources in sdb.values())


def test_drill_has_no_access_to_any_configured_domain(
    drill: dict[str, set[str]], three_domains: dict[str, Any]
) -> None:
    """IAM itself proves that a drill never reads or writes a configured domain: no grant's resource pattern
    matches one (IAM's '*' matches like fnmatch's without character classes), and every configured domain is
    denied to the drill role by name, so even a domain named like a scratch domain stays out of its reach.
    Only sdb: actions can act on a domain; the role's other grants are on its bucket prefixes, log group, queue
    and itself (and X-Ray's "*")."""
    sdb = {action: resources for action, resources in drill.items() if action.startswith("sdb:")}
    assert sdb
    for domain in DOMAINS_OF_THREE:
        for action, resources in sdb.items():
            for resource in resources:
                assert not fnmatchcase(domain_arn(domain), resource), (action, resource, domain)
    statements = role_statements(three_domains, "DrillRole", THREE_DOMAINS)
    (deny,) = [statement for statement in statements if statement["Effect"] == "Deny"]
    assert deny["Action"] == "sdb:*"
    assert deny["Resource"] == [f"arn:*:sdb:*:*:domain/{domain}" for domain in DOMAINS_OF_THREE]
    # ...while every domain's scratch domain is covered.
    for domain in DOMAINS_OF_THREE:
        assert fnmatchcase(domain_arn(f"{DRILL_PREFIX}{domain}"), next(iter(drill["sdb:DeleteDomain"])))


def test_no_role_but_the_drill_role_may_delete_a_domain(three_domains: dict[str, Any]) -> None:
    for overrides in (
        THREE_DOMAINS,
        {**THREE_DOMAINS, "KmsKeyArn": KEY_ARN, "ReplicationDestinationBucketArn": DESTINATION_ARN},
    ):
        holders = [
            role
            for role in every_role(three_domains)
            if "sdb:DeleteDomain" in grants(three_domains, role, overrides)
        ]
        assert holders == ["DrillRole"]


def test_drill_s3_access(drill: dict[str, set[str]], three_domains: dict[str, Any]) -> None:
    assert drill["s3:GetObjectVersion"] == {f"{BUCKET_ARN}/dumps/*"}
    runs = {f"{BUCKET_ARN}/drills/*"}  # stored apart from restore runs: no access to restores/ at all
    scratch_locks = {f"{BUCKET_ARN}/locks/{DRILL_PREFIX}*"}
    assert drill["s3:GetObject"] == drill["s3:PutObject"] == runs | scratch_locks
    # It deletes only its scratch domains' locks: never a configured domain's restore lock, never a run.
    assert drill["s3:DeleteObject"] == scratch_locks
    assert drill["s3:ListBucket"] == drill["s3:ListBucketVersions"] == {BUCKET_ARN}
    assert {action for action in drill if action.startswith("s3:")} == {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "s3:ListBucketVersions",
    }
    statements = role_statements(three_domains, "DrillRole", THREE_DOMAINS)
    (listing,) = [s for s in statements if "s3:ListBucketVersions" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["dumps/*"]}}


# ------------------------------------------------------------------------------------------------ all roles
def test_object_lock_retention_only_on_dumps_and_no_role_may_bypass_it(three_domains: dict[str, Any]) -> None:
    overrides = {
        **THREE_DOMAINS,
        "DumpRetentionLockDays": "30",
        "ReplicationDestinationBucketArn": DESTINATION_ARN,
    }
    holders = {}
    for role in every_role(three_domains):
        role_grants = grants(three_domains, role, overrides)
        assert "s3:BypassGovernanceRetention" not in role_grants, role
        assert "s3:PutObjectLegalHold" not in role_grants, role
        assert "s3:PutBucketObjectLockConfiguration" not in role_grants, role
        assert "s3:DeleteObjectVersion" not in role_grants, role
        if "s3:PutObjectRetention" in role_grants:
            holders[role] = role_grants["s3:PutObjectRetention"]
    # Exactly the functions that publish dumps: backup, and restore for its safety backup.
    assert holders == {"BackupRole": {f"{BUCKET_ARN}/dumps/*"}, "RestoreRole": {f"{BUCKET_ARN}/dumps/*"}}
    # ...in the configured mode and for no longer than the configured days (bounded by conditions).
    for role in holders:
        (statement,) = [
            statement
            for statement in role_statements(three_domains, role, overrides)
            if "s3:PutObjectRetention" in as_list(statement["Action"])
        ]
        assert statement["Condition"] == {
            "StringEquals": {"s3:object-lock-mode": "GOVERNANCE"},
            "NumericLessThanEquals": {"s3:object-lock-remaining-retention-days": "30"},
        }
    compliance = {**overrides, "DumpRetentionLockMode": "COMPLIANCE", "DumpRetentionLockDays": "365"}
    (statement,) = [
        statement
        for statement in role_statements(three_domains, "BackupRole", compliance)
        if "s3:PutObjectRetention" in as_list(statement["Action"])
    ]
    assert statement["Condition"] == {
        "StringEquals": {"s3:object-lock-mode": "COMPLIANCE"},
        "NumericLessThanEquals": {"s3:object-lock-remaining-retention-days": "365"},
    }


def test_retention_only_with_object_lock(three_domains: dict[str, Any]) -> None:
    """Locking off (the default): no role may put a retention on anything, so none can lock old dumps."""
    for overrides in (THREE_DOMAINS, {**THREE_DOMAINS, "KmsKeyArn": KEY_ARN}):
        for role in every_role(three_domains):
            assert "s3:PutObjectRetention" not in grants(three_domains, role, overrides), role


def test_functions_invoke_only_themselves(
    backup: dict[str, set[str]], restore: dict[str, set[str]], drill: dict[str, set[str]]
) -> None:
    prefix = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{STACK_NAME}"
    assert backup["lambda:InvokeFunction"] == {f"{prefix}-backup"}
    assert restore["lambda:InvokeFunction"] == {f"{prefix}-restore"}
    assert drill["lambda:InvokeFunction"] == {f"{prefix}-drill"}


def test_on_failure_destination_and_logs(
    backup: dict[str, set[str]], restore: dict[str, set[str]], drill: dict[str, set[str]]
) -> None:
    for role_grants, log_group in (
        (backup, "BackupLogGroup"),
        (restore, "RestoreLogGroup"),
        (drill, "DrillLogGroup"),
    ):
        assert role_grants["sqs:SendMessage"] == {"<FailedInvocationQueue.Arn>"}
        assert role_grants["logs:CreateLogStream"] == {f"<{log_group}.Arn>"}
        assert role_grants["logs:PutLogEvents"] == {f"<{log_group}.Arn>"}
        # No bucket key configured: no kms action but the state key's MAC (test_template_statekey.py).
        assert not [
            action
            for action in role_grants
            if action.startswith("kms:") and action not in {"kms:GenerateMac", "kms:VerifyMac"}
        ]


def test_kms_only_when_a_key_is_set_and_only_through_s3(translated: dict[str, Any]) -> None:
    for role in FUNCTION_ROLES:
        with_key = grants(translated, role, {"KmsKeyArn": KEY_ARN})
        assert with_key["kms:GenerateDataKey"] == with_key["kms:Decrypt"] == {KEY_ARN}
    policy = resolver(translated, {"KmsKeyArn": KEY_ARN}).resolve(
        translated["Resources"]["KmsAccessPolicy"]["Properties"]
    )
    assert sorted(policy["Roles"]) == ["<BackupRole>", "<DrillRole>", "<RestoreRole>"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}


# ------------------------------------------------------------------------------------------------ replication
def test_replication_role_least_privilege(translated: dict[str, Any]) -> None:
    overrides = {"ReplicationDestinationBucketArn": DESTINATION_ARN}
    replication = grants(translated, "ReplicationRole", overrides)
    source_objects = {f"{BUCKET_ARN}/dumps/*"}
    assert replication == {
        "s3:GetReplicationConfiguration": {BUCKET_ARN},
        "s3:ListBucket": {BUCKET_ARN},
        "s3:GetObjectVersionForReplication": source_objects,
        "s3:GetObjectVersionAcl": source_objects,
        "s3:GetObjectVersionTagging": source_objects,
        # Object Lock: S3 replicates a version's retention and legal hold with it.
        "s3:GetObjectRetention": source_objects,
        "s3:GetObjectLegalHold": source_objects,
        "s3:ReplicateObject": {f"{DESTINATION_ARN}/dumps/*"},
        "s3:ReplicateTags": {f"{DESTINATION_ARN}/dumps/*"},
    }
    assert "s3:ReplicateDelete" not in replication  # delete markers are not replicated


def test_replication_role_uses_the_keys_only_through_s3(translated: dict[str, Any]) -> None:
    overrides = {
        "ReplicationDestinationBucketArn": DESTINATION_ARN,
        "KmsKeyArn": KEY_ARN,
        "ReplicationDestinationKmsKeyArn": DESTINATION_KEY_ARN,
    }
    statements = {
        statement["Sid"]: statement
        for statement in role_statements(translated, "ReplicationRole", overrides)
        if "Sid" in statement
    }
    decrypt = statements["DecryptSourceDumps"]
    assert (decrypt["Action"], decrypt["Resource"]) == ("kms:Decrypt", KEY_ARN)
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}
    encrypt = statements["EncryptReplicas"]
    assert (encrypt["Action"], encrypt["Resource"]) == (
        ["kms:Encrypt", "kms:GenerateDataKey"],
        DESTINATION_KEY_ARN,
    )
    assert encrypt["Condition"] == {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}
    # Without keys, no KMS grant at all.
    plain = grants(translated, "ReplicationRole", {"ReplicationDestinationBucketArn": DESTINATION_ARN})
    assert not [action for action in plain if action.startswith("kms:")]


# ------------------------------------------------------------------------------------------------ structure
def test_no_star_resource_except_where_aws_requires_it(three_domains: dict[str, Any]) -> None:
    overrides = {
        **THREE_DOMAINS,
        "KmsKeyArn": KEY_ARN,
        "ReplicationDestinationBucketArn": DESTINATION_ARN,
        "ReplicationDestinationKmsKeyArn": DESTINATION_KEY_ARN,
    }
    resolve = resolver(three_domains, overrides).resolve
    statements: list[dict[str, Any]] = []
    for role in resources_of_type(three_domains, "AWS::IAM::Role").values():
        for policy in resolve(role["Properties"].get("Policies", [])):
            statements.extend(policy_statements(policy["PolicyDocument"]))
    for policy in resources_of_type(three_domains, "AWS::IAM::Policy").values():
        statements.extend(policy_statements(resolve(policy["Properties"]["PolicyDocument"])))
    assert statements
    for statement in statements:
        assert "NotAction" not in statement
        assert "NotResource" not in statement
        if statement["Effect"] == "Deny":
            continue  # a Deny may be as broad as it likes (the drill's NeverAConfiguredDomain is sdb:*)
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= ACTIONS_THAT_REQUIRE_STAR, statement
        assert not [action for action in as_list(statement["Action"]) if action.endswith("*")], statement


def test_policies_per_domain_and_function_and_conditional_ones(three_domains: dict[str, Any]) -> None:
    policies = resources_of_type(three_domains, "AWS::IAM::Policy")
    conditional = {
        logical_id: policies.pop(logical_id)["Condition"]
        for logical_id in list(policies)
        if "Condition" in policies[logical_id]
    }
    assert conditional == {
        "KmsAccessPolicy": "HasKmsKey",
        "DumpRetentionAccess": "UseDumpRetentionLock",
        "RestoreTargetPatternAccess": "HasRestoreTargetPattern",
        "ReplicationPolicy": "HasReplication",
        "ReplicationSourceKeyPolicy": "ReplicatesKmsObjects",
        "ReplicationDestinationKeyPolicy": "ReplicatesIntoKmsKey",
    }
    assert set(policies) == {
        f"{kind}DomainAccess{suffix}"
        for kind in ("Backup", "Restore")
        for suffix in ("packages", "repometav2", "buildcache")
    } | {"StateKeySealing", "StateKeyVerifying"}


def test_alarm_topic_accepts_cloudwatch_from_this_account_only(translated: dict[str, Any]) -> None:
    policy = resolver(translated).resolve(translated["Resources"]["AlarmTopicPolicy"]["Properties"])
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == "<AlarmTopic>"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
