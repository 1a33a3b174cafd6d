"""Database flavours: one small class per engine, chosen from a mapping (see base.Flavour).

A new flavour is one file with one class (the methods base.Flavour lists under "must implement")
plus one line in FLAVOURS and, for an Aurora engine, one in ENGINES.
"""

from django.utils.module_loading import import_string

FLAVOURS = {
    "mysql": "devdb.flavours.mysql.MySQL",
    "postgresql": "devdb.flavours.postgresql.PostgreSQL",
}
# The source cluster's Engine (as DescribeDBClusters reports it) -> its flavour. Not "aurora":
# Aurora MySQL 5.6, retired by AWS.
ENGINES = {
    "aurora-mysql": "mysql",
    "aurora-postgresql": "postgresql",
}
SUPPORTED = "Aurora MySQL or Aurora PostgreSQL"  # what a refused source is not


def for_vendor(vendor):
    """The flavour of a Django connection vendor ('mysql', 'postgresql'); ValueError if none."""
    if vendor not in FLAVOURS:
        raise ValueError(f"no database flavour for {vendor!r} (supported: {', '.join(FLAVOURS)})")
    return import_string(FLAVOURS[vendor])()


def for_engine(engine):
    """The flavour of an Aurora engine ('aurora-mysql', 'aurora-postgresql'); ValueError if none."""
    if engine not in ENGINES:
        raise ValueError(f"no database flavour for engine {engine!r} (supported: {', '.join(ENGINES)})")
    return for_vendor(ENGINES[engine])


def for_scheme(scheme):
    """The flavour of a URL scheme ('mysql', 'postgres', ...); ValueError if none."""
    for path in FLAVOURS.values():
        flavour = import_string(path)()
        if scheme in flavour.schemes:
            return flavour
    raise ValueError(f"unsupported URL scheme {scheme!r} (expected mysql:// or postgres://)")
