"""AWS's rules for the sandbox's moto, where moto is lenient and AWS is strict.

Two layers, both installed by `apply()` (idempotent; class-level patches of moto's backends and responses):

- AWS-faithful data, always on (in-process `mock_aws` and the sandbox server alike): a point-in-time
  restore copies only the data — everything the request does not pass falls to AWS's defaults (the
  VPC's default security group, the default cluster parameter group of the engine family, the engine's
  port, IAM auth off, StorageType `aurora`, no log exports, no roles, the `default` subnet group); a DB
  instance without a parameter group gets its engine family's default; an instance whose DB parameter group
  fixes more buffer memory than its class has is `incompatible-parameters` (as AWS leaves it); each exported log type gets its
  CloudWatch log group `/aws/rds/cluster/<id>/<type>`, which outlives the cluster; DescribeOrderableDBInstanceOptions
  answers for Aurora MySQL / PostgreSQL; DescribeAccountAttributes reports the DB-cluster quota.
- Realistic mode (`SIM.realistic`, off unless the server is started with it): statuses move with time
  (`creating` → `available`, `deleting` resources linger, `resetting-master-credentials`, `stopping`,
  `starting`), AWS's state rules refuse what AWS refuses, Route53 changes stay PENDING for a while,
  GetResources lags behind tag changes, and a share of calls is throttled (see sandbox/server.py).
  Every status change is an entry in one timeline, advanced before each request: no handler sleeps.
  `SIM.history` records when each status change and Route53 change took effect on AWS's side (the
  time it was due, not the request that noticed it), each request that changes something and each
  throttled call, so a benchmark can tell how far behind AWS's own readiness a job moved;
  GET /moto-api/devdb/history returns it.

Delays are base seconds times `SIM.scale` (env DEVDB_SANDBOX_SCALE). The settings are read from the
environment at start and after `/moto-api/reset`; `configure()` (or POST /moto-api/devdb/config) changes
them at run time.
"""

import heapq
import itertools
import os
import random
import threading
import time
import uuid
from functools import wraps

DEFAULT_QUOTA = 40

# Base delays in seconds, multiplied by SIM.scale.
DELAYS = {
    "cluster-creating": 8,
    "instance-creating": 4,
    "instance-backing-up": 3,
    "instance-deleting": 4,
    "cluster-deleting": 3,
    "password-pending": 1,
    "password-resetting": 4,
    "cluster-stopping": 2,
    "cluster-starting": 4,
    "dns-pending": 4,
    "tagging-lag": 3,
}

DEFAULT_PORTS = {"aurora-mysql": 3306, "aurora-postgresql": 5432}
INCOMPATIBLE_PARAMETERS = "incompatible-parameters"
# Memory of the instance classes the sandbox offers (GiB), and the parameters that take a fixed share of it
# (bytes per unit). db.serverless is left out: its memory follows its capacity.
CLASS_MEMORY_GIB = {"db.t3.medium": 4, "db.t4g.medium": 4, "db.r5.large": 16, "db.r6g.large": 16, "db.r6g.xlarge": 32,
                    "db.r7g.large": 16}
MEMORY_PARAMETERS = {"innodb_buffer_pool_size": 1, "shared_buffers": 8192}
LIFECYCLE_DEFAULT = "open-source-rds-extended-support"
READ_PREFIXES = ("Describe", "List", "Get")


def _env_float(name, default):
    value = os.environ.get(name, "")
    try:
        return float(value) if value != "" else default
    except ValueError:
        raise SystemExit(f"{name} must be a number (got {value!r})") from None


class Simulation:
    """The realistic mode's settings and state: one timeline of due changes, tag snapshots, Route53 changes."""

    def __init__(self):
        self.lock = threading.RLock()
        self.realistic = False
        self.reset()

    def reset(self):
        """Back to the settings read from the environment, with nothing pending (`/moto-api/reset`)."""
        with self.lock:
            self.scale = _env_float("DEVDB_SANDBOX_SCALE", 1.0)
            self.throttle = _env_float("DEVDB_SANDBOX_THROTTLE", 0.1)
            self.seed = int(_env_float("DEVDB_SANDBOX_SEED", 0))
            self.cluster_quota = int(_env_float("DEVDB_SANDBOX_CLUSTER_QUOTA", DEFAULT_QUOTA))
            self.rng = random.Random(self.seed)
            self.timeline = []  # heap of (due, seq, action)
            self.seq = itertools.count()
            self.changes = {}  # Route53 change id -> monotonic time it becomes INSYNC
            self.snapshots = []  # [(monotonic time, {(account, region): [TaggedResource]})], oldest first
            self.regions = set()  # (account, region) pairs that have had requests
            # {"at": epoch seconds, "resource", "type", "status"}: type cluster / instance / change (a status),
            # request (resource: the action, status: its HTTP status), throttled (resource: the service).
            self.history = []
            self.due = None  # while advance() runs an action: the monotonic time it was due

    def configure(self, **values):
        """Change settings at run time: realistic, scale, throttle, seed, cluster_quota."""
        with self.lock:
            for key, value in values.items():
                if key not in ("realistic", "scale", "throttle", "seed", "cluster_quota"):
                    raise ValueError(f"unknown sandbox setting {key!r}")
                setattr(self, key, value)
            if "seed" in values:
                self.rng = random.Random(self.seed)

    def settings(self):
        return {"realistic": self.realistic, "scale": self.scale, "throttle": self.throttle, "seed": self.seed,
                "cluster_quota": self.cluster_quota}

    def delay(self, name):
        return DELAYS[name] * self.scale

    def later(self, seconds, action):
        """Run action() once `seconds` have passed (at the first request after that)."""
        heapq.heappush(self.timeline, (time.monotonic() + seconds, next(self.seq), action))

    def advance(self, until=None):
        """Run every due change in order; returns whether anything ran."""
        until = time.monotonic() if until is None else until
        ran = False
        while self.timeline and self.timeline[0][0] <= until:
            self.due, _, action = heapq.heappop(self.timeline)
            try:
                action()
            finally:
                self.due = None
            ran = True
        return ran

    def record(self, resource, kind, status, at=None):
        """Add to the history: `resource` (an id) of `kind` got `status` at monotonic time `at`
        (default: when the running timeline action was due, else now)."""
        at = at if at is not None else self.due if self.due is not None else time.monotonic()
        self.history.append({"at": round(time.time() - time.monotonic() + at, 3), "resource": resource,
                             "type": kind, "status": status})

    def settle(self):
        """Finish everything pending now and make the current tags visible at once (seeding is setup)."""
        with self.lock:
            while self.timeline:
                self.advance(until=float("inf"))
            self.changes.clear()
            self.snapshots = []
            self.snapshot()
            self.snapshots[0] = (float("-inf"), self.snapshots[0][1])

    def throttled(self):
        return self.realistic and self.throttle > 0 and self.rng.random() < self.throttle

    # --- GetResources lag --------------------------------------------------------------------------

    def snapshot(self):
        """Record the tags of every account/region seen so far, as of now."""
        self.snapshots.append((time.monotonic(), {key: _tagged_resources(*key) for key in self.regions}))

    def lagged_resources(self, account_id, region):
        """The tagged resources of one account/region as they were `tagging-lag` seconds ago."""
        horizon = time.monotonic() - self.delay("tagging-lag")
        seen = [i for i, (at, _) in enumerate(self.snapshots) if at <= horizon]
        if not seen:
            return []
        del self.snapshots[:seen[-1]]  # older ones can never be asked for again
        return self.snapshots[0][1].get((account_id, region), [])


SIM = Simulation()


def _tagged_resources(account_id, region):
    from moto.core.resource_tagging import TaggedResource, iter_taggable_backends

    return [TaggedResource(arn=r.arn, tags=dict(r.tags), resource_type=r.resource_type, extra=dict(r.extra))
            for backend in iter_taggable_backends(account_id, region) for r in backend.iter_tagged_resources()]


# --- engine families and defaults --------------------------------------------------------------------

def parameter_group_family(engine, version):
    """aurora-mysql 8.0.mysql_aurora.3.05.2 -> aurora-mysql8.0; aurora-postgresql 16.4 -> aurora-postgresql16."""
    parts = (version or "").split(".")
    if engine == "aurora-postgresql" and parts[0].isdigit() and int(parts[0]) >= 10:
        return f"{engine}{parts[0]}"
    return f"{engine}{'.'.join(parts[:2])}"


def default_parameter_group(engine, version):
    """The name of the default (cluster and instance) parameter group of an Aurora engine version."""
    return f"default.{parameter_group_family(engine, version)}"


def default_security_group_id(account_id, region):
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account_id][region]
    return ec2.get_default_security_group(ec2.default_vpc.id).id


# What a restore takes from its source: the data and what comes with it, never the configuration.
RESTORED_FROM_SOURCE = ("engine", "engine_version", "engine_mode", "master_username", "database_name",
                        "character_set_name", "storage_encrypted", "kms_key_id", "availability_zones")


# --- DescribeOrderableDBInstanceOptions --------------------------------------------------------------

ORDERABLE_VERSIONS = {
    "aurora-mysql": ["5.7.mysql_aurora.2.11.5", "5.7.mysql_aurora.2.11.6", "5.7.mysql_aurora.2.12.4",
                     "8.0.mysql_aurora.3.04.3", "8.0.mysql_aurora.3.05.2", "8.0.mysql_aurora.3.06.1",
                     "8.0.mysql_aurora.3.07.1", "8.0.mysql_aurora.3.08.0"],
    "aurora-postgresql": ["13.15", "14.12", "15.7", "15.8", "16.4", "16.6"],
}
ORDERABLE_CLASSES = ["db.t3.medium", "db.t4g.medium", "db.r5.large", "db.r6g.large", "db.r6g.xlarge",
                     "db.r7g.large", "db.serverless"]


def _version_tuple(version):
    """8.0.mysql_aurora.3.05.2 -> (3, 5, 2); 16.4 -> (16, 4)."""
    tail = version.split("mysql_aurora.")[-1]
    return tuple(int(p) for p in tail.split(".") if p.isdigit())


def _class_offered(engine, version, instance_class):
    mysql3 = engine == "aurora-mysql" and _version_tuple(version) >= (3,)
    if instance_class == "db.serverless":
        # Serverless v2: Aurora MySQL 3.02.0 and later, Aurora PostgreSQL 13.6 and later.
        minimum = (3, 2) if engine == "aurora-mysql" else (13, 6)
        return _version_tuple(version) >= minimum
    if instance_class == "db.r7g.large":
        return mysql3 or engine == "aurora-postgresql"
    if instance_class == "db.t3.medium":
        return not (engine == "aurora-postgresql" and _version_tuple(version) >= (16,))
    return True


def orderable_options(engine):
    options = []
    for version in ORDERABLE_VERSIONS.get(engine, []):
        for instance_class in ORDERABLE_CLASSES:
            if not _class_offered(engine, version, instance_class):
                continue
            for storage in ("aurora", "aurora-iopt1"):
                options.append({
                    "Engine": engine, "EngineVersion": version, "DBInstanceClass": instance_class,
                    "LicenseModel": "postgresql-license" if engine == "aurora-postgresql" else "general-public-license",
                    "AvailabilityZoneGroup": "us-east-1",
                    "AvailabilityZones": [{"Name": f"us-east-1{z}"} for z in "abcdf"],
                    "MultiAZCapable": True, "ReadReplicaCapable": False, "Vpc": True,
                    "SupportsStorageEncryption": True, "StorageType": storage, "SupportsIops": False,
                    "SupportsStorageThroughput": False, "SupportsEnhancedMonitoring": True,
                    "SupportsIAMDatabaseAuthentication": True, "SupportsPerformanceInsights": True,
                    "SupportedEngineModes": ["provisioned"], "SupportsStorageAutoscaling": False,
                    "SupportsKerberosAuthentication": True, "OutpostCapable": False,
                    "SupportsGlobalDatabases": instance_class.startswith("db.r"),
                    "SupportedNetworkTypes": ["IPV4", "DUAL"], "SupportsClusters": False,
                    "SupportsDedicatedLogVolume": False,
                })
    return options


# --- the patches ---------------------------------------------------------------------------------------

_applied = False


def _patch(cls, name):
    """Decorator: replace cls.name with the decorated function, which receives the original first."""
    original = getattr(cls, name)

    def install(function):
        @wraps(original)
        def replacement(*args, **kwargs):
            return function(original, *args, **kwargs)

        setattr(cls, name, replacement)
        return function

    return install


def apply():
    """Install both layers into moto (once per process); realistic rules act only while SIM.realistic."""
    global _applied
    if _applied:
        return
    _applied = True
    _apply_rds()
    _apply_route53()
    _apply_tagging()
    _apply_dispatch()


def stable_zone_ids():
    """Hosted zones get an id derived from their name, the same at every start of the sandbox's server, so the
    DEVDB_HOSTED_ZONE_ID a user wrote down stays valid (dev.example.com is always the same zone); a second zone
    of the same name gets a random one, as on AWS. Only the sandbox's server installs this."""
    import base64
    import hashlib

    from moto.route53.models import HostedZoneIdentifier

    original = HostedZoneIdentifier.generate

    def generate(self, existing_ids=None, tags=None):
        digest = base64.b32encode(hashlib.sha256(self.name.encode()).digest()).decode()
        stable = "Z0" + digest[:19]
        return stable if stable not in (existing_ids or ()) else original(self, existing_ids=existing_ids, tags=tags)

    HostedZoneIdentifier.generate = generate


def _rds_error(code, message):
    from moto.rds.exceptions import RDSClientError

    return RDSClientError(code, message)


IDENTIFIER_MAX = 63  # RDS: cluster and instance identifiers have 1 to 63 letters, digits or hyphens


def _check_identifier(kind, value):
    """AWS refuses an identifier longer than 63 characters (moto takes any)."""
    if value and len(value) > IDENTIFIER_MAX:
        raise _rds_error("InvalidParameterValue",
                         f"The parameter {kind} is not a valid identifier. Identifiers must begin with a letter; must "
                         f"contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain "
                         f"two consecutive hyphens. It must contain from 1 to {IDENTIFIER_MAX} characters.")


def _apply_rds():
    from moto.core.responses import ActionResult, PaginatedResult
    from moto.rds.exceptions import DBClusterNotFoundError, DBInstanceNotFoundError
    from moto.rds.models import DBCluster, DBInstance, RDSBackend
    from moto.rds.responses import RDSResponse

    aurora = tuple(DEFAULT_PORTS)

    original_default_storage = DBCluster.default_allocated_storage

    def default_allocated_storage(engine, storage_type):
        # Aurora storage grows by itself; moto does not know `aurora` / `aurora-iopt1`.
        return 1 if engine in aurora else original_default_storage(engine, storage_type)

    DBCluster.default_allocated_storage = staticmethod(default_allocated_storage)

    # moto flips `creating` to `available` on the first read; realistic mode leaves it to the timeline.
    lenient_status = DBCluster.status

    def get_status(cluster):
        return cluster._status if SIM.realistic else lenient_status.fget(cluster)

    DBCluster.status = property(get_status, lenient_status.fset)
    DBCluster.clone_group_id = None  # moto has no clone groups; the restore below sets them
    DBCluster.cross_account_source = None  # the ARN of the other account's cluster a clone was restored from
    DBCluster.cross_account_clone = property(lambda cluster: bool(cluster.cross_account_source))
    from moto.rds.utils import FilterDef

    # AWS's DescribeDBClusters filters: values are case-sensitive (identifiers are stored in lower case, so
    # "Prod" finds nothing), and clone-group-id lists a clone group.
    DBCluster.SUPPORTED_FILTERS = {
        **DBCluster.SUPPORTED_FILTERS,
        "db-cluster-id": FilterDef(["db_cluster_arn", "db_cluster_identifier"], "DB Cluster Identifiers"),
        "clone-group-id": FilterDef(["clone_group_id"], "Clone Group IDs"),
    }

    @_patch(RDSBackend, "create_db_cluster")
    def create_db_cluster(original, backend, kwargs):
        _check_identifier("DBClusterIdentifier", kwargs.get("db_cluster_identifier"))
        engine = kwargs.get("engine")
        if engine in aurora:
            version = kwargs.get("engine_version") or DBCluster.default_engine_version(engine)
            kwargs["engine_version"] = version
            kwargs["db_cluster_parameter_group_name"] = (kwargs.get("db_cluster_parameter_group_name")
                                                         or default_parameter_group(engine, version))
            kwargs["storage_type"] = kwargs.get("storage_type") or "aurora"
            kwargs["vpc_security_group_ids"] = (list(kwargs.get("vpc_security_group_ids") or [])
                                                or [default_security_group_id(backend.account_id, backend.region_name)])
        cluster = original(backend, kwargs)
        cluster.engine_lifecycle_support = kwargs.get("engine_lifecycle_support") or LIFECYCLE_DEFAULT
        if engine in aurora:
            _export_log_groups(backend, cluster)
        if not cluster.storage_encrypted:
            cluster.kms_key_id = None  # AWS reports no key for an unencrypted cluster
        if SIM.realistic:
            _set_status(cluster, cluster.status, "creating")
            SIM.later(SIM.delay("cluster-creating"), lambda: _set_status(cluster, "creating", "available"))
        return cluster

    @_patch(RDSBackend, "restore_db_cluster_to_point_in_time")
    def restore_db_cluster_to_point_in_time(original, backend, db_cluster_identifier, source_db_cluster_identifier,
                                            restore_type="full-copy", restore_to_time=None,
                                            use_latest_restorable_time=False, **overrides):
        if restore_to_time is not None and use_latest_restorable_time:
            raise _rds_error("InvalidParameterCombination",
                             "Cannot specify both RestoreToTime and UseLatestRestorableTime")
        shared = _shared_cluster(backend, source_db_cluster_identifier)
        if shared is not None:
            # Aurora: one cross-account clone of a cluster per account (a clone being deleted still counts).
            taken = sorted(c.db_cluster_identifier for c in backend.clusters.values()
                           if getattr(c, "cross_account_source", None) == shared.db_cluster_arn)
            if taken:
                raise _rds_error("DBClusterQuotaExceededFault",
                                 f"Only one cross-account clone of {shared.db_cluster_arn} is allowed per account; "
                                 f"{taken[0]} exists.")
        source = shared or backend.describe_db_clusters(db_cluster_identifier=source_db_cluster_identifier)[0]
        props = {key: getattr(source, key) for key in RESTORED_FROM_SOURCE}
        props["master_user_password"] = source._master_user_password
        props["kms_key_id"] = source.kms_key_id if source.storage_encrypted else None
        props.update({key: value for key, value in overrides.items() if value is not None})
        props["db_cluster_identifier"] = db_cluster_identifier
        clone = backend.create_db_cluster(props)
        if shared is not None:
            clone.cross_account_source = shared.db_cluster_arn
        # CloneGroupId: a copy-on-write clone puts the source (if not yet) and itself in one clone group;
        # a point-in-time full copy inherits the source's group (RDS API reference, DBCluster.CloneGroupId).
        if restore_type == "copy-on-write" and not source.clone_group_id:
            source.clone_group_id = str(uuid.uuid4())
        clone.clone_group_id = source.clone_group_id
        return clone

    @_patch(RDSBackend, "create_db_instance")
    def create_db_instance(original, backend, db_kwargs):
        _check_identifier("DBInstanceIdentifier", db_kwargs.get("db_instance_identifier"))
        cluster_id = db_kwargs.get("db_cluster_identifier")
        cluster = backend.clusters.get(cluster_id) if cluster_id else None
        if SIM.realistic and cluster is not None and cluster.status != "available":
            raise _rds_error("InvalidDBClusterStateFault",
                             f"DB cluster {cluster.db_cluster_identifier} is not in a valid state "
                             f"to add a DB instance: its status is {cluster.status}.")
        instance = original(backend, db_kwargs)
        if cluster is not None:
            instance.port = cluster.port  # an Aurora instance listens on its cluster's port
        too_big = _memory_overcommitted(backend, instance)
        if SIM.realistic:
            _set_status(instance, instance.status, "creating")
            creating, backing_up = SIM.delay("instance-creating"), SIM.delay("instance-backing-up")
            if too_big:  # it never starts: the status stays until the group or the class changes
                SIM.later(creating, lambda: _set_status(instance, "creating", INCOMPATIBLE_PARAMETERS))
            else:
                SIM.later(creating, lambda: _set_status(instance, "creating", "backing-up"))
                SIM.later(creating + backing_up, lambda: _set_status(instance, "backing-up", "available"))
        elif too_big:
            instance.status = INCOMPATIBLE_PARAMETERS
        return instance

    def default_db_parameter_group_details(instance):
        if instance.engine in aurora:
            return (parameter_group_family(instance.engine, instance.engine_version),
                    default_parameter_group(instance.engine, instance.engine_version))
        return original_details(instance)

    original_details = DBInstance.default_db_parameter_group_details
    DBInstance.default_db_parameter_group_details = default_db_parameter_group_details

    @_patch(RDSBackend, "delete_db_instance")
    def delete_db_instance(original, backend, db_instance_identifier, *args, **kwargs):
        if not SIM.realistic:
            return original(backend, db_instance_identifier, *args, **kwargs)
        instance = backend.databases.get(db_instance_identifier)
        if instance is None:
            raise DBInstanceNotFoundError(db_instance_identifier)
        if instance.status == "deleting":
            raise _rds_error("InvalidDBInstanceState", f"Instance {instance.db_instance_identifier} is already being deleted.")
        if instance.deletion_protection:
            return original(backend, db_instance_identifier, *args, **kwargs)  # moto's own refusal
        _set_status(instance, instance.status, "deleting")

        def vanish():
            if backend.databases.get(db_instance_identifier) is instance:
                original(backend, db_instance_identifier, *args, **kwargs)
                SIM.record(db_instance_identifier, "instance", "deleted")

        SIM.later(SIM.delay("instance-deleting"), vanish)
        return instance

    @_patch(RDSBackend, "delete_db_cluster")
    def delete_db_cluster(original, backend, cluster_identifier, snapshot_name=None):
        if not SIM.realistic:
            return original(backend, cluster_identifier, snapshot_name)
        cluster = backend.clusters.get(cluster_identifier)
        if cluster is None:
            raise DBClusterNotFoundError(cluster_identifier)
        if cluster.status == "deleting":
            raise _rds_error("InvalidDBClusterStateFault", f"Cluster {cluster.db_cluster_identifier} is already being deleted.")
        if any(i.status != "deleting" for i in cluster._members):
            raise _rds_error("InvalidDBClusterStateFault",
                             "Cluster cannot be deleted, it still contains DB instances in non-deleting state.")
        if cluster.deletion_protection:
            return original(backend, cluster_identifier, snapshot_name)  # moto's own refusal
        _set_status(cluster, cluster.status, "deleting")

        def vanish():
            if backend.clusters.get(cluster_identifier) is not cluster:
                return
            if cluster._members:  # its instances go first
                SIM.later(SIM.delay("cluster-deleting"), vanish)
            else:
                original(backend, cluster_identifier, snapshot_name)
                SIM.record(cluster_identifier, "cluster", "deleted")

        SIM.later(SIM.delay("instance-deleting") + SIM.delay("cluster-deleting"), vanish)
        return cluster

    @_patch(RDSBackend, "modify_db_cluster")
    def modify_db_cluster(original, backend, kwargs):
        cluster = backend.clusters.get(kwargs["db_cluster_identifier"])
        if SIM.realistic and cluster is not None and cluster.status != "available":
            raise _rds_error("InvalidDBClusterStateFault",
                             f"DB cluster {cluster.db_cluster_identifier} is not in available state: {cluster.status}.")
        new_password = kwargs.get("master_user_password")
        result = original(backend, kwargs)
        if SIM.realistic and new_password:
            pending, resetting = SIM.delay("password-pending"), SIM.delay("password-resetting")
            SIM.later(pending, lambda: _set_status(cluster, "available", "resetting-master-credentials"))
            SIM.later(pending + resetting, lambda: _set_status(cluster, "resetting-master-credentials", "available"))
        return result

    @_patch(RDSBackend, "stop_db_cluster")
    def stop_db_cluster(original, backend, cluster_identifier):
        result = original(backend, cluster_identifier)
        if SIM.realistic:
            cluster = backend.clusters[cluster_identifier]
            _set_status(cluster, cluster.status, "stopping")
            SIM.later(SIM.delay("cluster-stopping"), lambda: _stop_members(cluster))
        return result

    @_patch(RDSBackend, "start_db_cluster")
    def start_db_cluster(original, backend, cluster_identifier):
        result = original(backend, cluster_identifier)
        if not SIM.realistic:
            return result
        cluster = backend.clusters[cluster_identifier]
        for resource in (cluster, *cluster._members):
            _set_status(resource, resource.status, "starting")
        SIM.later(SIM.delay("cluster-starting"), lambda: _start_members(cluster))
        return cluster

    original_describe_clusters = RDSResponse.describe_db_clusters

    def describe_db_clusters(response):
        """A cluster of another account (the sandbox's stand-in for one shared through AWS RAM) is listed by
        its ARN only with IncludeShared, and then with few fields, as AWS lists shared clusters."""
        backend = response.backend
        identifier = response._get_param("DBClusterIdentifier")
        filters = response.params.get("Filters") or []
        asked = [identifier] if identifier else [v for f in filters if f.get("Name") == "db-cluster-id"
                                                 for v in f.get("Values", [])]
        foreign = [v for v in asked if _is_foreign_arn(backend, v)]
        if not foreign:
            return original_describe_clusters(response)
        include = str(response._get_param("IncludeShared")).lower() == "true"
        shared = [c for c in (_shared_cluster(backend, v) for v in foreign) if c is not None] if include else []
        if identifier:
            if not shared:
                raise DBClusterNotFoundError(identifier)
            return ActionResult({"DBClusters": [_shared_entry(c) for c in shared]})
        own_ids = [v for v in asked if v not in foreign]
        own = backend.describe_db_clusters(filters={"db-cluster-id": own_ids}) if own_ids else []
        return ActionResult({"DBClusters": list(own) + [_shared_entry(c) for c in shared]})

    RDSResponse.describe_db_clusters = describe_db_clusters

    def describe_orderable_db_instance_options(response):
        engine = response._get_param("Engine")
        if engine not in ORDERABLE_VERSIONS:
            return original_orderable(response)
        wanted = {"EngineVersion": response._get_param("EngineVersion"),
                  "DBInstanceClass": response._get_param("DBInstanceClass"),
                  "LicenseModel": response._get_param("LicenseModel"), "Vpc": response._get_param("Vpc")}
        options = [o for o in orderable_options(engine)
                   if all(value is None or o[key] == value for key, value in wanted.items())]
        return PaginatedResult({"OrderableDBInstanceOptions": options})

    original_orderable = RDSResponse.describe_orderable_db_instance_options
    RDSResponse.describe_orderable_db_instance_options = describe_orderable_db_instance_options

    def describe_account_attributes(response):
        backend = response.backend
        quotas = [
            ("DBClusters", len(backend.clusters), SIM.cluster_quota),
            ("DBInstances", len(backend.databases), 40),
            ("DBClusterParameterGroups", sum(not n.startswith("default.") for n in backend.db_cluster_parameter_groups), 50),
            ("DBParameterGroups", sum(not n.startswith("default.") for n in backend.db_parameter_groups), 50),
            ("DBSubnetGroups", len(backend.subnet_groups), 50),
            ("ManualClusterSnapshots", sum(s.snapshot_type == "manual" for s in backend.cluster_snapshots.values()), 100),
        ]
        return ActionResult({"AccountQuotas": [{"AccountQuotaName": name, "Used": used, "Max": top}
                                               for name, used, top in quotas]})

    RDSResponse.describe_account_attributes = describe_account_attributes


def _memory_overcommitted(backend, instance):
    """Whether the instance's DB parameter group asks for more memory than its class has (a fixed
    innodb_buffer_pool_size in bytes or shared_buffers in 8 kB pages, e.g. a production writer's group on a
    much smaller class): AWS leaves such an instance `incompatible-parameters`. A formula such as
    {DBInstanceClassMemory*3/4} scales with the class and always fits."""
    memory = CLASS_MEMORY_GIB.get(instance.db_instance_class)
    group = backend.db_parameter_groups.get(instance.db_parameter_group_name or "")
    if memory is None or group is None:
        return False
    for name, unit in MEMORY_PARAMETERS.items():
        value = str((group.parameters.get(name) or {}).get("ParameterValue") or "")
        if value.isdigit() and int(value) * unit >= memory * 2**30:
            return True
    return False


def _export_log_groups(backend, cluster):
    """RDS writes each exported log type of a cluster to the CloudWatch log group
    /aws/rds/cluster/<id>/<type>, made for it; the group outlives the cluster (deleting it is the owner's job)."""
    from moto.logs.models import logs_backends

    logs = logs_backends[backend.account_id][backend.region_name]
    for log_type in cluster.enabled_cloudwatch_logs_exports or ():
        name = f"/aws/rds/cluster/{cluster.db_cluster_identifier}/{log_type}"
        if name not in logs.groups:
            logs.create_log_group(name, {})


def _is_foreign_arn(backend, value):
    parts = str(value or "").split(":")
    return len(parts) == 7 and parts[0] == "arn" and parts[2] == "rds" and parts[5] == "cluster" \
        and parts[4] != backend.account_id


def _shared_cluster(backend, value):
    """The cluster of another account that an ARN names (any: the sandbox has no AWS RAM), or None."""
    from moto.rds.models import rds_backends

    if not _is_foreign_arn(backend, value):
        return None
    _, _, _, region, account, _, name = str(value).split(":")
    return rds_backends[account][region].clusters.get(name.lower())


def _shared_entry(cluster):
    """What DescribeDBClusters shows of a cluster shared from another account: no identifier, no key."""
    return {"DBClusterArn": cluster.db_cluster_arn, "Status": cluster.status, "Engine": cluster.engine,
            "EngineVersion": cluster.engine_version, "StorageEncrypted": bool(cluster.storage_encrypted),
            "Port": cluster.port}


def _set_status(resource, expected, status):
    """A due transition, made only if nothing else moved the resource meanwhile (e.g. a delete); recorded."""
    if resource.status == expected:
        resource.status = status
        instance = getattr(resource, "db_instance_identifier", None)
        SIM.record(instance or resource.db_cluster_identifier, "instance" if instance else "cluster", status)


def _apply_route53():
    from moto.route53.responses import Route53

    @_patch(Route53, "change_resource_record_sets")
    def change_resource_record_sets(original, response):
        result = original(response)
        if SIM.realistic:
            change_id = "C" + uuid.uuid4().hex[:13].upper()
            now = time.monotonic()
            SIM.changes[change_id] = now + SIM.delay("dns-pending")
            SIM.record(change_id, "change", "PENDING", at=now)
            SIM.record(change_id, "change", "INSYNC", at=SIM.changes[change_id])
            result.result["ChangeInfo"].update(Id=f"/change/{change_id}", Status="PENDING")
        return result

    @_patch(Route53, "get_change")
    def get_change(original, response):
        result = original(response)
        due = SIM.changes.get(str(response._get_param("Id")).rsplit("/", 1)[-1])
        if SIM.realistic and due is not None and time.monotonic() < due:
            result.result["ChangeInfo"]["Status"] = "PENDING"
        return result


def _apply_tagging():
    from moto.core.resource_tagging import make_tag_matcher, match_resource_type
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend

    @_patch(ResourceGroupsTaggingAPIBackend, "_get_resources_generator")
    def get_resources_generator(original, backend, tag_filters=None, resource_type_filters=None,
                                resource_arn_list=None):
        if not SIM.realistic:
            return original(backend, tag_filters=tag_filters, resource_type_filters=resource_type_filters,
                            resource_arn_list=resource_arn_list)
        matcher = make_tag_matcher(tag_filters)
        return iter([r for r in SIM.lagged_resources(backend.account_id, backend.region_name)
                     if (r.tags or r.extra.get("include_untagged"))
                     and match_resource_type(r.resource_type, resource_type_filters) and matcher(r.tags)
                     and (not resource_arn_list or r.arn in resource_arn_list)])


def _apply_dispatch():
    from moto.core.responses import BaseResponse

    @_patch(BaseResponse, "call_action")
    def call_action(original, response):
        """Before each request the due changes happen; after a change the tags are recorded for GetResources."""
        if not SIM.realistic:
            return original(response)
        with SIM.lock:
            SIM.regions.add((response.current_account, response.region))
            if SIM.advance():
                SIM.snapshot()
            result = original(response)
            action = response._get_action() or ""
            if not action.startswith(READ_PREFIXES):
                SIM.snapshot()
                SIM.record(action, "request", str(result[0]))  # a change asked for, and its HTTP status
            return result


def _stop_members(cluster):
    if cluster.status == "stopping":
        for resource in (cluster, *cluster._members):
            _set_status(resource, resource.status, "stopped")


def _start_members(cluster):
    if cluster.status == "starting":
        for resource in (cluster, *cluster._members):
            _set_status(resource, resource.status, "available")
