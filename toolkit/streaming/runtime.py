"""What a worker needs at run time, built from settings on first use (never at import)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from toolkit.db import create_engine
from toolkit.kafka import producer
from toolkit.settings import Settings
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.projection import Projection

DEAD_LETTER_MAX_BYTES = 8 * 1_048_576


class WorkerRuntime:
    """The worker's applier with its engine and dead-letter producer, built on first use
    from the factories given (the application's wiring passes its own: `hub.bootstrap`)."""

    def __init__(
        self,
        projection: Projection,
        settings: Settings,
        *,
        engine: Callable[[], AsyncEngine] | None = None,
        producer: Callable[[], AIOKafkaProducer] | None = None,
    ) -> None:
        self.projection = projection
        self.settings = settings
        # No pre-ping: the batch applier retries a failed transaction anyway.
        self._new_engine = engine or (lambda: create_engine(settings, pool_size=2,
                                                             pre_ping=False))
        self._new_producer = producer or (lambda: dead_letter_producer(settings))
        self._lock = asyncio.Lock()
        self._applier: BatchApplier | None = None
        self._engine: AsyncEngine | None = None
        self._producer: AIOKafkaProducer | None = None

    async def applier(self) -> BatchApplier:
        async with self._lock:
            if self._applier is None:
                self._engine = self._new_engine()
                self._producer = self._new_producer()
                await self._producer.start()
                sink = DeadLetterSink(
                    self._producer,
                    self.settings.dead_letter_topic(self.projection.name),
                    self.projection.name,
                    self.settings.max_event_bytes,
                )
                self._applier = BatchApplier(self.projection, self._engine, sink, self.settings)
            return self._applier

    async def close(self) -> None:
        async with self._lock:
            if self._producer is not None:
                await self._producer.stop()
            if self._engine is not None:
                await self._engine.dispose()
            self._applier = self._engine = self._producer = None


def dead_letter_producer(settings: Settings) -> AIOKafkaProducer:
    # Dead letters may be larger than valid events (that can be why they are refused).
    return producer(settings.kafka_bootstrap, max_request_size=DEAD_LETTER_MAX_BYTES)
