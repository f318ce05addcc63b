"""Publishing generated sample traffic to the hub's topics."""

from __future__ import annotations

from producers.publisher import Publisher
from producers.sample import SampleTraffic
from toolkit.settings import Settings


async def publish_sample(settings: Settings, sample: SampleTraffic) -> int:
    async with Publisher(settings.kafka_bootstrap) as publisher:
        await publisher.publish_many(
            sample.records(settings.profiler_topic, settings.mentorship_topic)
        )
    return len(sample.messages)
