"""template.yaml, after LanguageExtensions + SAM: parameters, bucket, schedules, functions, destinations and logs."""

import json
import re
from typing import Any

import pytest
from cfnsupport import (
    DOMAINS_OF_THREE,
    REPO_ROOT,
    STACK_NAME,
    THREE_DOMAINS,
    resolver,
    resources_of_type,
    translate,
)

FUNCTIONS = {"BackupFunction": "backup", "RestoreFunction": "restore", "DrillFunction": "drill"}
HANDLERS = {
    "BackupFunction": "backup_handler.lambda_handler",
    "RestoreFunction": "restore_handler.lambda_handler",
    "DrillFunction": "drill_handler.lambda_handler",
}
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0000"
DESTINATION_ARN = "arn:aws:s3:::simpledb-backup-copy-eu"
DESTINATION_KEY_ARN = "arn:aws:kms:eu-west-1:210987654321:key/1111"
SIX_HOURS = 6 * 3600  # Lambda's longest MaximumEventAgeInSeconds


def props(
    template: dict[str, Any], logical_id: str, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A resource's properties with parameters/conditions resolved (other resources as placeholders)."""
    return resolver(template, overrides).resolve(template["Resources"][logical_id]["Properties"])  # type: ignore[no-any-return]


def allowed_pattern(raw_template: dict[str, Any], parameter: str) -> re.Pattern[str]:
    # CloudFormation's patterns are Java regular expressions; these use nothing Python reads differently.
    return re.compile(raw_template["Parameters"][parameter]["AllowedPattern"])


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
        "BackupConcurrency": 10,
        "NoncurrentVersionRetentionDays": 90,
        "ColdStorageTransitionDays": 0,
        "ColdStorageClass": "GLACIER_IR",
        "DumpRetentionLockDays": "0",
        "DumpRetentionLockMode": "GOVERNANCE",
        "ReplicationDestinationBucketArn": "",
        "ReplicationDestinationKmsKeyArn": "",
        "EnableRestoreDrills": "true",
        "DrillScheduleExpression": "cron(0 5 ? * SUN *)",
        "LogRetentionDays": 30,
        "KmsKeyArn": "",
        "BackupAdministratorArn": "",
        "AlarmEmail": "",
        "ItemDropAlarmPercent": 20,
        "RestoreTargetDomainPattern": "<stack>-restored-*",
        "BackupSegments": 4,
        "RestoreWorkers": 8,
        "LogLevel": "INFO",
    }
    parameters = raw_template["Parameters"]
    assert parameters["DomainNames"]["Type"] == "CommaDelimitedList"
    assert parameters["DumpRetentionLockMode"]["AllowedValues"] == ["GOVERNANCE", "COMPLIANCE"]
    assert parameters["EnableRestoreDrills"]["AllowedValues"] == ["true", "false"]
    assert (parameters["DumpRetentionLockDays"]["MinValue"], parameters["BackupConcurrency"]["MinValue"]) == (
        0,
        0,
    )


def test_readme_lists_every_parameter_with_its_default(raw_template: dict[str, Any]) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", readme, flags=re.MULTILINE)
    }
    for name, spec in raw_template["Parameters"].items():
        assert name in rows, f"README's parameter table lacks {name}"
        default = str(spec["Default"])
        assert (f"`{default}`" in rows[name]) if default else ("empty" in rows[name]), (name, rows[name])


# ------------------------------------------------------------------------------------------------ patterns
@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        ("restored-*", True),
        ("restored-packages", True),
        ("a*", True),
        ("Repo_meta.v2-copy*", True),
        ("*", False),
        ("restored-?", False),
        ("restored-[ab]*", False),
        ("restored-**", False),
        ("restored-*-copy", False),
        ("*-restored", False),
        ("rest ored-*", False),
        ("x" * 201, False),
        ("<stack>-restored-*", True),
        ("<stack>-restored-packages", True),
        ("<stack>-x*", True),
        ("<stack>-*", False),  # every domain of the stack, the drills' scratch domains among them
        ("<stack>-", False),
        ("<stack>restored-*", False),
        ("restored-<stack>-*", False),
    ],
)
def test_restore_target_pattern_is_a_literal_prefix_with_one_trailing_star(
    raw_template: dict[str, Any], value: str, accepted: bool
) -> None:
    pattern = allowed_pattern(raw_template, "RestoreTargetDomainPattern")
    assert bool(pattern.fullmatch(value)) is accepted
    description = raw_template["Parameters"]["RestoreTargetDomainPattern"]["ConstraintDescription"]
    for rule in ("empty", "prefix", "<stack>-", "one trailing '*'", "No '?'", "'[...]'", "'*' on its own"):
        assert rule in description


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("packages", True),
        ("repo-meta.v2", True),
        ("build_cache", True),
        ("x" * 57, True),
        ("x" * 58, False),  # "backup-" + 58 characters is 65: EventBridge Scheduler allows 64
        ("ab", False),
        ("pack ages", False),
        # A domain named like a scratch domain is refused by the functions' configuration, and the drill role
        # is denied each configured domain by name (test_template_iam), whatever the stack's name.
        ("simpledb-backup-packages", True),
    ],
)
def test_domain_names_each_fit_a_schedule_name(
    raw_template: dict[str, Any], value: str, accepted: bool
) -> None:
    # CloudFormation applies a CommaDelimitedList's AllowedPattern to each element.
    assert bool(allowed_pattern(raw_template, "DomainNames").fullmatch(value)) is accepted


@pytest.mark.parametrize(
    ("parameter", "value", "accepted"),
    [
        ("ReplicationDestinationBucketArn", "", True),
        ("ReplicationDestinationBucketArn", DESTINATION_ARN, True),
        ("ReplicationDestinationBucketArn", "arn:aws-cn:s3:::copy.bucket", True),
        ("ReplicationDestinationBucketArn", "simpledb-backup-copy-eu", False),
        ("ReplicationDestinationBucketArn", f"{DESTINATION_ARN}/dumps/", False),
        ("ReplicationDestinationKmsKeyArn", "", True),
        ("ReplicationDestinationKmsKeyArn", DESTINATION_KEY_ARN, True),
        ("ReplicationDestinationKmsKeyArn", "arn:aws:kms:eu-west-1:210987654321:alias/copy", False),
    ],
)
def test_replication_parameters_take_arns(
    raw_template: dict[str, Any], parameter: str, value: str, accepted: bool
) -> None:
    assert bool(allowed_pattern(raw_template, parameter).fullmatch(value)) is accepted


def test_kms_encrypted_replication_demands_a_destination_key(raw_template: dict[str, Any]) -> None:
    (rule,) = raw_template["Rules"].values()
    assert rule["RuleCondition"] == {
        "Fn::And": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "ReplicationDestinationBucketArn"}, ""]}]},
        ]
    }
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ReplicationDestinationKmsKeyArn"}, ""]}]
    }


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


def lifecycle(template: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    rules = props(template, "BackupBucket", overrides)["LifecycleConfiguration"]["Rules"]
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
    drills = rules["ExpireDrillStatus"]
    assert (drills["Prefix"], drills["ExpirationInDays"]) == ("drills/", 30)
    assert all(rule["Status"] == "Enabled" for rule in rules.values())
    # No rule ever expires a current dump.
    assert "ExpirationInDays" not in dumps


def test_cold_storage_transition_when_enabled() -> None:
    overrides = {"ColdStorageTransitionDays": "30", "ColdStorageClass": "GLACIER"}
    dumps = lifecycle(translate(overrides), overrides)["ExpireOldDumpVersions"]
    assert dumps["NoncurrentVersionTransitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": "30"}]


def test_object_lock_only_with_retention_days_and_never_a_default_rule(translated: dict[str, Any]) -> None:
    assert "ObjectLockEnabled" not in props(translated, "BackupBucket")
    locked = {"DumpRetentionLockDays": "30", "DumpRetentionLockMode": "COMPLIANCE"}
    properties = props(translated, "BackupBucket", locked)
    assert properties["ObjectLockEnabled"] is True
    # No ObjectLockConfiguration rule: a default retention would lock locks/, restores/, checkpoints/ too.
    assert "ObjectLockConfiguration" not in properties
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}  # Object Lock requires it
    # The lifecycle is unchanged: S3 itself keeps a locked version until its retention ends.
    assert lifecycle(translated, locked) == lifecycle(translated)


def test_the_functions_get_the_retention_settings(translated: dict[str, Any]) -> None:
    locked = {"DumpRetentionLockDays": "30", "DumpRetentionLockMode": "COMPLIANCE"}
    for logical_id in FUNCTIONS:
        env = props(translated, logical_id)["Environment"]["Variables"]
        assert (env["DUMP_RETENTION_DAYS"], env["DUMP_RETENTION_MODE"]) == ("0", "GOVERNANCE")
        env = props(translated, logical_id, locked)["Environment"]["Variables"]
        assert (env["DUMP_RETENTION_DAYS"], env["DUMP_RETENTION_MODE"]) == ("30", "COMPLIANCE")


def test_encryption_sse_s3_by_default_and_sse_kms_with_bucket_key_when_set(
    translated: dict[str, Any],
) -> None:
    default = props(translated, "BackupBucket")["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert default == [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    kms = props(translated, "BackupBucket", {"KmsKeyArn": KEY_ARN})["BucketEncryption"]
    assert kms["ServerSideEncryptionConfiguration"] == [
        {
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN},
            "BucketKeyEnabled": True,
        }
    ]


def test_bucket_policy_denies_every_request_without_tls(translated: dict[str, Any]) -> None:
    policy = props(translated, "BackupBucketPolicy")
    assert policy["Bucket"] == "<BackupBucket>"
    (statement,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "DenyInsecureTransport"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert sorted(statement["Resource"]) == ["<BackupBucket.Arn>", "<BackupBucket.Arn>/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# ------------------------------------------------------------------------------------------------ replication
REPLICATION = {"ReplicationDestinationBucketArn": DESTINATION_ARN}
REPLICATION_RESOURCES = {
    "ReplicationRole": "HasReplication",
    "ReplicationPolicy": "HasReplication",
    "ReplicationSourceKeyPolicy": "ReplicatesKmsObjects",
    "ReplicationDestinationKeyPolicy": "ReplicatesIntoKmsKey",
    "ReplicationFailedAlarm": "HasReplication",
}


def test_replication_resources_exist_only_with_a_destination(translated: dict[str, Any]) -> None:
    for logical_id, condition in REPLICATION_RESOURCES.items():
        assert translated["Resources"][logical_id]["Condition"] == condition
    assert translated["Outputs"]["ReplicationRoleArn"]["Condition"] == "HasReplication"
    assert resolver(translated).condition("HasReplication") is False
    assert "ReplicationConfiguration" not in props(translated, "BackupBucket")


def test_replication_copies_dumps_with_time_control_and_metrics(translated: dict[str, Any]) -> None:
    configuration = props(translated, "BackupBucket", REPLICATION)["ReplicationConfiguration"]
    assert configuration["Role"] == "<ReplicationRole.Arn>"
    (rule,) = configuration["Rules"]
    assert rule == {
        "Id": "ReplicateDumps",
        "Status": "Enabled",
        "Priority": 1,
        "Filter": {"Prefix": "dumps/"},
        # A deletion in this bucket never reaches the copy.
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {
            "Bucket": DESTINATION_ARN,
            "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
        },
    }


def test_replication_of_sse_kms_dumps_into_a_destination_key(translated: dict[str, Any]) -> None:
    overrides = {**REPLICATION, "KmsKeyArn": KEY_ARN, "ReplicationDestinationKmsKeyArn": DESTINATION_KEY_ARN}
    (rule,) = props(translated, "BackupBucket", overrides)["ReplicationConfiguration"]["Rules"]
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": DESTINATION_KEY_ARN}
    # An SSE-S3 bucket may still encrypt its replicas with a destination key.
    only_destination_key = {**REPLICATION, "ReplicationDestinationKmsKeyArn": DESTINATION_KEY_ARN}
    (rule,) = props(translated, "BackupBucket", only_destination_key)["ReplicationConfiguration"]["Rules"]
    assert "SourceSelectionCriteria" not in rule
    assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": DESTINATION_KEY_ARN}


def test_replication_role_is_assumed_by_s3_of_this_account_only(translated: dict[str, Any]) -> None:
    trust = props(translated, "ReplicationRole", REPLICATION)["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


# ------------------------------------------------------------------------------------------------ schedules
def schedules(template: dict[str, Any], group: str, overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Schedule properties by schedule name, for the schedules whose condition holds."""
    resolve = resolver(template, overrides)
    found = {}
    for logical_id, resource in resources_of_type(template, "AWS::Scheduler::Schedule").items():
        if "Condition" in resource and not resolve.condition(resource["Condition"]):
            continue
        properties = resolve.resolve(resource["Properties"])
        if properties["GroupName"] == group:
            found[properties["Name"]] = properties | {"LogicalId": logical_id}
    return found


@pytest.fixture(scope="module")
def three_domains() -> dict[str, Any]:
    return translate(THREE_DOMAINS)


def test_one_backup_schedule_per_domain(three_domains: dict[str, Any]) -> None:
    found = schedules(three_domains, "<BackupScheduleGroup>", THREE_DOMAINS)
    assert set(found) == {f"backup-{domain}" for domain in DOMAINS_OF_THREE}
    assert {schedule["LogicalId"] for schedule in found.values()} == {
        "BackupSchedulepackages",
        "BackupSchedulerepometav2",
        "BackupSchedulebuildcache",
    }
    for domain in DOMAINS_OF_THREE:
        schedule = found[f"backup-{domain}"]
        assert len(schedule["Name"]) <= 64
        assert re.fullmatch(r"[0-9a-zA-Z\-_.]+", schedule["Name"])
        assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
        assert schedule["ScheduleExpressionTimezone"] == "UTC"
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert schedule["State"] == "ENABLED"
        target = schedule["Target"]
        assert target["Arn"] == "<BackupFunction.Arn>"
        assert target["RoleArn"] == "<SchedulerRole.Arn>"
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}
        assert target["DeadLetterConfig"] == {"Arn": "<ScheduleDeadLetterQueue.Arn>"}
        assert json.loads(target["Input"]) == {
            "trigger": "schedule",
            "domains": [domain],
            "schedule_arn": "<aws.scheduler.schedule-arn>",
            "scheduled_time": "<aws.scheduler.scheduled-time>",
            "execution_id": "<aws.scheduler.execution-id>",
            "attempt": "<aws.scheduler.attempt-number>",
        }


def test_one_drill_schedule_per_domain_unless_drills_are_off(three_domains: dict[str, Any]) -> None:
    found = schedules(three_domains, "<DrillScheduleGroup>", THREE_DOMAINS)
    assert set(found) == {f"drill-{domain}" for domain in DOMAINS_OF_THREE}
    for domain in DOMAINS_OF_THREE:
        schedule = found[f"drill-{domain}"]
        assert schedule["ScheduleExpression"] == "cron(0 5 ? * SUN *)"
        assert schedule["ScheduleExpressionTimezone"] == "UTC"
        target = schedule["Target"]
        assert (target["Arn"], target["RoleArn"]) == ("<DrillFunction.Arn>", "<SchedulerRole.Arn>")
        assert target["DeadLetterConfig"] == {"Arn": "<ScheduleDeadLetterQueue.Arn>"}
        assert json.loads(target["Input"]) == {"trigger": "schedule", "domain": domain}
    off = {**THREE_DOMAINS, "EnableRestoreDrills": "false"}
    assert schedules(three_domains, "<DrillScheduleGroup>", off) == {}
    assert len(schedules(three_domains, "<BackupScheduleGroup>", off)) == 3
    weekly = {**THREE_DOMAINS, "DrillScheduleExpression": "cron(30 2 ? * WED *)"}
    assert {
        s["ScheduleExpression"] for s in schedules(three_domains, "<DrillScheduleGroup>", weekly).values()
    } == {"cron(30 2 ? * WED *)"}


def test_events_are_what_the_schedules_send(three_domains: dict[str, Any]) -> None:
    """events/backup-nightly.json and events/drill-schedule.json are a rendered input of the schedules."""
    backup = schedules(three_domains, "<BackupScheduleGroup>", THREE_DOMAINS)["backup-packages"]
    rendered = json.loads(backup["Target"]["Input"])
    nightly = json.loads((REPO_ROOT / "events" / "backup-nightly.json").read_text())
    assert set(nightly) == set(rendered)
    assert nightly["trigger"] == "schedule"
    assert nightly["domains"] == ["packages"]
    assert nightly["schedule_arn"].endswith(":schedule/simpledb-backup/backup-packages")
    drill = json.loads((REPO_ROOT / "events" / "drill-schedule.json").read_text())
    assert drill == {"trigger": "schedule", "domain": "packages"}


def test_schedule_groups(translated: dict[str, Any]) -> None:
    assert props(translated, "BackupScheduleGroup")["Name"] == STACK_NAME
    assert props(translated, "DrillScheduleGroup")["Name"] == f"{STACK_NAME}-drills"
    assert "Condition" not in translated["Resources"]["DrillScheduleGroup"]  # the delivery alarm watches it


def test_scheduler_role_may_invoke_backup_and_drill_and_write_the_dlq_only(
    translated: dict[str, Any],
) -> None:
    role = props(translated, "SchedulerRole")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    # Bound to this stack's two schedule groups (tests/template/test_template_protection.py evaluates it).
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {
            "aws:SourceArn": [
                f"arn:aws:scheduler:us-east-1:123456789012:schedule/{STACK_NAME}/*",
                f"arn:aws:scheduler:us-east-1:123456789012:schedule/{STACK_NAME}-drills/*",
            ]
        },
    }
    grants = {
        (statement["Action"], json.dumps(statement["Resource"]))
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    }
    assert grants == {
        ("lambda:InvokeFunction", json.dumps(["<BackupFunction.Arn>", "<DrillFunction.Arn>"])),
        ("sqs:SendMessage", json.dumps("<ScheduleDeadLetterQueue.Arn>")),
    }
    # SAM generates no scheduler role of its own any more (the schedules are plain resources).
    assert [r for r in resources_of_type(translated, "AWS::IAM::Role") if "Schedule" in r] == [
        "SchedulerRole"
    ]


def test_a_domain_named_like_another_without_punctuation_is_refused() -> None:
    # Logical ids keep only alphanumerics, so "repo-meta" and "repometa" would be the same resource.
    with pytest.raises(ValueError, match="duplicate key"):
        translate({"DomainNames": "repo-meta,repometa"})


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
        assert function["Handler"] == HANDLERS[logical_id]
        assert function["Role"] == f"<{short_name.capitalize()}Role.Arn>"
        (layer,) = function["Layers"]
        assert translated["Resources"][layer.strip("<>")]["Type"] == "AWS::Lambda::LayerVersion"
        env = function["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "simpledb-backup"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "SimpleDBBackup"
        assert env["BACKUP_BUCKET"] == "<BackupBucket>"
        assert env["DOMAIN_NAMES"] == "packages"
        assert env["CONTINUATION_MARGIN_SECONDS"] == "90"
        assert env["DRILL_SCRATCH_PREFIX"] == f"{STACK_NAME}-drill-"
        assert env["RESTORE_TARGET_PATTERN"] == f"{STACK_NAME}-restored-*"
        assert {
            "POWERTOOLS_LOG_LEVEL",
            "BACKUP_SEGMENTS",
            "RESTORE_WORKERS",
            "RESTORE_TARGET_PATTERN",
            "DUMP_RETENTION_DAYS",
            "DUMP_RETENTION_MODE",
        } <= set(env)
    assert props(translated, "RestoreFunction")["ReservedConcurrentExecutions"] == 10


def test_handler_modules_have_unique_names(raw_template: dict[str, Any]) -> None:
    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in raw_template["Resources"].items()
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function"
    }
    assert {logical_id: f["CodeUri"] for logical_id, f in functions.items()} == {
        "BackupFunction": "functions/backup/",
        "RestoreFunction": "functions/restore/",
        "DrillFunction": "functions/drill/",
    }
    modules = [f["Handler"].split(".")[0] for f in functions.values()]
    assert len(set(modules)) == len(modules)


def test_backup_and_drill_concurrency_is_bounded_by_the_parameter(translated: dict[str, Any]) -> None:
    for logical_id in ("BackupFunction", "DrillFunction"):
        assert props(translated, logical_id)["ReservedConcurrentExecutions"] == "10"
        assert (
            props(translated, logical_id, {"BackupConcurrency": "3"})["ReservedConcurrentExecutions"] == "3"
        )
        # 0 means no reservation at all (a reservation of 0 would stop the function).
        assert "ReservedConcurrentExecutions" not in props(translated, logical_id, {"BackupConcurrency": "0"})


def test_domain_names_reach_the_functions_joined(three_domains: dict[str, Any]) -> None:
    env = props(three_domains, "BackupFunction", THREE_DOMAINS)["Environment"]
    assert env["Variables"]["DOMAIN_NAMES"] == "packages,repo-meta.v2,build_cache"


def test_env_json_has_every_variable_the_template_sets(raw_template: dict[str, Any]) -> None:
    env = json.loads((REPO_ROOT / "events" / "env.json").read_text())
    assert set(env["Parameters"]) == set(raw_template["Globals"]["Function"]["Environment"]["Variables"])
    assert set(env) - {"Parameters"} == set(FUNCTIONS)


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
    assert set(configs) == {"<BackupFunction>", "<RestoreFunction>", "<DrillFunction>"}
    for config in configs.values():
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == "<FailedInvocationQueue.Arn>"
    # No function retries a failed invocation: backup reports per domain, restore and drill write to SimpleDB.
    assert {config["MaximumRetryAttempts"] for config in configs.values()} == {0}
    # Throttled backups and drills (more domains than BackupConcurrency) wait as long as Lambda allows.
    for name in ("<BackupFunction>", "<DrillFunction>"):
        assert configs[name]["MaximumEventAgeInSeconds"] == SIX_HOURS


def test_explicit_log_groups_with_retention(translated: dict[str, Any]) -> None:
    for logical_id, short_name in FUNCTIONS.items():
        log_group_id = f"{short_name.capitalize()}LogGroup"
        log_group = props(translated, log_group_id)
        assert log_group["LogGroupName"] == f"/aws/lambda/{STACK_NAME}-{short_name}"
        assert log_group["RetentionInDays"] == "30"
        assert props(translated, logical_id)["LoggingConfig"] == {"LogGroup": f"<{log_group_id}>"}


# ------------------------------------------------------------------------------------------------ derived limits
def test_derived_limits_follow_what_they_derive_from(raw_template: dict[str, Any]) -> None:
    limits = raw_template["Mappings"]["Limits"]
    function = limits["Function"]
    assert function["TimeoutMillis"] == function["TimeoutSeconds"] * 1000
    assert (
        function["HandOverMillis"]
        == (function["TimeoutSeconds"] - function["ContinuationMarginSeconds"]) * 1000
    )
    assert (
        function["NearTimeoutMillis"]
        == function["TimeoutMillis"] - function["ContinuationMarginSeconds"] * 500
    )
    margin = raw_template["Globals"]["Function"]["Environment"]["Variables"]["CONTINUATION_MARGIN_SECONDS"]
    assert margin == str(function["ContinuationMarginSeconds"])
    assert raw_template["Globals"]["Function"]["Timeout"] == {
        "Fn::FindInMap": ["Limits", "Function", "TimeoutSeconds"]
    }
    queue = limits["AsyncQueue"]
    assert queue["MaxEventAgeSeconds"] == SIX_HOURS
    assert queue["BacklogAlarmMillis"] == queue["MaxEventAgeSeconds"] * 1000 // 2
    alarms = limits["Alarms"]
    # A day between runs + the longest wait in the queue + 2 hours for the scheduler's retries and the run.
    assert alarms["BackupMissingHours"] == 24 + queue["MaxEventAgeSeconds"] // 3600 + 2
    assert alarms["DrillWindowHours"] * 3600 == 604_800  # CloudWatch's longest evaluation range
    assert alarms["DrillGraceHours"] >= queue["MaxEventAgeSeconds"] // 3600 + 6


def test_readme_states_how_many_domains_fit_a_stack(three_domains: dict[str, Any]) -> None:
    # CloudFormation declares at most 500 resources per stack; every domain adds the same number.
    one = len(translate()["Resources"])
    per_domain = (len(three_domains["Resources"]) - one) // 2
    fixed = one - per_domain
    most = (500 - fixed) // per_domain
    assert per_domain == 7
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"at most {most} domains" in readme
    assert f"{per_domain} resources per domain" in readme


def test_outputs(translated: dict[str, Any]) -> None:
    assert set(translated["Outputs"]) >= {
        "BucketName",
        "BackupFunctionName",
        "RestoreFunctionName",
        "DrillFunctionName",
        "BackupScheduleGroupName",
        "DrillScheduleGroupName",
        "AlarmTopicArn",
        "DashboardName",
        "DashboardUrl",
        "ScheduleDeadLetterQueueUrl",
        "FailedInvocationQueueUrl",
        "ReplicationRoleArn",
    }
