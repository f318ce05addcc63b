"""How far each projection is behind its topics: end offsets against stored positions."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from toolkit.streaming.bulk import topic_partitions
from toolkit.streaming.projection import Projection

Partition = tuple[str, int]


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[Partition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topics)
        ends = await consumer.end_offsets(partitions) if partitions else {}
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def stored_positions(engine: AsyncEngine, projection: Projection) -> dict[Partition, int]:
    positions = projection.positions
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(positions.c.topic, positions.c.partition, positions.c.next_offset)
        )
        return {(t, p): o for t, p, o in rows}


def lag_by_partition(
    ends: dict[Partition, int], positions: dict[Partition, int]
) -> dict[Partition, int]:
    """Records not yet handled per partition (a partition never read counts from offset 0)."""
    return {tp: max(0, end - positions.get(tp, 0)) for tp, end in ends.items()}
