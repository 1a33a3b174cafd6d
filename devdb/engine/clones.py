"""What is there: this target's clones and the source, read from AWS tags and the live DNS record.

AWS tags are the source of truth: every step starts from this lookup, so a run killed at any
moment and started again finishes the same job.
"""

import os

from .. import flavours, lifecycle, parity, preflight
from ..conf import normalize_name
from ..errors import ConfigError, DevdbError, NotFound
from ..lifecycle import TAG_STATE, TAG_STATE_SINCE
from ..masking.rules import Key



class Lookup:
    """Facts about the target's clones; reads only.

    The engine sees the clones of one line: the daily clones (branch None) or one branch's. The
    target's other clones (branches, or the daily ones for a branch) are in `elsewhere`, never touched.
    """

    branch = None

    def now(self):
        return self.clock.now()

    @property
    def today(self):
        return lifecycle.clone_name(self.target.clone_prefix, lifecycle.utc_day(self.now()))

    def preflight(self, source=True):
        """Read-only checks that must pass before the first change: zone, record name, source."""
        try:
            zone = self.aws.hosted_zone(self.target.zone_id)
        except NotFound:
            raise ConfigError(f"HOSTED_ZONE_ID: hosted zone {self.target.zone_id} does not exist") from None
        if normalize_name(self.target.record_name) == normalize_name(zone.name):
            raise ConfigError(
                f"RECORD_NAME: {self.target.record_name} is the apex of hosted zone {zone.id} (the zone's own name), "
                f"where DNS allows no CNAME: use a name inside it, e.g. db.{zone.name.rstrip('.')}"
            )
        if not _in_zone(self.target.record_name, zone.name):
            raise ConfigError(
                f"RECORD_NAME: {self.target.record_name} is not inside hosted zone {zone.id} ({zone.name.rstrip('.')})"
            )
        if not source:
            return None
        self.name_value = preflight.check_stable_name(self.aws, self.target)  # where the name points
        try:
            source = self.aws.source(self.target.source_cluster)
        except NotFound:
            source = None
        return self.check_source(source)

    def check_source(self, source=None):
        """The source as read (by preflight or lookup), or a ConfigError naming what is wrong with it."""
        source = source or self._source
        if source is None:
            raise ConfigError(f"SOURCE_CLUSTER: cluster {self.target.source_cluster} does not exist")
        if source.engine not in flavours.ENGINES:
            raise ConfigError(f"SOURCE_CLUSTER: {source.id} is {source.engine}, not {flavours.SUPPORTED}")
        if self.target.master_password_env and not os.environ.get(self.target.master_password_env):
            raise ConfigError(f"MASTER_PASSWORD_ENV: environment variable {self.target.master_password_env} is not set")
        if self.target.mask:
            Key.from_env(os.environ)  # ConfigError before a clone is made that could not be masked
        if self._source is None or self._source.id != source.id:
            self._source = source
        return self._source

    def _is_source(self, cluster):
        return cluster.id.lower() == self.target.source_id or cluster.arn == self.target.source_cluster

    def lookup(self, also=()):
        """Find this target's clones (by tag, plus today's name and `also`) and read the source with its
        writer, in three AWS calls."""
        ids = {i.lower() for i in self.aws.tagged_cluster_ids(self.target.name)} | {self.today}
        ids |= {i.lower() for i in also} | {self.target.source_cluster}
        protected = self.settings.source_clusters
        self.clones, self.elsewhere = {}, {}
        for cluster in self.aws.clusters(ids):
            if self._is_source(cluster):
                self._source = cluster
                continue
            if not lifecycle.is_ours(cluster.tags, self.target.name):
                if cluster.id == self.today:
                    raise DevdbError(
                        f"cluster {cluster.id} exists but is not a django-devdb clone of target "
                        f"{self.target.name!r}; refusing to touch it (rename the target's CLONE_PREFIX or the cluster)"
                    )
                continue
            if cluster.id.lower() in protected:
                self.reporter.warning("%s is a source cluster but carries django-devdb tags; ignoring it", cluster.id)
                continue
            if lifecycle.branch_of(cluster.tags) != self.branch:
                self.elsewhere[cluster.id] = cluster
                continue
            self.clones[cluster.id] = cluster
        return self.clones

    def state(self, cluster):
        return cluster.tags.get(TAG_STATE, "")

    def since(self, cluster):
        return lifecycle.parse_time(cluster.tags.get(TAG_STATE_SINCE)) or cluster.created or self.now()

    def in_state(self, *states):
        return sorted((c for c in self.clones.values() if self.state(c) in states), key=self._age_key)

    def _age_key(self, cluster):
        day = lifecycle.clone_day(cluster.id, self.target.clone_prefix)
        return (day or lifecycle.utc_day(cluster.created or self.since(cluster)), cluster.created or self.since(cluster), cluster.id)

    def writer_id(self, cluster):
        return lifecycle.instance_name(cluster.id)

    def points_at(self):
        """The clone the stable name points at now (read live), as (value, cluster or None)."""
        value = self.aws.record_value(self.target.zone_id, self.target.record_name)
        self.outcome.points_at = value
        return value, self._clone_for(value)

    def _clone_for(self, value):
        if not value:
            return None
        for cluster in self.clones.values():
            if cluster_serves(cluster, value):
                return cluster
        return None

    def _ours(self, instance, cluster):
        return lifecycle.is_ours(instance.tags, self.target.name) or instance.id == self.writer_id(cluster)

    def parity(self, cluster):
        """How `cluster` compares with its source (a parity line), or None when the source was not read."""
        source = self._source
        if source is None or cluster.tags.get(lifecycle.TAG_SOURCE, source.id).lower() != source.id.lower():
            return None
        return parity.line(cluster.configuration, source, self.target)

    def _refresh_cluster(self, cluster, instances=True):
        fresh = self.aws.cluster(cluster.id, instances=instances)
        cluster.status, cluster.endpoint, cluster.port = fresh.status, fresh.endpoint, fresh.port
        cluster.config, cluster.writer_member, cluster.pending = fresh.config, fresh.writer_member, fresh.pending
        cluster.master_username, cluster.security_groups = fresh.master_username, fresh.security_groups
        if instances:
            cluster.instances = fresh.instances
        return cluster


def _in_zone(record_name, zone_name):
    record = record_name.rstrip(".").lower()
    zone = zone_name.rstrip(".").lower()
    return record != zone and record.endswith("." + zone)


def cluster_serves(cluster, value):
    """Whether a DNS value is one of this cluster's addresses."""
    if not value:
        return False
    value = value.rstrip(".").lower()
    if cluster.endpoint and value == cluster.endpoint.rstrip(".").lower():
        return True
    first_label = value.split(".", 1)[0]
    return first_label == cluster.id.lower() or first_label in {i.id.lower() for i in cluster.instances}
