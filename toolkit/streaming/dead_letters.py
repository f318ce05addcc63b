"""Sends refused records to a consumer's dead-letter topic with the reason in headers.

The original key, value and headers travel unchanged; `dlq.*` headers say why and where
from. Delivery is awaited before the consumer's position moves past the record, so a
dead letter is never lost (it may be written twice if the worker dies in between).

A dead letter must always be publishable, or one bad record would stop its worker for good
(the batch is retried or the agent dies). So a key or value larger than events may be
(`max_bytes`, refused as `oversized`) travels as its first `PREVIEW_BYTES` plus
`dlq.<part>.bytes` and `dlq.<part>.sha256`; and a letter the broker still refuses as too
large (a dead-letter topic made with a smaller `max.message.bytes`) is sent again with key and
value cut to the preview and its original headers left out, but for its trace context
(`traceparent`/`tracestate`, which every letter keeps, so a dead letter stays in its event's
trace). The whole original always stays
at its source position (`dlq.source.*`; the hub's topics are kept forever).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from toolkit.metrics import DEAD_LETTERS
from toolkit.streaming.records import Record
from toolkit.tracing import TRACE_HEADERS

HEADER_PREFIX = "dlq."
PREVIEW_BYTES = 64 * 1024
TRUNCATED_HEADERS = ("dlq.key.truncated", "dlq.value.truncated")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Refusal:
    record: Record
    reason: str
    exception: str


def dead_letter_headers(refusal: Refusal, consumer: str, now: datetime) -> list[tuple[str, bytes]]:
    record = refusal.record
    original = [(k, v) for k, v in record.headers if not k.startswith(HEADER_PREFIX)]
    return original + [
        ("dlq.reason", refusal.reason.encode()),
        ("dlq.exception", refusal.exception[:2000].encode()),
        ("dlq.source.topic", record.topic.encode()),
        ("dlq.source.partition", str(record.partition).encode()),
        ("dlq.source.offset", str(record.offset).encode()),
        ("dlq.consumer", consumer.encode()),
        ("dlq.time", now.isoformat().encode()),
    ]


def clipped(part: str, blob: bytes | None, max_bytes: int) -> tuple[bytes | None, list]:
    """`blob` when it is at most `max_bytes`, else its preview and the headers describing it."""
    if blob is None or len(blob) <= max_bytes:
        return blob, []
    return blob[:PREVIEW_BYTES], [
        (f"dlq.{part}.truncated", b"true"),
        (f"dlq.{part}.bytes", str(len(blob)).encode()),
        (f"dlq.{part}.sha256", hashlib.sha256(blob).hexdigest().encode()),
    ]


# Below Kafka's default max.message.bytes (1 MiB), with room for the dead-letter headers.
LARGE_LETTER_BYTES = 900_000


@dataclass(frozen=True, slots=True)
class Letter:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def letter_for(refusal: Refusal, consumer: str, now: datetime, max_bytes: int,
               *, compact: bool = False) -> Letter:
    """The dead letter of a refusal; `compact` cuts it to the preview and drops the original
    headers, for a dead-letter topic that refused the full letter as too large."""
    limit = PREVIEW_BYTES if compact else max_bytes
    key, key_headers = clipped("key", refusal.record.key, limit)
    value, value_headers = clipped("value", refusal.record.value, limit)
    headers = dead_letter_headers(refusal, consumer, now)
    if compact:
        kept = [h for h in headers if h[0].startswith(HEADER_PREFIX) or h[0] in TRACE_HEADERS]
        dropped = len(headers) - len(kept)
        headers = kept + [("dlq.headers.dropped", str(dropped).encode())]
    return Letter(key, value, headers + key_headers + value_headers)


def event_identity(value: bytes | None) -> dict[str, str]:
    """`event_id` and `correlation_id` of a refused record, when it is JSON enough to say."""
    try:
        document = json.loads(value or b"")
    except (ValueError, RecursionError):
        return {}
    if not isinstance(document, dict):
        return {}
    return {k: str(document[k]) for k in ("event_id", "correlation_id") if document.get(k)}


class DeadLetterSink:
    def __init__(
        self, producer: AIOKafkaProducer, topic: str, consumer: str, max_bytes: int = 1_048_576
    ) -> None:
        self._producer = producer
        self.topic = topic
        self.consumer = consumer
        self.max_bytes = max_bytes  # events larger than this are refused; see the docstring

    async def send(self, refusals: Sequence[Refusal]) -> None:
        now = datetime.now(UTC)
        # Keys and values near Kafka's default message limit travel as preview and digest too
        # (the original stays at its source position): were a topic to refuse a letter, the
        # idempotent producer's sequence would break for the letters in flight behind it
        # (OutOfOrderSequenceNumber), and the batch with it.
        pending = [(r, await self._publish(r, now)) for r in refusals]
        for refusal, future in pending:
            try:
                await future
            except MessageSizeTooLargeError:  # a topic with a limit below even that
                await (await self._publish(refusal, now, compact=True))
        for refusal in refusals:
            DEAD_LETTERS.labels(self.consumer, refusal.reason).inc()
            record = refusal.record
            log.warning(
                "dead-lettered",
                extra={
                    "consumer": self.consumer,
                    "reason": refusal.reason,
                    "source": f"{record.topic}:{record.partition}:{record.offset}",
                    **event_identity(record.value),
                },
            )

    async def _publish(self, refusal: Refusal, now: datetime, *, compact: bool = False):
        """Queue one letter; the future of its delivery. A letter over the producer's own
        `max_request_size` is queued compact at once."""
        letter = letter_for(refusal, self.consumer, now, min(self.max_bytes, LARGE_LETTER_BYTES),
                            compact=compact)
        try:
            return await self._producer.send(
                self.topic, key=letter.key, value=letter.value, headers=letter.headers
            )
        except MessageSizeTooLargeError:
            if compact:
                raise
            return await self._publish(refusal, now, compact=True)
