"""`iam_policy_devdb`: the printed policy allows every AWS call the engine makes, and little else.

Every call the gateways make while the engine runs its flows (refresh over three mornings with a
new master password, status, sync, clean, clone, rollback, dry runs) is caught with a botocore hook,
turned into an IAM action and the resources AWS authorizes it against (with the resource's live
tags), and checked against the printed policy by a small evaluator of the policy's own grammar
(Allow/Deny, * and ? in actions and ARNs, StringEquals and ForAllValues:StringEquals conditions).
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
from tests.conftest import target_settings

pytestmark = pytest.mark.django_db(databases="__all__")

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's
SERVICE_PREFIX = {"rds": "rds", "route53": "route53", "resourcegroupstaggingapi": "tag"}


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
            elif operator == "ForAllValues:StringEquals":
                if not all(v in expected for v in values):
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
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:{kind}:{name}"


def authorizations(call, account):
    """[(action, resource ARN, context)] IAM checks for one API call, as AWS documents them."""
    service, operation, params, tags = call
    action = f"{SERVICE_PREFIX[service]}:{operation}"
    if service == "resourcegroupstaggingapi":
        return [(action, "*", {})]
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
    context = {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
    if operation in ("DescribeDBClusters", "DescribeDBInstances"):
        if "DBClusterIdentifier" in params:
            return [(action, rds_arn("cluster", params["DBClusterIdentifier"]), {})]
        return [(action, "*", {})]
    if operation == "RestoreDBClusterToPointInTime":
        return [(action, rds_arn("cluster", params["DBClusterIdentifier"]), {}),
                (action, rds_arn("cluster", params["SourceDBClusterIdentifier"]), {})]
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
    """Every call of every Gateway (the commands' and the tests'), as (service, operation, params, tags).

    `tags` are the live tags of the resource a modify/delete acts on, read (unhooked) at call time.
    Route53 changes come back PENDING, so the INSYNC wait (GetChange) is exercised too.
    """
    calls = []
    real_init = aws_module.Gateway.__init__

    def resource_tags(operation, params):
        if operation in ("ModifyDBCluster", "DeleteDBCluster"):
            return aws.tags(params["DBClusterIdentifier"])
        if operation == "DeleteDBInstance":
            return aws.instance_tags(params["DBInstanceIdentifier"])
        return {}

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        for client in self.clients:
            service = client.meta.service_model.service_name

            def hook(params, model, _service=service, **_):
                calls.append((_service, model.name, dict(params), resource_tags(model.name, params)))

            client.meta.events.register("provide-client-params", hook)
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


# --- tests -------------------------------------------------------------------------------------


def run_representative_flows(devdb_settings, clock, monkeypatch):
    from datetime import timedelta

    from tests.conftest import START

    monkeypatch.setenv("DEVDB_TEST_NEW_PASSWORD", "policy-test-password")
    devdb_settings["TARGETS"]["dev"].update({"KEEP_ABORTED": 1, "MASTER_PASSWORD_ENV": "DEVDB_TEST_NEW_PASSWORD"})
    for day in range(3):
        clock.moment = START + timedelta(days=day)
        call_command("refresh_devdb")
        call_command("status_devdb", "--json", stdout=io.StringIO())
    call_command("refresh_devdb", "--dry-run", stdout=io.StringIO())
    call_command("connect_devdb", "--to", "dev-20261123")  # roll back to day 2 (kept)
    call_command("clone_devdb")  # today's exists: nothing to create
    call_command("sync_devdb")
    call_command("clean_devdb", "--grace", "0")
    call_command("connect_devdb")


def test_policy_allows_every_call_the_engine_makes(aws, devdb_settings, recorded, clock, monkeypatch):
    run_representative_flows(devdb_settings, clock, monkeypatch)
    document = printed_policy()

    operations = {op for _, op, _, _ in recorded}
    assert operations == gateway_operations()  # the flows exercised every operation the gateway has
    refused = []
    for call in recorded:
        for action, resource, context in authorizations(call, aws):
            if not allowed(document, action, resource, context):
                refused.append((action, resource, context))
    assert not refused, f"{len(refused)} call(s) the policy would refuse, e.g. {refused[:3]}"
    # ... and nothing more: every allowed action is one the engine was seen to use.
    used = {f"{SERVICE_PREFIX[service]}:{op}" for service, op, _, _ in recorded}
    assert policy.actions(document) == used
    deletes = [c for c in recorded if c[1].startswith("Delete")]
    assert {c[1] for c in deletes} == {"DeleteDBCluster", "DeleteDBInstance"}
    assert all(c[3].get("devdb:managed-by") == "django-devdb" for c in deletes)


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
    assert not any(_glob(a, "rds:ModifyDBCluster", case=False) for a in policy.actions(document))  # no MASTER_PASSWORD_ENV

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
    assert _as_list(modify["Resource"]) == [rds_arn("cluster", "qa-????????")]  # only the target that resets passwords
    assert allowed(document, "rds:RestoreDBClusterToPointInTime", rds_arn("cluster", "staging-aurora"))
    assert not allowed(document, "rds:RestoreDBClusterToPointInTime", rds_arn("cluster", "other-aurora"))
    assert not allowed(document, "rds:CreateDBInstance", f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:dev-20261122-1")

    only_dev = printed_policy("dev")
    assert "Z0QA0000000001" not in json.dumps(only_dev)
    assert len(json.dumps(document, separators=(",", ":"))) < 6144  # fits a managed policy


def test_output_is_json_with_or_without_the_flag(aws, devdb_settings):
    assert printed_policy("--json") == printed_policy() == policy.build(
        [__import__("devdb.conf", fromlist=["x"]).get_settings().targets["dev"]])
    with pytest.raises(CommandError, match="unknown target 'nope'"):
        call_command("iam_policy_devdb", "nope")
