"""Branches: on-demand clones of the target's source, one line per NAME, each with its own CNAME and expiry.

A branch is the daily engine's parts seen through three parameters: the clone's name
(`<CLONE_PREFIX>-<NAME>`), its record name (`<NAME>.<RECORD_NAME>`, in the target's zone) and its tags
(the lifecycle tags plus devdb:branch, devdb:expires-at, devdb:owner). The lookup keeps the lines apart:
the daily engine never sees a branch clone as its own, a branch never sees the daily clone. A branch is
cloned, made ready (the same readiness steps, masking included), connected (its CNAME) and cleaned by the
same code as the daily clone; expiry is the daily run's: clean_devdb and refresh_devdb delete branches
past devdb:expires-at.
"""

from dataclasses import replace

from .. import history, lifecycle, preflight, validators
from ..errors import ConfigError, Invalid, Locked
from ..locks import Lease, lease_name
from ..lifecycle import (ABORTED, CONNECTED, CREATED, READY, TAG_BRANCH, TAG_EXPIRES_AT, TAG_OWNER, branch_of,
                         format_time, parse_time)
from .clones import cluster_serves

LIVE = (CREATED, READY, CONNECTED)


def ttl(value, what="--ttl", ceiling=None):
    """A lifetime, or a ConfigError: not a duration, or beyond `ceiling` (BRANCH_MAX_TTL)."""
    try:
        life = validators.duration(value)
    except Invalid as exc:
        raise ConfigError(f"{what}: {exc}") from None
    if ceiling is not None and life > ceiling:
        raise ConfigError(f"{what}: {value} is longer than BRANCH_MAX_TTL ({_days(ceiling)})")
    return life


def _days(delta):
    """A timedelta as BRANCH_TTL is written: 30d, 12h, 90m."""
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 1440}d" if minutes % 1440 == 0 else f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


class BranchLine:
    """The overrides that make an Engine one branch's: its name, record name, tags, class and quota."""

    waits = True  # False: `create --no-wait` (return once the restore is requested)

    def __init__(self, target, gateway, settings, name, **options):
        if problem := lifecycle.branch_name_problem(name):
            raise ConfigError(f"NAME: {problem}")
        if target.cross_account:
            raise ConfigError(f"SOURCE_CLUSTER: target {target.name!r} clones a cluster shared from another account "
                              f"({target.source_cluster}); AWS allows one clone of it per account, the daily one: no branches")
        self.branch = name
        self.cluster_name = lifecycle.branch_cluster_name(target.clone_prefix, name)
        # The longest id a branch makes: the writer of a --reset clone, <prefix>-<NAME>-rYYMMDDhhmmss-1.
        longest = lifecycle.instance_name(lifecycle.branch_cluster_name(target.clone_prefix, name, _LONGEST))
        if problem := lifecycle.identifier_problem(longest):
            raise ConfigError(f"NAME: branch {name} of {target.name!r} would have writers named "
                              f"{self.cluster_name}-rYYMMDDhhmmss-1, which {problem}: choose a shorter NAME or CLONE_PREFIX")
        branch_target = replace(target, record_name=lifecycle.branch_record_name(name, target.record_name),
                                instance_class=target.branch_instance_class, serverless_seconds_until_auto_pause=None)
        super().__init__(branch_target, gateway, settings, **options)
        self.expires_at, self.owner = None, ""

    @property
    def today(self):
        """The name of this branch's clone to make (or finish): what `today` is to the daily engine."""
        return self.cluster_name

    def clone_extra_tags(self, cluster=None):
        tags = dict(self.target.extra_tags)
        if cluster is not None:
            tags.update({k: cluster.tags[k] for k in lifecycle.BRANCH_TAG_KEYS if k in cluster.tags})
        else:
            tags.update({TAG_BRANCH: self.branch, TAG_EXPIRES_AT: format_time(self.expires_at), TAG_OWNER: self.owner})
        return tags

    def keep(self):
        """KEEP_ABORTED keeps daily clones for rollback, never a branch's: an aborted branch clone is
        deleted (after the grace), not left running."""
        return set()

    def before_clone(self, source):
        daily = sum(1 for c in self.elsewhere.values() if branch_of(c.tags) is None)
        preflight.before_branch(self.aws, self.target, source, daily_clones=daily, reporter=self.reporter)
        preflight.warn_extended_support(self.target, source, self.reporter, self.now())

    def _finish(self, cluster):
        if not self.waits:  # --no-wait: the restore is requested; `create` again finishes it
            return
        super()._finish(cluster)

    # --- the commands ----------------------------------------------------------------------------

    def create(self, ttl_text=None, owner="", reset=False, wait=True):
        """Make the branch (or, with reset, a fresh clone of it that takes over its CNAME), ready and
        connected; a branch a killed or --no-wait run left unfinished is finished. Returns describe()."""
        life = ttl(ttl_text or self.target.branch_ttl, "--ttl" if ttl_text else "BRANCH_TTL", self.target.branch_max_ttl)
        self.waits = wait
        self.owner = validators.owner(owner)
        self.preflight(source=False)
        preflight.check_stable_name(self.aws, self.target)
        self.sync()
        source = self.check_source()
        connected = self.in_state(CONNECTED)
        unfinished = [c for c in self.in_state(CREATED, READY)
                      if not connected or self._age_key(c) > self._age_key(connected[-1])]
        if connected and not reset and not unfinished:
            raise ConfigError(f"NAME: branch {self.branch} of target {self.target_name!r} exists ({connected[-1].id}, "
                              f"expires {self.expiry(connected[-1]) or 'never'}): give --reset for a fresh clone, or "
                              "use `extend` or `delete`")
        self.expires_at = self.now() + life
        if unfinished:
            cluster = unfinished[-1]
            self._finish(cluster)
        else:
            if self.target.serverless:  # cheap by default: the lowest capacity the source's version allows
                self.target = replace(self.target, serverless_min_acu=preflight.branch_min_acu(source))
            if self.cluster_name in self.clones or history.find(self.cluster_name):
                self.cluster_name = lifecycle.branch_cluster_name(self.target.clone_prefix, self.branch, self.now())
            cluster = self.clone()
        if cluster is None or not wait:  # a dry run, or --no-wait
            return self.describe(cluster)
        if self.state(cluster) == CREATED:
            self.changes.step(f"wait until {cluster.id} is ready", lambda: self.wait_ready(cluster))
        self.connect()
        self.wait_grace(self.target.clean_grace)
        self.clean()
        return self.describe(cluster)

    def extend(self, ttl_text):
        """Move the expiry of the branch's live clones to now + ttl, unless they already expire later: an
        extension never shortens a branch (the expiry stays, with a warning). ttl is at most BRANCH_MAX_TTL."""
        life = ttl(ttl_text, ceiling=self.target.branch_max_ttl)
        self.sync()
        live = self.in_state(*LIVE)
        if not live:
            raise ConfigError(f"NAME: target {self.target_name!r} has no branch {self.branch}")
        current = max((t for t in (parse_time(self.expiry(c)) for c in live) if t), default=None)
        if current is not None and current >= self.now() + life:
            self.reporter.warning("branch %s already expires at %s, later than %s from now: expiry unchanged",
                                  self.branch, format_time(current), ttl_text)
            return self.describe(live[-1])
        expires = format_time(self.now() + life)
        for cluster in live:
            self.changes.make(f"set {cluster.id} to expire at {expires}",
                              lambda cluster=cluster: self._tag_expiry(cluster, expires))
        return self.describe(live[-1])

    def _tag_expiry(self, cluster, expires):
        instances = [i for i in cluster.instances if self._ours(i, cluster)]
        self.aws.tag([cluster.arn] + [i.arn for i in instances], {TAG_EXPIRES_AT: expires})
        for resource in [cluster] + instances:
            resource.tags[TAG_EXPIRES_AT] = expires
        self._mirror(cluster, self.state(cluster), self.now(), message=f"expiry moved to {expires}")

    def delete(self, missing_ok=False):
        """Remove the branch: its CNAME, then its clones. missing_ok: a branch already gone (expired, deleted) is
        no error, so a pull request closed after its branch expired does not fail CI."""
        self.preflight(source=False)
        self.sync()
        if not self.clones and missing_ok:
            return {"target": self.target.name, "branch": self.branch, "host": self.target.record_name, "port": None,
                    "cluster": None, "endpoint": None, "state": "missing", "expires_at": None, "owner": ""}
        if not self.clones:
            raise ConfigError(f"NAME: target {self.target_name!r} has no branch {self.branch}")
        shown = self.describe(self.newest())
        self.remove("deleted by branch_devdb delete")
        shown["state"] = "deleted"
        return shown

    def remove(self, reason):
        """Delete the CNAME (only where it points at this branch), abort the live clones, delete them all."""
        self.drop_cname()
        for cluster in self.in_state(*LIVE):
            self.set_state(cluster, ABORTED, message=reason)
        return self.clean(grace=0)

    def drop_cname(self):
        record = self.target.record_name
        found = [r for r in self.aws.record_sets(self.target.zone_id, record) if r.type == "CNAME" and r.values]
        for record_set in found:
            value = record_set.values[0].rstrip(".").lower()
            if not any(cluster_serves(c, value) for c in self.clones.values()):
                self.reporter.warning("not deleting %s: it points at %s, not at branch %s", record, value, self.branch)
                continue
            self.changes.make(f"delete {record} (pointed at {value})",
                              lambda record_set=record_set: self.aws.delete_cname(
                                  self.target.zone_id, record_set, comment=f"django-devdb: branch {self.branch} removed"))

    # --- facts -----------------------------------------------------------------------------------

    @property
    def target_name(self):
        return self.target.name

    def newest(self):
        live = self.in_state(CONNECTED) or self.in_state(*LIVE) or self.in_state(ABORTED)
        return live[-1] if live else None

    def expiry(self, cluster):
        return cluster.tags.get(TAG_EXPIRES_AT) if cluster is not None else None

    def describe(self, cluster):
        """What CI exports: the branch's host (its CNAME), port, expiry and state."""
        tags = cluster.tags if cluster is not None else self.clone_extra_tags()
        return {
            "target": self.target.name, "branch": self.branch, "host": self.target.record_name,
            "port": getattr(cluster, "port", None), "cluster": getattr(cluster, "id", self.cluster_name),
            "endpoint": getattr(cluster, "endpoint", None), "state": self.state(cluster) if cluster else "planned",
            "expires_at": tags.get(TAG_EXPIRES_AT), "owner": tags.get(TAG_OWNER, ""),
        }


_LONGEST = parse_time("2099-12-31T23:59:59Z")


class Branches:
    """The daily engine's view of the target's branches: listing them, expiring them."""

    def branch_engine(self, name):
        """The engine of branch `name`, sharing this run's clock, reporter and changes (not its outcome:
        what the daily name points at stays the daily record's)."""
        from . import Branch

        engine = Branch(self.target, self.aws, self.settings, name, clock=self.clock, reporter=self.reporter,
                        heartbeat=self.heartbeat)
        engine.changes, engine._source = self.changes, self._source
        engine.clones = {c.id: c for c in self.elsewhere.values() if branch_of(c.tags) == name}
        engine.elsewhere = {c.id: c for c in list(self.clones.values()) + list(self.elsewhere.values())
                            if c.id not in engine.clones}
        return engine

    def branch_names(self):
        return sorted({branch_of(c.tags) for c in self.elsewhere.values()} - {None})

    @staticmethod
    def _branch_expiry(branch):
        expiries = [parse_time(branch.expiry(c)) for c in branch.clones.values()]
        return max((t for t in expiries if t), default=None)

    def _expire_branch(self, branch):
        """Take the branch's lease, read its clones and expiry tags afresh, and delete it if it has still expired."""
        lease = Lease(lease_name(self.target.name, branch.branch), self.settings.lock_expiry)
        try:
            lease.acquire()
        except Locked as exc:
            self.reporter.warning("branch %s has expired but is not deleted now: %s", branch.branch, exc)
            return
        try:
            # Read again under the lease, all in two calls (a cluster gone meanwhile is simply not returned).
            branch.clones = {cluster.id: cluster for cluster in self.aws.clusters(list(branch.clones))
                             if branch_of(cluster.tags) == branch.branch}
            expires = self._branch_expiry(branch)
            if expires is None or expires > self.now():
                self.reporter.info("branch %s was extended (it expires %s): not deleting it", branch.branch,
                                   format_time(expires) if expires else "never")
                return
            branch.remove(f"branch {branch.branch} expired at {format_time(expires)}")
        finally:
            lease.release()

    def list_branches(self):
        """Each branch as describe() shows it, plus whether its CNAME points at it (one call a branch)."""
        shown = []
        for name in self.branch_names():
            branch = self.branch_engine(name)
            newest = branch.newest()
            entry = branch.describe(newest)
            value, pointed = branch.points_at()
            entry["cname"] = pointed is not None
            if not pointed and newest is not None and branch.state(newest) == CONNECTED:
                self.reporter.warning("branch %s: %s was removed by hand; the branch is deleted when it expires (%s)",
                                      name, branch.target.record_name, entry["expires_at"])
            shown.append(entry)
        return shown

    def expire_branches(self):
        """Delete the branches past devdb:expires-at, CNAME first; report a live branch whose CNAME is gone.

        What the lookup read may be hours old (a refresh waits on its clone first): a branch found
        expired is deleted only under its own lease (the one `branch_devdb extend` and `delete` take)
        and after its expiry tag is read again, so an `extend` made meanwhile wins."""
        for name in self.branch_names():
            branch = self.branch_engine(name)
            expires = self._branch_expiry(branch)
            if expires is not None and expires <= self.now():
                self.changes.step(None, lambda branch=branch: self._expire_branch(branch))
            elif branch.in_state(CONNECTED):
                value, pointed = branch.points_at()
                if pointed is None:
                    self.reporter.warning("branch %s: %s was removed by hand; the branch is deleted when it "
                                          "expires (%s)", name, branch.target.record_name,
                                          format_time(expires) if expires else "never")
        return self.outcome

