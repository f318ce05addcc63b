"""The seam every projection implements, and the position table each one keeps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, func
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.settings import Settings
from schemas.registry import AnyEvent


def positions_table(metadata: MetaData, schema: str) -> Table:
    """Next offset to read per partition, written in the projection's own transaction."""
    return Table(
        "positions",
        metadata,
        Column("topic", String(255), primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("next_offset", BigInteger, nullable=False),
        Column("last_event_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=schema,
    )


class Projection(Protocol):
    """One read model, kept by one consumer group in one PostgreSQL schema (its table set).

    `apply` receives decoded, accepted events in partition order, inside the caller's
    transaction, and must not commit. It may raise `schemas.errors.EventRejected`-free
    exceptions only for faults (database errors); a semantically bad event is refused by
    `reject_reason` before `apply` sees it. Applying an event twice must have the effect
    of applying it once (positions already filter redeliveries; this is the second guard).
    """

    name: str
    metadata: MetaData
    positions: Table
    # The key erasures are remembered under (Settings.erasure_secret); None: the projection
    # serves for its name, topics and tables, and must not apply events.
    erasure_secret: bytes | None

    def topics(self, settings: Settings) -> list[str]: ...

    def reject_reason(self, event: AnyEvent) -> str | None: ...

    async def apply(self, conn: AsyncConnection, events: Sequence[AnyEvent]) -> None: ...
