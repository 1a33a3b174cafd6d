"""Signals a project can connect to, e.g. to post to chat when the morning clone is live.

All are sent with sender=the Engine class and these keyword arguments:

- clone_ready: target (str), cluster_id (str), endpoint (str)
- clone_connected: target, cluster_id, endpoint, record_name (str), previous (list of cluster ids
  that were connected before and are now aborted)
- clone_deleted: target, cluster_id

Each is sent once the change is made (tags, DNS record and CloneRecord updated), never in a
--dry-run. clone_connected is also sent by a rollback (`connect_devdb --to`). Receivers run inside
the command, with send_robust(): an exception a receiver raises (e.g. a chat webhook that is down)
is logged as a warning on the `devdb` logger and does not stop the run:

    from django.dispatch import receiver
    from devdb.signals import clone_connected

    @receiver(clone_connected)
    def announce(sender, target, cluster_id, endpoint, record_name, previous, **kwargs):
        post_to_chat(f"{record_name} now serves {cluster_id} ({target})")
"""

from django.dispatch import Signal

from .output import logger

clone_ready = Signal()
clone_connected = Signal()
clone_deleted = Signal()


def send(signal, sender, **kwargs):
    """Send `signal` from `sender` (the engine passes its class); a failing receiver is logged, never fatal."""
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.warning("[%s] signal receiver %s failed: %s: %s", kwargs.get("target", "?"),
                           getattr(receiver, "__qualname__", receiver), type(result).__name__, result)
