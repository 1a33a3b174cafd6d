"""Readiness probes and the post-clone scripts that talk SQL to a clone, through its database flavour.

The "status" probe trusts AWS (cluster and writer instance `available`); the "sql" probe logs in
with the app's own credentials (DATABASES['default'] with HOST replaced by the clone's endpoint and
PORT by the clone's) and runs SELECT 1. `engine` is the clone's Engine ("aurora-mysql",
"aurora-postgresql"), which picks the flavour (devdb.flavours). Failure reasons never include the password.
"""

from django.conf import settings

from . import flavours
from .aws import has_failed
from .errors import LoginRefused, ProbeError  # noqa: F401  (their old home: probes.ProbeError)

AVAILABLE = "available"
INCOMPATIBLE_PARAMETERS = "incompatible-parameters"
DEFAULT_ENGINE = "aurora-mysql"  # as devdb.aws reads a cluster that does not say


def status_ready(cluster, writer_id):
    """(ready, status text) of a described cluster; ProbeError if it has failed for good."""
    writer = next((i for i in cluster.instances if i.id == writer_id), None)
    writer_status = writer.status if writer else "missing"
    text = f"cluster {cluster.status}, writer {writer_status}"
    if writer_status == INCOMPATIBLE_PARAMETERS:
        raise ProbeError(incompatible_parameters(writer))
    if has_failed(cluster.status) or has_failed(writer_status):
        raise ProbeError(f"AWS reports {text}")
    return cluster.status == AVAILABLE and writer_status == AVAILABLE, text


def incompatible_parameters(writer):
    """Why a writer is `incompatible-parameters`, and the setting that fixes it, in one line. AWS leaves a
    writer so when its DB parameter group asks for more than its class has (typically the production
    writer's group, sized for a much larger class); such an instance can only be rebooted or deleted."""
    group = writer.parameter_group or "its DB parameter group"
    return (f"AWS reports writer {writer.id} incompatible-parameters: DB parameter group {group} does not fit "
            f"{writer.instance_class or 'its instance class'} (memory settings sized for a larger class?); set "
            f"DB_PARAMETER_GROUP to a group made for {writer.instance_class or 'INSTANCE_CLASS'}")


def app_credentials(alias="default", port=None, engine=DEFAULT_ENGINE):
    """The app's login; `port` (the clone's real port) wins over DATABASES' PORT, then the engine's default."""
    db = settings.DATABASES.get(alias, {})
    return {
        "user": db.get("USER") or "",
        "password": db.get("PASSWORD") or "",
        "database": db.get("NAME") or "",
        "port": int(port or db.get("PORT") or flavours.for_engine(engine).default_port),
    }


def connect(host, *, flavour, port, user, password, database, timeout):
    """A driver connection to the clone: the one place both steps connect (tests send the clone's
    fake AWS endpoint to a real server here)."""
    return flavour.connect(host, port=port, user=user, password=password, database=database, timeout=timeout)


def sql_ready(host, *, timeout, engine=DEFAULT_ENGINE, credentials=None, port=None):
    """Log in to host with the app's credentials and run SELECT 1; ProbeError with the reason if not."""
    flavour = flavours.for_engine(engine)
    creds = credentials or app_credentials(port=port, engine=engine)
    flavour.probe(connect(host, flavour=flavour, timeout=timeout, **creds), creds["password"])


def run_script(host, path, *, timeout, engine=DEFAULT_ENGINE, credentials=None, port=None):
    """Run one .sql file against host, statement by statement, committing at the end.

    LoginRefused (nothing ran yet) may be retried; any other ProbeError may not.
    """
    flavour = flavours.for_engine(engine)
    creds = credentials or app_credentials(port=port, engine=engine)
    with open(path, encoding="utf-8") as handle:
        script = handle.read()
    conn = connect(host, flavour=flavour, timeout=timeout, **creds)
    try:
        flavour.run_script(conn, script, creds["password"])
    except ProbeError as exc:
        raise ProbeError(f"{path}: {exc}") from None
