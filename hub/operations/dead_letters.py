"""`hub dlq`: list, show and redrive what a consumer refused.

A redrive republishes the original key, value and headers to the topic the record came from,
with `hub.redriven-from` naming the dead letter, and records the redrive in
`hub_dlq.redrives`, so the same dead letter is never redriven twice. The republished event
keeps its `event_id`; every projection applies it once (positions and idempotent writes), also
the ones that had applied it before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import insert

from hub.bootstrap import Hub
from hub.operations.refusals import Refused
from toolkit.kafka import topic_partitions
from toolkit.streaming.dead_letters import HEADER_PREFIX, TRUNCATED_HEADERS

SCHEMA = "hub_dlq"
metadata = MetaData()

redrives = Table(
    "redrives",
    metadata,
    Column("dead_letter_topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("offset", BigInteger, primary_key=True),
    Column("redriven_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    schema=SCHEMA,
)

REDRIVEN_FROM = "hub.redriven-from"
REFERENCE = re.compile(r"^\d+:\d+$")


class DeadLetterRefused(Refused):
    pass


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str:
        return dict(self.headers).get(name, b"").decode("utf-8", "replace")

    @property
    def truncated(self) -> bool:
        """Carries only a preview of the original (too large); it cannot be redriven from here:
        the original is at `dlq.source.*`."""
        return any(self.header(name) for name in TRUNCATED_HEADERS)

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.startswith(HEADER_PREFIX)]

    def summary(self) -> dict[str, str]:
        return {
            "ref": self.ref,
            "reason": self.header("dlq.reason"),
            "source": f"{self.header('dlq.source.topic')}:{self.header('dlq.source.partition')}"
            f":{self.header('dlq.source.offset')}",
            "time": self.header("dlq.time"),
            "key": (self.key or b"").decode("utf-8", "replace"),
            "bytes": str(len(self.value or b"")),
        }

    def detail(self) -> dict[str, object]:
        try:
            value: object = json.loads(self.value or b"")
        except ValueError:
            value = (self.value or b"").decode("utf-8", "replace")
        return {
            **self.summary(),
            "exception": self.header("dlq.exception"),
            "headers": {k: v.decode("utf-8", "replace") for k, v in self.headers},
            "value": value,
        }


async def read_dead_letters(hub: Hub, consumer: str) -> list[DeadLetter]:
    """Every record of the consumer's dead-letter topic, oldest first per partition."""
    async with hub.reader(max_partition_fetch_bytes=16 * 1_048_576) as kafka:
        partitions = await topic_partitions(kafka, [hub.settings.dead_letter_topic(consumer)])
        kafka.assign(partitions)
        ends = await kafka.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        for tp in remaining:
            kafka.seek(tp, 0)
        letters: list[DeadLetter] = []
        while remaining:
            fetched = await kafka.getmany(*remaining, timeout_ms=1000)
            for tp, messages in fetched.items():
                letters += [
                    DeadLetter(m.partition, m.offset, m.key, m.value, tuple(m.headers or ()))
                    for m in messages
                    if m.offset < ends[tp]
                ]
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return sorted(letters, key=lambda d: (d.partition, d.offset))


async def dead_letter(hub: Hub, consumer: str, ref: str) -> DeadLetter:
    """The dead letter `ref` (PARTITION:OFFSET) of the consumer, or `DeadLetterRefused`."""
    check_references([ref])
    found = [letter for letter in await read_dead_letters(hub, consumer) if letter.ref == ref]
    if not found:
        raise DeadLetterRefused(f"no dead letter {ref} for {consumer}")
    return found[0]


async def already_redriven(hub: Hub, topic: str) -> set[str]:
    async with hub.engine.connect() as conn:
        rows = await conn.execute(
            select(redrives.c.partition, redrives.c.offset).where(
                redrives.c.dead_letter_topic == topic
            )
        )
        return {f"{p}:{o}" for p, o in rows}


def check_references(refs: Sequence[str]) -> None:
    bad = [ref for ref in refs if not REFERENCE.match(ref)]
    if bad:
        raise DeadLetterRefused(f"not a dead-letter reference: {', '.join(map(repr, bad))} "
                                "(PARTITION:OFFSET, as `hub dlq list` prints them)")


@dataclass(frozen=True)
class RedrivePlan:
    consumer: str
    chosen: list[DeadLetter]  # to republish
    already_redriven: int  # chosen by the operator, redriven before: left alone
    truncated: list[DeadLetter]  # hold only a preview of the original: left alone


async def plan_redrive(hub: Hub, consumer: str, refs: Sequence[str], every: bool
                       ) -> RedrivePlan:
    """The dead letters `refs` (or `every` one) not redriven yet; refused for references that
    are malformed or name no dead letter."""
    if every == bool(refs):
        raise DeadLetterRefused("give PARTITION:OFFSET references or --all")
    check_references(refs)
    letters = await read_dead_letters(hub, consumer)
    missing = sorted(set(refs) - {letter.ref for letter in letters})
    if missing:
        raise DeadLetterRefused(f"no such dead letters: {', '.join(missing)}")
    done = await already_redriven(hub, hub.settings.dead_letter_topic(consumer))
    wanted = [x for x in letters if every or x.ref in refs]
    chosen = [x for x in wanted if x.ref not in done]
    return RedrivePlan(consumer, [x for x in chosen if not x.truncated],
                       len(wanted) - len(chosen), [x for x in chosen if x.truncated])


async def redrive(hub: Hub, consumer: str, letters: list[DeadLetter]) -> list[DeadLetter]:
    """Republish each dead letter to its source topic once; returns those republished.
    Truncated letters are left alone: republishing a preview would publish a different event."""
    topic = hub.settings.dead_letter_topic(consumer)
    engine = hub.engine
    producer = hub.dead_letter_producer()  # sized for what the dead-letter topic holds
    await producer.start()
    done = []
    try:
        for letter in letters:
            if letter.truncated:
                continue
            # Claim first, publish second, commit last: a failed publish leaves no claim.
            async with engine.begin() as conn:
                claimed = await conn.execute(
                    insert(redrives)
                    .values(
                        dead_letter_topic=topic,
                        partition=letter.partition,
                        offset=letter.offset,
                        redriven_at=hub.clock(),
                    )
                    .on_conflict_do_nothing()
                    .returning(redrives.c.offset)
                )
                if claimed.first() is None:
                    continue
                await producer.send_and_wait(
                    letter.header("dlq.source.topic"),
                    key=letter.key,
                    value=letter.value,
                    headers=letter.original_headers()
                    + [(REDRIVEN_FROM, f"{topic}:{letter.ref}".encode())],
                )
            done.append(letter)
    finally:
        await producer.stop()
    return done
