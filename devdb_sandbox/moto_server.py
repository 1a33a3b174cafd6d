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
from botocore.config import Config

from . import aws_rules
from .days import CLOCK_DIR, clock_env  # noqa: F401 (CLOCK_DIR: where the clock shim lives, for callers)

ROOT = Path(__file__).resolve().parent.parent
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
        # MOTO_EC2_LOAD_DEFAULT_AMIS: moto would build EC2's ~2,600 default AMIs for each account; devdb uses none.
        env = {**os.environ, **CREDENTIALS, "MOTO_RECORDER_FILEPATH": self.recording, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
               **(env or {})}
        env.pop("MOTO_ENABLE_RECORDING", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devdb_sandbox.server", "-H", "127.0.0.1", "-p", str(self.port),
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
        """A boto3 client for this server; it rides out the realistic mode's throttling as the job does."""
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing",
                            config=Config(retries={"mode": "standard", "total_max_attempts": 10}))

    def env(self, now=None):
        """Environment for a manage.py subprocess talking to this server (optionally at a simulated time)."""
        env = {**os.environ, **CREDENTIALS, "AWS_ENDPOINT_URL": self.url}
        env.pop("AWS_PROFILE", None)
        return clock_env(now, env) if now else env

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
            "DEVDB_MASKING_KEY": "sandbox-masking-key-not-a-secret-0123456789",  # >= 32 bytes, as masking needs
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

    def settle(self):
        """Finish every pending change of the realistic mode now (e.g. the night between two mornings)."""
        _settle(self.client("rds"))

    def history(self):
        """When each status and Route53 change took effect, each change asked for, each throttled call (realistic
        mode): [{"at", "resource", "type", "status"}] by time (see sandbox.aws_rules.Simulation.reset)."""
        with urllib.request.urlopen(f"{self.url}/moto-api/devdb/history") as response:
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


ENGINES = {
    # engine: (version, production port, parameter group family, log exports, IAM role feature name)
    "aurora-mysql": ("8.0.mysql_aurora.3.05.2", 3307, "aurora-mysql8.0", ["error", "slowquery"], None),
    "aurora-postgresql": ("16.4", 5433, "aurora-postgresql16", ["postgresql"], "s3Import"),
}


class Seeded(str):
    """seed()'s result: the hosted zone id (a str, as callers always used it), plus `.zone_id` and `.source`,
    the source's configuration in DescribeDBClusters' terms (and the writer's DBParameterGroupName),
    which a clone made like its source must match."""

    def __new__(cls, zone_id, source):
        seeded = super().__new__(cls, zone_id)
        seeded.zone_id, seeded.source = zone_id, source
        return seeded


def seed(rds, route53, *, source="prod-aurora", zone="dev.example.com", unrelated=0, unrelated_instances=True,
         engine="aurora-mysql", production=True):
    """A source cluster with a writer, a hosted zone, and `unrelated` other clusters; everything `available`.

    production=True configures the source the way production accounts do: its own VPC with two security
    groups, its own DB subnet group, cluster and DB parameter groups, IAM database auth, a non-default port,
    I/O-Optimized storage, CloudWatch log exports and an associated IAM role. production=False is the bare
    source of old (every setting at AWS's default). engine is "aurora-mysql" or "aurora-postgresql".
    With `unrelated` clusters, the account's DB-cluster quota is raised to leave the usual 40 free.
    Returns the hosted zone id (a `Seeded` str carrying the source's configuration).
    """
    version, port, family, logs, feature = ENGINES[engine]
    config = {}
    if production:
        config = _production_groups(rds, source, family)
        config.update(Port=port, EnableIAMDatabaseAuthentication=True, StorageType="aurora-iopt1",
                      EnableCloudwatchLogsExports=logs)
    writer_group = config.pop("DBParameterGroupName", None)
    rds.create_db_cluster(
        DBClusterIdentifier=source, Engine=engine, EngineVersion=version,
        MasterUsername="admin" if engine == "aurora-mysql" else "postgres",
        MasterUserPassword="prod-password-never-shown", Tags=[{"Key": "team", "Value": "prod"}], **config,
    )
    names = [f"other-{n:05d}" for n in range(unrelated)]
    for n, name in enumerate(names):
        rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-mysql", MasterUsername="admin",
                              MasterUserPassword="other-password", Tags=[{"Key": "team", "Value": f"t{n % 7}"}])
    if unrelated:  # a busy account has had its DB-cluster quota (40 by default) raised
        _control(rds, "config", cluster_quota=aws_rules.DEFAULT_QUOTA + 1 + unrelated)
    _settle(rds)  # CreateDBInstance needs an available cluster
    rds.create_db_instance(DBInstanceIdentifier=f"{source}-1", DBClusterIdentifier=source, DBInstanceClass="db.r6g.large",
                           Engine=engine, **({"DBParameterGroupName": writer_group} if writer_group else {}))
    for name in names if unrelated_instances else ():
        rds.create_db_instance(DBInstanceIdentifier=f"{name}-1", DBClusterIdentifier=name,
                               DBInstanceClass="db.t4g.medium", Engine="aurora-mysql")
    if production:
        role = _sibling(rds, "iam").create_role(
            RoleName=f"{source}-s3-access", Path="/service-role/",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "rds.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        )["Role"]["Arn"]
        rds.add_role_to_db_cluster(DBClusterIdentifier=source, RoleArn=role, **({"FeatureName": feature} if feature else {}))
    zone_id = route53.create_hosted_zone(Name=zone, CallerReference=f"devdb-{zone}")["HostedZone"]["Id"]
    _settle(rds)
    cluster = rds.describe_db_clusters(DBClusterIdentifier=source)["DBClusters"][0]
    writer = rds.describe_db_instances(DBInstanceIdentifier=f"{source}-1")["DBInstances"][0]
    expected = {
        "Engine": cluster["Engine"], "EngineVersion": cluster["EngineVersion"],
        "VpcSecurityGroupIds": sorted(g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]),
        "DBSubnetGroup": cluster["DBSubnetGroup"], "DBClusterParameterGroup": cluster["DBClusterParameterGroup"],
        "Port": cluster["Port"], "IAMDatabaseAuthenticationEnabled": cluster["IAMDatabaseAuthenticationEnabled"],
        "StorageType": cluster["StorageType"], "EnabledCloudwatchLogsExports": cluster.get("EnabledCloudwatchLogsExports", []),
        "AssociatedRoles": sorted(r["RoleArn"] for r in cluster.get("AssociatedRoles", [])),
        "DBParameterGroupName": writer["DBParameterGroups"][0]["DBParameterGroupName"],
    }
    return Seeded(zone_id.rsplit("/", 1)[-1], expected)


def _production_groups(rds, source, family):
    """The source's own VPC, security groups, subnet group and parameter groups, as RDS request parameters."""
    ec2 = _sibling(rds, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
               for n, zone in enumerate("ab")]
    groups = [ec2.create_security_group(GroupName=f"{source}-{role}", Description=f"{source} {role} access",
                                        VpcId=vpc)["GroupId"] for role in ("app", "admin")]
    rds.create_db_subnet_group(DBSubnetGroupName=f"{source}-subnets", DBSubnetGroupDescription=f"{source} subnets",
                               SubnetIds=subnets)
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=f"{source}-cluster", DBParameterGroupFamily=family,
                                          Description=f"{source} cluster parameters")
    rds.create_db_parameter_group(DBParameterGroupName=f"{source}-instance", DBParameterGroupFamily=family,
                                  Description=f"{source} instance parameters")
    return {"VpcSecurityGroupIds": groups, "DBSubnetGroupName": f"{source}-subnets",
            "DBClusterParameterGroupName": f"{source}-cluster", "DBParameterGroupName": f"{source}-instance"}


def _sibling(client, service):
    """A client for another service of the same account and endpoint (moto server or in-process mock)."""
    endpoint = client.meta.endpoint_url
    custom = {} if endpoint.endswith(".amazonaws.com") else {"endpoint_url": endpoint}
    return boto3.client(service, region_name=client.meta.region_name, aws_access_key_id="testing",
                        aws_secret_access_key="testing", **custom)


def _settle(client):
    """Finish every pending change of the sandbox's realistic mode now: seeding is setup, not under test."""
    _control(client, "settle")


def _control(client, name, **settings):
    """POST to the sandbox's control endpoint `name` of the client's moto (server, or this process's mock)."""
    endpoint = client.meta.endpoint_url
    if endpoint.endswith(".amazonaws.com"):  # in-process moto: the rules live in this process
        if name == "settle":
            aws_rules.SIM.settle()
        else:
            aws_rules.SIM.configure(**settings)
        return
    request = urllib.request.Request(f"{endpoint}/moto-api/devdb/{name}", method="POST", data=json.dumps(settings).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
