"""Applies a batch of consumed records to a projection: the heart of every worker.

One PostgreSQL transaction per batch holds the projection's writes and the new positions
(next offset per partition), with the position rows locked first. Records below a stored
position were applied before (a redelivery, or a zombie worker's stale batch) and are skipped,
so each event takes effect once. Refused records are dead-lettered before the position moves
past them. Transient faults are retried with backoff and never dead-lettered; `apply` returns
only once the batch is durably handled.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Select, Table, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.errors import EventRejected
from schemas.registry import AnyEvent, decode
from toolkit import metrics
from toolkit.settings import Settings
from toolkit.streaming.batch_spans import (
    APPLIED,
    DEAD_LETTERED,
    SKIPPED,
    BatchNotes,
    batch_span,
)
from toolkit.streaming.dead_letters import DeadLetterSink, Refusal, event_identity
from toolkit.streaming.faults import backoff_seconds, is_transient
from toolkit.streaming.notify import notify_positions
from toolkit.streaming.projection import Projection
from toolkit.streaming.records import Record
from toolkit.streaming.setsql import insert_rows, unnest_insert

log = logging.getLogger(__name__)

# Events claiming to occur further ahead than this are refused: clocks drift, not by a day.
FUTURE_TOLERANCE = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    applied: int
    dead_lettered: int
    skipped: int
    seconds: float


def screen(
    record: Record, projection: Projection, max_bytes: int, now: datetime
) -> AnyEvent | Refusal:
    """Decode and check one record; the event, or why it is refused."""
    try:
        event = decode(record.value, max_bytes)
    except EventRejected as exc:
        return Refusal(record, exc.reason, str(exc))
    if not projection.accepts(event):
        return Refusal(record, "unexpected_event_type", f"{event.event_type} on {record.topic}")
    key = record.key.decode("utf-8", "replace") if record.key is not None else None
    if key != event.key:
        return Refusal(record, "key_mismatch", f"key {key!r} is not the event's {event.key!r}")
    if event.occurred_at > now + FUTURE_TOLERANCE:
        return Refusal(record, "occurred_in_future", f"occurred_at {event.occurred_at.isoformat()}")
    # A far-future completed_at, erased_at or changed_at would win "newest" forever.
    for name, value in event.data:
        if isinstance(value, datetime) and value > now + FUTURE_TOLERANCE:
            return Refusal(record, "timestamp_in_future", f"data.{name} {value.isoformat()}")
    return event


class BatchApplier:
    def __init__(
        self,
        projection: Projection,
        engine: AsyncEngine,
        dead_letters: DeadLetterSink,
        settings: Settings,
        *,
        table_set: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if projection.erasure_secret is None:
            # Fail at start: applying without the key would dead-letter every batch.
            raise ValueError(
                f"{projection.name}: built without an erasure key; use all_projections(settings)"
            )
        self.projection = projection
        self.engine = engine
        self.dead_letters = dead_letters
        self.settings = settings
        # Rebuilds apply into another schema; the projection's SQL names the live one.
        self._schema_map: dict[str | None, str] | None = (
            {projection.positions.schema: table_set}
            if table_set and table_set != projection.positions.schema
            else None
        )
        self._rng = rng or random.Random()
        self.retrying = False
        # Partitions whose position row is known to exist: a batch of those locks its rows in
        # one statement; a new partition's row is created first.
        self._known_partitions: set[tuple[str, int]] = set()

    def screen(self, records: Sequence[Record]) -> list[AnyEvent | Refusal]:
        """Decode and check records: pure CPU work, done before the batch's transaction (and,
        in a bulk replay, while the previous batch's transaction runs)."""
        now = datetime.now(UTC)
        max_bytes = self.settings.max_event_bytes
        return [screen(record, self.projection, max_bytes, now) for record in records]

    async def apply(
        self, records: Sequence[Record], screened: Sequence[AnyEvent | Refusal] | None = None
    ) -> BatchOutcome:
        """Apply a batch; `screened` is `self.screen(records)` when the caller has it. The
        batch continues each record's trace (`toolkit.streaming.batch_spans`)."""
        started = time.perf_counter()
        with batch_span(self.projection.name) as notes:
            if screened is None:
                screened = self.screen(records)
            outcome = await self._apply(records, screened, started, notes)
            if notes is not None:
                notes.finish(records, screened)
            return outcome

    async def _apply(
        self,
        records: Sequence[Record],
        screened: Sequence[AnyEvent | Refusal],
        started: float,
        notes: BatchNotes | None,
    ) -> BatchOutcome:
        attempt = 0
        while True:
            try:
                applied, refused, skipped = await self._apply_once(records, screened, notes)
                self.retrying = False
                outcome = BatchOutcome(applied, refused, skipped, time.perf_counter() - started)
                self._observe(len(records), outcome)
                return outcome
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    return await self._isolate(records, screened, exc, started, notes)
                self.retrying = True
                metrics.TRANSIENT_RETRIES.labels(self.projection.name).inc()
                delay = backoff_seconds(
                    attempt, self.settings.retry_initial_seconds,
                    self.settings.retry_max_seconds, self._rng,
                )
                log.warning(
                    "transient fault, retrying batch",
                    extra={"consumer": self.projection.name, "attempt": attempt + 1,
                           "delay_s": round(delay, 3), "error": repr(exc)},
                )
                attempt += 1
                await asyncio.sleep(delay)

    def _observe(self, size: int, outcome: BatchOutcome) -> None:
        name = self.projection.name
        metrics.EVENTS_APPLIED.labels(name).inc(outcome.applied)
        metrics.REDELIVERIES_SKIPPED.labels(name).inc(outcome.skipped)
        metrics.BATCH_SIZE.labels(name).observe(size)
        metrics.BATCH_SECONDS.labels(name).observe(outcome.seconds)

    async def _isolate(
        self,
        records: Sequence[Record],
        screened: Sequence[AnyEvent | Refusal],
        exc: Exception,
        started: float,
        notes: BatchNotes | None = None,
    ) -> BatchOutcome:
        """A non-transient failure: split the batch until the record that causes it is alone,
        then dead-letter that record so the rest still applies."""
        if len(records) == 1:
            refusal = Refusal(records[0], "apply_failed", repr(exc))
            log.error("record failed to apply, dead-lettering",
                      extra={"consumer": self.projection.name, "error": repr(exc),
                             **event_identity(records[0].value)})
            return await self.apply_refusals([refusal], started, notes)
        middle = len(records) // 2
        first = await self._apply(records[:middle], screened[:middle], time.perf_counter(), notes)
        second = await self._apply(records[middle:], screened[middle:], time.perf_counter(),
                                   notes)
        return BatchOutcome(
            first.applied + second.applied,
            first.dead_lettered + second.dead_lettered,
            first.skipped + second.skipped,
            time.perf_counter() - started,
        )

    async def apply_refusals(self, refusals: list[Refusal], started: float,
                             notes: BatchNotes | None = None) -> BatchOutcome:
        while True:
            try:
                async with self._transaction() as conn:
                    records = [r.record for r in refusals]
                    fresh = await self._fresh(conn, records)
                    todo = [r for r in refusals if r.record in fresh]
                    if todo:
                        await self.dead_letters.send(todo)
                    await self._advance(conn, fresh, [])
                if notes is not None:
                    for refusal in refusals:
                        if refusal in todo:
                            notes.note(refusal.record, DEAD_LETTERED, refusal.reason)
                        else:
                            notes.note(refusal.record, SKIPPED)
                return BatchOutcome(0, len(todo), len(refusals) - len(todo),
                                    time.perf_counter() - started)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    raise
                await asyncio.sleep(self.settings.retry_initial_seconds)

    def _transaction(self):
        return _Transaction(self.engine, self._schema_map)

    async def _apply_once(
        self, records: Sequence[Record], screened: Sequence[AnyEvent | Refusal],
        notes: BatchNotes | None = None,
    ) -> tuple[int, int, int]:
        async with self._transaction() as conn:
            stored = await self._lock_positions(conn, records)
            fresh: list[Record] = []
            events: list[AnyEvent] = []
            refusals: list[Refusal] = []
            for record, outcome in zip(records, screened, strict=True):
                if record.offset < stored.get((record.topic, record.partition), 0):
                    continue
                fresh.append(record)
                if isinstance(outcome, Refusal):
                    refusals.append(outcome)
                else:
                    events.append(outcome)
            if refusals:
                await self.dead_letters.send(refusals)
            if events:
                await self.projection.apply(conn, events)
            await self._advance(conn, fresh, events)
        if notes is not None:
            for record, outcome in zip(records, screened, strict=True):
                if record.offset < stored.get((record.topic, record.partition), 0):
                    notes.note(record, SKIPPED)
                elif isinstance(outcome, Refusal):
                    notes.note(record, DEAD_LETTERED, outcome.reason)
                else:
                    notes.note(record, APPLIED)
        return len(events), len(refusals), len(records) - len(fresh)

    async def _fresh(self, conn: AsyncConnection, records: Sequence[Record]) -> list[Record]:
        """Lock this batch's position rows and keep the records not applied yet."""
        stored = await self._lock_positions(conn, records)
        return [r for r in records if r.offset >= stored.get((r.topic, r.partition), 0)]

    async def _lock_positions(
        self, conn: AsyncConnection, records: Sequence[Record]
    ) -> dict[tuple[str, int], int]:
        """Lock the position rows of the batch's topics (creating missing ones); the stored
        next offsets. Records below them were applied before.

        Every row of the topics is locked, in one order, so two appliers of one projection
        (a zombie and its successor) take turns. Once every partition of a batch has a row,
        that is one statement per batch."""
        positions = self.projection.positions
        partitions = {(r.topic, r.partition) for r in records}
        if not partitions:
            return {}
        missing = partitions - self._known_partitions
        if missing:
            now = datetime.now(UTC)
            await insert_rows(
                conn, _new_positions(positions), NEW_POSITION_COLUMNS,
                [{"topic": t, "partition": p, "next_offset": 0, "updated_at": now}
                 for t, p in sorted(missing)],
            )
        rows = await conn.execute(
            _lock_positions(positions), {"topics": sorted({t for t, _ in partitions})}
        )
        stored = {(t, p): o for t, p, o in rows}
        self._known_partitions.update(stored)
        return stored

    async def _advance(
        self, conn: AsyncConnection, fresh: Sequence[Record], events: Sequence[AnyEvent]
    ) -> None:
        if not fresh:
            return
        newest: dict[tuple[str, int], int] = {}
        for record in fresh:
            key = (record.topic, record.partition)
            newest[key] = max(newest.get(key, -1), record.offset + 1)
        last_event_at = max((e.occurred_at for e in events), default=None)
        now = datetime.now(UTC)
        await insert_rows(
            conn, _advanced_positions(self.projection.positions, last_event_at is not None),
            ADVANCED_POSITION_COLUMNS,
            [
                {"topic": t, "partition": p, "next_offset": o, "updated_at": now,
                 "last_event_at": last_event_at}
                for (t, p), o in newest.items()
            ],
        )
        await notify_positions(conn, self.projection.name)  # read-your-writes waiters

    async def stored_positions(self) -> dict[tuple[str, int], int]:
        positions = self.projection.positions
        async with self._transaction() as conn:
            rows = await conn.execute(
                select(positions.c.topic, positions.c.partition, positions.c.next_offset)
            )
            return {(t, p): o for t, p, o in rows}


NEW_POSITION_COLUMNS = ("topic", "partition", "next_offset", "updated_at")
ADVANCED_POSITION_COLUMNS = (*NEW_POSITION_COLUMNS, "last_event_at")


@functools.cache
def _new_positions(positions: Table) -> Insert:
    return unnest_insert(positions, NEW_POSITION_COLUMNS).on_conflict_do_nothing()


@functools.cache
def _lock_positions(positions: Table) -> Select:
    """The topics' position rows, locked in (topic, partition) order; built once, so
    SQLAlchemy's cache key and compiled form are reused by every batch."""
    return (
        select(positions.c.topic, positions.c.partition, positions.c.next_offset)
        .where(positions.c.topic == any_(bindparam("topics", type_=ARRAY(positions.c.topic.type))))
        .order_by(positions.c.topic, positions.c.partition)
        .with_for_update()
    )


@functools.cache
def _advanced_positions(positions: Table, with_event_time: bool) -> Insert:
    """Upsert of the next offsets; a batch of refusals only leaves `last_event_at` as it was."""
    stmt = unnest_insert(positions, ADVANCED_POSITION_COLUMNS)
    values: dict[str, ColumnElement[Any]] = {
        "next_offset": stmt.excluded.next_offset, "updated_at": stmt.excluded.updated_at,
    }
    if with_event_time:
        # The newest event applied so far, not the newest of this batch: events arrive out
        # of order. GREATEST ignores the NULL of a partition that had none yet.
        values["last_event_at"] = func.greatest(
            positions.c.last_event_at, stmt.excluded.last_event_at
        )
    return stmt.on_conflict_do_update(index_elements=["topic", "partition"], set_=values)


class _Transaction:
    """`engine.begin()` with the projection's table set mapped where it should go."""

    def __init__(self, engine: AsyncEngine, schema_map: dict[str | None, str] | None) -> None:
        self._begin = engine.begin()
        self._schema_map = schema_map

    async def __aenter__(self) -> AsyncConnection:
        conn = await self._begin.__aenter__()
        if self._schema_map:
            conn = await conn.execution_options(schema_translate_map=self._schema_map)
        return conn

    async def __aexit__(self, *exc_info) -> None:
        await self._begin.__aexit__(*exc_info)
