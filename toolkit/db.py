"""Database engine and connection helpers. Nothing connects at import time."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from toolkit.settings import Settings


def create_engine(settings: Settings, *, pool_size: int = 5, pre_ping: bool = True,
                  max_overflow: int | None = None, autocommit: bool = False) -> AsyncEngine:
    """`pre_ping=False` for callers that retry a failed transaction anyway (the batch applier,
    the read API's reads): a dead pooled connection then fails the attempt and is replaced,
    instead of every checkout costing a round trip. `autocommit`: no BEGIN/ROLLBACK round
    trips around a connection's statements (each is its own transaction, as under READ
    COMMITTED anyway); `conn.begin()` and a connection's own `isolation_level` still give a
    transaction where one is needed."""
    return engine_for_url(settings.database_url, pool_size=pool_size, pre_ping=pre_ping,
                          max_overflow=max_overflow, autocommit=autocommit)


def engine_for_url(url: str, *, pool_size: int = 5, pre_ping: bool = True,
                   max_overflow: int | None = None, autocommit: bool = False) -> AsyncEngine:
    """`create_engine` for a database other than the hub's (a producer's outbox)."""
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_pre_ping=pre_ping,
        **options,
        # asyncpg's statement cache is per connection; keep it, the hub's statements are few.
    )

