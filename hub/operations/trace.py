"""`hub trace EVENT_ID`: where one event is in each consumer, from Kafka and positions alone.

It needs no tracing backend (exporting may be off):

1. **Published where.** The newest `scan_limit` records of each partition of the event topics
   are read (a bound, so a large topic costs at most that many records per partition); a
   record is the event's when its `event_id` header or its JSON envelope's `event_id` is the
   id (a byte search first; only candidates are decoded). Every copy counts: the relay may
   publish twice after a crash, and a redrive republishes (`hub.redriven-from`).
2. **Each consumer reading that topic**, per copy: its stored position on the copy's partition
   (`<schema>.positions`, written in the batch's own transaction). At or below the copy's
   offset: *not reached*, with how many records are ahead of it. Past it: handled, and then its
   dead-letter topic (the newest `scan_limit` letters per partition, matched by their
   `dlq.source.*` position) says *dead-lettered* with the reason, else *applied*; a later copy
   of an event the consumer already applied is *skipped* (the projection applies an event once
   in effect). When the stored position is exactly past the copy, the batch that applied it is
   the last one and committed at the position's `updated_at`; otherwise it was earlier.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.operations.dead_letters import REDRIVEN_FROM
from hub.operations.refusals import Refused
from toolkit.kafka import BULK_FETCH, reader, topic_partitions
from toolkit.settings import Settings
from toolkit.streaming.projection import Projection
from toolkit.tracing import TRACEPARENT

if TYPE_CHECKING:
    from hub.bootstrap import Hub

DEFAULT_SCAN_LIMIT = 100_000

APPLIED = "applied"
SKIPPED = "skipped"
DEAD_LETTERED = "dead_lettered"
NOT_REACHED = "not_reached"

Position = tuple[str, int, int]  # topic, partition, offset


class TraceError(Refused):
    """An id that is not a UUID, or an event not in the scanned records: one line, exit 2."""


@dataclass(frozen=True)
class Copy:
    """One record of the event in its topic."""

    topic: str
    partition: int
    offset: int
    published_at: str | None
    event_type: str
    key: str
    traceparent: str | None
    redriven_from: str | None

    @property
    def position(self) -> Position:
        return self.topic, self.partition, self.offset

    @property
    def ref(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class StoredPosition:
    next_offset: int
    updated_at: str


@dataclass(frozen=True)
class Letter:
    topic: str
    partition: int
    offset: int
    reason: str
    exception: str
    time: str


@dataclass(frozen=True)
class ConsumerState:
    consumer: str
    copy: str
    state: str
    detail: str
    position: int | None = None
    dead_letter: dict[str, Any] | None = None


@dataclass
class EventTrace:
    event_id: str
    copies: list[Copy]
    consumers: list[ConsumerState] = field(default_factory=list)
    scanned: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "copies": [asdict(c) for c in self.copies],
                "consumers": [asdict(c) for c in self.consumers], "scanned": self.scanned}


def event_id_of(text: str) -> str:
    """The canonical form of an event id; `TraceError` when it is not a UUID."""
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise TraceError(f"not an event id (a UUID): {text!r}") from None


# A Kafka consumer without a group, not started: one per scan, since a client's metadata
# follows the topics it was first assigned.
KafkaFactory = Callable[[], AIOKafkaConsumer]


async def scan_newest(open_kafka: KafkaFactory, topics: Sequence[str], limit: int,
                      keep: Callable[[Any], bool]) -> list[Any]:
    """The records among the newest `limit` of each partition of `topics` that `keep` keeps."""
    kafka = open_kafka()
    await kafka.start()
    try:
        return await _scan(kafka, topics, limit, keep)
    finally:
        await kafka.stop()


async def _scan(kafka: AIOKafkaConsumer, topics: Sequence[str], limit: int,
                keep: Callable[[Any], bool]) -> list[Any]:
    partitions = await topic_partitions(kafka, list(topics))
    if not partitions:
        return []
    kafka.assign(partitions)
    starts = await kafka.beginning_offsets(partitions)
    ends = await kafka.end_offsets(partitions)
    remaining: set[TopicPartition] = set()
    for tp in partitions:
        first = max(starts[tp], ends[tp] - limit)
        if first < ends[tp]:
            kafka.seek(tp, first)
            remaining.add(tp)
    kept: list[Any] = []
    while remaining:
        fetched = await kafka.getmany(*remaining, timeout_ms=1000)
        for tp, messages in fetched.items():
            kept += [m for m in messages if m.offset < ends[tp] and keep(m)]
            if messages and messages[-1].offset + 1 >= ends[tp]:
                remaining.discard(tp)
    return kept


def _header(message: Any, name: str) -> str | None:
    for key, value in message.headers or ():
        if key == name:
            return value.decode("utf-8", "replace")
    return None


def is_event(message: Any, event_id: str, needle: bytes) -> bool:
    """Whether a record is the event `event_id` (its header, else its envelope)."""
    header = _header(message, "event_id")
    if header is not None:
        return header == event_id
    if needle not in (message.value or b""):
        return False
    try:
        document = json.loads(message.value)
    except (ValueError, RecursionError):
        return False
    return isinstance(document, dict) and str(document.get("event_id")) == event_id


def copy_of(message: Any) -> Copy:
    try:
        event_type = str(json.loads(message.value).get("event_type", ""))
    except (ValueError, AttributeError, RecursionError):
        event_type = _header(message, "event_type") or ""
    published = (datetime.fromtimestamp(message.timestamp / 1000, UTC).isoformat()
                 if message.timestamp is not None else None)
    return Copy(message.topic, message.partition, message.offset, published, event_type,
                (message.key or b"").decode("utf-8", "replace"), _header(message, TRACEPARENT),
                _header(message, REDRIVEN_FROM))


async def find_copies(open_kafka: KafkaFactory, topics: Sequence[str], event_id: str,
                      limit: int) -> list[Copy]:
    needle = event_id.encode()
    found = await scan_newest(open_kafka, topics, limit, lambda m: is_event(m, event_id, needle))
    return sorted((copy_of(m) for m in found), key=lambda c: (c.topic, c.partition, c.offset))


async def find_letters(open_kafka: KafkaFactory, dead_letter_topic: str,
                       sources: Iterable[Position], limit: int) -> dict[Position, Letter]:
    """The dead letters of `sources` (records' positions) among the topic's newest ones."""
    wanted = set(sources)

    def source(message: Any) -> Position | None:
        topic = _header(message, "dlq.source.topic")
        partition = _header(message, "dlq.source.partition")
        offset = _header(message, "dlq.source.offset")
        if topic is None or partition is None or offset is None:
            return None
        try:
            return topic, int(partition), int(offset)
        except ValueError:
            return None

    letters = await scan_newest(open_kafka, [dead_letter_topic], limit,
                                lambda m: source(m) in wanted)
    return {
        position: Letter(m.topic, m.partition, m.offset, _header(m, "dlq.reason") or "",
                         _header(m, "dlq.exception") or "", _header(m, "dlq.time") or "")
        for m in letters
        if (position := source(m)) is not None
    }


async def positions_of(engine: AsyncEngine,
                       projection: Projection) -> dict[tuple[str, int], StoredPosition]:
    positions = projection.positions
    async with engine.connect() as conn:
        rows = await conn.execute(select(positions.c.topic, positions.c.partition,
                                         positions.c.next_offset, positions.c.updated_at))
        return {(t, p): StoredPosition(o, u.isoformat()) for t, p, o, u in rows}


def consumer_states(consumer: str, copies: Sequence[Copy],
                    positions: dict[tuple[str, int], StoredPosition],
                    letters: dict[Position, Letter]) -> list[ConsumerState]:
    """What became of each copy in one consumer (copies in publish order per partition)."""
    states: list[ConsumerState] = []
    applied_at: str | None = None
    for copy in copies:
        stored = positions.get((copy.topic, copy.partition))
        next_offset = stored.next_offset if stored else 0
        if next_offset <= copy.offset:
            ahead = copy.offset - next_offset
            states.append(ConsumerState(
                consumer, copy.ref, NOT_REACHED,
                f"{_records(ahead)} ahead of it on partition {copy.partition} "
                f"(position {next_offset})", next_offset))
            continue
        letter = letters.get(copy.position)
        if letter is not None:
            states.append(ConsumerState(
                consumer, copy.ref, DEAD_LETTERED,
                f"reason {letter.reason} at {letter.time}: {letter.exception[:160]} "
                f"(dead letter {letter.partition}:{letter.offset} of {letter.topic})",
                next_offset, asdict(letter)))
            continue
        assert stored is not None  # next_offset > offset >= 0
        if applied_at is not None:
            states.append(ConsumerState(
                consumer, copy.ref, SKIPPED,
                f"a copy of the event applied at {applied_at}: it takes effect once",
                next_offset))
            continue
        applied_at = copy.ref
        when = (f"by the batch that committed at {stored.updated_at} (the latest)"
                if next_offset == copy.offset + 1
                else f"before {stored.updated_at} (position now {next_offset})")
        states.append(ConsumerState(consumer, copy.ref, APPLIED, when, next_offset))
    return states


async def trace_event(settings: Settings, engine: AsyncEngine, open_kafka: KafkaFactory,
                      projections: dict[str, Projection], event_id: str,
                      scan_limit: int = DEFAULT_SCAN_LIMIT) -> EventTrace:
    """Where `event_id` is in every consumer; `TraceError` when it is not in the scanned
    records."""
    if scan_limit < 1:
        raise TraceError("--scan-limit must be at least 1")
    topics = [settings.profiler_topic, settings.mentorship_topic]
    scanned = f"the newest {scan_limit} records of each partition of {', '.join(topics)}"
    copies = await find_copies(open_kafka, topics, event_id, scan_limit)
    if not copies:
        raise TraceError(f"event {event_id} not found in {scanned} "
                         "(--scan-limit looks further back)")
    trace = EventTrace(event_id, copies, scanned=scanned)
    for name, projection in projections.items():
        reads = set(projection.topics(settings))
        mine = [c for c in copies if c.topic in reads]
        if not mine:
            continue
        positions = await positions_of(engine, projection)
        letters = await find_letters(open_kafka, settings.dead_letter_topic(name),
                                     [c.position for c in mine], scan_limit)
        trace.consumers += consumer_states(name, mine, positions, letters)
    return trace


def _records(count: int) -> str:
    return {0: "no records", 1: "1 record"}.get(count, f"{count} records")


def render(trace: EventTrace) -> str:
    first = trace.copies[0]
    lines = [f"event {trace.event_id} ({first.event_type or 'type unknown'}, key {first.key})"]
    for copy in trace.copies:
        extra = f", redriven from {copy.redriven_from}" if copy.redriven_from else ""
        lines.append(f"published at {copy.ref} on {copy.published_at or '?'}"
                     f" (traceparent {copy.traceparent or 'none'}{extra})")
    several = len(trace.copies) > 1
    for state in trace.consumers:
        where = f" [{state.copy}]" if several else ""
        lines.append(f"  {state.consumer:12} {state.state:14} {state.detail}{where}")
    lines.append(f"(scanned {trace.scanned})")
    return "\n".join(lines)


async def run_trace(hub: Hub, event_id: str, scan_limit: int = DEFAULT_SCAN_LIMIT) -> EventTrace:
    """`trace_event` with the hub's engine and group-less Kafka readers (`hub trace`)."""
    from hub.projections import all_projections

    def open_kafka() -> AIOKafkaConsumer:
        return reader(hub.bootstrap, **BULK_FETCH)

    return await trace_event(hub.settings, hub.engine, open_kafka, all_projections(), event_id,
                             scan_limit)
