"""What status_devdb shows: this target's clones and where the name points; changes nothing."""

from .. import lifecycle
from ..lifecycle import TAG_STATE, TAG_STATE_SINCE


class Status:
    """Reads only."""

    def status(self):
        """This target's clones and where the name points, without changing anything."""
        self.preflight(source=False)
        self.lookup()
        value, pointed = self.points_at()
        owner = None if self.clones else self.name_owner(value)
        if owner:
            self.reporter.warning("%s has no clones but %s points at %s, a clone of target %r (renamed target, "
                                  "or a typo in RECORD_NAME?)", self.target.name, self.target.record_name, *owner)
        clones = []
        for cluster in sorted(self.clones.values(), key=self._age_key):
            likeness = self.parity(cluster)
            clones.append({
                "cluster": cluster.id,
                "state": self.state(cluster),
                "state_since": cluster.tags.get(TAG_STATE_SINCE, ""),
                "status": cluster.status,
                "instances": [{"id": i.id, "status": i.status, "state": i.tags.get(TAG_STATE, "")} for i in cluster.instances],
                "endpoint": cluster.endpoint,
                "source": cluster.tags.get(lifecycle.TAG_SOURCE, ""),
                "live": cluster is pointed,
                "parity": likeness,
                "like_source": None if likeness is None else likeness.startswith("configured like "),
            })
        report = {"target": self.target.name, "record_name": self.target.record_name, "points_at": value,
                  "points_at_clone": pointed.id if pointed else None, "clones": clones,
                  "branches": self.list_branches()}  # as `branch_devdb list` shows them: one Route53 read each
        if self.target.cross_account:
            report["note"] = (f"{self.target.source_cluster} is shared from another account and AWS allows one clone "
                              f"of it per account: each refresh deletes the previous clone before restoring, so "
                              f"{self.target.record_name} is unusable from then until the new clone is connected")
        return report

