"""The transformed template deploys into moto's CloudFormation, and what it creates is configured as declared.

moto 5.2.5 cannot create every resource type of this stack. Exactly these are stripped before create_stack
(cfnsupport.UNSUPPORTED_BY_MOTO / CREATED_THROUGH_API, cfnsupport.deploy_to_moto),
each for the reason given; everything else is created by moto's CloudFormation:

- AWS::Scheduler::Schedule, AWS::Scheduler::ScheduleGroup: no CloudFormation model in moto.
- AWS::Lambda::EventInvokeConfig: no CloudFormation model in moto.
- AWS::S3::BucketPolicy, AWS::SNS::TopicPolicy: no CloudFormation model in moto.
- AWS::CloudWatch::Alarm: no CloudFormation model in moto. The alarms are instead created through the
  CloudWatch API (PutMetricAlarm) from their template properties, resolved against the deployed stack, so the
  check "topic and alarms present, alarms notify the topic" still runs on real deployed names.
- AWS::CloudWatch::CompositeAlarm (the per-domain drill-missing alarms): no CloudFormation model, and moto has
  no PutCompositeAlarm either; they are checked on the translated template (test_template_alarms.py,
  test_drill_missing_alarm.py).
- AWS::CloudWatch::Dashboard: moto has a model, but the body references the (stripped) alarms' ARNs; it is
  put through the CloudWatch API with the resolved body instead.

moto's AWS::Lambda::Function model ignores Architectures and moto's AWS::Lambda::LayerVersion has no
physical id, so the functions' Layers come out empty (both are checked on the translated template instead);
moto's AWS::S3::Bucket model applies only BucketEncryption (and Tags): VersioningConfiguration,
ObjectLockEnabled, LifecycleConfiguration, PublicAccessBlockConfiguration, OwnershipControls and
ReplicationConfiguration are ignored. The tests check the encryption moto's CloudFormation applied, then apply
the rest of the template's declaration to the deployed bucket with local/stackbucket.py (the same code the demo
uses) and check the S3 API accepted and stores it.

test_template_moto_deploy_options.py deploys it again with three domains, Object Lock, replication and no
concurrency reservation. Object Lock, as far as moto supports it: moto enables it on an existing empty versioned bucket, stores a
retention set with PutObjectRetention and refuses to delete a locked version (GOVERNANCE without
x-amz-bypass-governance-retention, COMPLIANCE always). moto 5.2.5 does not implement GetObjectRetention (HTTP 500;
HeadObject reports the lock instead) and refuses CopyObject with ObjectLockMode unless the request carries a
Content-MD5 or SDK checksum header, which a copy request never does. Replication: moto stores the configuration
(PutBucketReplication needs versioning, as in S3) but copies nothing.
"""

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from cfnsupport import (
    CREATED_THROUGH_API,
    REGION,
    STACK_NAME,
    TEMPLATE_PATH,
    UNSUPPORTED_BY_MOTO,
    Deployed,
    deploy_to_moto,
    translate,
)
from moto import mock_aws

from stackbucket import create_backup_bucket


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    with mock_aws():
        yield deploy_to_moto(translate())


def test_exactly_the_unsupported_types_were_stripped(deployed: Deployed) -> None:
    assert {r["Type"] for r in deployed.stripped.values()} == UNSUPPORTED_BY_MOTO | CREATED_THROUGH_API
    kept = {logical_id for logical_id, r in deployed.template["Resources"].items() if "Condition" not in r}
    assert kept <= set(deployed.physical), "moto skipped a resource it should have created"
    # The default parameters create neither the replication role nor a key policy.
    conditional = {"ReplicationRole", "ReplicationPolicy", "KmsAccessPolicy", "ReplicationSourceKeyPolicy"}
    assert not conditional & set(deployed.physical)


def test_bucket_encryption_from_cloudformation(deployed: Deployed) -> None:
    bucket = deployed.outputs["BucketName"]
    rules = deployed.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_deployed_bucket_has_versioning_and_the_lifecycle_rules(deployed: Deployed) -> None:
    bucket = deployed.outputs["BucketName"]
    # moto's CloudFormation ignores these bucket properties (module docstring): apply the declaration.
    summary = create_backup_bucket(deployed.s3, bucket, TEMPLATE_PATH)
    assert summary["bucket"] == bucket
    assert "object_lock" not in summary
    assert "replication_rules" not in summary
    assert deployed.s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = {r["ID"]: r for r in deployed.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["ExpireOldDumpVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert rules["ExpireOldDumpVersions"]["Filter"] == {"Prefix": "dumps/"}
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    assert rules["ExpireCheckpoints"]["Expiration"] == {"Days": 2}
    assert rules["ExpireRestoreStatus"]["Expiration"] == {"Days": 30}
    block = deployed.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    ownership = deployed.s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert ownership == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    with pytest.raises(ClientError, match="ObjectLockConfigurationNotFound"):
        deployed.s3.get_object_lock_configuration(Bucket=bucket)


def test_functions_layer_logs_and_queues(deployed: Deployed) -> None:
    lambda_client = boto3.client("lambda", region_name=REGION)
    for name in (
        deployed.outputs["BackupFunctionName"],
        deployed.outputs["RestoreFunctionName"],
        deployed.outputs["DrillFunctionName"],
    ):
        config = lambda_client.get_function_configuration(FunctionName=name)
        # (moto's Lambda model ignores Architectures; arm64 is checked on the translated template.)
        assert (config["Runtime"], config["Timeout"], config["MemorySize"]) == ("python3.13", 900, 1024)
        assert config["Environment"]["Variables"]["BACKUP_BUCKET"] == deployed.outputs["BucketName"]
        # (moto keeps a Number parameter's type where Lambda would hand the function a string.)
        assert str(config["Environment"]["Variables"]["DUMP_RETENTION_DAYS"]) == "0"
    # moto creates the layer, but its Ref resolves to "" so the functions' Layers stay empty in moto.
    assert [layer["LayerName"] for layer in lambda_client.list_layers()["Layers"]] != []
    concurrency = {
        short: lambda_client.get_function_concurrency(FunctionName=f"{STACK_NAME}-{short}").get(
            "ReservedConcurrentExecutions"
        )
        for short in ("backup", "restore", "drill")
    }
    assert concurrency == {"backup": 10, "restore": 10, "drill": 10}
    logs = boto3.client("logs", region_name=REGION)
    groups = {
        g["logGroupName"]: g for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    }
    for short_name in ("backup", "restore", "drill"):
        assert groups[f"/aws/lambda/{STACK_NAME}-{short_name}"]["retentionInDays"] == 30
    sqs = boto3.client("sqs", region_name=REGION)
    queue_urls = set(sqs.list_queues()["QueueUrls"])
    assert {
        deployed.outputs["ScheduleDeadLetterQueueUrl"],
        deployed.outputs["FailedInvocationQueueUrl"],
    } <= queue_urls


def test_topic_and_alarms_present_and_notifying_the_topic(deployed: Deployed) -> None:
    topic_arn = deployed.outputs["AlarmTopicArn"]
    sns = boto3.client("sns", region_name=REGION)
    assert topic_arn in {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    alarms = deployed.cloudwatch.describe_alarms(AlarmNamePrefix=f"{STACK_NAME}-")["MetricAlarms"]
    assert len(alarms) == len(deployed.expected_alarms()) == 10
    silent = {f"{STACK_NAME}-drill-stale-packages", f"{STACK_NAME}-drills-running"}
    for found in alarms:
        expected_actions = [] if found["AlarmName"] in silent else [topic_arn]
        assert found["AlarmActions"] == expected_actions, found["AlarmName"]
        assert found["OKActions"] == expected_actions, found["AlarmName"]
        assert "docs/RUNBOOK.md#" in found["AlarmDescription"]
    functions = {
        deployed.outputs["BackupFunctionName"],
        deployed.outputs["RestoreFunctionName"],
        deployed.outputs["DrillFunctionName"],
    }
    watched = {
        d["Value"]
        for found in alarms
        for query in found.get("Metrics", [])
        if "MetricStat" in query
        for d in query["MetricStat"]["Metric"].get("Dimensions", [])
        if d["Name"] == "FunctionName"
    }
    assert watched == functions


def test_dashboard_put_with_the_deployed_names(deployed: Deployed) -> None:
    body = json.loads(deployed.cloudwatch.get_dashboard(DashboardName=STACK_NAME)["DashboardBody"])
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert all(arn.startswith("arn:aws:cloudwatch:") for arn in alarm_widget["properties"]["alarms"])
    assert len(alarm_widget["properties"]["alarms"]) == 7  # the stack-wide ones and drill-failed
