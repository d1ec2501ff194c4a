"""Scoped IAM: action-level grants on exact ARNs; the backup can read SimpleDB and write dumps, nothing else.

The only ``"Resource": "*"`` grants are xray:PutTraceSegments / xray:PutTelemetryRecords (X-Ray has no
resource-level permissions, AWS requires "*"). The bucket policy's ``"Principal": "*"`` is a Deny for everyone
without TLS, which is what such a statement needs.
"""

from typing import Any

import pytest
from cfnsupport import (
    ACCOUNT_ID,
    REGION,
    STACK_NAME,
    TWO_DOMAINS,
    allowed,
    as_list,
    policy_statements,
    resolver,
    resources_of_type,
    role_statements,
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
BUCKET_ARN = "<BackupBucket.Arn>"


def domain_arn(name: str) -> str:
    return f"arn:aws:sdb:{REGION}:{ACCOUNT_ID}:domain/{name}"


def grants(
    template: dict[str, Any], role: str, overrides: dict[str, Any] | None = None
) -> dict[str, set[str]]:
    return allowed(role_statements(template, role, overrides))


@pytest.fixture(scope="module")
def backup(translated_two_domains: dict[str, Any]) -> dict[str, set[str]]:
    return grants(translated_two_domains, "BackupRole", TWO_DOMAINS)


@pytest.fixture(scope="module")
def restore(translated_two_domains: dict[str, Any]) -> dict[str, set[str]]:
    return grants(translated_two_domains, "RestoreRole", TWO_DOMAINS)


def test_functions_use_the_explicit_roles(translated: dict[str, Any]) -> None:
    functions = resources_of_type(translated, "AWS::Lambda::Function")
    roles = {logical_id: function["Properties"]["Role"] for logical_id, function in functions.items()}
    assert roles == {
        "BackupFunction": {"Fn::GetAtt": ["BackupRole", "Arn"]},
        "RestoreFunction": {"Fn::GetAtt": ["RestoreRole", "Arn"]},
    }
    for role in ("BackupRole", "RestoreRole"):
        # No AWS managed policies (AWSLambdaBasicExecutionRole would grant logs:* on "*").
        assert "ManagedPolicyArns" not in translated["Resources"][role]["Properties"]


def test_backup_reads_only_the_configured_domains(backup: dict[str, set[str]]) -> None:
    sdb = {action: resources for action, resources in backup.items() if action.startswith("sdb:")}
    expected = {domain_arn("packages"), domain_arn("repo-meta.v2")}
    assert sdb == {"sdb:Select": expected, "sdb:DomainMetadata": expected}


def test_backup_has_no_delete_and_no_sdb_write(backup: dict[str, set[str]]) -> None:
    assert not [action for action in backup if "Delete" in action]
    assert not set(backup) & SDB_WRITES


def test_backup_s3_access_is_limited_to_dumps_and_checkpoints(backup: dict[str, set[str]]) -> None:
    object_prefixes = {f"{BUCKET_ARN}/dumps/*", f"{BUCKET_ARN}/checkpoints/*"}
    for action in ("s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"):
        assert backup[action] == object_prefixes
    # ListBucket on the bucket (key names only) so that a missing key is a 404, not AccessDenied.
    assert backup["s3:ListBucket"] == {BUCKET_ARN}
    assert {action for action in backup if action.startswith("s3:")} == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
        "s3:ListBucket",
    }


def test_functions_invoke_only_themselves(backup: dict[str, set[str]], restore: dict[str, set[str]]) -> None:
    prefix = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{STACK_NAME}"
    assert backup["lambda:InvokeFunction"] == {f"{prefix}-backup"}
    assert restore["lambda:InvokeFunction"] == {f"{prefix}-restore"}


def test_on_failure_destination_and_logs(backup: dict[str, set[str]], restore: dict[str, set[str]]) -> None:
    for role_grants, log_group in ((backup, "BackupLogGroup"), (restore, "RestoreLogGroup")):
        assert role_grants["sqs:SendMessage"] == {"<FailedInvocationQueue.Arn>"}
        assert role_grants["logs:CreateLogStream"] == {f"<{log_group}.Arn>"}
        assert role_grants["logs:PutLogEvents"] == {f"<{log_group}.Arn>"}
        assert not [action for action in role_grants if action.startswith("kms:")]  # no key configured


def test_restore_deletes_only_its_lock(restore: dict[str, set[str]]) -> None:
    deletes = {action: resources for action, resources in restore.items() if "Delete" in action}
    sdb_deletes = {"sdb:DeleteAttributes", "sdb:BatchDeleteAttributes"}
    assert deletes.pop("s3:DeleteObject") == {f"{BUCKET_ARN}/locks/*"}
    assert set(deletes) == sdb_deletes  # deleting attributes is what an exact restore does
    assert "s3:DeleteObjectVersion" not in restore


def test_restore_s3_access(restore: dict[str, set[str]], translated_two_domains: dict[str, Any]) -> None:
    assert restore["s3:GetObjectVersion"] == {f"{BUCKET_ARN}/dumps/*", f"{BUCKET_ARN}/imports/*"}
    assert restore["s3:PutObject"] == {
        f"{BUCKET_ARN}/{prefix}/*" for prefix in ("dumps", "locks", "restores", "checkpoints")
    }
    assert restore["s3:AbortMultipartUpload"] == {f"{BUCKET_ARN}/dumps/*", f"{BUCKET_ARN}/checkpoints/*"}
    assert restore["s3:ListBucket"] == restore["s3:ListBucketVersions"] == {BUCKET_ARN}
    statements = role_statements(translated_two_domains, "RestoreRole", TWO_DOMAINS)
    (listing,) = [s for s in statements if "s3:ListBucketVersions" in as_list(s["Action"])]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["dumps/*", "imports/*"]}}


def test_restore_writes_configured_domains_and_the_target_pattern(restore: dict[str, set[str]]) -> None:
    expected = {domain_arn("packages"), domain_arn("repo-meta.v2"), domain_arn("restored-*")}
    sdb = {action: resources for action, resources in restore.items() if action.startswith("sdb:")}
    assert set(sdb) == RESTORE_SDB_ACTIONS
    assert all(resources == expected for resources in sdb.values())


def test_kms_only_when_a_key_is_set(translated: dict[str, Any]) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/0000"
    for role in ("BackupRole", "RestoreRole"):
        with_key = grants(translated, role, {"KmsKeyArn": key})
        assert with_key["kms:GenerateDataKey"] == with_key["kms:Decrypt"] == {key}


def test_no_star_resource_except_where_aws_requires_it(translated_two_domains: dict[str, Any]) -> None:
    resolve = resolver(translated_two_domains, TWO_DOMAINS).resolve
    statements: list[dict[str, Any]] = []
    for role in resources_of_type(translated_two_domains, "AWS::IAM::Role").values():
        for policy in resolve(role["Properties"].get("Policies", [])):
            statements.extend(policy_statements(policy["PolicyDocument"]))
    for policy in resources_of_type(translated_two_domains, "AWS::IAM::Policy").values():
        statements.extend(policy_statements(resolve(policy["Properties"]["PolicyDocument"])))
    assert statements
    for statement in statements:
        assert "NotAction" not in statement
        assert "NotResource" not in statement
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= ACTIONS_THAT_REQUIRE_STAR, statement
        assert not [action for action in as_list(statement["Action"]) if action.endswith("*")], statement


def test_one_domain_policy_per_domain_and_function(translated_two_domains: dict[str, Any]) -> None:
    policies = resources_of_type(translated_two_domains, "AWS::IAM::Policy")
    assert policies.pop("KmsAccessPolicy")["Condition"] == "HasKmsKey"
    assert set(policies) == {
        "BackupDomainAccesspackages",
        "BackupDomainAccessrepometav2",
        "RestoreDomainAccesspackages",
        "RestoreDomainAccessrepometav2",
    }


def test_alarm_topic_accepts_cloudwatch_from_this_account_only(translated: dict[str, Any]) -> None:
    policy = resolver(translated).resolve(translated["Resources"]["AlarmTopicPolicy"]["Properties"])
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Action"] == "sns:Publish"
    assert statement["Resource"] == "<AlarmTopic>"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
