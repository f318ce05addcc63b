"""`hub replay`: move one consumer's positions to the beginning, the end, a time or an offset.

Positions live with the projection, so a replay rewrites them in one transaction; the
consumer's workers must be stopped (a running worker would keep its in-memory position;
`execute` refuses while they run), and on their next start they commit the new positions to
the group and resume there. Replaying events the projection already holds changes nothing
(writes are idempotent by construction); skipping forward skips events on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka.structs import TopicPartition
from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from hub.bootstrap import Hub
from hub.operations.guard import ensure_stopped
from hub.operations.refusals import Refused
from toolkit.kafka import topic_partitions
from toolkit.lag import stored_positions
from toolkit.streaming.projection import Projection

OFFSET_TARGET = re.compile(r"^(\d+):(\d+)$")


class ReplayRefused(Refused):
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
        raise ReplayRefused(
            f"--to {text!r} is not earliest, latest, PARTITION:OFFSET or an ISO date-time"
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


async def plan(hub: Hub, projection: Projection, target: Target) -> list[Step]:
    """Per partition of the projection's topics: its stored position and where it would go."""
    topics = projection.topics(hub.settings)
    async with hub.reader() as kafka:
        partitions = await topic_partitions(kafka, topics)
        if not partitions:
            raise ReplayRefused(f"no partitions found for {', '.join(topics)}: "
                                "run `hub migrate` to create the topics")
        if target.kind == "offset" and target.partition not in {tp.partition for tp in partitions}:
            raise ReplayRefused(f"no partition {target.partition} in {', '.join(topics)} "
                                f"(partitions 0 to {max(tp.partition for tp in partitions)})")
        begins = await kafka.beginning_offsets(partitions)
        ends = await kafka.end_offsets(partitions)
        found = {}
        if target.kind == "time":
            assert target.at is not None  # parse_target gives every time target its instant
            found = await kafka.offsets_for_times(
                {tp: int(target.at.timestamp() * 1000) for tp in partitions}
            )
        current = await stored_positions(hub.engine, projection)

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
        return min(max(target.offset or 0, begins[tp]), ends[tp])

    return [
        Step(tp.topic, tp.partition, current.get((tp.topic, tp.partition), begins[tp]), goal(tp))
        for tp in partitions
    ]


async def execute(hub: Hub, projection: Projection, steps: list[Step]) -> None:
    """Write the planned positions in one transaction; refused while the projection's
    workers run (`WorkersRunning`)."""
    await ensure_stopped(hub.settings, [projection])
    positions = projection.positions
    now = hub.clock()
    async with hub.engine.begin() as conn:
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
                    "updated_at": now,
                }
                for s in steps
            ],
        )
