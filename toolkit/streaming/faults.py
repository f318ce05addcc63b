"""Which failures are transient (retry with backoff, never dead-letter) and the backoff."""

from __future__ import annotations

import asyncio
import random

import asyncpg
from aiokafka.errors import KafkaError, KafkaTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

_TRANSIENT_PG = (
    # A missing table, column or privilege is a deployment fault that a migration or a grant
    # heals, never something wrong with the event: wait for the fix, do not dead-letter.
    asyncpg.exceptions.SyntaxOrAccessError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def is_transient(exc: BaseException) -> bool:
    """True for faults of the database or broker that heal by themselves."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (OperationalError, InterfaceError, *_TRANSIENT_PG)):
            return True
        if isinstance(current, (ConnectionError, TimeoutError, asyncio.TimeoutError, OSError)):
            return True
        if isinstance(current, KafkaTimeoutError) or (
            isinstance(current, KafkaError) and current.retriable
        ):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return False


def backoff_seconds(attempt: int, initial: float, ceiling: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [initial/2, min(ceiling, initial·2^n)]."""
    top = min(ceiling, initial * (2 ** min(attempt, 30)))
    return rng.uniform(min(initial / 2, top), top)
