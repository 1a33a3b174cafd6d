"""The one adapter to AWS: RDS, Route53, the Resource Groups Tagging API and CloudWatch Logs over boto3.

Nothing else in the project imports boto3. Clients are built once per Gateway with botocore's
standard retry mode (throttling, 5xx and connection errors are retried with backoff); what still
fails becomes an AwsError with one readable line. Lookups are by tag, paginated, and read tags
from TagList, so they cost the same in an account of 5 clusters or 5,000.
"""

import functools
from dataclasses import dataclass, field, replace
from datetime import datetime

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError, HTTPClientError
from botocore.parsers import ResponseParserError

from .errors import AlreadyExists, AwsError, NotFound, NotNow, Unavailable
from .lifecycle import TAG_MANAGED_BY, TAG_TARGET, MANAGED_BY, tag_dict, tag_list

NOT_FOUND = {"DBClusterNotFoundFault", "DBInstanceNotFound", "DBInstanceNotFoundFault", "NoSuchHostedZone"}
# AWS refuses a change while the resource is busy (creating, modifying, backing-up...): wait and retry.
NOT_NOW = {"InvalidDBClusterStateFault", "InvalidDBInstanceState", "InvalidDBInstanceStateFault"}
FAILED_STATUSES = {
    "failed", "cloning-failed", "migration-failed", "insufficient-capacity", "restore-error", "storage-full",
}
FAILED_PREFIXES = ("inaccessible-encryption-credentials", "incompatible-")
TAG_RESOURCES_MAX = 20  # ARNs per TagResources call


def has_failed(status):
    """Whether a cluster or instance status means it will never become available by itself."""
    return status in FAILED_STATUSES or status.startswith(FAILED_PREFIXES)


@dataclass
class Instance:
    id: str
    arn: str
    status: str
    cluster_id: str
    tags: dict = field(default_factory=dict)
    parameter_group: str | None = None
    instance_class: str | None = None

    @classmethod
    def from_api(cls, data):
        groups = data.get("DBParameterGroups") or [{}]
        return cls(
            id=data["DBInstanceIdentifier"],
            arn=data["DBInstanceArn"],
            status=data.get("DBInstanceStatus", "unknown"),
            cluster_id=data.get("DBClusterIdentifier", ""),
            tags=tag_dict(data.get("TagList")),
            parameter_group=groups[0].get("DBParameterGroupName"),
            instance_class=data.get("DBInstanceClass"),
        )


@dataclass(frozen=True)
class Configuration:
    """What a restore does not copy from its source (AWS defaults otherwise), as RDS describes a cluster.

    None / empty means "not given": the restore omits the parameter.
    """

    security_group_ids: tuple = ()
    subnet_group: str | None = None
    cluster_parameter_group: str | None = None
    port: int | None = None
    iam_auth: bool | None = None
    storage_type: str | None = None
    log_exports: tuple = ()
    roles: tuple = ()  # ((RoleArn, FeatureName), ...)
    writer_parameter_group: str | None = None

    @classmethod
    def from_api(cls, data, writer_parameter_group=None):
        return cls(
            security_group_ids=tuple(sorted(g["VpcSecurityGroupId"] for g in data.get("VpcSecurityGroups") or ())),
            subnet_group=data.get("DBSubnetGroup"),
            cluster_parameter_group=data.get("DBClusterParameterGroup"),
            port=data.get("Port"),
            iam_auth=data.get("IAMDatabaseAuthenticationEnabled"),
            storage_type=data.get("StorageType"),
            log_exports=tuple(sorted(data.get("EnabledCloudwatchLogsExports") or ())),
            roles=tuple(sorted((r["RoleArn"], r.get("FeatureName") or "") for r in data.get("AssociatedRoles") or ())),
            writer_parameter_group=writer_parameter_group,
        )


def kms_key(data):
    """An encrypted cluster's KMS key (DescribeDBClusters' entry), None when not encrypted. A shared entry may
    carry StorageEncrypted without its KmsKeyId: still encrypted, the key "not shown"."""
    return (data.get("KmsKeyId") or "not shown") if data.get("StorageEncrypted") else None


@dataclass
class Cluster:
    id: str
    arn: str
    status: str
    endpoint: str | None
    port: int | None
    engine: str
    engine_version: str | None
    tags: dict = field(default_factory=dict)
    created: datetime | None = None
    instances: list = field(default_factory=list)
    config: Configuration = field(default_factory=Configuration)
    writer_member: str | None = None  # the member with IsClusterWriter
    pending: tuple = ()  # names in PendingModifiedValues (e.g. MasterUserPassword while it is being reset)
    master_username: str | None = None
    security_groups: tuple = ()  # ((VpcSecurityGroupId, Status), ...): a swap is done when all are active
    reader_endpoint: str | None = None
    clone_group: str | None = None  # CloneGroupId: the source and its copy-on-write clones share it
    cross_account_clone: bool = False
    kms_key_id: str | None = None  # set when encrypted (see kms_key)

    @classmethod
    def from_api(cls, data):
        writers = [m["DBInstanceIdentifier"] for m in data.get("DBClusterMembers") or () if m.get("IsClusterWriter")]
        arn = data.get("DBClusterArn") or ""
        return cls(
            # A cluster shared from another account (IncludeShared) may come with few fields: no identifier.
            id=data.get("DBClusterIdentifier") or arn.rsplit(":", 1)[-1],
            arn=arn,
            status=data.get("Status", "unknown"),
            endpoint=data.get("Endpoint"),
            port=data.get("Port"),
            engine=data.get("Engine", "aurora-mysql"),
            engine_version=data.get("EngineVersion"),
            tags=tag_dict(data.get("TagList")),
            created=data.get("ClusterCreateTime"),
            config=Configuration.from_api(data),
            writer_member=writers[0] if writers else None,
            pending=tuple(sorted(data.get("PendingModifiedValues") or ())),
            master_username=data.get("MasterUsername"),
            security_groups=tuple(sorted((g["VpcSecurityGroupId"], g.get("Status", ""))
                                         for g in data.get("VpcSecurityGroups") or ())),
            reader_endpoint=data.get("ReaderEndpoint"),
            clone_group=data.get("CloneGroupId"),
            cross_account_clone=bool(data.get("CrossAccountClone")),
            kms_key_id=kms_key(data),
        )

    @property
    def configuration(self):
        """Its configuration, with the writer's parameter group when its writer was described too."""
        writer = next((i for i in self.instances if i.id == self.writer_member), None)
        if writer is None:
            return self.config
        return replace(self.config, writer_parameter_group=writer.parameter_group)


@dataclass(frozen=True)
class HostedZone:
    id: str
    name: str


# AddRoleToDBCluster's fault is DBClusterRoleAlreadyExistsFault, its error code DBClusterRoleAlreadyExists (botocore).
ALREADY_EXISTS = {"DBClusterAlreadyExistsFault", "DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault",
                  "DBClusterRoleAlreadyExists", "DBClusterRoleAlreadyExistsFault"}
# Still failing after botocore's retries, but not about the request: AWS may answer it later.
UNAVAILABLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
                     "RequestThrottled", "RequestThrottledException", "SlowDown", "PriorRequestNotComplete",
                     "ServiceUnavailable", "InternalFailure", "InternalError", "RequestTimeout", "RequestTimeoutException",
                     # the Tagging API's (GetResources, TagResources) and CloudWatch Logs' own, as botocore documents them
                     "ThrottledException", "InternalServiceException", "ServiceUnavailableException"}


def _wrap(operation):
    """Turn botocore failures (after its retries) into one-line AwsErrors."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code = error.get("Code", "Error")
                message = (error.get("Message") or "").splitlines()[0:1]
                text = f"AWS {operation} failed: {code}" + (f": {message[0]}" if message else "")
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
                kind = (NotFound if code in NOT_FOUND else AlreadyExists if code in ALREADY_EXISTS
                        else NotNow if code in NOT_NOW
                        else Unavailable if code in UNAVAILABLE_CODES or status >= 500 else AwsError)
                raise kind(text) from exc
            except (BotoConnectionError, HTTPClientError) as exc:  # no answer (connection refused, timeout...)
                raise Unavailable(f"AWS {operation} failed: {_one_line(exc)}") from exc
            except BotoCoreError as exc:
                raise AwsError(f"AWS {operation} failed: {_one_line(exc)}") from exc
            except ResponseParserError as exc:  # not BotoCoreError: an answer botocore cannot read
                raise AwsError(f"AWS {operation} failed: unreadable response ({_one_line(exc)})") from exc

        return wrapper

    return decorate


def _one_line(exc, limit=300):
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


class Gateway:
    """RDS + Route53 + Tagging (+ CloudWatch Logs, to delete deleted clones' log groups) for one run. Every method is one AWS operation (or one paginated listing)."""

    def __init__(self, *, max_attempts=8, session=None, region_name=None):
        session = session or boto3.session.Session()
        config = Config(
            # total_max_attempts counts the first try (like AWS_MAX_ATTEMPTS in boto's own config);
            # Config's "max_attempts" would count retries only, i.e. one attempt more than asked.
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            connect_timeout=10,
            read_timeout=60,
            user_agent_extra="django-devdb",
        )
        try:
            self.rds = session.client("rds", config=config, region_name=region_name)
            self.route53 = session.client("route53", config=config, region_name=region_name)
            self.tagging = session.client("resourcegroupstaggingapi", config=config, region_name=region_name)
            self.logs = session.client("logs", config=config, region_name=region_name)
        except BotoCoreError as exc:  # e.g. no region configured
            raise AwsError(f"AWS client setup failed: {exc} (set AWS_REGION or AWS_DEFAULT_REGION)") from exc
        self.operations = []  # names of the API operations made, for status and benchmarks
        for client in self.clients:
            client.meta.events.register("before-call", self._count)

    @property
    def clients(self):
        return (self.rds, self.route53, self.tagging, self.logs)

    def _count(self, model, **kwargs):
        self.operations.append(model.name)

    # --- lookups -------------------------------------------------------------------------------

    @_wrap("DescribeDBClusters")
    def cluster(self, cluster_id, instances=True):
        """One cluster with its instances (two calls; one with instances=False), or NotFound."""
        data = self.rds.describe_db_clusters(**_shared(DBClusterIdentifier=cluster_id))["DBClusters"][0]
        cluster = Cluster.from_api(data)
        if instances:
            cluster.instances = self.instances([cluster_id])
        return cluster

    @_wrap("DescribeDBClusters")
    def source(self, cluster_id):
        """The source cluster, without its instances (it is only read, never changed). An ARN (a cluster
        shared from another account) is looked up with IncludeShared."""
        return Cluster.from_api(self.rds.describe_db_clusters(**_shared(DBClusterIdentifier=cluster_id))["DBClusters"][0])

    @_wrap("DescribeDBClusters")
    def clone_group(self, group_id):
        """The clusters of this account in clone group `group_id` (the source and its clones, clones of
        clones included): one paginated call, filtered by clone-group-id."""
        paginator = self.rds.get_paginator("describe_db_clusters")
        found = []
        for page in paginator.paginate(Filters=[{"Name": "clone-group-id", "Values": [group_id]}]):
            found.extend(Cluster.from_api(c) for c in page.get("DBClusters", []))
        return found

    @_wrap("GetResources")
    def tagged_cluster_ids(self, target_name):
        """Ids of the clusters tagged as this target's clones (Resource Groups Tagging API)."""
        paginator = self.tagging.get_paginator("get_resources")
        ids = []
        for page in paginator.paginate(
            ResourceTypeFilters=["rds:cluster"],
            TagFilters=[
                {"Key": TAG_MANAGED_BY, "Values": [MANAGED_BY]},
                {"Key": TAG_TARGET, "Values": [target_name]},
            ],
        ):
            for item in page.get("ResourceTagMappingList", []):
                ids.append(item["ResourceARN"].rsplit(":", 1)[-1])
        return ids

    @_wrap("DescribeDBClusters")
    def clusters(self, cluster_ids):
        """The named clusters that exist, each with its instances: two paginated calls in all."""
        cluster_ids = sorted(set(cluster_ids))
        if not cluster_ids:
            return []
        found = []
        paginator = self.rds.get_paginator("describe_db_clusters")
        for chunk in _chunks(cluster_ids, 100):
            # db-cluster-id takes identifiers and ARNs; an ARN of another account's cluster needs IncludeShared.
            for page in paginator.paginate(**_shared(chunk, Filters=[{"Name": "db-cluster-id", "Values": chunk}])):
                found.extend(Cluster.from_api(item) for item in page.get("DBClusters", []))
        by_id = {c.id.lower(): c for c in found}
        for instance in self.instances(list(by_id)):
            if instance.cluster_id.lower() in by_id:
                by_id[instance.cluster_id.lower()].instances.append(instance)
        return sorted(found, key=lambda c: c.id)

    @_wrap("DescribeDBInstances")
    def instances(self, cluster_ids):
        if not cluster_ids:
            return []
        paginator = self.rds.get_paginator("describe_db_instances")
        instances = []
        for chunk in _chunks(sorted(cluster_ids), 100):
            for page in paginator.paginate(Filters=[{"Name": "db-cluster-id", "Values": chunk}]):
                instances.extend(Instance.from_api(item) for item in page.get("DBInstances", []))
        return instances

    @_wrap("GetHostedZone")
    def hosted_zone(self, zone_id):
        zone = self.route53.get_hosted_zone(Id=zone_id)["HostedZone"]
        return HostedZone(id=zone["Id"].rsplit("/", 1)[-1], name=zone["Name"])

    def record_value(self, zone_id, record_name):
        """Where the CNAME record_name points now (lower-case, no trailing dot), or None: one call."""
        return cname_value(self.record_sets(zone_id, record_name))

    # --- changes -------------------------------------------------------------------------------

    @_wrap("RestoreDBClusterToPointInTime")
    def restore_clone(self, *, cluster_id, source_id, tags, config, kms_key_id=None, engine_lifecycle_support=None,
                      serverless=None):
        """A copy-on-write clone of source_id configured as `config` says (a restore copies only the data).

        serverless: (min ACU, max ACU, seconds until auto-pause or None), or None for a provisioned writer.
        """
        params = {
            "DBClusterIdentifier": cluster_id,
            "SourceDBClusterIdentifier": source_id,
            "RestoreType": "copy-on-write",
            "UseLatestRestorableTime": True,
            "Tags": tag_list(tags),
        }
        optional = {
            "VpcSecurityGroupIds": list(config.security_group_ids),
            "DBSubnetGroupName": config.subnet_group,
            "DBClusterParameterGroupName": config.cluster_parameter_group,
            "Port": config.port,
            "EnableIAMDatabaseAuthentication": config.iam_auth,
            "StorageType": config.storage_type,
            "EnableCloudwatchLogsExports": list(config.log_exports),
            "KmsKeyId": kms_key_id,
            "EngineLifecycleSupport": engine_lifecycle_support,
        }
        params.update({key: value for key, value in optional.items() if value not in (None, [], "")})
        if serverless:
            minimum, maximum, pause = serverless
            scaling = {"MinCapacity": minimum, "MaxCapacity": maximum}
            if pause is not None:
                scaling["SecondsUntilAutoPause"] = pause
            params["ServerlessV2ScalingConfiguration"] = scaling
        return Cluster.from_api(self.rds.restore_db_cluster_to_point_in_time(**params)["DBCluster"])

    @_wrap("CreateDBInstance")
    def create_writer(self, *, instance_id, cluster_id, instance_class, engine, tags, publicly_accessible=False,
                      parameter_group=None):
        params = {
            "DBInstanceIdentifier": instance_id,
            "DBClusterIdentifier": cluster_id,
            "DBInstanceClass": instance_class,
            "Engine": engine,
            "PubliclyAccessible": publicly_accessible,
            "Tags": tag_list(tags),
        }
        if parameter_group:
            params["DBParameterGroupName"] = parameter_group
        item = self.rds.create_db_instance(**params)["DBInstance"]
        instance = Instance.from_api(item)
        instance.tags = dict(tags)
        return instance

    @_wrap("AddRoleToDBCluster")
    def add_role(self, cluster_id, role_arn, feature_name):
        params = {"DBClusterIdentifier": cluster_id, "RoleArn": role_arn}
        if feature_name:
            params["FeatureName"] = feature_name
        self.rds.add_role_to_db_cluster(**params)

    @_wrap("StartDBCluster")
    def start_cluster(self, cluster_id):
        return Cluster.from_api(self.rds.start_db_cluster(DBClusterIdentifier=cluster_id)["DBCluster"])

    @_wrap("StopDBCluster")
    def stop_cluster(self, cluster_id):
        """Stop an available cluster (AWS refuses any other status: NotNow). Aurora starts a cluster
        stopped for seven days by itself; the daily clean stops it again."""
        return Cluster.from_api(self.rds.stop_db_cluster(DBClusterIdentifier=cluster_id)["DBCluster"])

    @_wrap("DeleteLogGroup")
    def delete_log_groups(self, cluster_id, log_types):
        """Delete the CloudWatch log groups RDS made for a cluster's exported logs,
        /aws/rds/cluster/<id>/<type> (one call a type); a group that does not exist is no error.
        Returns the names deleted."""
        deleted = []
        for log_type in sorted(set(log_types)):
            name = log_group_name(cluster_id, log_type)
            try:
                self.logs.delete_log_group(logGroupName=name)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                continue
            deleted.append(name)
        return deleted

    @_wrap("TagResources")
    def tag(self, arns, tags):
        """Add `tags` to every ARN: one Resource Groups Tagging API call per 20 resources."""
        for chunk in _chunks(list(arns), TAG_RESOURCES_MAX):
            failed = self.tagging.tag_resources(ResourceARNList=chunk, Tags=dict(tags)).get("FailedResourcesMap") or {}
            for arn, info in failed.items():
                raise AwsError(f"AWS TagResources failed for {arn.rsplit(':', 1)[-1]}: "
                               f"{info.get('ErrorCode', 'Error')}: {info.get('ErrorMessage', '')}".rstrip(": "))

    @_wrap("ModifyDBCluster")
    def set_master_password(self, cluster_id, password):
        """Returns the cluster as the response describes it (the reset shows in its PendingModifiedValues)."""
        response = self.rds.modify_db_cluster(DBClusterIdentifier=cluster_id, MasterUserPassword=password,
                                              ApplyImmediately=True)
        return Cluster.from_api(response["DBCluster"])

    @_wrap("ModifyDBCluster")
    def set_security_groups(self, cluster_id, group_ids):
        """Replace the clone's VPC security groups now (not in the maintenance window: ApplyImmediately);
        returns the cluster as the response describes it."""
        response = self.rds.modify_db_cluster(DBClusterIdentifier=cluster_id, VpcSecurityGroupIds=list(group_ids),
                                              ApplyImmediately=True)
        return Cluster.from_api(response["DBCluster"])

    @_wrap("ChangeResourceRecordSets")
    def upsert_cname(self, zone_id, record_name, value, ttl, comment):
        response = self.route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Comment": comment,
                "Changes": [{
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": record_name, "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": value}],
                    },
                }],
            },
        )
        return response["ChangeInfo"]["Id"], response["ChangeInfo"]["Status"]

    @_wrap("ChangeResourceRecordSets")
    def delete_cname(self, zone_id, record, comment):
        """DELETE the plain CNAME `record` (a RecordSet as record_sets() read it: Route53 deletes only an
        exact match of name, type, TTL and values). Returns (change id, status)."""
        response = self.route53.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Comment": comment,
                "Changes": [{
                    "Action": "DELETE",
                    "ResourceRecordSet": {
                        "Name": record.name, "Type": "CNAME", "TTL": record.ttl,
                        "ResourceRecords": [{"Value": value} for value in record.values],
                    },
                }],
            },
        )
        return response["ChangeInfo"]["Id"], response["ChangeInfo"]["Status"]

    @_wrap("GetChange")
    def change_status(self, change_id):
        return self.route53.get_change(Id=change_id)["ChangeInfo"]["Status"]

    @_wrap("DeleteDBInstance")
    def delete_instance(self, instance_id):
        """Returns the instance's status after the call ('deleting' once AWS has accepted it)."""
        item = self.rds.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)["DBInstance"]
        return item.get("DBInstanceStatus", "deleting")

    @_wrap("DeleteDBCluster")
    def delete_cluster(self, cluster_id):
        self.rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)

    # --- preflight lookups (read-only; devdb.preflight decides what they mean) ----------------------

    @_wrap("ListResourceRecordSets")
    def record_sets(self, zone_id, record_name):
        """Every record set named record_name, of any type or routing policy, in one call.

        Listing starts at the name (no type) and records of one name come together, so one page of
        Route53's maximum of 300 holds them all (a name may carry many weighted or latency sets).
        """
        wanted = _fqdn(record_name)
        response = self.route53.list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=wanted, MaxItems=str(RECORD_SETS_PAGE)
        )
        found = (RecordSet.from_api(item) for item in response.get("ResourceRecordSets", []))
        return [record for record in found if record.name == wanted]

    @_wrap("DescribeOrderableDBInstanceOptions")
    def orderable_classes(self, engine, engine_version):
        """The instance classes RDS offers for this engine version (one call: pages hold 1,000 options).

        Not filtered by class, so an empty answer (the version is not listed) differs from "not offered".
        """
        paginator = self.rds.get_paginator("describe_orderable_db_instance_options")
        classes = set()
        for page in paginator.paginate(Engine=engine, EngineVersion=engine_version, Vpc=True,
                                       PaginationConfig={"PageSize": 1000}):
            classes.update(o["DBInstanceClass"] for o in page.get("OrderableDBInstanceOptions", []))
        return classes

    @_wrap("DescribeAccountAttributes")
    def account_quota(self, name):
        """(used, max) of the RDS account quota `name` (e.g. DBClusters), or None when it is not reported."""
        quotas = self.rds.describe_account_attributes().get("AccountQuotas", [])
        for quota in quotas:
            if quota.get("AccountQuotaName") == name:
                return quota.get("Used", 0), quota.get("Max", 0)
        return None

    @_wrap("DescribeDBClusters")
    def source_access(self, cluster_id):
        """What cloning the source needs beyond RDS: its KMS key (when encrypted) and its IAM roles.

        cluster_id may be the ARN of a cluster shared from another account (IncludeShared lists those).
        """
        data = self.rds.describe_db_clusters(**_shared(DBClusterIdentifier=cluster_id))["DBClusters"][0]
        return SourceAccess(
            kms_key_id=kms_key(data),
            role_arns=tuple(sorted(r["RoleArn"] for r in data.get("AssociatedRoles") or ())),
        )


# --- preflight lookups: what the Gateway's preflight section returns ---------------------------------

RECORD_SETS_PAGE = 300  # ListResourceRecordSets' largest page
# Fields of a record set with a routing policy other than simple (or made by a traffic policy).
ROUTING_FIELDS = ("SetIdentifier", "Weight", "Region", "Failover", "GeoLocation", "GeoProximityLocation",
                  "MultiValueAnswer", "CidrRoutingConfig", "TrafficPolicyInstanceId")


@dataclass(frozen=True)
class RecordSet:
    name: str  # lower case, with the trailing dot
    type: str
    values: tuple = ()
    alias_target: str | None = None  # the DNS name an alias record points at
    routing: tuple = ()  # the ROUTING_FIELDS it carries
    ttl: int | None = None

    @classmethod
    def from_api(cls, data):
        alias = data.get("AliasTarget")
        return cls(
            name=_fqdn(data["Name"].replace("\\052", "*")),
            type=data["Type"],
            values=tuple(r["Value"] for r in data.get("ResourceRecords") or ()),
            alias_target=alias["DNSName"].rstrip(".").lower() if alias else None,
            routing=tuple(f for f in ROUTING_FIELDS if f in data and data[f] is not False),  # Weight 0 counts
            ttl=data.get("TTL"),
        )


@dataclass(frozen=True)
class SourceAccess:
    kms_key_id: str | None = None
    role_arns: tuple = ()


def log_group_name(cluster_id, log_type):
    """The log group RDS exports a cluster's `log_type` log to (EnableCloudwatchLogsExports)."""
    return f"/aws/rds/cluster/{cluster_id.lower()}/{log_type}"


def cname_value(records):
    """Where the CNAME among `records` points (lower-case, no trailing dot), or None."""
    for record in records:
        if record.type == "CNAME" and record.values:
            return record.values[0].rstrip(".").lower()
    return None


def _fqdn(name):
    return name.rstrip(".").lower() + "."


def _shared(ids=None, **params):
    """DescribeDBClusters parameters: IncludeShared when a cluster asked for is given by its ARN (a
    cluster shared from another account is listed only with it)."""
    asked = ids if ids is not None else [params.get("DBClusterIdentifier") or ""]
    if any(str(i).startswith("arn:") for i in asked):
        params["IncludeShared"] = True
    return params


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]
