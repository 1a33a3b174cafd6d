"""The least-privilege IAM policy for the configured targets (`manage.py iam_policy_devdb`).

Every statement follows from what the engine does (devdb.aws.Gateway makes each of these calls):

- reads (DescribeDBClusters/DescribeDBInstances with filters, tag:GetResources) have no
  resource-level permissions worth scoping, so they are on "*";
- the source cluster may only be restored from (RestoreDBClusterToPointInTime is authorized
  against it); an explicit Deny keeps it from ever being tagged, modified or deleted;
- clones are created, tagged and (with MASTER_PASSWORD_ENV) modified only under their own names,
  `<CLONE_PREFIX>-YYYYMMDD` and `<CLONE_PREFIX>-YYYYMMDD-1` (the `?` wildcard matches one character);
- deletes also need the tag devdb:managed-by=django-devdb (and the target's devdb:target tag) on
  the resource itself;
- Route53 is scoped to the configured hosted zones, and changes to UPSERTs of the configured
  CNAME names; GetChange is on change/* (change ids are not known in advance).
"""

from . import lifecycle

VERSION = "2012-10-17"

READ_ACTIONS = ["rds:DescribeDBClusters", "rds:DescribeDBInstances", "tag:GetResources"]
CREATE_ACTIONS = ["rds:RestoreDBClusterToPointInTime", "rds:CreateDBInstance"]
# Resources RDS also authorizes a restore / CreateDBInstance against (subnet, parameter, option and
# security groups named in or implied by the request).
CREATE_AUXILIARY = ["subgrp", "cluster-pg", "pg", "og", "secgrp"]
DELETE_ACTIONS = ["rds:DeleteDBCluster", "rds:DeleteDBInstance"]
SOURCE_DENY_ACTIONS = [
    "rds:AddTagsToResource", "rds:RemoveTagsFromResource", "rds:ModifyDBCluster", "rds:DeleteDBCluster",
]
ROUTE53_ZONE_ACTIONS = ["route53:GetHostedZone", "route53:ListResourceRecordSets"]
ROUTE53_CHANGE_ACTIONS = ["route53:ChangeResourceRecordSets"]


def _rds_arn(kind, name, partition, region, account):
    return f"arn:{partition}:rds:{region}:{account}:{kind}:{name}"


def clone_arns(target, partition="aws", region="*", account="*"):
    """ARN patterns of a target's clone cluster and writer instance (RDS identifiers are lower-case)."""
    pattern = target.clone_prefix.lower() + "-" + "?" * 8  # -YYYYMMDD
    return (
        _rds_arn("cluster", pattern, partition, region, account),
        _rds_arn("db", lifecycle.instance_name(pattern), partition, region, account),
    )


def build(targets, *, partition="aws", region="*", account="*"):
    """The policy document (a dict) for `targets` (devdb.conf.Target objects)."""
    targets = sorted(targets, key=lambda t: t.name)
    if not targets:
        raise ValueError("no targets")
    rds = dict(partition=partition, region=region, account=account)
    sources = sorted({_rds_arn("cluster", t.source_cluster.lower(), **rds) for t in targets})
    clusters = sorted({clone_arns(t, **rds)[0] for t in targets})
    instances = sorted({clone_arns(t, **rds)[1] for t in targets})
    zones = sorted({f"arn:{partition}:route53:::hostedzone/{t.zone_id}" for t in targets})
    names = sorted({t.record_name.rstrip(".").lower() for t in targets})
    managed = {f"aws:ResourceTag/{lifecycle.TAG_MANAGED_BY}": lifecycle.MANAGED_BY}
    target_tag = {f"aws:ResourceTag/{lifecycle.TAG_TARGET}": _one_or_many(sorted(t.name for t in targets))}

    statements = [
        {
            "Sid": "DevdbFindClones",
            "Effect": "Allow",
            "Action": READ_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "DevdbCloneSources",
            "Effect": "Allow",
            "Action": ["rds:RestoreDBClusterToPointInTime"],
            "Resource": _one_or_many(sources),
        },
        {
            "Sid": "DevdbCreateClones",
            "Effect": "Allow",
            "Action": CREATE_ACTIONS,
            "Resource": clusters + instances + [_rds_arn(kind, "*", **rds) for kind in CREATE_AUXILIARY],
        },
        {
            "Sid": "DevdbTagClones",
            "Effect": "Allow",
            "Action": ["rds:AddTagsToResource"],
            "Resource": clusters + instances,
        },
    ]
    if any(t.master_password_env for t in targets):
        password_clusters = sorted({clone_arns(t, **rds)[0] for t in targets if t.master_password_env})
        statements.append({
            "Sid": "DevdbNewMasterPassword",
            "Effect": "Allow",
            "Action": ["rds:ModifyDBCluster"],
            "Resource": _one_or_many(password_clusters),
            "Condition": {"StringEquals": dict(managed)},
        })
    statements += [
        {
            "Sid": "DevdbDeleteAbortedClones",
            "Effect": "Allow",
            "Action": DELETE_ACTIONS,
            "Resource": clusters + instances,
            "Condition": {"StringEquals": {**managed, **target_tag}},
        },
        {
            "Sid": "DevdbNeverChangeTheSource",
            "Effect": "Deny",
            "Action": SOURCE_DENY_ACTIONS,
            "Resource": _one_or_many(sources),
        },
        {
            "Sid": "DevdbReadZones",
            "Effect": "Allow",
            "Action": ROUTE53_ZONE_ACTIONS,
            "Resource": _one_or_many(zones),
        },
        {
            "Sid": "DevdbMoveStableNames",
            "Effect": "Allow",
            "Action": ROUTE53_CHANGE_ACTIONS,
            "Resource": _one_or_many(zones),
            "Condition": {
                "ForAllValues:StringEquals": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": names,
                    "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
                    "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
                },
            },
        },
        {
            "Sid": "DevdbWaitForDns",
            "Effect": "Allow",
            "Action": ["route53:GetChange"],
            "Resource": f"arn:{partition}:route53:::change/*",
        },
    ]
    return {"Version": VERSION, "Statement": statements}


def actions(document):
    """Every action the document allows (for docs and tests)."""
    found = set()
    for statement in document["Statement"]:
        if statement["Effect"] == "Allow":
            found.update(_as_list(statement["Action"]))
    return found


def _one_or_many(values):
    return values[0] if len(values) == 1 else list(values)


def _as_list(value):
    return [value] if isinstance(value, str) else list(value)
