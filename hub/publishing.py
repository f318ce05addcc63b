"""Publishing generated sample traffic to the hub's topics."""

from __future__ import annotations

from hub.bootstrap import publisher_for
from producers.sample import SampleTraffic
from toolkit.settings import Settings


async def publish_sample(settings: Settings, sample: SampleTraffic) -> int:
    async with publisher_for(settings) as publisher:
        await publisher.publish_many(
            sample.records(settings.profiler_topic, settings.mentorship_topic)
        )
    return len(sample.messages)
