"""Publishes wire-ready events to Kafka with the guarantees the outbox relay relies on.

Nothing connects at import time: build a `Publisher` with the bootstrap servers from settings
(`Publisher(get_settings().kafka_bootstrap)`), then `await start()` or use `async with`.

Every record leaves with W3C `traceparent`/`tracestate` headers: the context of a publish span
(kind producer) started in the caller's current trace, or a new one (`toolkit.tracing`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from opentelemetry.trace import SpanKind

from toolkit.tracing import tracer, with_trace_headers

Headers = list[tuple[str, bytes]]
_tracer = tracer(__name__)

# The contract allows values of up to 1 MiB; a record also carries its key, headers and batch
# framing, so the producer's request cap leaves room above that. (The broker's own
# `message.max.bytes` must be at least as large for a 1 MiB value to be accepted.)
DEFAULT_MAX_REQUEST_SIZE = 1_048_576 + 65_536


@dataclass(frozen=True)
class Token:
    """A consistency token: where an acknowledged record landed. `str(token)` is the
    `topic:partition:offset` the read API takes as `Hub-Min-Position`, to answer only once the
    projection has applied that record."""

    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, metadata: RecordMetadata) -> Token:
        return cls(metadata.topic, metadata.partition, metadata.offset)

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


class PublishError(RuntimeError):
    """Some messages of a `publish_many` call were not acknowledged; `errors` says why."""

    def __init__(self, errors: list[BaseException], total: int) -> None:
        self.errors = errors
        self.total = total
        super().__init__(
            f"{len(errors)} of {total} messages were not acknowledged by Kafka; "
            f"first error: {errors[0]!r}"
        )


class EventPublisher(Protocol):
    """What the relay, the sample loader and tests need from a publisher (see `Publisher`)."""

    async def publish(
        self, topic: str, key: str, value: bytes, headers: Headers | None = None
    ) -> RecordMetadata: ...

    async def publish_many(self, items: Iterable[tuple[str, str, bytes]]) -> int: ...


class Publisher:
    """An idempotent Kafka producer (aiokafka) for events that must not be lost or reordered.

    Promises:

    - **Acknowledged means durable.** `acks="all"`: a publish returns only once every in-sync
      replica has the record.
    - **Idempotent.** `enable_idempotence=True`: the producer's own retries (after a timeout or
      a lost connection) never write a record twice, and never reorder records of a partition.
    - **Order per key.** The key (UTF-8 encoded) picks the partition (murmur2, as the Java
      client), so messages published with one key, by one `Publisher`, in one order, are stored
      in that order. Callers must not publish a key's next message concurrently with the
      previous one if the order matters; `publish_many` keeps the iteration order.
    - **Failures raise.** `publish` raises the Kafka error of its record; `publish_many` raises
      `PublishError` (after every record's outcome is known) if any record failed. A record
      that raised may or may not have been written: publishing it again is safe (delivery is
      at least once). No consumer deduplicates by `event_id`; the copy is a new record at a
      new offset, which the projections apply, and applying it changes nothing: they hold a
      learner's facts keyed by `(user_id, session_id)` (a session completed or invalidated
      again is the fact they already hold), an erasure again forgets nothing more, and per
      (mentor, mentee) the newest `changed_at` wins. A record redelivered at the same offset
      is skipped: the positions stored in each batch's transaction say it was applied
      (`toolkit/streaming/applier.py`).
    - **Bulk path.** `publish_many` hands every record to the producer's batches before
      awaiting any acknowledgement, so a large replay or sample load is not one round trip
      per record.

    Records are batched for up to `linger_ms` (5 ms) and sent uncompressed unless
    `compression_type` says otherwise.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "profiler-hub-publisher",
        linger_ms: int = 5,
        compression_type: str | None = None,
        max_batch_size: int = 65_536,
        max_request_size: int = DEFAULT_MAX_REQUEST_SIZE,
        request_timeout_ms: int = 30_000,
        **producer_options: Any,
    ) -> None:
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id,
            "linger_ms": linger_ms,
            "compression_type": compression_type,
            "max_batch_size": max_batch_size,
            "max_request_size": max_request_size,
            "request_timeout_ms": request_timeout_ms,
            **producer_options,
            # Not overridable: these are what the promises above rest on.
            "enable_idempotence": True,
            "acks": "all",
        }
        self._producer: AIOKafkaProducer | None = None

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connects to the cluster; raises if it cannot (nothing is left running then)."""
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(**self._options)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        """Sends what is still buffered, waits for it, and disconnects. Safe to call twice."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _running(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("Publisher is not started; await start() or use `async with`")
        return self._producer

    async def publish(
        self, topic: str, key: str, value: bytes, headers: Headers | None = None
    ) -> RecordMetadata:
        """Publishes one record and waits until Kafka acknowledges it (acks=all); its trace
        headers are those of this publish's span (any the caller passed are replaced)."""
        producer = self._running()
        with _tracer.start_as_current_span(f"{topic} publish", kind=SpanKind.PRODUCER) as span:
            future = await producer.send(
                topic, value=value, key=key.encode("utf-8"), headers=with_trace_headers(headers)
            )
            metadata = await future
            if span.is_recording():
                span.set_attributes({
                    "messaging.system": "kafka",
                    "messaging.destination.name": topic,
                    "messaging.destination.partition.id": str(metadata.partition),
                    "messaging.kafka.offset": metadata.offset,
                    "messaging.client_id": self._options["client_id"],
                    **_event_attributes(headers),
                })
            return metadata

    async def publish_token(
        self, topic: str, key: str, value: bytes, headers: Headers | None = None
    ) -> Token:
        """`publish`, returning the record's consistency token (read-your-writes)."""
        return Token.of(await self.publish(topic, key, value, headers))

    async def publish_many(self, items: Iterable[tuple[str, str, bytes]]) -> int:
        """Publishes `(topic, key, value)` records in order; returns how many were acknowledged.

        Every record is queued without waiting for the previous one's acknowledgement, then all
        acknowledgements are awaited. Raises `PublishError` if any record failed, or the error
        that stopped queueing (after the records already queued have settled).
        """
        producer = self._running()
        futures: list[asyncio.Future[RecordMetadata]] = []
        # One span for the call; every record carries its context (one trace per bulk publish).
        with _tracer.start_as_current_span("publish many", kind=SpanKind.PRODUCER) as span:
            headers = with_trace_headers(None)
            try:
                for topic, key, value in items:
                    futures.append(await producer.send(
                        topic, value=value, key=key.encode("utf-8"), headers=headers))
            except BaseException:
                if futures:
                    await asyncio.gather(*futures, return_exceptions=True)
                raise
            outcomes = await asyncio.gather(*futures, return_exceptions=True)
            if span.is_recording():
                span.set_attributes({"messaging.system": "kafka",
                                     "messaging.batch.message_count": len(futures)})
        errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if errors:
            raise PublishError(errors, len(futures)) from errors[0]
        return len(futures)


def _event_attributes(headers: Headers | None) -> dict[str, str]:
    """`event_id` and `event_type` from the headers the outbox relay sends, when present."""
    return {k: v.decode("utf-8", "replace") for k, v in headers or ()
            if k in ("event_id", "event_type")}
