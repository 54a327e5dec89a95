"""Webhook delivery: the outbox of callbacks (``action.settled``, ``points.expiring``), signed, retried.

``deliver_due`` runs one round; ``run_dispatcher`` runs rounds until told to stop. See
``docs/webhooks.md`` for the schedule, the signature and the give-up rule.
"""

from backend.webhooks.dispatcher import DeliveryRound, deliver_due, new_client, run_dispatcher
from backend.webhooks.schedule import backoff, next_attempt

__all__ = ["DeliveryRound", "backoff", "deliver_due", "new_client", "next_attempt", "run_dispatcher"]
