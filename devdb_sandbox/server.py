"""`python -m devdb_sandbox.server [--realistic] [-H host] [-p port]`: moto's standalone server with AWS's rules.

It installs sandbox.aws_rules into moto, then serves moto's application behind a small WSGI layer that
- answers the sandbox's own control endpoints:
    POST /moto-api/devdb/settle   finish every pending change now (seeding is setup, not under test)
    GET  /moto-api/devdb/config   the settings as JSON
    POST /moto-api/devdb/config   change them: {"realistic", "scale", "throttle", "seed", "cluster_quota"}
    GET  /moto-api/devdb/history  when each status and Route53 change took effect, each change asked
                                  for and each throttled call (realistic mode), by time
- clears the realistic state on POST /moto-api/reset (settings back to the environment's);
- in realistic mode, throttles a share of the RDS, Route53 and tagging calls (never /moto-api/) with each
  service's own throttling error, which botocore's standard retry mode retries.
"""

import argparse
import json
import os
import re
import sys
import uuid

from . import aws_rules
from .aws_rules import SIM

# The error each service returns when it throttles: (status, content type, body).
THROTTLED = {
    "rds": (400, "text/xml",
            '<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type>'
            "<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            "<RequestId>{id}</RequestId></ErrorResponse>"),
    "route53": (400, "text/xml",
                '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
                "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
                "<RequestId>{id}</RequestId></ErrorResponse>"),
    # The Tagging API's throttling code is ThrottledException (botocore's GetResources and TagResources).
    "tagging": (400, "application/x-amz-json-1.1", '{{"__type":"ThrottledException","Message":"Rate exceeded"}}'),
}
_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


class SandboxApp:
    """WSGI middleware around moto's application."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api/devdb/"):
            return self.control(path.rsplit("/", 1)[-1], environ, start_response)
        if path.startswith("/moto-api/"):
            if path.rstrip("/") == "/moto-api/reset":
                SIM.reset()
            return self.app(environ, start_response)
        service = _SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = service.group(1) if service else None
        with SIM.lock:
            throttled = service in THROTTLED and SIM.throttled()
            if throttled:
                SIM.record(service, "throttled", "Throttling")
        if throttled:
            status, content_type, body = THROTTLED[service]
            request_id = str(uuid.uuid4())
            data = body.format(id=request_id).encode()
            start_response(f"{status} Bad Request", [("Content-Type", content_type), ("Content-Length", str(len(data))),
                                                     ("x-amzn-RequestId", request_id)])
            return [data]
        return self.app(environ, start_response)

    def control(self, name, environ, start_response):
        try:
            if name == "settle" and environ["REQUEST_METHOD"] == "POST":
                SIM.settle()
            elif name == "config" and environ["REQUEST_METHOD"] == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                SIM.configure(**json.loads(environ["wsgi.input"].read(length) or b"{}"))
            elif name == "history":
                with SIM.lock:
                    return _json(start_response, 200, sorted(SIM.history, key=lambda entry: entry["at"]))
            elif name != "config":
                return _json(start_response, 404, {"error": f"no sandbox endpoint {name!r}"})
        except (ValueError, TypeError) as exc:
            return _json(start_response, 400, {"error": str(exc)})
        return _json(start_response, 200, SIM.settings())


def _json(start_response, status, payload):
    data = json.dumps(payload).encode()
    start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devdb_sandbox.server", description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--realistic", action="store_true",
                        help="AWS's timing and rules (delays scaled by DEVDB_SANDBOX_SCALE, throttled share "
                             "DEVDB_SANDBOX_THROTTLE)")
    args = parser.parse_args(argv)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto's own main does
    aws_rules.apply()
    aws_rules.stable_zone_ids()
    SIM.configure(realistic=args.realistic)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, SandboxApp(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    sys.exit(main())
