"""A clone is configured like its source: what a restore is given, and how a clone differs.

A restore copies only the data; whatever it is not given falls to an AWS default (the VPC's default
security group, default parameter groups, port 3306, IAM auth off...). So the clone takes each of
these from its source unless a target setting overrides it, and any difference that remains is
shown (status, the clone's record) so that an operator sees it. Pure: no I/O.
"""

from dataclasses import replace

# (Configuration attribute, what to call it, the target setting that overrides it, its Target attribute)
FIELDS = (
    ("security_group_ids", "security groups", "VPC_SECURITY_GROUP_IDS", "vpc_security_group_ids"),
    ("subnet_group", "subnet group", "DB_SUBNET_GROUP", "db_subnet_group"),
    ("cluster_parameter_group", "cluster parameter group", "DB_CLUSTER_PARAMETER_GROUP", "db_cluster_parameter_group"),
    ("port", "port", "PORT", "port"),
    ("iam_auth", "IAM database auth", None, None),
    ("storage_type", "storage type", None, None),
    ("log_exports", "log exports", None, None),
    ("roles", "IAM roles", None, None),
    ("writer_parameter_group", "writer parameter group", "DB_PARAMETER_GROUP", "db_parameter_group"),
)


def wanted(source_config, target):
    """The configuration today's clone is made with: the source's, with the target's overrides."""
    overrides = {}
    for attribute, _, _, setting in FIELDS:
        value = getattr(target, setting) if setting else None
        if value not in (None, (), [], ""):
            overrides[attribute] = tuple(sorted(value)) if isinstance(value, (list, tuple)) else value
    return replace(source_config, **overrides)


def sealed(config, target):
    """With MASK, what the clone is restored with: reachable only through MASKING_SECURITY_GROUP_IDS (the
    runner's) until its masking verified; then it gets the app's groups, wanted(...).security_group_ids."""
    if not target.mask:
        return config
    return replace(config, security_group_ids=tuple(sorted(target.masking_security_group_ids)))


def _normal(value):
    if isinstance(value, str):
        return value.lower()  # RDS stores names in lower case
    if isinstance(value, (list, tuple)):
        return tuple(sorted(_normal(v) for v in value))
    return value


def _show(value):
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(":".join(v) if isinstance(v, tuple) else str(v) for v in value) or "none"
    return str(value)


def differences(clone_config, source_config, target):
    """One phrase per setting in which the clone differs from its source; unknown values are skipped."""
    found = []
    for attribute, label, setting, target_attribute in FIELDS:
        mine, theirs = getattr(clone_config, attribute), getattr(source_config, attribute)
        if mine is None or theirs is None or _normal(mine) == _normal(theirs):
            continue
        by_setting = setting and getattr(target, target_attribute) not in (None, (), [], "")
        found.append(f"{label} {_show(mine)} (source {_show(theirs)}" + (f"; {setting}" if by_setting else "") + ")")
    return found


def line(clone_config, source, target):
    """'configured like prod-aurora' or 'differs from prod-aurora: port 3306 (source 3307)'."""
    found = differences(clone_config, source.configuration, target)
    if not found:
        return f"configured like {source.id}"
    return f"differs from {source.id}: " + "; ".join(found)
