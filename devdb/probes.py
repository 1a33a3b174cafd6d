"""Readiness probes and the post-clone steps that talk SQL to a clone.

The "status" probe trusts AWS (cluster and writer instance `available`); the "sql" probe logs in
with the app's own credentials (DATABASES['default'] with HOST replaced by the clone's endpoint) and
runs SELECT 1. Failure reasons never include the password.
"""

from django.conf import settings

from .aws import has_failed
from .errors import LoginRefused, ProbeError

AVAILABLE = "available"


AUTH_FAILED = {1044, 1045}


def status_ready(cluster, writer_id):
    """(ready, status text) of a described cluster; ProbeError if it has failed for good."""
    writer = next((i for i in cluster.instances if i.id == writer_id), None)
    writer_status = writer.status if writer else "missing"
    text = f"cluster {cluster.status}, writer {writer_status}"
    if has_failed(cluster.status) or has_failed(writer_status):
        raise ProbeError(f"AWS reports {text}")
    return cluster.status == AVAILABLE and writer_status == AVAILABLE, text


def app_credentials(alias="default", port=None):
    """The app's login; `port` (the clone's real port) wins over DATABASES' PORT."""
    db = settings.DATABASES.get(alias, {})
    return {
        "user": db.get("USER") or "",
        "password": db.get("PASSWORD") or "",
        "database": db.get("NAME") or "",
        "port": int(port or db.get("PORT") or 3306),
    }


def connect(host, *, port, user, password, database, timeout, multi_statements=False):
    """A MySQLdb connection to the clone (mysqlclient is imported only when a SQL step runs)."""
    try:
        import MySQLdb
        from MySQLdb.constants import CLIENT
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ProbeError("the sql probe needs mysqlclient: pip install 'django-devdb[mysql]'") from exc
    kwargs = dict(host=host, port=port, user=user, passwd=password, connect_timeout=timeout,
                  read_timeout=max(timeout, 60), write_timeout=max(timeout, 60))
    if database:
        kwargs["db"] = database
    if multi_statements:
        kwargs["client_flag"] = CLIENT.MULTI_STATEMENTS
    try:
        return MySQLdb.connect(**kwargs)
    except MySQLdb.Error as exc:
        code = exc.args[0] if exc.args else None
        raise (LoginRefused if code in AUTH_FAILED else ProbeError)(describe_error(exc, password)) from None


def describe_error(exc, password=""):
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    detail = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if password:
        detail = detail.replace(password, "***")
    kind = {
        1045: "authentication failed",
        1044: "authentication failed",
        1049: "unknown database",
        2002: "unreachable",
        2003: "unreachable",
        2005: "unreachable (unknown host)",
        2013: "timeout",
    }.get(code, "error")
    return f"{kind} ({code}): {detail}" if code else f"{kind}: {detail}"


def sql_ready(host, *, timeout, credentials=None, port=None):
    """Log in to host with the app's credentials and run SELECT 1; ProbeError with the reason if not."""
    creds = credentials or app_credentials(port=port)
    conn = connect(host, timeout=timeout, **creds)
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise ProbeError("SELECT 1 did not return 1")
    except ProbeError:
        raise
    except Exception as exc:
        raise ProbeError(describe_error(exc, creds["password"])) from None
    finally:
        conn.close()


def run_script(host, path, *, timeout, credentials=None, port=None):
    """Run one .sql file against host, statement by statement, committing at the end.

    LoginRefused (nothing ran yet) may be retried; any other ProbeError may not.
    """
    creds = credentials or app_credentials(port=port)
    with open(path, encoding="utf-8") as handle:
        script = handle.read()
    conn = connect(host, timeout=timeout, multi_statements=True, **creds)
    statement = 0
    try:
        cursor = conn.cursor()
        if script.strip():
            cursor.execute(script)
            statement = 1
            while cursor.nextset():
                statement += 1
        conn.commit()
    except Exception as exc:
        conn.rollback()
        raise ProbeError(f"{path}: statement {statement + 1} failed: {describe_error(exc, creds['password'])}") from None
    finally:
        conn.close()
