"""Wake the read API's waiters when a projection's positions move.

The applier calls `notify_positions` in the batch transaction that writes the positions:
PostgreSQL delivers a NOTIFY only when that transaction commits, so a listener that hears it
and then reads sees the batch's rows and positions together, never before. One notification
per batch (PostgreSQL folds equal payloads of one transaction into one). A hot standby
delivers no notifications: there the API polls the positions instead (toolkit/web/freshness.py).
"""

from __future__ import annotations

from sqlalchemy import Function, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

CHANNEL = "hub_positions"


async def notify_positions(conn: AsyncConnection, projection_name: str) -> None:
    """Queue, in `conn`'s transaction, the news that `projection_name`'s positions moved."""
    await conn.execute(select(func.pg_notify(CHANNEL, projection_name)))


def notify_call(projection_name: str) -> Function:
    """`pg_notify` of `notify_positions` as an expression, for a statement that also does
    something else (the applier's advance: one round trip for both)."""
    return func.pg_notify(CHANNEL, projection_name)
