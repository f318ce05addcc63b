"""What a worker needs at run time, built from settings on first use (never at import)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine

from toolkit.db import create_engine
from toolkit.settings import Settings
from toolkit.streaming.applier import BatchApplier
from toolkit.streaming.dead_letters import DeadLetterSink
from toolkit.streaming.projection import Projection

DEAD_LETTER_MAX_BYTES = 8 * 1_048_576


class WorkerRuntime:
    def __init__(self, projection: Projection, settings: Settings) -> None:
        self.projection = projection
        self.settings = settings
        self._lock = asyncio.Lock()
        self._applier: BatchApplier | None = None
        self._engine: AsyncEngine | None = None
        self._producer: AIOKafkaProducer | None = None

    async def applier(self) -> BatchApplier:
        async with self._lock:
            if self._applier is None:
                self._engine = create_engine(self.settings, pool_size=2, pre_ping=False)
                self._producer = dead_letter_producer(self.settings)
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
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_idempotence=True,
        acks="all",
        max_request_size=DEAD_LETTER_MAX_BYTES,
    )
