"""Temporary Django connections to a database that is not in DATABASES (a clone, a --url).

Masking and migration rehearsal talk to a clone through Django's own backends, so they see it as
any project code would. The alias lives only inside `connection_for` and is removed afterwards.
"""

import uuid
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

from django.db import connections

from . import flavours
from .errors import ConfigError


@contextmanager
def connection_for(database, purpose="tmp"):
    """A Django connection alias for `database`: an alias of DATABASES, a URL
    (mysql://, postgres://), or a dict with vendor (or an Aurora engine), host, port, user, password,
    database. A URL or dict gets a temporary alias `devdb_<purpose>_<random>` on Django's own backend,
    closed and removed afterwards."""
    if isinstance(database, str) and "://" not in database:
        if database not in connections.settings:
            raise ConfigError(f"{database!r} is not in DATABASES")
        yield database
        return
    config = django_settings(database)
    alias = f"devdb_{purpose}_{uuid.uuid4().hex[:8]}"
    # configure_settings() fills Django's defaults (and insists on a 'default' entry to do so).
    connections.settings[alias] = connections.configure_settings({"default": {}, alias: config})[alias]
    try:
        yield alias
    finally:
        if alias in connections:
            connections[alias].close()
            del connections[alias]
        del connections.settings[alias]


def django_settings(database):
    """A DATABASES entry for a URL or a dict of connection parameters (or a DATABASES entry itself,
    with ENGINE); ConfigError if unusable."""
    if isinstance(database, dict) and "ENGINE" in database:
        return dict(database)
    if isinstance(database, dict):
        try:
            if database.get("engine"):
                flavour = flavours.for_engine(database["engine"])
            else:
                flavour = flavours.for_vendor(database.get("vendor", "mysql"))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return flavour.django_settings(**{k: database.get(k) for k in ("host", "port", "user", "password", "database")})
    try:
        parts = urlsplit(database)
        flavour = flavours.for_scheme(parts.scheme)
        port = parts.port
    except ValueError as exc:
        reason = str(exc) if "scheme" in str(exc) else "it cannot be parsed"
        raise ConfigError(f"--url is not a valid database URL ({reason})") from None
    name = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not name:
        raise ConfigError("--url is not a valid database URL (it needs a host and a database name)")
    return flavour.django_settings(host=parts.hostname, port=port, user=unquote(parts.username or ""),
                                   password=unquote(parts.password or ""), database=name)


def one_line(exc, secrets=()):
    """An error as one line of at most 500 characters without any of `secrets` (MySQL echoes
    expressions and names back, sometimes in another case)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for secret in filter(None, secrets):
        for variant in (secret, secret.lower(), secret.upper()):
            text = text.replace(variant, "***")
    return text[:500]
