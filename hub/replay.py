"""`hub replay`: move one consumer's positions to the beginning, the end, a time or an offset.

Positions live with the projection, so a replay rewrites them in one transaction; the
consumer's workers must be stopped (a running worker would keep its in-memory position), and
on their next start they commit the new positions to the group and resume there. Replaying
events the projection already holds changes nothing (writes are idempotent by construction);
skipping forward skips events on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from toolkit.lag import stored_positions
from toolkit.settings import Settings
from toolkit.streaming.bulk import topic_partitions
from toolkit.streaming.projection import Projection

OFFSET_TARGET = re.compile(r"^(\d+):(\d+)$")


class ReplayRefused(Exception):
    pass


@dataclass(frozen=True)
class Target:
    """earliest | latest | a UTC time | one partition's offset."""

    kind: str
    at: datetime | None = None
    partition: int | None = None
    offset: int | None = None


def parse_target(text: str) -> Target:
    if text in ("earliest", "latest"):
        return Target(text)
    match = OFFSET_TARGET.match(text)
    if match:
        return Target("offset", partition=int(match[1]), offset=int(match[2]))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not earliest, latest, PARTITION:OFFSET or an ISO date-time"
        ) from None
    return Target("time", at=moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@dataclass(frozen=True)
class Step:
    topic: str
    partition: int
    current: int
    target: int

    @property
    def reprocess(self) -> int:
        return self.current - self.target


async def plan(
    settings: Settings, engine: AsyncEngine, projection: Projection, target: Target
) -> list[Step]:
    kafka = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False
    )
    await kafka.start()
    try:
        partitions = await topic_partitions(kafka, projection.topics(settings))
        begins = await kafka.beginning_offsets(partitions)
        ends = await kafka.end_offsets(partitions)
        if target.kind == "time":
            assert target.at is not None  # parse_target gives every time target its instant
            found = await kafka.offsets_for_times(
                {tp: int(target.at.timestamp() * 1000) for tp in partitions}
            )
        current = await stored_positions(engine, projection)
    finally:
        await kafka.stop()

    def goal(tp: TopicPartition) -> int:
        if target.kind == "earliest":
            return begins[tp]
        if target.kind == "latest":
            return ends[tp]
        if target.kind == "time":
            hit = found.get(tp)
            return hit.offset if hit is not None else ends[tp]
        if tp.partition != target.partition:
            return current.get((tp.topic, tp.partition), begins[tp])
        return min(max(target.offset, begins[tp]), ends[tp])

    if target.kind == "offset" and target.partition not in {tp.partition for tp in partitions}:
        raise ReplayRefused(f"no partition {target.partition} in {projection.topics(settings)}")
    return [
        Step(tp.topic, tp.partition, current.get((tp.topic, tp.partition), begins[tp]), goal(tp))
        for tp in partitions
    ]


async def execute(engine: AsyncEngine, projection: Projection, steps: list[Step]) -> None:
    positions = projection.positions
    async with engine.begin() as conn:
        for step in steps:
            await conn.execute(
                delete(positions).where(
                    positions.c.topic == step.topic, positions.c.partition == step.partition
                )
            )
        await conn.execute(
            insert(positions),
            [
                {
                    "topic": s.topic,
                    "partition": s.partition,
                    "next_offset": s.target,
                    "updated_at": datetime.now(UTC),
                }
                for s in steps
            ],
        )
