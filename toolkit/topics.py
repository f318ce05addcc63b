"""Creates the hub's Kafka topics idempotently (CONTRACT topics and dead-letter topics)."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from toolkit.kafka import admin as kafka_admin
from toolkit.settings import Settings

# Room for hostile oversized events to reach the hub, so they are dead-lettered with a reason
# instead of being refused at the broker where nobody sees them.
TOPIC_MAX_MESSAGE_BYTES = 8 * 1_048_576


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def hub_topics(settings: Settings, consumers: list[str]) -> list[TopicSpec]:
    config = {
        "retention.ms": str(settings.topic_retention_ms),
        "max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES),
    }
    names = [settings.profiler_topic, settings.mentorship_topic]
    names += [settings.dead_letter_topic(c) for c in consumers]
    return [TopicSpec(n, settings.topic_partitions, config) for n in names]


async def ensure_topics(bootstrap: str, specs: list[TopicSpec]) -> list[str]:
    """Create the missing topics; returns the names it created."""
    admin = kafka_admin(bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        created = []
        for spec in missing:
            try:
                await admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, 1, topic_configs=spec.config)]
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        await admin.close()
