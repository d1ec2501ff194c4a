"""The state key (issue 16): a KMS HMAC key that seals restore and drill states and locks. Only the functions'
roles may use it (the restore and the drill seal and verify, the backup only verifies); the account
administers it but is not delegated its use; every function is told its ARN."""

from fnmatch import fnmatchcase
from typing import Any

import pytest
from cfnsupport import ACCOUNT_ID, TEMPLATE_PATH, as_list, resolver, role_statements, translate

from statekey import state_key_properties

KEY_ARN = "<StateKey.Arn>"
MAC_ACTIONS = {"kms:GenerateMac", "kms:VerifyMac"}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate()


@pytest.fixture(scope="module")
def key(translated: dict[str, Any]) -> dict[str, Any]:
    resource = translated["Resources"]["StateKey"]
    assert resource["Type"] == "AWS::KMS::Key"
    return resolver(translated).resolve(resource["Properties"])  # type: ignore[no-any-return]


def key_policy_grants(key: dict[str, Any]) -> dict[str, set[str]]:
    """principal -> actions the key policy allows it."""
    grants: dict[str, set[str]] = {}
    for statement in key["KeyPolicy"]["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] == "*"  # in a key policy, "*" is this key
        for principal in as_list(statement["Principal"]["AWS"]):
            grants.setdefault(principal, set()).update(as_list(statement["Action"]))
    return grants


def test_the_key_is_an_hmac_key_for_macs_only(key: dict[str, Any]) -> None:
    assert key["KeySpec"] == "HMAC_256"
    assert key["KeyUsage"] == "GENERATE_VERIFY_MAC"
    assert "EnableKeyRotation" not in key  # KMS does not rotate HMAC keys automatically


def test_only_the_functions_roles_may_use_the_key(key: dict[str, Any]) -> None:
    grants = key_policy_grants(key)
    users = {principal for principal, actions in grants.items() if actions & MAC_ACTIONS}
    assert users == {"<RestoreRole.Arn>", "<DrillRole.Arn>", "<BackupRole.Arn>"}
    assert grants["<RestoreRole.Arn>"] == grants["<DrillRole.Arn>"] == MAC_ACTIONS
    assert grants["<BackupRole.Arn>"] == {"kms:VerifyMac"}  # it reads restores' marks, it never seals


def test_the_account_administers_the_key_but_cannot_use_it(key: dict[str, Any]) -> None:
    administration = key_policy_grants(key)[f"arn:aws:iam::{ACCOUNT_ID}:root"]

    def granted(action: str) -> bool:
        return any(fnmatchcase(action, pattern) for pattern in administration)

    assert granted("kms:PutKeyPolicy")
    assert granted("kms:ScheduleKeyDeletion")
    assert not [action for action in MAC_ACTIONS if granted(action)]  # no IAM policy can delegate them


def test_the_roles_are_granted_the_mac_actions_on_the_key_alone(translated: dict[str, Any]) -> None:
    for role, expected in (
        ("RestoreRole", MAC_ACTIONS),
        ("DrillRole", MAC_ACTIONS),
        ("BackupRole", {"kms:VerifyMac"}),
    ):
        mac_statements = [
            statement
            for statement in role_statements(translated, role)
            if set(as_list(statement["Action"])) & MAC_ACTIONS
        ]
        assert {action for statement in mac_statements for action in as_list(statement["Action"])} == expected
        assert {resource for statement in mac_statements for resource in as_list(statement["Resource"])} == {
            KEY_ARN
        }


def test_every_function_is_told_the_key(translated: dict[str, Any]) -> None:
    for function in ("BackupFunction", "RestoreFunction", "DrillFunction"):
        properties = resolver(translated).resolve(translated["Resources"][function]["Properties"])
        assert properties["Environment"]["Variables"]["STATE_KEY_ID"] == KEY_ARN


def test_the_local_key_is_made_from_the_same_declaration(key: dict[str, Any]) -> None:
    local = state_key_properties(TEMPLATE_PATH)
    assert (local["KeySpec"], local["KeyUsage"]) == (key["KeySpec"], key["KeyUsage"])
