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

Django: inside `transaction.atomic()`, insert the row through Django's own connection, so it
shares the ORM's transaction (`outbox_row` gives the values)::

    with transaction.atomic():
        result.save()
        row = outbox_row(event, "profiler.events")
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO hub_outbox.outbox (topic, key, value, headers) "
                "VALUES (%s, %s, %s, %s)",
                [row["topic"], row["key"], row["value"], json.dumps(row["headers"])],
            )

Django through SQLAlchemy would take a second connection, so a second transaction, and the
row could commit without the result (or the reverse): use the raw SQL above, which runs on
Django's own connection.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from schemas.registry import encode

SCHEMA = "hub_outbox"
# CONTRACT: an envelope is at most 1 MiB; a larger one is refused in the business transaction
# rather than left as a row Kafka would refuse forever (blocking its key).
MAX_EVENT_BYTES = 1_048_576

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
    schema=SCHEMA,
)
# The relay's only query walks pending rows in id order; sent rows never slow it down.
Index("outbox_pending", outbox.c.id, postgresql_where=outbox.c.sent_at.is_(None))


def outbox_row(event: BaseModel, topic: str) -> dict[str, Any]:
    """The row for `event`: wire bytes (`schemas.registry.encode`), CONTRACT key, headers."""
    value = encode(event)
    if len(value) > MAX_EVENT_BYTES:
        raise ValueError(f"event is {len(value)} bytes; the contract allows {MAX_EVENT_BYTES}")
    headers = {"event_id": str(event.event_id), "event_type": event.event_type}
    if event.correlation_id:
        headers["correlation_id"] = event.correlation_id
    return {"topic": topic, "key": event.key, "value": value, "headers": headers}


def enqueue(conn_or_session: Any, event: BaseModel, topic: str) -> Awaitable[None] | None:
    """Add `event` to the outbox in the caller's open transaction; the caller commits.

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
