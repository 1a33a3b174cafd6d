"""Readiness steps for MASK and MIGRATE_BEFORE_CONNECT: a clone is masked before anyone reaches it,
migrated before the name moves to it.

With MASK the clone is restored reachable only through MASKING_SECURITY_GROUP_IDS (the runner's: see
parity.sealed). After its new master password, `_mask` masks it as the master user (the app's own
login may lack the rights an UPDATE or TRUNCATE of every table needs) and verifies it; the report is
recorded; a masking error or a failed verification aborts the clone. Only then `_unseal` gives it the
app's security groups. A killed run resumes: masking knows what it did (its progress table), a
verified clone whose groups were not swapped yet gets them swapped. The name never moves to a clone of
a MASK target without a verified report in its record (`require_masked`).
"""

import os

from .. import connections, flavours, history, parity, probes, rehearsal
from ..errors import ConfigError, DevdbError, ProbeError
from ..masking import gate
from ..masking import rules as masking_rules
from ..masking.apply import mask_clone

ACTIVE = "active"  # the status of a VPC security group the cluster belongs to


def verified(cluster_id):
    """Whether cluster_id's record holds a masking report whose verification passed."""
    record = history.find(cluster_id)
    return bool(record and ((record.masking or {}).get("verification") or {}).get("ok"))


class Sealing:
    """Mask, verify, unseal; migrate."""

    def require_masked(self, cluster):
        """With MASK, refuse to point the name at a clone whose record has no verified masking report."""
        if self.target.mask and cluster.id not in self.pretended_masked and not verified(cluster.id):
            raise ConfigError(f"{cluster.id} has no verified masking report and target {self.target.name!r} masks its "
                              f"clones (MASK): {self.target.record_name} is not moved to it")

    # --- mask and verify -------------------------------------------------------------------------

    def _mask_text(self, cluster_id, user):
        return (f"mask {cluster_id} with DEVDB['MASKING'] (as {user}) and verify it, "
                f"while only MASKING_SECURITY_GROUP_IDS reach it")

    def _mask(self, cluster, deadline, timeout):
        """With MASK: mask and verify (again after a kill: masking resumes), unless already verified."""
        if not self.target.mask or verified(cluster.id):
            return
        user = cluster.master_username or ""
        self.changes.make(self._mask_text(cluster.id, user or "the master user"),
                          lambda: self._mask_and_verify(cluster, user, deadline, timeout),
                          pretend=lambda: self.pretended_masked.add(cluster.id))

    def _master_database(self, cluster, user):
        """The app's database on the clone, logged in as the master user with the new master password."""
        port = probes.app_credentials(port=cluster.port, engine=cluster.engine)["port"]
        return {"engine": cluster.engine, "host": cluster.endpoint, "port": port, "user": user,
                "password": os.environ[self.target.master_password_env],
                "database": probes.app_credentials(engine=cluster.engine)["database"]}

    def _mask_and_verify(self, cluster, user, deadline, timeout):
        database = self._master_database(cluster, user)
        self._wait_for_login(cluster, database, deadline, timeout)
        # rds_superuser is not a superuser: refuse, naming them, when the master user lacks grants
        flavours.for_engine(cluster.engine).check_masking_grants(
            database, masking_rules.resolve(masking_rules.masking_spec()), gate.masking_schemas(), connect=probes.connect)
        try:
            report = mask_clone(database)
        except DevdbError as exc:  # MaskingError, or a ConfigError (rules, key): one line, no secret
            raise ProbeError(f"masking: {connections.one_line(exc, [database['password']])}") from None
        self.changes.record(lambda: history.record_masking(cluster.id, self.now(), report.as_dict()))
        if not report.ok:
            failures = report.verification["failures"] if report.verification else ["no verification"]
            more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
            raise ProbeError(f"masking did not verify: {'; '.join(failures[:3])}{more}")

    def _wait_for_login(self, cluster, database, deadline, timeout):
        """A new master password may lag behind its 'available': wait until the master login works."""
        credentials = {k: database[k] for k in ("user", "password", "database", "port")}
        self._until_login(
            f"{cluster.id} to accept the master login for masking",
            lambda: probes.sql_ready(cluster.endpoint, timeout=self.settings.sql_connect_timeout, engine=cluster.engine,
                                     credentials=credentials),
            deadline, failure=f"masking: master login refused until READY_TIMEOUT ({timeout}s)")

    # --- unseal ----------------------------------------------------------------------------------

    def _app_groups(self):
        """The groups the app reaches a clone through: VPC_SECURITY_GROUP_IDS, else the source's."""
        source = self._source.configuration if self._source else None
        if source is None:
            return tuple(sorted(self.target.vpc_security_group_ids or ()))
        return parity.wanted(source, self.target).security_group_ids

    def _unseal_text(self, cluster_id, groups):
        return f"give {cluster_id} the app's security groups {','.join(groups) or '(unknown)'} (ModifyDBCluster)"

    def _unseal(self, cluster, deadline, timeout):
        """With MASK, once masking verified: swap MASKING_SECURITY_GROUP_IDS for the app's groups."""
        if not self.target.mask:
            return
        groups = self._app_groups()
        if not groups:
            raise ProbeError("the app's security groups are unknown (the source has none): set VPC_SECURITY_GROUP_IDS")
        if _has_groups(cluster, groups):
            return
        self.changes.make(self._unseal_text(cluster.id, groups),
                          lambda: self._swap_groups(cluster, groups, deadline, timeout))

    def _swap_groups(self, cluster, groups, deadline, timeout):
        """Ask (retried while the cluster is busy), then wait until AWS shows exactly those groups active
        and the cluster available."""
        self._when_allowed(f"{cluster.id} to accept the app's security groups",
                           lambda: self.aws.set_security_groups(cluster.id, groups), deadline)
        history.note(cluster.id, self.now(), f"masked: security groups {','.join(groups)} given (was sealed)")

        def check():
            self._refresh_cluster(cluster, instances=False)
            shown = ", ".join(f"{g} {s}" for g, s in cluster.security_groups) or "none"
            return _has_groups(cluster, groups) and cluster.status == probes.AVAILABLE, f"cluster {cluster.status}, {shown}"

        if self._wait(f"{cluster.id} to take the app's security groups", check, deadline) is None:
            raise ProbeError(f"did not take the app's security groups within READY_TIMEOUT ({timeout}s)")

    # --- migrate ---------------------------------------------------------------------------------

    def _migrate_text(self, cluster_id):
        return f"apply this code's migrations to {cluster_id} (MIGRATE_BEFORE_CONNECT)"

    def _migrate(self, cluster, deadline, timeout):
        """With MIGRATE_BEFORE_CONNECT: `migrate` on the clone with the app's login, as the app will use it: in a
        child process whose default database is the clone (devdb.rehearsal), so data migrations write there."""
        if self.target.migrate_before_connect:
            self.changes.make(self._migrate_text(cluster.id), lambda: self._apply_migrations(cluster))

    def _apply_migrations(self, cluster):
        credentials = probes.app_credentials(port=cluster.port, engine=cluster.engine)
        try:
            report = rehearsal.migrate_clone({"engine": cluster.engine, "host": cluster.endpoint, **credentials},
                                             sources=rehearsal.source_endpoints(self._source))
        except DevdbError as exc:  # MigrationFailed names the migration
            raise ProbeError(f"MIGRATE_BEFORE_CONNECT: {exc}") from None
        applied = [run.label for run in report.migrations if run.status == rehearsal.APPLIED]
        history.note(cluster.id, self.now(), f"migrated: {len(applied)} migration(s) applied"
                     + (f" ({', '.join(applied[:5])}{', ...' if len(applied) > 5 else ''})" if applied else ""))


def _has_groups(cluster, groups):
    """Whether AWS shows the cluster in exactly `groups`, each active."""
    return (sorted(g for g, _ in cluster.security_groups) == sorted(groups)
            and all(status == ACTIVE for _, status in cluster.security_groups))
