"""local/stackbucket.py configures a bucket as template.yaml declares BackupBucket (under moto)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnsupport import TEMPLATE_PATH
from moto import mock_aws

from stackbucket import (
    Resolver,
    UnsupportedTemplateError,
    bucket_properties,
    create_backup_bucket,
    load_template,
    replication_to_api,
)

BUCKET = "stackbucket-test"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0000"
DESTINATION_ARN = "arn:aws:s3:::simpledb-backup-copy-eu"
DESTINATION_KEY_ARN = "arn:aws:kms:eu-west-1:210987654321:key/1111"
ROLE_ARN = "arn:aws:iam::123456789012:role/sdb-test-ReplicationRole-1"
LOCKED = {"DumpRetentionLockDays": 30}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


def declared_rule_ids() -> list[str]:
    bucket = load_template(TEMPLATE_PATH)["Resources"]["BackupBucket"]["Properties"]
    return [rule["Id"] for rule in bucket["LifecycleConfiguration"]["Rules"]]


def test_defaults(s3: Any) -> None:
    summary = create_backup_bucket(s3, BUCKET, TEMPLATE_PATH)
    assert summary == {
        "bucket": BUCKET,
        "versioning": "Enabled",
        "lifecycle_rules": declared_rule_ids(),
        "encryption": "AES256",
        "public_access_block": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "object_ownership": "BucketOwnerEnforced",
    }
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}
    assert list(rules) == declared_rule_ids()
    assert rules["ExpireOldDumpVersions"]["Filter"] == {"Prefix": "dumps/"}
    assert rules["ExpireOldDumpVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert "NoncurrentVersionTransitions" not in rules["ExpireOldDumpVersions"]
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    assert rules["ExpireCheckpoints"]["Expiration"] == {"Days": 2}
    encryption = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_parameters_flow_into_the_bucket(s3: Any) -> None:
    parameters = {
        "NoncurrentVersionRetentionDays": 120,
        "ColdStorageTransitionDays": 30,
        "ColdStorageClass": "GLACIER",
        "KmsKeyArn": KEY_ARN,
    }
    summary = create_backup_bucket(s3, BUCKET, TEMPLATE_PATH, parameters)
    assert summary["encryption"] == "aws:kms"
    dumps = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"][0]
    assert dumps["NoncurrentVersionExpiration"] == {"NoncurrentDays": 120}
    assert dumps["NoncurrentVersionTransitions"] == [{"NoncurrentDays": 30, "StorageClass": "GLACIER"}]
    encryption = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": KEY_ARN,
    }
    assert encryption["BucketKeyEnabled"] is True


def test_object_lock_when_retention_days_are_set_and_no_default_rule(s3: Any) -> None:
    summary = create_backup_bucket(s3, BUCKET, TEMPLATE_PATH, LOCKED)
    assert summary["object_lock"] == "Enabled"
    configuration = s3.get_object_lock_configuration(Bucket=BUCKET)["ObjectLockConfiguration"]
    assert configuration == {"ObjectLockEnabled": "Enabled"}  # no Rule: only dump versions get locked
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    # A second run on the (now non-empty) bucket leaves the lock as it is.
    s3.put_object(Bucket=BUCKET, Key="locks/packages.lock", Body=b"{}")
    assert create_backup_bucket(s3, BUCKET, TEMPLATE_PATH, LOCKED) == summary


def test_object_lock_enabled_on_an_existing_bucket(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)  # what CloudFormation created before the lock was switched on
    summary = create_backup_bucket(s3, BUCKET, TEMPLATE_PATH, LOCKED)
    assert summary["object_lock"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=BUCKET)["ObjectLockConfiguration"][
        "ObjectLockEnabled"
    ] == ("Enabled")


def test_replication_needs_the_replication_role(s3: Any) -> None:
    with pytest.raises(UnsupportedTemplateError, match="replication_role_arn"):
        create_backup_bucket(s3, BUCKET, TEMPLATE_PATH, {"ReplicationDestinationBucketArn": DESTINATION_ARN})


def test_replication_is_applied_with_the_role(s3: Any) -> None:
    parameters = {"ReplicationDestinationBucketArn": DESTINATION_ARN}
    summary = create_backup_bucket(s3, BUCKET, TEMPLATE_PATH, parameters, replication_role_arn=ROLE_ARN)
    assert summary["replication_rules"] == ["ReplicateDumps"]
    stored = s3.get_bucket_replication(Bucket=BUCKET)["ReplicationConfiguration"]
    assert stored["Role"] == ROLE_ARN
    (rule,) = stored["Rules"]
    assert (rule["ID"], rule["Status"], rule["Destination"]["Bucket"]) == (
        "ReplicateDumps",
        "Enabled",
        DESTINATION_ARN,
    )


def test_replication_translates_to_the_s3_api_shape() -> None:
    """The whole PutBucketReplication request (moto returns only part of what it stores)."""
    parameters = {
        "ReplicationDestinationBucketArn": DESTINATION_ARN,
        "KmsKeyArn": KEY_ARN,
        "ReplicationDestinationKmsKeyArn": DESTINATION_KEY_ARN,
    }
    properties = bucket_properties(TEMPLATE_PATH, parameters, replication_role_arn=ROLE_ARN)
    assert replication_to_api(properties["ReplicationConfiguration"]) == {
        "Role": ROLE_ARN,
        "Rules": [
            {
                "ID": "ReplicateDumps",
                "Status": "Enabled",
                "Priority": 1,
                "Filter": {"Prefix": "dumps/"},
                "DeleteMarkerReplication": {"Status": "Disabled"},
                "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
                "Destination": {
                    "Bucket": DESTINATION_ARN,
                    "EncryptionConfiguration": {"ReplicaKmsKeyID": DESTINATION_KEY_ARN},
                    "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                    "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
                },
            }
        ],
    }
    with pytest.raises(UnsupportedTemplateError, match="AccessControlTranslation"):
        replication_to_api(
            {
                "Role": ROLE_ARN,
                "Rules": [
                    {
                        "Id": "x",
                        "Status": "Enabled",
                        "Destination": {"Bucket": "b", "AccessControlTranslation": {}},
                    }
                ],
            }
        )


def test_is_idempotent_and_works_outside_us_east_1() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        first = create_backup_bucket(s3, BUCKET, TEMPLATE_PATH)
        assert create_backup_bucket(s3, BUCKET, TEMPLATE_PATH) == first
        assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == "eu-west-1"


def test_unknown_parameter_is_refused(s3: Any) -> None:
    with pytest.raises(UnsupportedTemplateError, match="unknown parameters"):
        create_backup_bucket(s3, BUCKET, TEMPLATE_PATH, {"NoSuchParameter": "1"})


def test_a_property_it_cannot_translate_fails_loudly(s3: Any, tmp_path: Path) -> None:
    changed = TEMPLATE_PATH.read_text().replace(
        "      VersioningConfiguration:\n",
        "      AccelerateConfiguration:\n        AccelerationStatus: Enabled\n      VersioningConfiguration:\n",
        1,
    )
    assert changed != TEMPLATE_PATH.read_text()
    template = tmp_path / "template.yaml"
    template.write_text(changed)
    with pytest.raises(UnsupportedTemplateError, match="AccelerateConfiguration"):
        create_backup_bucket(s3, BUCKET, template)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Name}"}, "arn:aws:s3:::x"),
        ({"Fn::Sub": ["${A}-${AWS::Region}", {"A": {"Ref": "Name"}}]}, "x-eu-west-1"),
        ({"Fn::Sub": "${!Literal}"}, "${Literal}"),
        ({"Fn::Join": [",", {"Ref": "List"}]}, "a,b"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "p,q"]}]}, "q"),
        ({"Fn::FindInMap": ["M", "k", "v"]}, 7),
        ({"Fn::If": ["IsX", "yes", "no"]}, "yes"),
        ([{"Fn::If": ["IsX", {"Ref": "AWS::NoValue"}, 1]}, 2], [2]),
        ({"k": {"Ref": "AWS::NoValue"}, "j": 1}, {"j": 1}),
    ],
)
def test_resolver(expression: Any, expected: Any) -> None:
    template = {
        "Parameters": {"Name": {"Type": "String", "Default": "x"}, "List": {"Type": "CommaDelimitedList"}},
        "Mappings": {"M": {"k": {"v": 7}}},
        "Conditions": {"IsX": {"Fn::Equals": [{"Ref": "Name"}, "x"]}},
    }
    resolver = Resolver(template, {"List": "a, b"}, region="eu-west-1")
    assert resolver.resolve(expression) == expected


def test_resolver_refuses_resource_references() -> None:
    with pytest.raises(UnsupportedTemplateError, match="BackupBucket"):
        Resolver({}).resolve({"Fn::GetAtt": ["BackupBucket", "Arn"]})
