"""Start moto's standalone server on a free loopback port and seed it like a small AWS account."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
CLOCK_DIR = Path(__file__).resolve().parent / "clock"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """moto's server with AWS's rules (sandbox.server); realistic=True adds AWS's timing, throttling and state rules.

    `env` adds to the server's environment (e.g. DEVDB_SANDBOX_SCALE, DEVDB_SANDBOX_THROTTLE).
    """

    def __init__(self, port=None, log=None, realistic=False, env=None):
        self.port = port or free_port()
        self.realistic = realistic
        self.url = f"http://127.0.0.1:{self.port}"
        # The request recorder stays off until recorder("start-recording"); its file goes to /tmp.
        self.recording = os.path.join(tempfile.gettempdir(), f"devdb-moto-recording-{self.port}")
        env = {**os.environ, **CREDENTIALS, "MOTO_RECORDER_FILEPATH": self.recording, **(env or {})}
        env.pop("MOTO_ENABLE_RECORDING", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.server", "-H", "127.0.0.1", "-p", str(self.port),
             *(["--realistic"] if realistic else [])],
            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).read()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server did not start on port {self.port}") from None
                time.sleep(0.1)

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def env(self, now=None):
        """Environment for a manage.py subprocess talking to this server (optionally at a simulated time)."""
        env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": self.url}
        env.pop("AWS_PROFILE", None)
        if now:
            env["DEVDB_SANDBOX_NOW"] = now
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CLOCK_DIR), env.get("PYTHONPATH", "")]))
        return env

    def project_env(self, zone_id, folder, now=None, **overrides):
        """env() plus the example project's settings: target `dev` on this account, SQLite files in folder."""
        return {
            **self.env(now),
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": f"sqlite:///{folder}/app.sqlite3",
            "DEVDB_DATABASE_URL": f"sqlite:///{folder}/devdb.sqlite3",
            "DEVDB_SOURCE_CLUSTER": "prod-aurora",
            "DEVDB_HOSTED_ZONE_ID": zone_id,
            "DEVDB_RECORD_NAME": "db.dev.example.com",
            "DEVDB_INSTANCE_CLASS": "db.t4g.medium",
            **overrides,
        }

    def reset(self):
        """Empty the account; the sandbox's settings go back to the server's environment."""
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")).read()

    def configure(self, **settings):
        """Change the sandbox's settings until the next reset: scale, throttle, seed, cluster_quota, realistic."""
        request = urllib.request.Request(f"{self.url}/moto-api/devdb/config", method="POST",
                                         data=json.dumps(settings).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    def recorder(self, action):
        """start-recording / stop-recording / reset-recording / download-recording."""
        method = "GET" if action == "download-recording" else "POST"
        with urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/recorder/{action}", method=method)) as r:
            return r.read().decode()

    def stop(self):
        if os.path.exists(self.recording):
            os.remove(self.recording)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@contextmanager
def running(**kwargs):
    server = MotoServer(**kwargs)
    try:
        yield server
    finally:
        server.stop()


def seed(rds, route53, *, source="prod-aurora", zone="dev.example.com", unrelated=0, unrelated_instances=True):
    """An Aurora MySQL source cluster with a writer, a hosted zone, and `unrelated` other clusters.

    Returns the hosted zone id.
    """
    rds.create_db_cluster(
        DBClusterIdentifier=source, Engine="aurora-mysql", EngineVersion="8.0.mysql_aurora.3.05.2",
        MasterUsername="admin", MasterUserPassword="prod-password-never-shown",
        Tags=[{"Key": "team", "Value": "prod"}],
    )
    rds.create_db_instance(DBInstanceIdentifier=f"{source}-1", DBClusterIdentifier=source,
                           DBInstanceClass="db.r6g.large", Engine="aurora-mysql")
    for n in range(unrelated):
        name = f"other-{n:05d}"
        rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-mysql", MasterUsername="admin",
                              MasterUserPassword="other-password", Tags=[{"Key": "team", "Value": f"t{n % 7}"}])
        if unrelated_instances:
            rds.create_db_instance(DBInstanceIdentifier=f"{name}-1", DBClusterIdentifier=name,
                                   DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")
    zone_id = route53.create_hosted_zone(Name=zone, CallerReference=f"devdb-{zone}")["HostedZone"]["Id"]
    return zone_id.rsplit("/", 1)[-1]
