"""Wake the read API's waiters when a projection's positions move.

The applier queues the notification (`notify_call`, in the same statement as the positions'
upsert) in the batch transaction that writes the positions:
PostgreSQL delivers a NOTIFY only when that transaction commits, so a listener that hears it
and then reads sees the batch's rows and positions together, never before. One notification
per batch (PostgreSQL folds equal payloads of one transaction into one). A hot standby
delivers no notifications: there the API polls the positions instead (toolkit/web/freshness.py).
"""

from __future__ import annotations

from sqlalchemy import Function, func

CHANNEL = "hub_positions"


def notify_call(projection_name: str) -> Function:
    """`pg_notify(CHANNEL, projection_name)` as an expression: the news that the projection's
    positions moved, for the statement that moves them (the applier's advance: one round trip
    for both)."""
    return func.pg_notify(CHANNEL, projection_name)
