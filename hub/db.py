"""Database engine and connection helpers. Nothing connects at import time."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hub.settings import Settings


def create_engine(settings: Settings, *, pool_size: int = 5, pre_ping: bool = True) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        # asyncpg's statement cache is per connection; keep it, the hub's statements are few.
    )

