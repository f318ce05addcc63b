"""`hub rebuild`: rebuild projections from their topics into fresh table sets, then swap.

The bulk path (`toolkit.streaming.bulk_load`, DESIGN "Two paths, one set of rules"): the topics
are read once up to the end offsets planned, each record decoded once, every learner's history
folded in memory with the same pure rules as the live path, and each projection's final rows
COPYed into `<schema>_rebuild`, indexes and constraints built after the load, positions at the
end offsets read. Then one transaction locks every live table of the selected projections,
renames the schemas and drops the old sets: readers see the old sets until the commit and the
new ones after, never a missing one; they wait only for the rename. Records appended after
the plan are left to the workers, which resume from the rebuilt positions. A rebuild publishes
nothing: records the live consumer refused were dead-lettered then, and are only counted now.
Cancelled before the swap, the rebuild drops its table sets and the live projections are
untouched. The selected projections' workers must be stopped: `rebuild` refuses while they run.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.bootstrap import Hub
from hub.operations.guard import ensure_stopped
from toolkit.kafka import topic_partitions
from toolkit.streaming import bulk_load
from toolkit.streaming.projection import Projection

# Below PostgreSQL's deadlock_timeout (1 s): when a reader holding one of the tables waits for
# another, the swap gives up first and retries, so a reader is never the deadlock's victim.
SWAP_LOCK_TIMEOUT = "200ms"
SWAP_ATTEMPTS = 100


@dataclass(frozen=True)
class RebuildPlan:
    consumers: list[str]
    topics: list[str]
    # (topic, partition) -> (first offset, end offset) when planned
    partitions: dict[tuple[str, int], tuple[int, int]]
    live: str = ""
    target: str = ""

    @property
    def consumer(self) -> str:
        return ", ".join(self.consumers)

    @property
    def records(self) -> int:
        return sum(end - begin for begin, end in self.partitions.values())


@dataclass
class RebuildResult:
    records: int = 0
    refused: int = 0
    passes: int = 0
    seconds: float = 0.0
    refused_by: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0


def rebuild_schema(projection: Projection) -> str:
    return bulk_load.target_schema(projection)


def _selected(projections: Projection | Sequence[Projection]) -> list[Projection]:
    if isinstance(projections, Sequence):
        return list(projections)
    return [projections]


async def plan(hub: Hub, projections: Projection | Sequence[Projection]) -> RebuildPlan:
    """Every partition of the selected projections' topics, with its first and end offset."""
    selected = _selected(projections)
    topics = sorted({t for p in selected for t in p.topics(hub.settings)})
    async with hub.reader() as kafka:
        tps = await topic_partitions(kafka, topics)
        begins = await kafka.beginning_offsets(tps)
        ends = await kafka.end_offsets(tps)
    return RebuildPlan(
        [p.name for p in selected], topics,
        {(tp.topic, tp.partition): (begins[tp], ends[tp]) for tp in tps},
        ", ".join(str(p.positions.schema) for p in selected),
        ", ".join(rebuild_schema(p) for p in selected),
    )


@dataclass
class Progress:
    """Renders `records done / total, rate, ETA` for a progress line."""

    total: int
    write: Callable[[str], None]
    started: float = field(default_factory=time.perf_counter)
    done: int = 0

    def __call__(self, records: int) -> None:
        self.done += records
        done = self.done
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = done / elapsed
        left = max(self.total - done, 0)
        eta = f"{left / rate:.0f}s" if rate else "?"
        share = f"{100 * done / self.total:.0f}%" if self.total else "-"
        self.write(f"{done}/{self.total} records ({share}), {rate:,.0f} rec/s, ETA {eta}")


async def swap(engine: AsyncEngine, projections: Sequence[Projection]) -> None:
    """Make every `<schema>_rebuild` the live table set in one transaction; readers wait for
    the lock. A swap that cannot take every lock at once (readers in flight) backs off and
    tries again."""
    for attempt in range(SWAP_ATTEMPTS):
        try:
            return await _swap_once(engine, projections)
        except DBAPIError as exc:
            if not _lock_contention(exc) or attempt == SWAP_ATTEMPTS - 1:
                raise
            await asyncio.sleep(min(1.0, 0.05 * (attempt + 1)))


def _lock_contention(exc: BaseException) -> bool:
    text_ = f"{type(exc.orig).__name__} {exc.orig}" if isinstance(exc, DBAPIError) else ""
    return "LockNotAvailable" in text_ or "DeadlockDetected" in text_ or "lock timeout" in text_


async def _swap_once(engine: AsyncEngine, projections: Sequence[Projection]) -> None:
    async with engine.begin() as conn:
        names = ", ".join(
            conn.dialect.identifier_preparer.format_table(t)
            for p in projections for t in p.metadata.sorted_tables
        )
        await conn.execute(text(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'"))
        await conn.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
        for p in projections:
            live, target = p.positions.schema, rebuild_schema(p)
            await conn.execute(text(f'ALTER SCHEMA "{live}" RENAME TO "{live}_old"'))
            await conn.execute(text(f'ALTER SCHEMA "{target}" RENAME TO "{live}"'))
            await conn.execute(text(f'DROP SCHEMA "{live}_old" CASCADE'))


def _raise_if_cancelled() -> None:
    """aiokafka's consumer shutdown can swallow a cancellation aimed at the rebuild; the
    request is still pending on the task, and it must stop the rebuild before the swap."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def peak_rss_mb() -> float:
    """This process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def rebuild(
    hub: Hub,
    projections: Projection | Sequence[Projection],
    the_plan: RebuildPlan,
    *,
    write_progress: Callable[[str], None] | None = None,
    passes: int = 1,
    workers: int = 1,
) -> RebuildResult:
    """Fold every selected projection into fresh table sets and swap them all in at once.
    Refused (`WorkersRunning`) while their workers run: they would keep advancing the sets
    being replaced."""
    started = time.perf_counter()
    selected = _selected(projections)
    settings = hub.settings
    await ensure_stopped(settings, selected)
    progress = Progress(the_plan.records * passes, write_progress or (lambda _line: None))
    try:
        stats = await bulk_load.load(settings, selected, the_plan.partitions, passes=passes,
                                     workers=workers, on_records=progress)
        _raise_if_cancelled()
        swap_started = time.perf_counter()
        await swap(hub.engine, selected)
        stats.swap_s = time.perf_counter() - swap_started
    except BaseException:
        # Cancelled or failed before the swap committed: the live sets were never touched.
        await asyncio.shield(bulk_load.drop_targets(
            settings.database_url, [rebuild_schema(p) for p in selected]))
        raise
    return RebuildResult(
        records=stats.records,
        refused=sum(stats.refused.values()),
        passes=passes,
        seconds=time.perf_counter() - started,
        refused_by=stats.refused,
        rows=stats.rows,
        phases={"read_fold_s": round(stats.read_s, 1), "rows_s": round(stats.rows_s, 1),
                "copy_s": round(stats.copy_s, 1), "index_s": round(stats.index_s, 1),
                "swap_s": round(stats.swap_s, 2),
                **{f"cpu_{k}_s": v for k, v in stats.cpu.items()}},
        peak_rss_mb=round(max(peak_rss_mb(), stats.child_peak_rss_mb), 1),
    )
