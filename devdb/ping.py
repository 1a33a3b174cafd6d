"""Pings a monitoring URL around a refresh (healthchecks.io / Cronitor convention): `<url>/start`
when it starts, `<url>` when it succeeds, `<url>/fail` with the error line when it fails.

A ping never fails the run: the monitor notices a missing ping by itself. Its path usually holds a
secret token, so only `scheme://host` ever appears in a log line.
"""

import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

TIMEOUT = 10  # seconds per ping: a slow monitor must not hold up the morning's refresh


def where(url):
    """What may be shown of a ping URL: its scheme and host."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}"


def address(url, event):
    """<url>/start, <url> or <url>/fail (before any query string)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + {"start": "/start", "success": "", "fail": "/fail"}[event]
    return urlunsplit(parts._replace(path=path))


def ping(url, event, reporter, message=""):
    """event: start, success or fail (POSTs `message`). Problems are a warning, never an error."""
    if not url:
        return
    data = message.encode("utf-8", "replace")[:10_000] if event == "fail" else None
    request = urllib.request.Request(address(url, event), data=data, method="POST" if data is not None else "GET",
                                     headers={"User-Agent": "django-devdb"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read(1024)
    except Exception as exc:  # noqa: BLE001 - whatever the monitor does, the run goes on
        reporter.warning("ping %s to %s failed (%s); the run goes on", event, where(url), _reason(exc))


def _reason(exc):
    """Why a ping failed, without the URL: an HTTP status, an OS error (refused, timed out), or the kind."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    if isinstance(cause, TimeoutError):
        return "timed out"
    return type(cause).__name__
