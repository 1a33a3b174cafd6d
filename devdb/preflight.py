"""Refuse, before the first change, what AWS would only refuse once the clone is paid for.

Route53 rejects (InvalidChangeBatch) an UPSERT of a plain CNAME over a name that holds any other record,
an alias or a record with a routing policy. RDS refuses an instance class the source's engine version
does not offer, db.serverless before Aurora MySQL 3.02 or Aurora PostgreSQL 13.6, a minimum of 0 ACUs where the version cannot
auto-pause, and a restore past the account's DB-cluster quota; a shared, encrypted source needs a key
of this account. Each refusal is one ConfigError line naming the setting; nothing here changes AWS.
A source past its end of standard support is cloned with a warning (RDS Extended Support).
"""

from datetime import date

from . import flavours
from .aws import cname_value
from .errors import AwsError, ConfigError

SERVERLESS_CLASS = "db.serverless"
EXTENDED_SUPPORT = "open-source-rds-extended-support"
EXTENDED_SUPPORT_DISABLED = EXTENDED_SUPPORT + "-disabled"
# Aurora end of standard support of each major version (Aurora User Guide, "Release calendar for Aurora MySQL
# major versions" / "... Aurora PostgreSQL major versions"; RDS Extended Support from then on). Aurora MySQL 2
# (MySQL 5.7) is (2, ...) in aurora_version(); Aurora PostgreSQL majors are the PostgreSQL ones.
STANDARD_SUPPORT_ENDS = {
    ("aurora-mysql", 2): date(2024, 10, 31),
    ("aurora-postgresql", 11): date(2024, 2, 29),
    ("aurora-postgresql", 12): date(2025, 2, 28),
    ("aurora-postgresql", 13): date(2026, 2, 28),
    ("aurora-postgresql", 14): date(2027, 2, 28),
}
# Aurora User Guide, "Aurora Serverless v2 capacity": db.serverless from Aurora MySQL 3.02.0 and Aurora
# PostgreSQL 13.6 (every 14, 15, 16 release has it); a minimum of 0 ACUs (auto-pause) from Aurora MySQL
# 3.08.0 and Aurora PostgreSQL 13.15, 14.12, 15.7, 16.3.
SERVERLESS_SINCE = {"aurora-mysql": (3, 2), "aurora-postgresql": (13, 6)}
AUTO_PAUSE_SINCE = {"aurora-mysql": {3: (3, 8, 0)}, "aurora-postgresql": {13: (13, 15), 14: (14, 12), 15: (15, 7), 16: (16, 3)}}
# RDS API reference, ServerlessV2ScalingConfiguration.MaxCapacity: "256 for recent Aurora versions, or 128 for
# older versions"; 256 ACUs came (October 2024) with Aurora MySQL 3.06 and Aurora PostgreSQL 13.13, 14.10, 15.5, 16.1.
OLD_MAX_ACU = 128
MAX_ACU_256_SINCE = {"aurora-mysql": {3: (3, 6)}, "aurora-postgresql": {13: (13, 13), 14: (14, 10), 15: (15, 5), 16: (16, 1)}}
# Aurora User Guide, "Limitations of Aurora cloning": up to 15 copy-on-write clones of a copy (clones of clones
# included); after that a clone is a full copy (slow, and billed for all of its storage).
COPY_ON_WRITE_CLONES = 15


def check_stable_name(gateway, target):
    """RECORD_NAME must be free or one plain CNAME; returns where that CNAME points (or None). One call."""
    records = gateway.record_sets(target.zone_id, target.record_name)
    for record in records:
        if record.alias_target:
            held_by = f"an alias record of type {record.type} (to {record.alias_target})"
        elif record.type != "CNAME":
            held_by = f"a record of type {record.type}"
        elif record.routing:
            held_by = f"a CNAME record with a routing policy ({', '.join(record.routing)})"
        else:
            continue
        raise ConfigError(
            f"RECORD_NAME: {target.record_name} is held by {held_by} in hosted zone {target.zone_id}; "
            "django-devdb only moves a plain CNAME (Route53 would reject the change): remove that record or choose another name"
        )
    return cname_value(records)


def before_clone(gateway, target, source, *, clones, reporter):
    """Everything checked right before today's restore (not on a run with nothing to create).

    `source` is the source cluster as preflight read it, `clones` this target's existing clones.
    Calls: DescribeOrderableDBInstanceOptions and DescribeAccountAttributes, plus one DescribeDBClusters
    when the source has clones (its clone group).
    """
    check_sealed_groups(target, source)
    check_serverless(target, source)
    check_shared_key(target, source)
    check_instance_class(gateway, target, source, reporter)
    check_cluster_quota(gateway, target, len(clones), reporter)
    check_clone_group(gateway, source, reporter)


def before_branch(gateway, target, source, *, daily_clones, reporter):
    """before_clone() for a branch: the daily clone's quota must still fit once the branch is made."""
    check_serverless(target, source)
    check_shared_key(target, source)
    check_instance_class(gateway, target, source, reporter)
    check_cluster_quota(gateway, target, daily_clones, reporter, branch=True)
    check_clone_group(gateway, source, reporter)


def check_clone_group(gateway, source, reporter):
    """Refuse a 16th clone of the source: Aurora would make it a full copy, not copy-on-write. The clones are
    the clusters sharing the source's CloneGroupId (none yet: no call); one paginated DescribeDBClusters."""
    if not source.clone_group:
        return
    try:
        group = gateway.clone_group(source.clone_group)
    except AwsError as exc:
        reporter.warning("clones of %s not counted: %s", source.id, exc)
        return
    clones = sorted(c.id for c in group if c.arn != source.arn and c.id.lower() != source.id.lower())
    if len(clones) >= COPY_ON_WRITE_CLONES:
        shown = ", ".join(clones[:5]) + (f" and {len(clones) - 5} more" if len(clones) > 5 else "")
        raise ConfigError(
            f"SOURCE_CLUSTER: {source.id} already has {len(clones)} clones ({shown}); Aurora makes at most "
            f"{COPY_ON_WRITE_CLONES} copy-on-write clones of a source and the next would be a full copy (slow, billed "
            "for all its storage): delete clones no one uses (branches, KEEP_ABORTED) first"
        )


def branch_min_acu(source):
    """The lowest capacity the source's version allows a branch: 0 (auto-pause) where supported, else 0.5."""
    version = aurora_version(source.engine, source.engine_version)
    return 0 if version and supports_auto_pause(source.engine, version) else 0.5


def check_sealed_groups(target, source):
    """With MASK, the sealed clone's groups (MASKING_SECURITY_GROUP_IDS) must share none with the app's:
    a shared group would let the app in before masking verified. VPC_SECURITY_GROUP_IDS, when set, is
    checked with the settings (devdb.conf); here the source's groups, which the clone otherwise gets (no call)."""
    if not target.mask or target.vpc_security_group_ids:
        return
    app = set(getattr(source.configuration, "security_group_ids", ()) or ())
    if shared := sorted(app & set(target.masking_security_group_ids or ())):
        raise ConfigError(
            f"MASKING_SECURITY_GROUP_IDS: {','.join(shared)} is also a security group of source {source.id}, which the "
            "clone gets once masked: the app could reach it before masking verified; use groups only the runner is in"
        )


def check_serverless(target, source):
    """db.serverless and a minimum of 0 ACUs only on engine versions that have them (no call)."""
    if not target.serverless:
        return
    version = aurora_version(source.engine, source.engine_version)
    since = SERVERLESS_SINCE.get(source.engine)
    if version and since and version < since:
        raise ConfigError(
            f"INSTANCE_CLASS: db.serverless needs {flavours.for_engine(source.engine).label} {'.'.join(map(str, since))} or later; "
            f"source {source.id} runs {source.engine_version}"
        )
    if target.serverless_max_acu > OLD_MAX_ACU and version and not _since(MAX_ACU_256_SINCE, source.engine, version):
        raise ConfigError(
            f"SERVERLESS_MAX_ACU: {target.serverless_max_acu:g} is above {OLD_MAX_ACU}, the most {source.engine} "
            f"{source.engine_version} of source {source.id} allows (256 needs Aurora MySQL 3.06 or Aurora PostgreSQL "
            f"13.13, 14.10, 15.5, 16.1 or later); use {OLD_MAX_ACU} or less, or upgrade the source"
        )
    if target.serverless_min_acu == 0 and version and not supports_auto_pause(source.engine, version):
        raise ConfigError(
            f"SERVERLESS_MIN_ACU: 0 (auto-pause) is not available on {source.engine} {source.engine_version} "
            f"of source {source.id}; use 0.5 or more, or upgrade the source"
        )


def check_shared_key(target, source):
    """A source shared from another account (SOURCE_CLUSTER is its ARN) that is encrypted needs KMS_KEY_ID.
    `source` is the source as the run read it (with IncludeShared): no second DescribeDBClusters."""
    if not target.source_cluster.startswith("arn:") or target.kms_key_id:
        return
    key = source.kms_key_id
    if key:
        raise ConfigError(
            f"KMS_KEY_ID: source {target.source_cluster} is shared from another account and encrypted (key {key}); "
            "set KMS_KEY_ID to a key of this account for its clones"
        )


def check_instance_class(gateway, target, source, reporter):
    """INSTANCE_CLASS must be one RDS offers for the source's engine version (one call)."""
    try:
        classes = gateway.orderable_classes(source.engine, source.engine_version)
    except AwsError as exc:
        reporter.warning("INSTANCE_CLASS not checked: %s", exc)
        return
    if not classes:
        reporter.warning("INSTANCE_CLASS not checked: RDS lists no instance classes for %s %s",
                         source.engine, source.engine_version)
        return
    if target.instance_class not in classes:
        offered = sorted(classes)
        shown = ", ".join(offered[:12]) + (f" and {len(offered) - 12} more" if len(offered) > 12 else "")
        raise ConfigError(
            f"INSTANCE_CLASS: {target.instance_class} is not offered for {source.engine} {source.engine_version} "
            f"(source {source.id}); offered: {shown}"
        )


def check_cluster_quota(gateway, target, existing, reporter, branch=False):
    """The DBClusters quota must hold today's clone and, at its peak, the clone it replaces plus the
    KEEP_ABORTED ones kept for rollback (counting this target's `existing` clones as already there); with
    `branch`, one more cluster (a branch) besides the next daily clone's peak. One call."""
    try:
        quota = gateway.account_quota("DBClusters")
    except AwsError as exc:
        reporter.warning("DBClusters quota not checked: %s", exc)
        return
    if quota is None:
        reporter.warning("DBClusters quota not checked: DescribeAccountAttributes does not report it")
        return
    used, limit = quota
    # A cross-account source: the previous clone is deleted before the restore, so one cluster at a time.
    needed = 1 if target.cross_account else max(1, target.keep_aborted + 2 - existing)
    if branch and limit - used < needed + 1:
        raise ConfigError(
            f"the account's DBClusters quota has room for {max(0, limit - used)} more cluster(s) ({used} of {limit} "
            f"used): a branch would leave too little for tomorrow's daily clone (it needs {needed}); "
            "delete a branch or raise the quota"
        )
    if limit - used < needed:
        raise ConfigError(
            f"KEEP_ABORTED: the account's DBClusters quota has room for {max(0, limit - used)} more cluster(s) "
            f"({used} of {limit} used) and the daily clone needs {needed} (today's, the one it replaces, "
            f"KEEP_ABORTED={target.keep_aborted} kept for rollback): raise the quota or lower KEEP_ABORTED"
        )


def standard_support_end(source):
    """When AWS's standard support of the source's major version ended (or ends), or None when not known."""
    version = aurora_version(source.engine, source.engine_version)
    return STANDARD_SUPPORT_ENDS.get((source.engine, version[0])) if version else None


def warn_extended_support(target, source, reporter, now):
    """A clone of a major version past its Aurora end of standard support is billed RDS Extended Support
    (per vCPU-hour) unless ENGINE_LIFECYCLE_SUPPORT is -disabled, and then RDS upgrades the restored clone
    to a newer major version than its source's (RestoreDBClusterToPointInTime's EngineLifecycleSupport).
    Neither is silent: a warning on every clone, except with ENGINE_LIFECYCLE_SUPPORT set to enrol knowingly."""
    ended = standard_support_end(source)
    if ended is None or now.date() < ended or target.engine_lifecycle_support == EXTENDED_SUPPORT:
        return
    version = aurora_version(source.engine, source.engine_version)
    running = (f"source {source.id} runs {flavours.for_engine(source.engine).label} {version[0]} "
               f"({source.engine_version}), past its end of standard support ({ended.isoformat()})")
    if target.engine_lifecycle_support == EXTENDED_SUPPORT_DISABLED:
        reporter.warning("%s: with ENGINE_LIFECYCLE_SUPPORT=%s RDS upgrades every clone to a newer major version than "
                         "the source's (a slower restore, and a dev database unlike production); upgrade the source",
                         running, EXTENDED_SUPPORT_DISABLED)
        return
    reporter.warning("%s: every clone is billed RDS Extended Support; upgrade the source (ENGINE_LIFECYCLE_SUPPORT=%s "
                     "would make RDS upgrade every clone to a newer major version instead; =%s acknowledges the charge)",
                     running, EXTENDED_SUPPORT_DISABLED, EXTENDED_SUPPORT)


def aurora_version(engine, engine_version):
    """The Aurora release as a tuple: 8.0.mysql_aurora.3.08.0 -> (3, 8, 0); PostgreSQL 16.3 -> (16, 3)."""
    if not engine_version:
        return None
    tail = engine_version.rsplit("mysql_aurora.", 1)[-1] if engine == "aurora-mysql" else engine_version
    parts = []
    for part in tail.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts) or None


def supports_auto_pause(engine, version):
    return _since(AUTO_PAUSE_SINCE, engine, version)


def _since(table, engine, version):
    """Whether `version` has a feature that came, per major version, with the releases in table[engine]."""
    since = table.get(engine)
    if since is None:
        return True  # an engine this table does not know: let AWS decide
    majors = sorted(since)
    if version[0] in since:
        return version >= since[version[0]]
    return version[0] > majors[-1]

