"""Signals a project can connect to, e.g. to post to chat when the morning clone is live.

All are sent with sender=the Engine class and these keyword arguments:

- clone_ready: target (str), cluster_id (str), endpoint (str)
- clone_connected: target, cluster_id, endpoint, record_name (str), previous (list of cluster ids
  that were connected before and are now aborted)
- clone_deleted: target, cluster_id
"""

from django.dispatch import Signal

clone_ready = Signal()
clone_connected = Signal()
clone_deleted = Signal()
