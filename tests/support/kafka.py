"""Test-side Kafka helpers: publish raw records, read a topic back."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.registry import encode


async def publish_raw(bootstrap: str, topic: str, items, headers=None) -> None:
    """items: (key: str | bytes | None, value: bytes | None) pairs, sent in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                acks="all", max_request_size=8 * 1_048_576)
    await producer.start()
    try:
        futures = []
        for key, value in items:
            k = key.encode() if isinstance(key, str) else key
            futures.append(await producer.send(topic, key=k, value=value, headers=headers))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def publish_events(bootstrap: str, topic: str, events) -> None:
    await publish_raw(bootstrap, topic, [(e.key, encode(e)) for e in events])


async def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0):
    """Read a topic from the start until `expected` records arrived (or the deadline)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    records = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records
