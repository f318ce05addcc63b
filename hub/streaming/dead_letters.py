"""Sends refused records to a consumer's dead-letter topic with the reason in headers.

The original key, value and headers travel unchanged; `dlq.*` headers say why and where
from. Delivery is awaited before the consumer's position moves past the record, so a
dead letter is never lost (it may be written twice if the worker dies in between).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from hub.metrics import DEAD_LETTERS
from hub.streaming.records import Record

HEADER_PREFIX = "dlq."
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


def event_identity(value: bytes | None) -> dict[str, str]:
    """`event_id` and `correlation_id` of a refused record, when it is JSON enough to say."""
    try:
        document = json.loads(value or b"")
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {k: str(document[k]) for k in ("event_id", "correlation_id") if document.get(k)}


class DeadLetterSink:
    def __init__(self, producer: AIOKafkaProducer, topic: str, consumer: str) -> None:
        self._producer = producer
        self.topic = topic
        self.consumer = consumer

    async def send(self, refusals: Sequence[Refusal]) -> None:
        now = datetime.now(UTC)
        futures = [
            await self._producer.send(
                self.topic,
                key=r.record.key,
                value=r.record.value,
                headers=dead_letter_headers(r, self.consumer, now),
            )
            for r in refusals
        ]
        for future in futures:
            await future
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
