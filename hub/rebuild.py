"""`hub rebuild`: rebuild one projection from its topics into a fresh table set, then swap.

Blue/green: the projection's own code replays every record from the beginning into
`<schema>_rebuild` (the applier's `table_set` maps the live schema there), catches up the
tail, then one transaction locks the live tables, renames the schemas and drops the old set.
Readers see the old set until the commit and the new one after, never a missing one; they
wait only for the rename. The rebuilt positions travel with the rebuilt tables, so workers
resume exactly where the rebuild stopped. A rebuild publishes nothing: records the live
consumer refused were dead-lettered then, and are only counted now. Cancelled before the
swap, the rebuild drops its table set and the live projection is untouched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.settings import Settings
from hub.streaming.applier import BatchApplier
from hub.streaming.bulk import ReplayStats, replay_to_end, topic_partitions
from hub.streaming.dead_letters import Refusal
from hub.streaming.projection import Projection

# A catch-up pass that handled at most this many records leaves a tail the workers absorb.
TAIL_RECORDS = 1000
MAX_CATCH_UP_PASSES = 5
# Below PostgreSQL's deadlock_timeout (1 s): when a reader holding one of the tables waits for
# another, the swap gives up first and retries, so a reader is never the deadlock's victim.
SWAP_LOCK_TIMEOUT = "200ms"
SWAP_ATTEMPTS = 100


@dataclass(frozen=True)
class RebuildPlan:
    consumer: str
    live: str
    target: str
    topics: list[str]
    # (topic, partition) -> (first offset, end offset) when planned
    partitions: dict[tuple[str, int], tuple[int, int]]

    @property
    def records(self) -> int:
        return sum(end - begin for begin, end in self.partitions.values())


@dataclass
class RebuildResult:
    records: int = 0
    applied: int = 0
    refused: int = 0
    passes: int = 0
    seconds: float = 0.0


def rebuild_schema(projection: Projection) -> str:
    return f"{projection.positions.schema}_rebuild"


async def plan(settings: Settings, projection: Projection) -> RebuildPlan:
    kafka = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False
    )
    await kafka.start()
    try:
        topics = projection.topics(settings)
        tps = await topic_partitions(kafka, topics)
        begins = await kafka.beginning_offsets(tps)
        ends = await kafka.end_offsets(tps)
    finally:
        await kafka.stop()
    return RebuildPlan(
        projection.name, projection.positions.schema, rebuild_schema(projection), topics,
        {(tp.topic, tp.partition): (begins[tp], ends[tp]) for tp in tps},
    )


class CountingSink:
    """Stands in for the dead-letter sink: a rebuild must not publish, so refusals are
    counted (the live consumer dead-lettered the same records when it first saw them)."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.topic = None
        self.refused = 0

    async def send(self, refusals: Sequence[Refusal]) -> None:
        self.refused += len(refusals)


@dataclass
class Progress:
    """Renders `records done / total, rate, ETA` for a progress line."""

    total: int
    write: Callable[[str], None]
    started: float = field(default_factory=time.perf_counter)
    done_before: int = 0

    def __call__(self, stats: ReplayStats) -> None:
        done = self.done_before + stats.records
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = done / elapsed
        left = max(self.total - done, 0)
        eta = f"{left / rate:.0f}s" if rate else "?"
        share = f"{100 * done / self.total:.0f}%" if self.total else "-"
        self.write(f"{done}/{self.total} records ({share}), {rate:,.0f} rec/s, ETA {eta}")


async def create_table_set(engine: AsyncEngine, projection: Projection, target: str) -> None:
    """A fresh, empty copy of the projection's tables in `target` (a leftover one is dropped)."""
    live = projection.positions.schema
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{target}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{target}"'))
        mapped = await conn.execution_options(schema_translate_map={live: target})
        await mapped.run_sync(projection.metadata.create_all)


async def drop_table_set(engine: AsyncEngine, target: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{target}" CASCADE'))


async def swap(engine: AsyncEngine, projection: Projection, target: str) -> None:
    """Make `target` the live table set in one transaction; readers wait for the lock. A
    swap that cannot take every lock at once (readers in flight) backs off and tries again."""
    for attempt in range(SWAP_ATTEMPTS):
        try:
            return await _swap_once(engine, projection, target)
        except DBAPIError as exc:
            if not _lock_contention(exc) or attempt == SWAP_ATTEMPTS - 1:
                raise
            await asyncio.sleep(min(1.0, 0.05 * (attempt + 1)))


def _lock_contention(exc: BaseException) -> bool:
    text_ = f"{type(exc.orig).__name__} {exc.orig}" if isinstance(exc, DBAPIError) else ""
    return "LockNotAvailable" in text_ or "DeadlockDetected" in text_ or "lock timeout" in text_


async def _swap_once(engine: AsyncEngine, projection: Projection, target: str) -> None:
    live = projection.positions.schema
    old = f"{live}_old"
    async with engine.begin() as conn:
        names = ", ".join(
            conn.dialect.identifier_preparer.format_table(t)
            for t in projection.metadata.sorted_tables
        )
        await conn.execute(text(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'"))
        await conn.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
        await conn.execute(text(f'ALTER SCHEMA "{live}" RENAME TO "{old}"'))
        await conn.execute(text(f'ALTER SCHEMA "{target}" RENAME TO "{live}"'))
        await conn.execute(text(f'DROP SCHEMA "{old}" CASCADE'))


def _raise_if_cancelled() -> None:
    """aiokafka's consumer shutdown can swallow a cancellation aimed at the replay; the
    request is still pending on the task, and it must stop the rebuild before the swap."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def rebuild(
    settings: Settings,
    engine: AsyncEngine,
    projection: Projection,
    the_plan: RebuildPlan,
    *,
    write_progress: Callable[[str], None] | None = None,
) -> RebuildResult:
    """Replay into a fresh table set, catch up the tail, swap. The live consumer's workers
    must be stopped (the caller checks): they would keep advancing the set being replaced."""
    started = time.perf_counter()
    target = the_plan.target
    sink = CountingSink(projection.name)
    applier = BatchApplier(projection, engine, sink, settings, table_set=target)  # type: ignore[arg-type]
    progress = Progress(the_plan.records, write_progress or (lambda _line: None))
    result = RebuildResult()
    await create_table_set(engine, projection, target)
    try:
        while True:
            stats = await replay_to_end(
                applier, settings.kafka_bootstrap, the_plan.topics, on_batch=progress
            )
            _raise_if_cancelled()
            progress.done_before += stats.records
            result.passes += 1
            result.records += stats.records
            result.applied += stats.applied
            if result.passes > 1 and (
                stats.records <= TAIL_RECORDS or result.passes >= MAX_CATCH_UP_PASSES
            ):
                break
        await swap(engine, projection, target)
    except BaseException:
        # Cancelled or failed before the swap committed: the live set was never touched.
        await asyncio.shield(drop_table_set(engine, target))
        raise
    result.refused = sink.refused
    result.seconds = time.perf_counter() - started
    return result
