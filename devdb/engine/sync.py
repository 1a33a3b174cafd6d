"""Make the records (CloneRecord) match the tags."""

from .. import history, lifecycle
from ..lifecycle import DELETED


class Syncing:
    """Records follow tags."""

    def sync(self):
        """Make the records match the tags; records of clusters that are gone become deleted."""
        open_ids = list(history.open_records(self.target.name, self.branch).values_list("cluster_id", flat=True))
        self.lookup(also=open_ids)
        for cluster in self.clones.values():
            state = self.state(cluster)
            if state in lifecycle.STATES:
                self.changes.record(lambda cluster=cluster, state=state: self._mirror(
                    cluster, state, self.since(cluster), created_at=cluster.created))
        for cluster_id in open_ids:
            if cluster_id.lower() not in self.clones:
                self.changes.make(
                    f"record {cluster_id} as deleted (the cluster no longer exists)",
                    lambda cluster_id=cluster_id: history.mirror(
                        target=self.target.name, cluster_id=cluster_id, state=DELETED, at=self.now(),
                        message="cluster no longer exists (deleted outside django-devdb)"),
                )
