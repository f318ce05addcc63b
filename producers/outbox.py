"""The transactional outbox: the profiler records an event in the same transaction as its result.

`enqueue` inserts one row into `hub_outbox.outbox`; `hub relay` (producers/relay.py) publishes
pending rows to Kafka and marks them sent. Because the row commits or rolls back with the
business write, an event exists exactly when its fact does, and a Kafka outage only delays it.

Synchronous SQLAlchemy (`Connection` or `Session`)::

    with Session(engine) as session, session.begin():
        session.add(result)
        enqueue(session, event, "profiler.events")

Asynchronous SQLAlchemy (`AsyncConnection` or `AsyncSession`): the same call, awaited::

    async with engine.begin() as conn:
        await conn.execute(insert(results).values(...))
        await enqueue(conn, event, "profiler.events")

Django: `profiler_hub_kit.django.publish(event)` inside `transaction.atomic()` (the producer
kit's Django app, on Django's own connection). Other producers: `profiler_hub_kit.outbox`.

The row itself (`outbox_row`) and the table's DDL (`profiler_hub_kit/sql/outbox.sql`) come from
the producer kit; `outbox` below is the SQLAlchemy view of that same table, for the relay.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any
from uuid import UUID

from profiler_hub_kit.outbox import MAX_EVENT_BYTES, SCHEMA, outbox_row
from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from producers.publisher import Token

__all__ = ["MAX_EVENT_BYTES", "SCHEMA", "enqueue", "outbox", "outbox_row", "position_of"]

metadata = MetaData()

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("topic", String(255), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    # Where the relay's publish landed, with `topic`: the row's consistency token.
    Column("sent_partition", Integer, nullable=True),
    Column("sent_offset", BigInteger, nullable=True),
    # The enqueuing transaction's W3C trace context; the relay publishes the event in it.
    Column("trace_context", JSONB, nullable=True),
    schema=SCHEMA,
)
# The relay's only query walks pending rows in id order; sent rows never slow it down.
Index("outbox_pending", outbox.c.id, postgresql_where=outbox.c.sent_at.is_(None))
# Pruning walks sent rows oldest first.
Index("outbox_sent", outbox.c.sent_at, postgresql_where=outbox.c.sent_at.is_not(None))
# `position_of`: an event's token by its id.
Index("outbox_event_id", outbox.c.headers["event_id"].astext)


def enqueue(conn_or_session: Any, event: BaseModel, topic: str) -> Awaitable[None] | None:
    """Add `event` to the outbox in the caller's open transaction; the caller commits. The
    row keeps the caller's current trace context, which the relay publishes the event in.

    With a sync `Connection`/`Session` the row is inserted now; with an `AsyncConnection`/
    `AsyncSession` an awaitable is returned that inserts it.
    """
    statement = insert(outbox).values(**outbox_row(event, topic))
    if isinstance(conn_or_session, (AsyncConnection, AsyncSession)):
        return _execute_async(conn_or_session, statement)
    conn_or_session.execute(statement)
    return None


async def _execute_async(target: AsyncConnection | AsyncSession, statement: Any) -> None:
    await target.execute(statement)


async def position_of(conn: AsyncConnection, event_id: str | UUID) -> Token | None:
    """The consistency token of the event `event_id` (where the relay published it), or None
    while it is pending (or unknown, or pruned). Pass `str(token)` to the read API as
    `Hub-Min-Position` to read a projection that includes the event."""
    row = (await conn.execute(
        select(outbox.c.topic, outbox.c.sent_partition, outbox.c.sent_offset).where(
            outbox.c.headers["event_id"].astext == str(event_id),
            outbox.c.sent_offset.is_not(None)))).first()
    return None if row is None else Token(row.topic, row.sent_partition, row.sent_offset)


async def install(database_url: str) -> None:
    """Creates the outbox in a producer's database with the kit's DDL (`sql/outbox.sql`, the
    same the kit's Django app runs); idempotent. `database_url`: SQLAlchemy or libpq form."""
    import asyncpg
    from profiler_hub_kit.outbox import ddl
    from sqlalchemy.engine import make_url

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(ddl())  # no arguments: the simple protocol runs the whole script
    finally:
        await conn.close()
