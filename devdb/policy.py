"""The least-privilege IAM policy for the configured targets (`manage.py iam_policy_devdb`).

Every statement follows from what the engine does (devdb.aws.Gateway makes each of these calls):

- reads (DescribeDBClusters/DescribeDBInstances with filters, tag:GetResources, and preflight's
  DescribeOrderableDBInstanceOptions and DescribeAccountAttributes) have no resource-level
  permissions worth scoping, so they are on "*";
- the source cluster (its ARN as given when SOURCE_CLUSTER is a shared cluster's ARN) may only be
  restored from (RestoreDBClusterToPointInTime is authorized against it); an explicit Deny keeps it
  from ever being tagged, modified or deleted;
- clones are created, tagged (tag:TagResources, which RDS also authorizes as rds:AddTagsToResource on
  each ARN), started when found stopped, stopped while kept for rollback (KEEP_ABORTED) and modified
  (a new master password with MASTER_PASSWORD_ENV, the unsealing with MASK) only under their own names,
  `<CLONE_PREFIX>-YYYYMMDD` and `<CLONE_PREFIX>-YYYYMMDD-1` (the `?` wildcard matches one character);
- every statement a setting can need is printed whatever the settings say now (ModifyDBCluster without
  MASTER_PASSWORD_ENV or MASK, StopDBCluster with KEEP_ABORTED 0): turning a setting on later never
  fails a morning on an old policy. Only names (SOURCE_CLUSTER, CLONE_PREFIX, RECORD_NAME, HOSTED_ZONE_ID,
  KMS_KEY_ID) and the source's own roles and keys need the policy printed again;
- a deleted clone's CloudWatch log groups (`/aws/rds/cluster/<CLONE_PREFIX>-*/*`) are deleted;
- a masked clone is given the app's security groups (ModifyDBCluster VpcSecurityGroupIds, the
  same action as the new master password, which MASK requires); RDS authorizes it against the cluster
  only: security groups are EC2 resources and need no ec2: permission of the caller (as on restore);
- deletes (and starts) also need the tag devdb:managed-by=django-devdb (and the target's devdb:target
  tag) on the resource itself;
- a clone gets its source's IAM roles (AddRoleToDBCluster), so iam:PassRole is allowed on exactly those
  roles, passed to RDS only; RDS uses the source's KMS key (and KMS_KEY_ID) for the clone through a
  grant, so kms:CreateGrant (for AWS resources only) and kms:DescribeKey are allowed on those keys.
  Roles and keys are known only from the source: `source_roles` / `source_keys` (the command takes
  them from --role-arn / --kms-key-arn, or reads the sources with --from-aws);
- Route53 is scoped to the configured hosted zones, and changes to UPSERTs of the configured
  CNAME names; GetChange is on change/* (change ids are not known in advance);
- branches (`branch_devdb`) are clones named `<CLONE_PREFIX>-<NAME>[-rYYMMDDhhmmss]` (NAME is free, so
  `<CLONE_PREFIX>-*`): created, tagged, started and modified like the daily clones, deleted only when
  they also carry a devdb:branch tag; their CNAMEs `<NAME>.<RECORD_NAME>` are UPSERTed and DELETEd.

Nothing depends on the source's engine: Aurora MySQL and Aurora PostgreSQL sources need the same policy.
"""

from . import lifecycle

VERSION = "2012-10-17"

READ_ACTIONS = [
    "rds:DescribeDBClusters", "rds:DescribeDBInstances", "tag:GetResources",
    "rds:DescribeOrderableDBInstanceOptions", "rds:DescribeAccountAttributes",
]
CREATE_ACTIONS = ["rds:RestoreDBClusterToPointInTime", "rds:CreateDBInstance"]
# Resources RDS also authorizes a restore / CreateDBInstance against (subnet, parameter and option groups
# named in or implied by the request; VPC security groups are EC2 resources, not authorized here).
CREATE_AUXILIARY = ["subgrp", "cluster-pg", "pg", "og"]
DELETE_ACTIONS = ["rds:DeleteDBCluster", "rds:DeleteDBInstance"]
SOURCE_DENY_ACTIONS = [
    "rds:AddTagsToResource", "rds:RemoveTagsFromResource", "rds:ModifyDBCluster", "rds:DeleteDBCluster",
    "rds:StopDBCluster", "rds:StartDBCluster",
]
ROUTE53_ZONE_ACTIONS = ["route53:GetHostedZone", "route53:ListResourceRecordSets"]
ROUTE53_CHANGE_ACTIONS = ["route53:ChangeResourceRecordSets"]


def _rds_arn(kind, name, partition, region, account):
    return f"arn:{partition}:rds:{region}:{account}:{kind}:{name}"


def source_arn(target, partition="aws", region="*", account="*"):
    """The source cluster's ARN: SOURCE_CLUSTER itself when it is an ARN (a cluster shared from another account)."""
    if target.source_cluster.startswith("arn:"):
        return target.source_cluster.rsplit(":", 1)[0] + ":" + target.source_id
    return _rds_arn("cluster", target.source_id, partition, region, account)


def key_resource(key_id, partition="aws", region="*", account="*"):
    """(resource, condition) under which IAM authorizes a KMS key named as RDS accepts it (KMS_KEY_ID):
    a key ARN as is, a key id in this account, an alias (name or ARN) through kms:ResourceAliases."""
    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id, None
    alias = key_id.split(":", 5)[-1] if key_id.startswith("arn:") else key_id
    if alias.startswith("alias/"):
        where = key_id.split(":")[:5] if key_id.startswith("arn:") else ["arn", partition, "kms", region, account]
        return ":".join(where) + ":key/*", {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}}
    return f"arn:{partition}:kms:{region}:{account}:key/{key_id}", None


def clone_arns(target, partition="aws", region="*", account="*"):
    """ARN patterns of a target's clone cluster and writer instance (RDS identifiers are lower-case)."""
    pattern = target.clone_prefix.lower() + "-" + "?" * 8  # -YYYYMMDD
    return (
        _rds_arn("cluster", pattern, partition, region, account),
        _rds_arn("db", lifecycle.instance_name(pattern), partition, region, account),
    )


def branch_arns(target, partition="aws", region="*", account="*"):
    """ARN patterns of a target's branch clusters and writers (any NAME: `<CLONE_PREFIX>-*`)."""
    pattern = target.clone_prefix.lower() + "-*"
    return (
        _rds_arn("cluster", pattern, partition, region, account),
        _rds_arn("db", lifecycle.instance_name(pattern), partition, region, account),
    )


def log_group_arn(target, partition="aws", region="*", account="*", cluster=None):
    """ARN pattern of the log groups of a target's clones and branches (`<CLONE_PREFIX>-*`), or of `cluster`'s."""
    name = cluster or f"{target.clone_prefix.lower()}-*"
    return f"arn:{partition}:logs:{region}:{account}:log-group:/aws/rds/cluster/{name}/*"


def build(targets, *, partition="aws", region="*", account="*", source_keys=(), source_roles=()):
    """The policy document (a dict) for `targets` (devdb.conf.Target objects).

    source_keys: KMS key ARNs the sources are encrypted with; source_roles: the sources' IAM role ARNs.
    """
    targets = sorted(targets, key=lambda t: t.name)
    if not targets:
        raise ValueError("no targets")
    rds = dict(partition=partition, region=region, account=account)
    sources = sorted({source_arn(t, **rds) for t in targets})
    clusters = sorted({clone_arns(t, **rds)[0] for t in targets})
    instances = sorted({clone_arns(t, **rds)[1] for t in targets})
    zones = sorted({f"arn:{partition}:route53:::hostedzone/{t.zone_id}" for t in targets})
    names = sorted({t.record_name.rstrip(".").lower() for t in targets})
    branch_names = sorted({"*." + name for name in names})
    branch_clusters = sorted({branch_arns(t, **rds)[0] for t in targets})
    branch_instances = sorted({branch_arns(t, **rds)[1] for t in targets})
    branch_tag = {"Null": {f"aws:ResourceTag/{lifecycle.TAG_BRANCH}": "false"}}
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
            "Resource": clusters + instances + branch_clusters + branch_instances + [_rds_arn(kind, "*", **rds) for kind in CREATE_AUXILIARY],
        },
        {
            "Sid": "DevdbTagClones",
            "Effect": "Allow",
            "Action": ["rds:AddTagsToResource"],
            "Resource": clusters + instances + branch_clusters + branch_instances,
        },
        {
            # TagResources has no resource-level permissions; RDS still authorizes rds:AddTagsToResource per ARN.
            "Sid": "DevdbTagClonesInOneCall",
            "Effect": "Allow",
            "Action": ["tag:TagResources"],
            "Resource": "*",
        },
    ]
    # Always, not only with MASTER_PASSWORD_ENV or MASK: turning either on later must not fail a morning
    # on a policy printed before (the statement is limited to the clones' names and tags).
    modified = sorted({arns(t, **rds)[0] for t in targets for arns in (clone_arns, branch_arns)})
    statements.append({
        "Sid": "DevdbNewMasterPasswordAndUnseal",
        "Effect": "Allow",
        "Action": ["rds:ModifyDBCluster"],
        "Resource": _one_or_many(modified),
        "Condition": {"StringEquals": dict(managed)},
    })
    statements += [
        {
            "Sid": "DevdbStartStoppedClones",
            "Effect": "Allow",
            "Action": ["rds:StartDBCluster"],
            "Resource": _one_or_many(clusters + branch_clusters),
            "Condition": {"StringEquals": {**managed, **target_tag}},
        },
        {
            # Clones kept for rollback (KEEP_ABORTED) are stopped: again, KEEP_ABORTED may be raised later.
            "Sid": "DevdbStopKeptClones",
            "Effect": "Allow",
            "Action": ["rds:StopDBCluster"],
            "Resource": _one_or_many(clusters),
            "Condition": {"StringEquals": {**managed, **target_tag}},
        },
        {
            # The log groups RDS made for a deleted clone's exported logs (/aws/rds/cluster/<id>/<type>).
            "Sid": "DevdbDeleteCloneLogGroups",
            "Effect": "Allow",
            "Action": ["logs:DeleteLogGroup"],
            "Resource": _one_or_many(sorted({log_group_arn(t, partition=partition, region=region, account=account)
                                              for t in targets})),
        },
    ]
    roles = sorted(set(source_roles))
    if roles:
        statements += [
            {
                "Sid": "DevdbGiveClonesTheSourceRoles",
                "Effect": "Allow",
                "Action": ["rds:AddRoleToDBCluster"],
                "Resource": _one_or_many(clusters + branch_clusters),
            },
            {
                "Sid": "DevdbPassTheSourceRolesToRds",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": _one_or_many(roles),
                "Condition": {"StringEquals": {"iam:PassedToService": "rds.amazonaws.com"}},
            },
        ]
    statements += _key_statements(set(source_keys) | {t.kms_key_id for t in targets if t.kms_key_id}, rds)
    statements += [
        {
            "Sid": "DevdbDeleteAbortedClones",
            "Effect": "Allow",
            "Action": DELETE_ACTIONS,
            "Resource": clusters + instances,
            "Condition": {"StringEquals": {**managed, **target_tag}},
        },
        {
            "Sid": "DevdbDeleteBranches",
            "Effect": "Allow",
            "Action": DELETE_ACTIONS,
            "Resource": branch_clusters + branch_instances,
            "Condition": {"StringEquals": {**managed, **target_tag}, **branch_tag},
        },
        {
            "Sid": "DevdbNeverChangeTheSource",
            "Effect": "Deny",
            "Action": SOURCE_DENY_ACTIONS,
            "Resource": _one_or_many(sources),
        },
        {
            # DevdbDeleteCloneLogGroups' `<CLONE_PREFIX>-*` also matches a source named like `<CLONE_PREFIX>-db`.
            "Sid": "DevdbNeverDeleteTheSourcesLogs",
            "Effect": "Deny",
            "Action": ["logs:DeleteLogGroup"],
            "Resource": _one_or_many(sorted({log_group_arn(t, partition=partition, region=region, account=account,
                                                           cluster=t.source_id.lower()) for t in targets})),
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
            "Sid": "DevdbBranchNames",
            "Effect": "Allow",
            "Action": ROUTE53_CHANGE_ACTIONS,
            "Resource": _one_or_many(zones),
            "Condition": {
                "ForAllValues:StringLike": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": branch_names},
                "ForAllValues:StringEquals": {
                    "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
                    "route53:ChangeResourceRecordSetsActions": ["UPSERT", "DELETE"],
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


def _key_statements(key_ids, rds):
    """kms:CreateGrant (only for AWS resources: RDS) and kms:DescribeKey on each key RDS uses for a clone.

    DescribeKey gets no GrantIsForAWSResource condition: that key is absent from its request context.
    """
    if not key_ids:
        return []
    plain, aliased = set(), {}
    for key_id in key_ids:
        resource, condition = key_resource(key_id, **rds)
        if condition:
            aliased.setdefault(resource, []).append(condition["ForAnyValue:StringEquals"]["kms:ResourceAliases"])
        else:
            plain.add(resource)
    grant = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    statements = []
    if plain:
        statements += [
            {"Sid": "DevdbLetRdsUseTheKeys", "Effect": "Allow", "Action": ["kms:CreateGrant"],
             "Resource": _one_or_many(sorted(plain)), "Condition": grant},
            {"Sid": "DevdbDescribeTheKeys", "Effect": "Allow", "Action": ["kms:DescribeKey"],
             "Resource": _one_or_many(sorted(plain))},
        ]
    for n, (resource, aliases) in enumerate(sorted(aliased.items())):
        by_alias = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": _one_or_many(sorted(aliases))}}
        statements += [
            {"Sid": f"DevdbLetRdsUseTheKeyAliases{n or ''}", "Effect": "Allow", "Action": ["kms:CreateGrant"],
             "Resource": resource, "Condition": {**grant, **by_alias}},
            {"Sid": f"DevdbDescribeTheKeyAliases{n or ''}", "Effect": "Allow", "Action": ["kms:DescribeKey"],
             "Resource": resource, "Condition": by_alias},
        ]
    return statements


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
