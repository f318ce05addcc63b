"""The one wiring place (cosmicpython's `bootstrap.py`): the database engines, Kafka clients,
publisher and clock are built here from settings and handed to what needs them. The
operations get a `Hub`; the API app gets its engines from `api_engines`; workers get their
factories from `worker_runtime`. Nothing connects at import time, and nothing here connects
before it is asked to.

    run(lambda hub: replay.plan(hub, ...))    one event loop for a command, the hub's engine
                                              opened and disposed around it, Kafka or the
                                              database out of reach reported as `Unreachable`
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.operations.refusals import Refused, Unreachable
from producers.publisher import Publisher
from toolkit import kafka
from toolkit.db import create_engine
from toolkit.settings import Settings, get_settings
from toolkit.streaming.projection import Projection
from toolkit.streaming.runtime import WorkerRuntime, dead_letter_producer

T = TypeVar("T")
UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Hub:
    """What an operation may use: the settings, one engine on the hub's database, the clock,
    and the Kafka clients it starts and stops itself."""

    settings: Settings
    engine: AsyncEngine
    clock: Clock = field(default=utc_now)

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap

    def reader(self, **options: Any) -> AbstractAsyncContextManager[AIOKafkaConsumer]:
        """A started-per-block, group-less Kafka consumer (`toolkit.kafka.started_reader`)."""
        return kafka.started_reader(self.bootstrap, **options)

    def dead_letter_producer(self) -> AIOKafkaProducer:
        return dead_letter_producer(self.settings)


def publisher_for(settings: Settings, **options: Any) -> Publisher:
    """The idempotent event publisher (`producers.publisher.Publisher`) on the hub's broker."""
    return Publisher(settings.kafka_bootstrap, **options)


def database_engine(settings: Settings, **pool: Any) -> AsyncEngine:
    return create_engine(settings, **pool)


def api_engines(settings: Settings) -> tuple[AsyncEngine, AsyncEngine]:
    """The read API's engine on the primary, and the one its reads use (the replica's when
    `HUB_READ_DATABASE_URL` names another database, else the same engine)."""
    # No pre-ping: it cost a round trip on every checkout (~9% of a request's CPU, py-spy).
    # A connection the database dropped fails one request, and SQLAlchemy then discards
    # every connection of the pool opened before it (a disconnect invalidates the pool).
    # Autocommit: a read is one statement (or asks for its snapshot), and the BEGIN and
    # ROLLBACK around it were two round trips and ~20% of a request's CPU (py-spy).
    # No overflow: connections opened and closed under load past the pool cost more than
    # a pool as large as the concurrency (SQLAlchemy's queue of waiters for a small pool
    # gave p99s of seconds under wrk at 32 connections).
    def pool(of: Settings) -> AsyncEngine:
        return create_engine(of, pool_size=settings.api_pool_size, max_overflow=0,
                             pre_ping=False, autocommit=True)

    engine = pool(settings)
    if not settings.read_database_url or settings.read_database_url == settings.database_url:
        return engine, engine
    return engine, pool(settings.model_copy(update={"database_url": settings.read_database_url}))


def worker_runtime(projection: Projection, settings: Settings) -> WorkerRuntime:
    """A worker's engine (small pool, no pre-ping: the batch applier retries a failed
    transaction anyway) and dead-letter producer, built on the worker's first batch."""
    return WorkerRuntime(
        projection, settings,
        engine=lambda: create_engine(settings, pool_size=2, pre_ping=False),
        producer=lambda: dead_letter_producer(settings),
    )


def database_name(settings: Settings) -> str:
    url = make_url(settings.database_url)
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database}"


@asynccontextmanager
async def connected(settings: Settings | None = None, *, pool_size: int = 1,
                    clock: Clock = utc_now) -> AsyncIterator[Hub]:
    """A `Hub` whose engine has reached the database once (else `Unreachable`), disposed
    after the block."""
    settings = settings or get_settings()
    engine = database_engine(settings, pool_size=pool_size)
    try:
        try:
            async with engine.connect():
                pass
        except Exception as exc:  # refused, unknown host, bad credentials, no such database
            raise Unreachable(
                f"cannot reach the database {database_name(settings)}: {_reason(exc)}"
            ) from None
        yield Hub(settings, engine, clock)
    finally:
        await engine.dispose()


def run(operation: Callable[[Hub], Awaitable[T]], settings: Settings | None = None) -> T:
    """Run one operation to completion in its own event loop, with a connected `Hub`; the
    CLI's one way into async code."""
    settings = settings or get_settings()

    async def main() -> T:
        async with connected(settings) as hub:
            try:
                return await operation(hub)
            except ProgrammingError as exc:
                if getattr(exc.orig, "sqlstate", None) != UNDEFINED_TABLE:
                    raise
                raise Refused(f"the database {database_name(settings)} lacks the hub's tables "
                              f"({_reason(exc).splitlines()[0]}): run `hub migrate`") from None

    return run_async(main(), settings)


def run_async(work: Awaitable[T], settings: Settings | None = None) -> T:
    """`asyncio.run(work)`, with Kafka out of reach reported as `Unreachable`."""

    async def main() -> T:
        return await work

    try:
        return asyncio.run(main())
    except KafkaConnectionError as exc:
        where = (settings or get_settings()).kafka_bootstrap
        raise Unreachable(f"cannot reach Kafka at {where}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    name, text = type(cause).__name__, " ".join(str(cause).split())
    return text if text.startswith(name) else f"{name}: {text}" if text else name
