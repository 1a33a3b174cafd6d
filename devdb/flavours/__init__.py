"""Database flavours: one small class per engine, chosen from a mapping (see base.Flavour)."""

from django.utils.module_loading import import_string

FLAVOURS = {
    "mysql": "devdb.flavours.mysql.MySQL",
    "postgresql": "devdb.flavours.postgresql.PostgreSQL",
}


def for_vendor(vendor):
    """The flavour of a Django connection vendor ('mysql', 'postgresql'); ValueError if none."""
    if vendor not in FLAVOURS:
        raise ValueError(f"no database flavour for {vendor!r} (supported: {', '.join(FLAVOURS)})")
    return import_string(FLAVOURS[vendor])()


def for_scheme(scheme):
    """The flavour of a URL scheme ('mysql', 'postgres', ...); ValueError if none."""
    for path in FLAVOURS.values():
        flavour = import_string(path)()
        if scheme in flavour.schemes:
            return flavour
    raise ValueError(f"unsupported URL scheme {scheme!r} (expected mysql:// or postgres://)")
