"""template.yaml, after LanguageExtensions + SAM: bucket, schedule, functions, destinations and log groups."""

import json
from typing import Any

from cfnsupport import STACK_NAME, resolver, resources_of_type, translate

FUNCTIONS = {"BackupFunction": "backup", "RestoreFunction": "restore"}


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A resource's properties with parameters/conditions resolved (other resources as placeholders)."""
    return resolver(template).resolve(template["Resources"][logical_id]["Properties"])  # type: ignore[no-any-return]


def test_sections_are_in_the_agreed_order(raw_template: dict[str, Any]) -> None:
    agreed = ["Parameters", "Conditions", "Globals", "Resources", "Outputs"]
    present = [section for section in raw_template if section in agreed]
    assert present == agreed


def test_parameter_defaults(raw_template: dict[str, Any]) -> None:
    defaults = {name: spec.get("Default") for name, spec in raw_template["Parameters"].items()}
    assert defaults == {
        "DomainNames": "packages",
        "ScheduleExpression": "cron(0 3 * * ? *)",
        "ScheduleTimezone": "UTC",
        "NoncurrentVersionRetentionDays": 90,
        "ColdStorageTransitionDays": 0,
        "ColdStorageClass": "GLACIER_IR",
        "LogRetentionDays": 30,
        "KmsKeyArn": "",
        "AlarmEmail": "",
        "ItemDropAlarmPercent": 20,
        "RestoreTargetDomainPattern": "restored-*",
        "BackupSegments": 4,
        "RestoreWorkers": 8,
        "LogLevel": "INFO",
    }
    assert raw_template["Parameters"]["DomainNames"]["Type"] == "CommaDelimitedList"


# ------------------------------------------------------------------------------------------------ bucket
def test_bucket_is_versioned_retained_and_private(translated: dict[str, Any]) -> None:
    bucket = translated["Resources"]["BackupBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    properties = props(translated, "BackupBucket")
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def lifecycle(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rules = props(template, "BackupBucket")["LifecycleConfiguration"]["Rules"]
    return {rule["Id"]: rule for rule in rules}


def test_lifecycle_rules(translated: dict[str, Any]) -> None:
    rules = lifecycle(translated)
    dumps = rules["ExpireOldDumpVersions"]
    assert dumps["Prefix"] == "dumps/"
    # Resolved from the parameter's default: the rule follows NoncurrentVersionRetentionDays.
    assert translated["Resources"]["BackupBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0][
        "NoncurrentVersionExpiration"
    ] == {"NoncurrentDays": {"Ref": "NoncurrentVersionRetentionDays"}}
    assert dumps["NoncurrentVersionExpiration"] == {"NoncurrentDays": "90"}
    assert "NoncurrentVersionTransitions" not in dumps  # cold storage is off by default
    abort = rules["AbortIncompleteMultipartUploads"]
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert "Prefix" not in abort  # the whole bucket
    checkpoints = rules["ExpireCheckpoints"]
    assert (checkpoints["Prefix"], checkpoints["ExpirationInDays"]) == ("checkpoints/", 2)
    assert checkpoints["NoncurrentVersionExpiration"] == {"NoncurrentDays": 2}
    restores = rules["ExpireRestoreStatus"]
    assert (restores["Prefix"], restores["ExpirationInDays"]) == ("restores/", 30)
    assert all(rule["Status"] == "Enabled" for rule in rules.values())
    # No rule ever expires a current dump.
    assert "ExpirationInDays" not in dumps


def test_cold_storage_transition_when_enabled() -> None:
    overrides = {"ColdStorageTransitionDays": "30", "ColdStorageClass": "GLACIER"}
    template = translate(overrides)
    rules = resolver(template, overrides).resolve(template["Resources"]["BackupBucket"]["Properties"])
    dumps = {rule["Id"]: rule for rule in rules["LifecycleConfiguration"]["Rules"]}["ExpireOldDumpVersions"]
    assert dumps["NoncurrentVersionTransitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": "30"}]


def test_encryption_sse_s3_by_default_and_sse_kms_with_bucket_key_when_set(
    translated: dict[str, Any],
) -> None:
    default = props(translated, "BackupBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert default == [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    key = "arn:aws:kms:us-east-1:123456789012:key/0000"
    kms = resolver(translated, {"KmsKeyArn": key}).resolve(
        translated["Resources"]["BackupBucket"]["Properties"]["BucketEncryption"]
    )
    assert kms["ServerSideEncryptionConfiguration"] == [
        {
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
            "BucketKeyEnabled": True,
        }
    ]


def test_bucket_policy_denies_every_request_without_tls(translated: dict[str, Any]) -> None:
    policy = props(translated, "BackupBucketPolicy")
    assert policy["Bucket"] == "<BackupBucket>"
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert sorted(statement["Resource"]) == ["<BackupBucket.Arn>", "<BackupBucket.Arn>/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# ------------------------------------------------------------------------------------------------ schedule
def test_nightly_schedule(translated: dict[str, Any]) -> None:
    (schedule_id,) = resources_of_type(translated, "AWS::Scheduler::Schedule")
    schedule = props(translated, schedule_id)
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["GroupName"] == "<BackupScheduleGroup>"
    target = schedule["Target"]
    assert target["Arn"] == "<BackupFunction.Arn>"
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"] == {"Arn": "<ScheduleDeadLetterQueue.Arn>"}
    assert json.loads(target["Input"]) == {
        "trigger": "schedule",
        "schedule_arn": "<aws.scheduler.schedule-arn>",
        "scheduled_time": "<aws.scheduler.scheduled-time>",
        "execution_id": "<aws.scheduler.execution-id>",
        "attempt": "<aws.scheduler.attempt-number>",
    }
    assert translated["Resources"]["ScheduleDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"


def test_scheduler_role_may_invoke_the_backup_and_write_the_dlq_only(translated: dict[str, Any]) -> None:
    (schedule_id,) = resources_of_type(translated, "AWS::Scheduler::Schedule")
    role_id = translated["Resources"][schedule_id]["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = props(translated, role_id)
    grants = {
        (statement["Action"], statement["Resource"])
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    }
    assert grants == {
        ("lambda:InvokeFunction", "<BackupFunction.Arn>"),
        ("sqs:SendMessage", "<ScheduleDeadLetterQueue.Arn>"),
    }


# ------------------------------------------------------------------------------------------------ functions
def test_function_settings(translated: dict[str, Any]) -> None:
    for logical_id, short_name in FUNCTIONS.items():
        function = props(translated, logical_id)
        assert function["FunctionName"] == f"{STACK_NAME}-{short_name}"
        assert function["Runtime"] == "python3.13"
        assert function["Architectures"] == ["arm64"]
        assert function["Timeout"] == 900
        assert function["MemorySize"] == 1024
        assert function["TracingConfig"] == {"Mode": "Active"}
        assert function["Handler"] == f"{short_name}_handler.lambda_handler"
        assert function["Role"] == f"<{short_name.capitalize()}Role.Arn>"
        (layer,) = function["Layers"]
        assert translated["Resources"][layer.strip("<>")]["Type"] == "AWS::Lambda::LayerVersion"
        env = function["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "simpledb-backup"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "SimpleDBBackup"
        assert env["BACKUP_BUCKET"] == "<BackupBucket>"
        assert env["DOMAIN_NAMES"] == "packages"
        assert env["CONTINUATION_MARGIN_SECONDS"] == "90"
        assert {
            "POWERTOOLS_LOG_LEVEL",
            "BACKUP_SEGMENTS",
            "RESTORE_WORKERS",
            "RESTORE_TARGET_PATTERN",
        } <= set(env)
    assert "ReservedConcurrentExecutions" not in props(translated, "BackupFunction")
    assert props(translated, "RestoreFunction")["ReservedConcurrentExecutions"] == 1


def test_domain_names_reach_the_functions_joined(translated_two_domains: dict[str, Any]) -> None:
    env = resolver(translated_two_domains, {"DomainNames": "packages,repo-meta.v2"}).resolve(
        translated_two_domains["Resources"]["BackupFunction"]["Properties"]["Environment"]
    )
    assert env["Variables"]["DOMAIN_NAMES"] == "packages,repo-meta.v2"


def test_shared_layer(translated: dict[str, Any]) -> None:
    (layer,) = resources_of_type(translated, "AWS::Lambda::LayerVersion").values()
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_shared_layer_build_metadata(raw_template: dict[str, Any]) -> None:
    layer = raw_template["Resources"]["SharedLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/shared/"
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}


def test_async_failures_go_to_the_failed_invocation_queue(translated: dict[str, Any]) -> None:
    configs = {
        props(translated, logical_id)["FunctionName"]: props(translated, logical_id)
        for logical_id in resources_of_type(translated, "AWS::Lambda::EventInvokeConfig")
    }
    assert set(configs) == {"<BackupFunction>", "<RestoreFunction>"}
    for config in configs.values():
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == "<FailedInvocationQueue.Arn>"
    # Neither function retries a failed invocation: backup reports per domain, restore writes to SimpleDB.
    assert {config["MaximumRetryAttempts"] for config in configs.values()} == {0}


def test_explicit_log_groups_with_retention(translated: dict[str, Any]) -> None:
    for logical_id, short_name in FUNCTIONS.items():
        log_group_id = f"{short_name.capitalize()}LogGroup"
        log_group = props(translated, log_group_id)
        assert log_group["LogGroupName"] == f"/aws/lambda/{STACK_NAME}-{short_name}"
        assert log_group["RetentionInDays"] == "30"
        assert props(translated, logical_id)["LoggingConfig"] == {"LogGroup": f"<{log_group_id}>"}


def test_timeout_and_near_timeout_threshold_come_from_one_place(raw_template: dict[str, Any]) -> None:
    limits = raw_template["Mappings"]["Limits"]["Function"]
    assert limits["TimeoutMillis"] == limits["TimeoutSeconds"] * 1000
    assert limits["NearTimeoutMillis"] == limits["TimeoutMillis"] * 8 // 10
    assert raw_template["Globals"]["Function"]["Timeout"] == {
        "Fn::FindInMap": ["Limits", "Function", "TimeoutSeconds"]
    }


def test_outputs(translated: dict[str, Any]) -> None:
    assert set(translated["Outputs"]) >= {
        "BucketName",
        "BackupFunctionName",
        "RestoreFunctionName",
        "AlarmTopicArn",
        "DashboardName",
        "DashboardUrl",
        "ScheduleDeadLetterQueueUrl",
        "FailedInvocationQueueUrl",
    }
