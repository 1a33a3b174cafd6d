"""`iam_policy_devdb`: the printed policy allows every AWS call the engine makes, and little else.

Every call the gateways make while the engine runs its flows (refresh over three mornings with a
new master password, status, sync, clean, clone, rollback, dry runs) is caught with a botocore hook,
turned into the IAM actions and resources AWS authorizes it against (with the resource's live
tags; a restore also needs kms:CreateGrant/DescribeKey on the keys RDS encrypts the clone with, an
added role iam:PassRole), and checked against the printed policy by a small evaluator of the policy's
own grammar (Allow/Deny, * and ? in actions and ARNs, StringEquals, Bool, Null, ForAllValues: and
ForAnyValue:StringEquals, ForAllValues:StringLike conditions). The flows include branches: two created,
one extended, one reset, one deleted, one expired by the daily refresh.
"""

import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devdb import aws as aws_module
from devdb import policy
from tests.aws_calls import on_request
from tests.conftest import target_settings

pytestmark = pytest.mark.django_db(databases="__all__")

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's
SECURE_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CLONE_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
SOURCE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/aurora-s3-import"
SERVICE_PREFIX = {"rds": "rds", "route53": "route53", "resourcegroupstaggingapi": "tag", "logs": "logs"}
# Operations the engine makes beyond Describe*/Route53/GetResources, and every IAM action each needs.
# The policy may grant these before the gateway makes them (see pending_actions()).
OPERATION_ACTIONS = {
    "TagResources": {"tag:TagResources", "rds:AddTagsToResource"},
    "StartDBCluster": {"rds:StartDBCluster"},
    "StopDBCluster": {"rds:StopDBCluster"},
    "DeleteLogGroup": {"logs:DeleteLogGroup"},
    "AddRoleToDBCluster": {"rds:AddRoleToDBCluster", "iam:PassRole"},
}


# --- a small IAM evaluator ---------------------------------------------------------------------


def _glob(pattern, text, case=True):
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, text, 0 if case else re.IGNORECASE) is not None


def _as_list(value):
    return [value] if isinstance(value, str) else list(value)


def _conditions_hold(conditions, context):
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            expected = _as_list(expected)
            present = key in context
            values = _as_list(context.get(key, []))
            if operator == "StringEquals":
                if not present or values[0] not in expected:
                    return False
            elif operator == "Bool":
                if not present or str(values[0]).lower() not in [str(e).lower() for e in expected]:
                    return False
            elif operator == "ForAllValues:StringEquals":
                if not all(v in expected for v in values):
                    return False
            elif operator == "ForAnyValue:StringEquals":
                if not any(v in expected for v in values):
                    return False
            elif operator == "ForAllValues:StringLike":
                if not all(any(_glob(e, v) for e in expected) for v in values):
                    return False
            elif operator == "Null":  # "false": the key must be present
                if present != (str(expected[0]).lower() == "false"):
                    return False
            else:
                raise AssertionError(f"evaluator does not know {operator}")
    return True


def _matches(statement, action, resource, context):
    return (
        any(_glob(a, action, case=False) for a in _as_list(statement["Action"]))
        and any(_glob(r, resource) for r in _as_list(statement["Resource"]))
        and _conditions_hold(statement.get("Condition", {}), context)
    )


def allowed(document, action, resource, context=None):
    context = context or {}
    statements = document["Statement"]
    if any(s["Effect"] == "Deny" and _matches(s, action, resource, context) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _matches(s, action, resource, context) for s in statements)


# --- what a call is authorized against -----------------------------------------------------------


def rds_arn(kind, name):
    return name if name.startswith("arn:") else f"arn:aws:rds:{REGION}:{ACCOUNT}:{kind}:{name}"


def kms_grant(key_arn):
    """What RDS needs from the caller to encrypt a clone with a key: a grant for itself, and the key's description."""
    return [("kms:CreateGrant", key_arn, {"kms:GrantIsForAWSResource": "true"}), ("kms:DescribeKey", key_arn, {})]


def authorizations(call, account):
    """[(action, resource ARN, context)] IAM checks for one API call, as AWS documents them."""
    service, operation, params, facts = call
    action = f"{SERVICE_PREFIX[service]}:{operation}"
    if operation == "TagResources":
        return [(action, "*", {})] + [("rds:AddTagsToResource", arn, {}) for arn in params["ResourceARNList"]]
    if service == "resourcegroupstaggingapi":
        return [(action, "*", {})]
    if operation == "DeleteLogGroup":
        return [(action, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{params['logGroupName']}", {})]
    if service == "route53":
        if operation == "GetChange":
            return [(action, f"arn:aws:route53:::change/{params['Id'].rsplit('/', 1)[-1]}", {})]
        zone = f"arn:aws:route53:::hostedzone/{params.get('HostedZoneId', params.get('Id')).rsplit('/', 1)[-1]}"
        context = {}
        if operation == "ChangeResourceRecordSets":
            changes = params["ChangeBatch"]["Changes"]
            context = {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames":
                    [c["ResourceRecordSet"]["Name"].rstrip(".").lower() for c in changes],
                "route53:ChangeResourceRecordSetsRecordTypes": [c["ResourceRecordSet"]["Type"] for c in changes],
                "route53:ChangeResourceRecordSetsActions": [c["Action"] for c in changes],
            }
        return [(action, zone, context)]
    context = {f"aws:ResourceTag/{k}": v for k, v in facts.items()}
    if operation in ("DescribeDBClusters", "DescribeDBInstances"):
        if "DBClusterIdentifier" in params:
            return [(action, rds_arn("cluster", params["DBClusterIdentifier"]), {})]
        return [(action, "*", {})]
    if operation in ("DescribeOrderableDBInstanceOptions", "DescribeAccountAttributes"):
        return [(action, "*", {})]
    if operation == "RestoreDBClusterToPointInTime":
        keys = {k for k in (facts.get("source_key"), params.get("KmsKeyId")) if k}
        return [(action, rds_arn("cluster", params["DBClusterIdentifier"]), {}),
                (action, rds_arn("cluster", params["SourceDBClusterIdentifier"]), {})] + [
            check for key in sorted(keys) for check in kms_grant(key)]
    if operation in ("StartDBCluster", "StopDBCluster"):
        return [(action, rds_arn("cluster", params["DBClusterIdentifier"]), context)]
    if operation == "AddRoleToDBCluster":
        return [(action, rds_arn("cluster", params["DBClusterIdentifier"]), {}),
                ("iam:PassRole", params["RoleArn"], {"iam:PassedToService": "rds.amazonaws.com"})]
    if operation == "CreateDBInstance":
        return [(action, rds_arn("db", params["DBInstanceIdentifier"]), {}),
                (action, rds_arn("cluster", params["DBClusterIdentifier"]), {})]
    if operation == "AddTagsToResource":
        return [(action, params["ResourceName"], {})]
    if operation in ("ModifyDBCluster", "DeleteDBCluster"):
        return [(action, rds_arn("cluster", params["DBClusterIdentifier"]), context)]
    if operation == "DeleteDBInstance":
        return [(action, rds_arn("db", params["DBInstanceIdentifier"]), context)]
    raise AssertionError(f"test does not know how AWS authorizes {action}; teach authorizations()")


@pytest.fixture
def recorded(aws, monkeypatch, clock):
    """Every call of every Gateway (the commands' and the tests'), as (service, operation, params, facts).

    `facts` are the live tags of the resource a modify/start/delete acts on, or for a restore the KMS key
    the source is encrypted with (`source_key`), read (unhooked) at call time.
    Route53 changes come back PENDING, so the INSYNC wait (GetChange) is exercised too.
    """
    calls = []
    real_init = aws_module.Gateway.__init__

    def resource_tags(operation, params):
        if operation in ("ModifyDBCluster", "DeleteDBCluster", "StartDBCluster", "StopDBCluster"):
            return aws.tags(params["DBClusterIdentifier"])
        if operation == "RestoreDBClusterToPointInTime":
            source = aws.cluster(params["SourceDBClusterIdentifier"])
            return {"source_key": source.get("KmsKeyId") if source.get("StorageEncrypted") else None}
        if operation == "DeleteDBInstance":
            return aws.instance_tags(params["DBInstanceIdentifier"])
        return {}

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        on_request(self, lambda operation, params, service: calls.append(
            (service, operation, dict(params), resource_tags(operation, params))))
        self.route53.meta.events.register("after-call.route53.ChangeResourceRecordSets",
                                          lambda parsed, **_: parsed["ChangeInfo"].update(Status="PENDING"))

    monkeypatch.setattr(aws_module.Gateway, "__init__", init)
    monkeypatch.setattr("devdb.engine.Clock", lambda: clock)
    return calls


def printed_policy(*args):
    out = io.StringIO()
    call_command("iam_policy_devdb", *args, stdout=out)
    return json.loads(out.getvalue())


def gateway_operations():
    """Every AWS operation devdb.aws.Gateway can make (its methods are wrapped with the operation name)."""
    return set(re.findall(r'@_wrap\("(\w+)"\)', Path(aws_module.__file__).read_text()))


def pending_actions():
    """Actions of OPERATION_ACTIONS the policy grants for operations the gateway does not make yet: the
    only ones the flows may leave unused. Once the gateway makes them, the flows must use them."""
    made = gateway_operations()
    pending = set().union(*(actions for op, actions in OPERATION_ACTIONS.items() if op not in made))
    return pending - set().union(*(actions for op, actions in OPERATION_ACTIONS.items() if op in made))


def used_actions(recorded, account):
    return {action for call in recorded for action, _, _ in authorizations(call, account)}


def refusals(document, recorded, account):
    return [check for call in recorded for check in authorizations(call, account) if not allowed(document, *check)]


# --- tests -------------------------------------------------------------------------------------


def run_representative_flows(aws, devdb_settings, clock, monkeypatch):
    from datetime import timedelta

    from tests.conftest import START

    # A source with an IAM role, as production ones often have: its clones get it too. (It exports its logs
    # to CloudWatch, as seeded: so do its clones, whose log groups are deleted with them.)
    aws.rds.add_role_to_db_cluster(DBClusterIdentifier="prod-aurora", RoleArn=SOURCE_ROLE, FeatureName="s3Import")
    monkeypatch.setenv("DEVDB_TEST_NEW_PASSWORD", "policy-test-password")
    devdb_settings["TARGETS"]["dev"].update({"KEEP_ABORTED": 1, "MASTER_PASSWORD_ENV": "DEVDB_TEST_NEW_PASSWORD"})
    for day in range(3):
        clock.moment = START + timedelta(days=day)
        call_command("refresh_devdb")
        call_command("status_devdb", "--json", stdout=io.StringIO())
    call_command("refresh_devdb", "--dry-run", stdout=io.StringIO())
    assert aws.cluster("dev-20261123")["Status"] == "stopped"  # kept for rollback, stopped: started for the rollback
    call_command("connect_devdb", "--to", "dev-20261123")  # roll back to day 2 (kept)
    call_command("clone_devdb")  # today's exists: nothing to create
    call_command("sync_devdb")
    call_command("clean_devdb", "--grace", "0")
    call_command("connect_devdb")
    call_command("branch_devdb", "create", "feat", "--ttl", "12h", stdout=io.StringIO())
    call_command("branch_devdb", "create", "pr-7", stdout=io.StringIO())
    call_command("branch_devdb", "extend", "pr-7", "--ttl", "3d", stdout=io.StringIO())
    call_command("branch_devdb", "list", stdout=io.StringIO())
    call_command("branch_devdb", "create", "pr-7", "--reset", stdout=io.StringIO())
    call_command("branch_devdb", "delete", "pr-7", stdout=io.StringIO())
    clock.moment += timedelta(days=1)
    call_command("refresh_devdb")  # feat expired: deleted with its CNAME


def test_policy_allows_every_call_the_engine_makes(aws, devdb_settings, recorded, clock, monkeypatch):
    run_representative_flows(aws, devdb_settings, clock, monkeypatch)
    document = printed_policy("--from-aws")

    operations = {op for _, op, _, _ in recorded}
    assert operations == gateway_operations()  # the flows exercised every operation the gateway has
    refused = refusals(document, recorded, aws)
    assert not refused, f"{len(refused)} call(s) the policy would refuse, e.g. {refused[:3]}"
    # ... and nothing more: every allowed action is one the engine was seen to use.
    used = used_actions(recorded, aws)
    assert used <= policy.actions(document) <= used | pending_actions(), policy.actions(document) - used
    deletes = [c for c in recorded if c[1] in ("DeleteDBCluster", "DeleteDBInstance")]
    assert deletes and all(c[3].get("devdb:managed-by") == "django-devdb" for c in deletes)
    # ... and the log groups of exactly the clones deleted.
    deleted = {c[2]["DBClusterIdentifier"] for c in deletes if c[1] == "DeleteDBCluster"}
    logs = [c[2]["logGroupName"] for c in recorded if c[1] == "DeleteLogGroup"]
    assert {name.split("/")[4] for name in logs} == deleted and all(name.startswith("/aws/rds/cluster/") for name in logs)
    assert {c[1] for c in recorded if c[1].startswith("Delete")} == {"DeleteDBCluster", "DeleteDBInstance", "DeleteLogGroup"}


def test_deletes_are_tag_conditioned_and_route53_is_scoped_to_the_zone(aws, devdb_settings):
    document = printed_policy()
    zone_arn = f"arn:aws:route53:::hostedzone/{aws.zone_id}"
    delete_statements = [s for s in document["Statement"] if s["Effect"] == "Allow"
                         and set(_as_list(s["Action"])) & {"rds:DeleteDBCluster", "rds:DeleteDBInstance"}]
    assert delete_statements
    for statement in delete_statements:
        assert statement["Condition"]["StringEquals"]["aws:ResourceTag/devdb:managed-by"] == "django-devdb"
        assert "*" not in _as_list(statement["Resource"])
    for statement in document["Statement"]:
        actions = _as_list(statement["Action"])
        if any(a.startswith("route53:") and a != "route53:GetChange" for a in actions):
            assert _as_list(statement["Resource"]) == [zone_arn]
        if "route53:GetChange" in actions:
            assert _as_list(statement["Resource"]) == ["arn:aws:route53:::change/*"]
    # No MASTER_PASSWORD_ENV nor MASK yet, but ModifyDBCluster is printed for when they are set (clones only).
    assert allowed(document, "rds:ModifyDBCluster", rds_arn("cluster", "dev-20261122"),
                   {"aws:ResourceTag/devdb:managed-by": "django-devdb"})
    assert not allowed(document, "rds:ModifyDBCluster", rds_arn("cluster", "dev-20261122"), {})

    clone, writer = rds_arn("cluster", "dev-20261122"), rds_arn("db", "dev-20261122-1")
    ours = {"aws:ResourceTag/devdb:managed-by": "django-devdb", "aws:ResourceTag/devdb:target": "dev"}
    assert allowed(document, "rds:DeleteDBCluster", clone, ours)
    assert allowed(document, "rds:DeleteDBInstance", writer, ours)
    assert not allowed(document, "rds:DeleteDBCluster", clone, {})  # untagged
    assert not allowed(document, "rds:DeleteDBCluster", clone, {**ours, "aws:ResourceTag/devdb:target": "qa"})
    assert not allowed(document, "rds:DeleteDBCluster", rds_arn("cluster", "prod-aurora"), ours)  # the source, even tagged
    assert not allowed(document, "rds:AddTagsToResource", rds_arn("cluster", "prod-aurora"))
    assert not allowed(document, "rds:DeleteDBCluster", rds_arn("cluster", "dev-archive"), ours)  # not a clone name
    assert not allowed(document, "rds:ModifyDBCluster", rds_arn("cluster", "prod-aurora"))
    assert allowed(document, "rds:RestoreDBClusterToPointInTime", rds_arn("cluster", "prod-aurora"))

    change = {"route53:ChangeResourceRecordSetsNormalizedRecordNames": ["db.dev.example.com"],
              "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
              "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}
    assert allowed(document, "route53:ChangeResourceRecordSets", zone_arn, change)
    assert not allowed(document, "route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/ZOTHER", change)
    assert not allowed(document, "route53:ChangeResourceRecordSets", zone_arn,
                       {**change, "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["www.dev.example.com"]})
    assert not allowed(document, "route53:ChangeResourceRecordSets", zone_arn,
                       {**change, "route53:ChangeResourceRecordSetsActions": ["DELETE"]})
    assert not allowed(document, "route53:DeleteHostedZone", zone_arn)

    branch, branch_writer = rds_arn("cluster", "dev-feat"), rds_arn("db", "dev-feat-1")
    a_branch = {**ours, "aws:ResourceTag/devdb:branch": "feat"}
    assert allowed(document, "rds:DeleteDBCluster", branch, a_branch)
    assert allowed(document, "rds:DeleteDBInstance", branch_writer, a_branch)
    assert not allowed(document, "rds:DeleteDBCluster", branch, ours)  # no branch tag: not a branch
    assert allowed(document, "route53:ChangeResourceRecordSets", zone_arn,
                   {**change, "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["feat.db.dev.example.com"],
                    "route53:ChangeResourceRecordSetsActions": ["DELETE"]})


def test_a_policy_printed_before_a_setting_change_still_allows_every_call_after_it(aws, devdb_settings, recorded,
                                                                                     clock, monkeypatch):
    """Issue 18.10: printed with MASTER_PASSWORD_ENV unset, MASK off and KEEP_ABORTED 0, the policy still
    allows the new master password (and the unsealing: the same action), stopping kept clones and
    deleting log groups once those settings are turned on, without printing it again."""
    document = printed_policy("--from-aws")  # the settings of day one (and the source's roles, read from AWS)
    monkeypatch.setenv("DEVDB_TEST_NEW_PASSWORD", "policy-test-password")
    devdb_settings["TARGETS"]["dev"].update({"KEEP_ABORTED": 1, "MASTER_PASSWORD_ENV": "DEVDB_TEST_NEW_PASSWORD"})
    for _ in range(3):
        call_command("refresh_devdb")
        clock.advance(days=1)
    operations = {c[1] for c in recorded}
    assert {"ModifyDBCluster", "StopDBCluster", "DeleteLogGroup"} <= operations
    refused = refusals(document, recorded, aws)
    assert not refused, f"{len(refused)} call(s) the day-one policy would refuse, e.g. {refused[:3]}"


def test_policy_covers_every_configured_target(aws, devdb_settings, monkeypatch):
    monkeypatch.setenv("QA_PASSWORD", "Qa-Passw0rd")  # AWS-valid: devdb.conf checks it
    devdb_settings["TARGETS"]["qa"] = target_settings("Z0QA0000000001", RECORD_NAME="db.qa.example.org",
                                                      SOURCE_CLUSTER="staging-aurora", MASTER_PASSWORD_ENV="QA_PASSWORD")
    document = printed_policy("--account", ACCOUNT, "--region", REGION)
    zones = {f"arn:aws:route53:::hostedzone/{aws.zone_id}", "arn:aws:route53:::hostedzone/Z0QA0000000001"}
    change = next(s for s in document["Statement"] if s["Action"] == ["route53:ChangeResourceRecordSets"])
    assert set(_as_list(change["Resource"])) == zones
    assert change["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == [
        "db.dev.example.com", "db.qa.example.org"]
    modify = next(s for s in document["Statement"] if s["Action"] == ["rds:ModifyDBCluster"])
    # every target's daily clones and branches (a target without MASTER_PASSWORD_ENV may set it later)
    assert _as_list(modify["Resource"]) == [rds_arn("cluster", n) for n in ("dev-*", "dev-????????", "qa-*", "qa-????????")]
    assert allowed(document, "rds:RestoreDBClusterToPointInTime", rds_arn("cluster", "staging-aurora"))
    assert not allowed(document, "rds:RestoreDBClusterToPointInTime", rds_arn("cluster", "other-aurora"))
    assert not allowed(document, "rds:CreateDBInstance", f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:dev-20261122-1")

    only_dev = printed_policy("dev")
    assert "Z0QA0000000001" not in json.dumps(only_dev)
    assert len(json.dumps(document, separators=(",", ":"))) < 6144  # fits a managed policy


def test_output_is_json_and_takes_no_json_flag(aws, devdb_settings):
    assert printed_policy() == policy.build([__import__("devdb.conf", fromlist=["x"]).get_settings().targets["dev"]])
    with pytest.raises(CommandError, match="unrecognized arguments: --json"):
        printed_policy("--json")  # the output is JSON anyway: --json is accepted only where it changes something
    with pytest.raises(CommandError, match="unknown target 'nope'"):
        call_command("iam_policy_devdb", "nope")



@pytest.fixture
def shared_source(aws, devdb_settings):
    """Target `dev` cloning an encrypted cluster with an IAM role, named by its ARN as a shared one is."""
    arn = aws.rds.create_db_cluster(
        DBClusterIdentifier="prod-secure", Engine="aurora-mysql", EngineVersion="8.0.mysql_aurora.3.05.2",
        MasterUsername="admin", MasterUserPassword="prod-password", StorageEncrypted=True, KmsKeyId=SECURE_KEY,
    )["DBCluster"]["DBClusterArn"]
    aws.rds.add_role_to_db_cluster(DBClusterIdentifier="prod-secure", RoleArn=SOURCE_ROLE, FeatureName="s3Import")
    devdb_settings["TARGETS"]["dev"].update({"SOURCE_CLUSTER": arn, "KMS_KEY_ID": CLONE_KEY})
    return arn


def test_policy_read_from_aws_allows_cloning_an_encrypted_shared_source(aws, shared_source, recorded, clock):
    for _ in range(2):
        call_command("refresh_devdb")
        clock.advance(days=1)
    assert aws.tags("dev-20261123")["devdb:state"] == "connected"
    restores = [c for c in recorded if c[1] == "RestoreDBClusterToPointInTime"]
    assert restores and all(c[3]["source_key"] == SECURE_KEY for c in restores)
    document = printed_policy("--from-aws")

    refused = refusals(document, recorded, aws)
    assert not refused, f"{len(refused)} call(s) the policy would refuse, e.g. {refused[:3]}"
    used = used_actions(recorded, aws)
    assert {"kms:CreateGrant", "kms:DescribeKey"} <= used
    # Two mornings with no stopped clone, nothing kept, no log exports: all but these is exercised.
    unused = {"rds:StartDBCluster", "rds:StopDBCluster", "logs:DeleteLogGroup", "rds:ModifyDBCluster"}
    assert used <= policy.actions(document) <= used | pending_actions() | unused
    # RDS (only) may be granted the source's key and KMS_KEY_ID; DescribeKey has no grant context.
    for key in (SECURE_KEY, CLONE_KEY):
        assert allowed(document, "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "true"})
        assert not allowed(document, "kms:CreateGrant", key, {"kms:GrantIsForAWSResource": "false"})
        assert allowed(document, "kms:DescribeKey", key)
    assert not allowed(document, "kms:CreateGrant", SECURE_KEY.replace("1234abcd", "99999999"), {"kms:GrantIsForAWSResource": "true"})
    # The source's roles, to RDS only, for clones only.
    clone = rds_arn("cluster", "dev-20261124")
    assert allowed(document, "rds:AddRoleToDBCluster", clone)
    assert not allowed(document, "rds:AddRoleToDBCluster", shared_source)
    assert allowed(document, "iam:PassRole", SOURCE_ROLE, {"iam:PassedToService": "rds.amazonaws.com"})
    assert not allowed(document, "iam:PassRole", SOURCE_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert not allowed(document, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", {"iam:PassedToService": "rds.amazonaws.com"})
    # The source, named by its ARN, is only ever restored from.
    assert allowed(document, "rds:RestoreDBClusterToPointInTime", shared_source)
    assert not allowed(document, "rds:AddTagsToResource", shared_source)
    assert not allowed(document, "rds:DeleteDBCluster", shared_source, {"aws:ResourceTag/devdb:managed-by": "django-devdb"})


def test_key_and_roles_given_on_the_command_line_match_what_aws_says(aws, shared_source):
    by_hand = printed_policy("--kms-key-arn", SECURE_KEY, "--role-arn", SOURCE_ROLE)
    assert by_hand == printed_policy("--from-aws")
    without = printed_policy()  # the source unknown: KMS_KEY_ID only, no roles to pass
    assert allowed(without, "kms:CreateGrant", CLONE_KEY, {"kms:GrantIsForAWSResource": "true"})
    assert not allowed(without, "kms:CreateGrant", SECURE_KEY, {"kms:GrantIsForAWSResource": "true"})
    assert not {"iam:PassRole", "rds:AddRoleToDBCluster"} & policy.actions(without)
    with pytest.raises(CommandError, match="--kms-key-arn: must be a KMS key ARN"):
        call_command("iam_policy_devdb", "--kms-key-arn", "alias/prod")


@pytest.mark.seed(production=False)
def test_an_unencrypted_source_without_roles_needs_no_kms_or_iam(aws, devdb_settings):
    document = printed_policy("--from-aws")
    assert not {a for a in policy.actions(document) if a.startswith(("kms:", "iam:"))}
    assert "rds:AddRoleToDBCluster" not in policy.actions(document)
    # What the engine needs beyond creating and deleting; no EC2-Classic DB security groups.
    assert {"rds:StartDBCluster", "rds:DescribeOrderableDBInstanceOptions", "rds:DescribeAccountAttributes",
            "tag:TagResources", "rds:AddTagsToResource", "route53:ListResourceRecordSets"} <= policy.actions(document)
    assert ":secgrp:" not in json.dumps(document)
    ours = {"aws:ResourceTag/devdb:managed-by": "django-devdb", "aws:ResourceTag/devdb:target": "dev"}
    assert allowed(document, "rds:StartDBCluster", rds_arn("cluster", "dev-20261122"), ours)
    assert not allowed(document, "rds:StartDBCluster", rds_arn("cluster", "dev-20261122"), {})
    assert not allowed(document, "rds:StartDBCluster", rds_arn("cluster", "prod-aurora"), ours)


@pytest.mark.parametrize("key_id, resource, alias", [
    ("1234abcd-12ab-34cd-56ef-1234567890ab", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab", None),
    ("alias/dev-clones", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*", "alias/dev-clones"),
    (f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/dev-clones", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*", "alias/dev-clones"),
])
def test_kms_key_id_as_a_key_id_or_an_alias(aws, devdb_settings, key_id, resource, alias):
    devdb_settings["TARGETS"]["dev"]["KMS_KEY_ID"] = key_id
    document = printed_policy("--account", ACCOUNT, "--region", REGION)
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    context = {"kms:ResourceAliases": [alias]} if alias else {}
    assert allowed(document, "kms:CreateGrant", key, {**context, "kms:GrantIsForAWSResource": "true"})
    assert allowed(document, "kms:DescribeKey", key, context)
    if alias:
        assert not allowed(document, "kms:DescribeKey", key, {"kms:ResourceAliases": ["alias/prod"]})
    assert resource in json.dumps(document)


def test_a_prefix_that_also_starts_the_sources_name_cannot_delete_the_sources_logs_or_stop_it(aws, devdb_settings):
    """CLONE_PREFIX `prod` and source `prod-aurora`: the clones' log-group pattern `/aws/rds/cluster/prod-*/*`
    matches the source's log groups too; a Deny keeps them (and the source's own stop and start) out of reach."""
    devdb_settings["TARGETS"]["dev"]["CLONE_PREFIX"] = "prod"
    document = printed_policy()
    logs = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/rds/cluster/{}/error"
    assert allowed(document, "logs:DeleteLogGroup", logs.format("prod-20261122"))
    assert not allowed(document, "logs:DeleteLogGroup", logs.format("prod-aurora"))
    ours = {"aws:ResourceTag/devdb:managed-by": "django-devdb", "aws:ResourceTag/devdb:target": "dev"}
    assert allowed(document, "rds:StopDBCluster", rds_arn("cluster", "prod-20261122"), ours)
    assert not allowed(document, "rds:StopDBCluster", rds_arn("cluster", "prod-aurora"), ours)
    assert not allowed(document, "rds:StartDBCluster", rds_arn("cluster", "prod-aurora"), ours)
