"""The Kafka clients of the hub's tools, configured in one place. Nothing connects until a
client is started.

A *reader* is a consumer outside any group, committing nothing: the operations (lag, replay,
rebuild, dead letters, status) read offsets and records with it and leave the workers' groups
alone. Callers pass options only where they differ (fetch sizes for bulk reads).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

METADATA_ATTEMPTS = 25
# Fetch sizes for readers that go through whole topics (rebuild, bulk replay, dead letters).
BULK_FETCH = {"max_partition_fetch_bytes": 16 * 1_048_576, "fetch_max_bytes": 64 * 1_048_576}


def reader(bootstrap: str, **options: Any) -> AIOKafkaConsumer:
    """A group-less consumer that commits nothing; `options` override aiokafka's defaults."""
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
    }
    return AIOKafkaConsumer(**{**settings, **options})


@asynccontextmanager
async def started_reader(bootstrap: str, **options: Any) -> AsyncIterator[AIOKafkaConsumer]:
    """`reader(...)`, started for the block and stopped after it."""
    consumer = reader(bootstrap, **options)
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()  # a failed start leaves its client open
        raise
    try:
        yield consumer
    finally:
        await consumer.stop()


def producer(bootstrap: str, **options: Any) -> AIOKafkaProducer:
    """An idempotent producer whose sends return once every in-sync replica has them."""
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap, "enable_idempotence": True, "acks": "all",
    }
    return AIOKafkaProducer(**{**settings, **options})


def admin(bootstrap: str, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)


async def topic_partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """Every partition of the topics; a consumer without subscriptions has no metadata yet."""
    for _ in range(METADATA_ATTEMPTS):  # a topic created a moment ago may not be known yet
        if all(consumer.partitions_for_topic(t) for t in topics):
            break
        await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public call
        if not all(consumer.partitions_for_topic(t) for t in topics):
            await asyncio.sleep(0.2)
    return [
        TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())
    ]


async def group_states(bootstrap: str, groups: list[str]) -> dict[str, dict[str, Any]]:
    """Per consumer group: its state and how many members it has now."""
    client = admin(bootstrap)
    states: dict[str, dict[str, Any]] = {}
    try:
        await client.start()
        # One group per request: aiokafka 0.14 misreads a reply describing several groups.
        for name in groups:
            for response in await client.describe_consumer_groups([name]):
                for group in response.to_object()["groups"]:
                    states[group["group"]] = {
                        "state": group["state"] or "Unknown",
                        "members": len(group["members"]),
                    }
    finally:
        await client.close()
    return states
