"""The template deploys into moto's CloudFormation with every option on: three domains (with '-', '.' and
'_'), Object Lock, replication of dumps/, drills, and no concurrency reservation.

test_template_moto_deploy.py says what moto cannot create and why. Object Lock, as far as moto supports it:
moto's CloudFormation ignores ObjectLockEnabled, so local/stackbucket.py applies the template's declaration to
the deployed bucket (moto enables Object Lock on an existing empty versioned bucket); moto then stores a
retention set with PutObjectRetention and refuses to delete a locked version (GOVERNANCE without
x-amz-bypass-governance-retention, COMPLIANCE always). moto 5.2.5 does not implement GetObjectRetention (HTTP
500; HeadObject reports the lock instead) and refuses CopyObject with ObjectLockMode unless the request carries a
Content-MD5 or SDK checksum header, which a copy request never does, so the retention is set here the way moto
accepts it. Replication: moto stores the configuration (PutBucketReplication needs versioning, as in S3) but
copies nothing.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cfnsupport import (
    DOMAINS_OF_THREE,
    REGION,
    STACK_NAME,
    TEMPLATE_PATH,
    THREE_DOMAINS,
    Deployed,
    deploy_to_moto,
    resources_of_type,
    translate,
)
from moto import mock_aws

from stackbucket import create_backup_bucket

DESTINATION = "simpledb-backup-copy-eu"
EVERYTHING = {
    **THREE_DOMAINS,
    "DumpRetentionLockDays": "30",
    "DumpRetentionLockMode": "GOVERNANCE",
    "ReplicationDestinationBucketArn": f"arn:aws:s3:::{DESTINATION}",
    "BackupConcurrency": "0",
}
DUMP_KEY = "dumps/packages/full.jsonl.gz"


@pytest.fixture(scope="module")
def deployed_everything() -> Iterator[Deployed]:
    with mock_aws():
        yield deploy_to_moto(translate(EVERYTHING), EVERYTHING)


def test_conditional_resources_follow_the_parameters(deployed_everything: Deployed) -> None:
    assert {"ReplicationRole", "ReplicationPolicy", "RestoreTargetPatternAccess"} <= set(
        deployed_everything.physical
    )
    # KmsKeyArn is empty: no key policies.
    assert not {"KmsAccessPolicy", "ReplicationSourceKeyPolicy"} & set(deployed_everything.physical)


@pytest.fixture(scope="module")
def locked_bucket(deployed_everything: Deployed) -> str:
    """The deployed bucket with the template's declaration applied (Object Lock, replication)."""
    stack = deployed_everything
    bucket = str(stack.outputs["BucketName"])
    role_arn = boto3.client("iam", region_name=REGION).get_role(RoleName=stack.physical["ReplicationRole"])[
        "Role"
    ]["Arn"]
    summary = create_backup_bucket(stack.s3, bucket, TEMPLATE_PATH, EVERYTHING, replication_role_arn=role_arn)
    assert summary["object_lock"] == "Enabled"
    assert summary["replication_rules"] == ["ReplicateDumps"]
    return bucket


def publish_dump(s3: Any, bucket: str, mode: str, key: str = DUMP_KEY) -> str:
    """What the code does on publishing, as far as moto allows: a new dump version, then its retention."""
    version = s3.put_object(Bucket=bucket, Key=key, Body=b"{}")["VersionId"]
    until = datetime.now(UTC) + timedelta(days=30)
    s3.put_object_retention(
        Bucket=bucket, Key=key, VersionId=version, Retention={"Mode": mode, "RetainUntilDate": until}
    )
    return str(version)


def test_lock_enabled_bucket_has_no_default_retention(
    deployed_everything: Deployed, locked_bucket: str
) -> None:
    configuration = deployed_everything.s3.get_object_lock_configuration(Bucket=locked_bucket)
    assert configuration["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}  # no Rule


def test_a_locked_dump_version_cannot_be_deleted_in_governance_mode(
    deployed_everything: Deployed, locked_bucket: str
) -> None:
    s3 = deployed_everything.s3
    version = publish_dump(s3, locked_bucket, "GOVERNANCE")
    head = s3.head_object(Bucket=locked_bucket, Key=DUMP_KEY, VersionId=version)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=29)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=locked_bucket, Key=DUMP_KEY, VersionId=version)
    batch = s3.delete_objects(
        Bucket=locked_bucket, Delete={"Objects": [{"Key": DUMP_KEY, "VersionId": version}]}
    )
    assert [error["Code"] for error in batch["Errors"]] == ["AccessDenied"]
    # A principal with s3:BypassGovernanceRetention (none of the stack's roles) can.
    s3.delete_object(Bucket=locked_bucket, Key=DUMP_KEY, VersionId=version, BypassGovernanceRetention=True)


def test_a_compliance_locked_dump_version_cannot_be_deleted_even_with_bypass(
    deployed_everything: Deployed, locked_bucket: str
) -> None:
    s3 = deployed_everything.s3
    key = "dumps/build_cache/full.jsonl.gz"
    version = publish_dump(s3, locked_bucket, "COMPLIANCE", key)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=locked_bucket, Key=key, VersionId=version, BypassGovernanceRetention=True)


def test_working_objects_stay_deletable(deployed_everything: Deployed, locked_bucket: str) -> None:
    s3 = deployed_everything.s3
    for key in (
        "locks/packages.lock",
        "restores/run-1.json",
        "checkpoints/run-1/part",
        "imports/repoman.json",
    ):
        version = s3.put_object(Bucket=locked_bucket, Key=key, Body=b"{}")["VersionId"]
        assert "ObjectLockMode" not in s3.head_object(Bucket=locked_bucket, Key=key, VersionId=version)
        s3.delete_object(Bucket=locked_bucket, Key=key, VersionId=version)


def test_replication_configuration_is_stored(deployed_everything: Deployed, locked_bucket: str) -> None:
    stored = deployed_everything.s3.get_bucket_replication(Bucket=locked_bucket)["ReplicationConfiguration"]
    assert stored["Role"].endswith(f":role/{deployed_everything.physical['ReplicationRole']}")
    (rule,) = stored["Rules"]
    assert (rule["ID"], rule["Status"]) == ("ReplicateDumps", "Enabled")
    assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{DESTINATION}"


def test_no_concurrency_reservation_when_the_parameter_is_0(deployed_everything: Deployed) -> None:
    lambda_client = boto3.client("lambda", region_name=REGION)
    # GetFunction carries "Concurrency" only for a function with a reservation.
    for short in ("backup", "drill"):
        assert "Concurrency" not in lambda_client.get_function(FunctionName=f"{STACK_NAME}-{short}")
    restore = lambda_client.get_function(FunctionName=f"{STACK_NAME}-restore")
    assert restore["Concurrency"] == {"ReservedConcurrentExecutions": 10}


def test_domain_policies_are_attached_to_the_roles(deployed_everything: Deployed) -> None:
    iam = boto3.client("iam", region_name=REGION)
    names = {
        role: set(iam.list_role_policies(RoleName=deployed_everything.physical[role])["PolicyNames"])
        for role in ("BackupRole", "RestoreRole", "DrillRole")
    }
    assert {f"sdb-read-{domain}" for domain in DOMAINS_OF_THREE} <= names["BackupRole"]
    assert {f"sdb-restore-{domain}" for domain in DOMAINS_OF_THREE} <= names["RestoreRole"]
    assert "sdb-restore-target-pattern" in names["RestoreRole"]
    assert names["DrillRole"] == {"drill", "state-key-seal"}  # its own inline policy, nothing per domain


def test_per_domain_and_conditional_alarms_with_three_domains(deployed_everything: Deployed) -> None:
    names = set(deployed_everything.alarm_names.values())
    for domain in DOMAINS_OF_THREE:
        assert f"{STACK_NAME}-backup-missing-{domain}" in names
        assert f"{STACK_NAME}-drill-stale-{domain}" in names
    assert f"{STACK_NAME}-replication-failed" in names
    (replication,) = deployed_everything.cloudwatch.describe_alarms(
        AlarmNames=[f"{STACK_NAME}-replication-failed"]
    )["MetricAlarms"]
    dimensions = {d["Name"]: d["Value"] for d in replication["Dimensions"]}
    assert dimensions == {
        "SourceBucket": deployed_everything.outputs["BucketName"],
        "DestinationBucket": DESTINATION,
        "RuleId": "ReplicateDumps",
    }
    assert len(names) == len(deployed_everything.expected_alarms())
    composites = resources_of_type(
        {"Resources": deployed_everything.stripped}, "AWS::CloudWatch::CompositeAlarm"
    )
    assert len(composites) == 3  # not created in moto (module docstring)
