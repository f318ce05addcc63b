"""The bulk path's I/O: read the topics once, fold every learner in memory, COPY the final
rows of every selected projection into fresh table sets, swap them all in one transaction.

Reading: one aiokafka consumer without a group assigned every partition of the selected
projections' topics, `getmany` with large fetches up to the end offsets seen at the start.
Each record is decoded and screened once (`toolkit.streaming.applier.screen`, the live path's
checks), then counted as refused by every selected projection reading its topic that does not
accept it (refusals are counted, never dead-lettered again: the live consumer did that).

Memory: what `BulkFold` holds per learner (the payloads of the sessions their lifecycle
remembers, invalidation and erasure times, mentorship's invalidation reasons), about 3 KB per
remembered session. A topic larger than memory is processed in passes over learner-key
ranges: pass i of n reads every record again but decodes and folds only those whose key's
CRC-32 is i modulo n; one learner's events share a key, so a learner is folded whole within
one pass, and the rows of each pass are COPYed before the next begins. What spans learners
(analytics sums, assignment changes, erasure times) is small and carried across passes.

Writing: each projection's table set is created empty as `<schema>_rebuild` (`LIKE` the live
tables: same columns, types, defaults, no index), loaded with `copy_records_to_table`, then
given the live tables' constraints and indexes (built once over the loaded rows, faster than
maintained row by row) and positions at the end offsets read. Nothing is visible until the swap
renames every live schema away and every rebuilt one in, in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import os
import signal
import time
import traceback
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import JSONB

from schemas.registry import AnyEvent
from toolkit.kafka import BULK_FETCH, reader, topic_partitions
from toolkit.settings import Settings
from toolkit.streaming.applier import screen
from toolkit.streaming.bulk_fold import (
    BulkFold,
    PartitionSeen,
    learner_rows,
    learners,
    positions_rows,
)
from toolkit.streaming.dead_letters import Refusal
from toolkit.streaming.projection import LIFECYCLE_EVENT_TYPES, BulkRows, Projection
from toolkit.streaming.records import Record, from_aiokafka

FETCH_RECORDS = 50_000
COPY_CHUNK = 200_000
# Learners whose rows are computed before they are handed to COPY: PostgreSQL parses one
# chunk on its core while this process computes the next on the other.
LEARNER_CHUNK = 20_000


class _AcceptAll:
    """Screens a record once for every projection: decode and the checks that do not depend
    on the projection; each projection's `accepts` is asked afterwards."""

    @staticmethod
    def accepts(event: Any) -> bool:
        return True


_ACCEPT_ALL: Any = _AcceptAll  # stands in for a Projection in `screen`, which asks `accepts`

@dataclass
class BulkStats:
    records: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    passes: int = 0
    read_s: float = 0.0
    rows_s: float = 0.0
    copy_s: float = 0.0
    index_s: float = 0.0
    swap_s: float = 0.0
    child_peak_rss_mb: float = 0.0
    # CPU seconds of this process per phase (wall figures above include waiting for a core).
    cpu: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def add_cpu(self, phase: str, since: float) -> None:
        self.cpu[phase] = round(self.cpu.get(phase, 0.0) + time.process_time() - since, 2)


def plain_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def target_schema(projection: Projection) -> str:
    return f"{projection.positions.schema}_rebuild"


# ----- reading and folding ---------------------------------------------------------------


class Intake:
    """Screens records once and folds the accepted ones: what `read_pass` does with each
    fetched batch, apart from Kafka (tests feed it records directly)."""

    def __init__(
        self, settings: Settings, projections: Sequence[Projection], fold: BulkFold,
        seen: dict[tuple[str, int], PartitionSeen], stats: BulkStats, *,
        passes: int = 1, pass_no: int = 0,
    ) -> None:
        topics_of = {p.name: set(p.topics(settings)) for p in projections}
        self.readers = {
            topic: [p for p in projections if topic in topics_of[p.name]]
            for topic in {t for ts in topics_of.values() for t in ts}
        }
        self.profiler_topic = settings.profiler_topic
        self.others_wanted = any(
            t not in LIFECYCLE_EVENT_TYPES for p in projections for t in p.event_types
        )
        self.max_bytes = settings.max_event_bytes
        self.now = datetime.now(UTC)
        self.fold, self.seen, self.stats = fold, seen, stats
        self.passes, self.pass_no = passes, pass_no
        for p in projections:
            stats.refused.setdefault(p.name, 0)

    def take(self, topic: str, partition: int, end: int, records: Sequence[Record]) -> None:
        """Records of one partition, in offset order, all below its planned `end`."""
        these = self.readers[topic]
        refused = self.stats.refused
        fold, passes, pass_no = self.fold, self.passes, self.pass_no
        part = self.seen.setdefault((topic, partition), PartitionSeen(end))
        newest = part.newest
        lifecycle = []
        for record in records:
            if passes > 1 and (zlib.crc32(record.key or b"") % passes) != pass_no:
                continue
            outcome = screen(record, _ACCEPT_ALL, self.max_bytes, self.now)
            if isinstance(outcome, Refusal):
                for p in these:
                    refused[p.name] += 1
                continue
            event_type = outcome.event_type
            accepted = False
            for p in these:
                if event_type in p.event_types:
                    accepted = True
                else:
                    refused[p.name] += 1
            if not accepted:
                continue
            at = outcome.occurred_at
            known = newest.get(event_type)
            if known is None or at > known:
                newest[event_type] = at
            if event_type in LIFECYCLE_EVENT_TYPES:
                if topic == self.profiler_topic:
                    lifecycle.append(outcome)
                else:
                    fold.add_stray(topic, outcome)
            elif self.others_wanted:
                fold.others.append(outcome)
        if lifecycle:
            fold.add(lifecycle)


async def read_pass(
    settings: Settings,
    projections: Sequence[Projection],
    fold: BulkFold,
    seen: dict[tuple[str, int], PartitionSeen],
    stats: BulkStats,
    *,
    passes: int = 1,
    pass_no: int = 0,
    ends: Mapping[tuple[str, int], tuple[int, int]],
    on_records: Callable[[int], None] | None = None,
) -> None:
    """Read every selected topic from its first to its planned end offset once, folding the
    records of this pass's learner-key range into `fold`."""
    intake = Intake(settings, projections, fold, seen, stats, passes=passes, pass_no=pass_no)
    consumer = reader(settings.kafka_bootstrap, **BULK_FETCH)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, sorted(intake.readers))
        consumer.assign(partitions)
        remaining = {}
        for tp in partitions:
            begin, end = ends.get((tp.topic, tp.partition), (0, 0))
            if begin < end:
                consumer.seek(tp, begin)
                remaining[tp] = end
        while remaining:
            fetched = await consumer.getmany(
                *remaining, timeout_ms=1000, max_records=FETCH_RECORDS
            )
            done = 0
            for tp, messages in fetched.items():
                if tp not in remaining or not messages:
                    continue
                end = remaining[tp]
                records = [from_aiokafka(m) for m in messages if m.offset < end]
                intake.take(tp.topic, tp.partition, end, records)
                done += len(records)
                if messages[-1].offset + 1 >= end:
                    del remaining[tp]
            if pass_no == 0:
                stats.records += done
            if on_records is not None and done:
                on_records(done)
            await asyncio.sleep(0)
    finally:
        await consumer.stop()


# ----- writing -----------------------------------------------------------------------------


# JSONB keeps no formatting, so compact text without the circular-reference check (row values
# are plain documents) stores the same value for less work.
_JSON = json.JSONEncoder(check_circular=False, separators=(",", ":"))


def _copyable(table: Table, rows: list[tuple]) -> list[tuple]:
    """JSONB values as JSON text (asyncpg's COPY codec takes text for jsonb)."""
    jsonb = [i for i, c in enumerate(table.columns) if isinstance(c.type, JSONB)]
    if not jsonb:
        return rows
    dumps = _JSON.encode
    if len(jsonb) == 1:
        (k,) = jsonb
        return [(*r[:k], dumps(r[k]), *r[k + 1:]) for r in rows]
    return [tuple(dumps(v) if i in jsonb else v for i, v in enumerate(r)) for r in rows]


async def create_empty(conn: asyncpg.Connection, projection: Projection, target: str) -> None:
    """`target` with every table of the projection, like the live ones, without indexes."""
    live = projection.positions.schema
    async with conn.transaction():
        await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
        await conn.execute(f'CREATE SCHEMA "{target}"')
        for table in projection.metadata.sorted_tables:
            await conn.execute(
                f'CREATE TABLE "{target}"."{table.name}" '
                f'(LIKE "{live}"."{table.name}" INCLUDING DEFAULTS)'
            )


async def copy_rows(
    conn: asyncpg.Connection, target: str, rows: Mapping[Table, list[tuple]], stats: BulkStats,
    name: str,
) -> None:
    for table, records in rows.items():
        if not records:
            continue
        columns = [c.name for c in table.columns]
        for start in range(0, len(records), COPY_CHUNK):
            chunk = _copyable(table, records[start:start + COPY_CHUNK])
            await conn.copy_records_to_table(
                table.name, records=chunk, columns=columns, schema_name=target
            )
        stats.rows[name] = stats.rows.get(name, 0) + len(records)


async def add_constraints(conn: asyncpg.Connection, projection: Projection, target: str) -> None:
    """The live tables' constraints and indexes, built over the loaded rows."""
    live = projection.positions.schema
    constraints = await conn.fetch(
        """select r.relname as table_name, c.conname, pg_get_constraintdef(c.oid) as def
           from pg_constraint c join pg_class r on r.oid = c.conrelid
           join pg_namespace n on n.oid = r.relnamespace
           where n.nspname = $1 and c.contype in ('p', 'u', 'c', 'x')""", live)
    indexes = await conn.fetch(
        """select pg_get_indexdef(i.indexrelid) as def
           from pg_index i join pg_class r on r.oid = i.indrelid
           join pg_namespace n on n.oid = r.relnamespace
           where n.nspname = $1
             and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)""",
        live)
    async with conn.transaction():
        for row in constraints:
            await conn.execute(
                f'ALTER TABLE "{target}"."{row["table_name"]}" '
                f'ADD CONSTRAINT "{row["conname"]}" {row["def"]}'
            )
        for row in indexes:
            definition: str = row["def"]
            await conn.execute(definition.replace(f" ON {live}.", f' ON "{target}".', 1))
        for table in projection.metadata.sorted_tables:
            await conn.execute(f'ANALYZE "{target}"."{table.name}"')


async def drop_targets(database_url: str, targets: Sequence[str]) -> None:
    conn = await asyncpg.connect(plain_dsn(database_url))
    try:
        for target in targets:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
    finally:
        await conn.close()


# ----- the whole run -----------------------------------------------------------------------


class Writer:
    """COPYs chunks of rows into one table set on its own connection, in order, while the
    caller computes the next chunk; at most `depth` chunks wait (memory stays bounded)."""

    def __init__(self, conn: asyncpg.Connection, target: str, name: str, stats: BulkStats,
                 depth: int = 2) -> None:
        self._queue: asyncio.Queue[dict[Table, list[tuple]] | None] = asyncio.Queue(depth)
        self._task = asyncio.create_task(self._run(conn, target, name, stats))

    async def _run(self, conn: asyncpg.Connection, target: str, name: str,
                   stats: BulkStats) -> None:
        while (rows := await self._queue.get()) is not None:
            await copy_rows(conn, target, rows, stats, name)

    async def put(self, rows: dict[Table, list[tuple]]) -> None:
        if self._task.done():
            self._task.result()  # a failed COPY fails the rebuild now
        await self._queue.put(rows)

    async def close(self) -> None:
        await self._queue.put(None)
        await self._task

    def cancel(self) -> None:
        self._task.cancel()


async def _rows_and_copy(
    settings: Settings, group: Sequence[Projection], fold: BulkFold,
    builders: Mapping[str, BulkRows], seen: Mapping[tuple[str, int], PartitionSeen],
    stats: BulkStats, *, now: datetime, final: bool, others: Sequence[AnyEvent],
    erased: Mapping[str, datetime],
) -> None:
    """Compute the rows of `group`'s projections from the fold and COPY them (on connections
    of their own); with `final`, also the rows beyond learners and the positions."""
    conns = {p.name: await asyncpg.connect(plain_dsn(settings.database_url)) for p in group}
    writers = {p.name: Writer(conns[p.name], target_schema(p), p.name, stats) for p in group}
    try:
        for p in group:
            topics = set(p.topics(settings))
            users = learners(fold, topics)
            for start in range(0, len(users), LEARNER_CHUNK):
                learner_rows(fold, p, topics, builders[p.name], users[start:start + LEARNER_CHUNK])
                await writers[p.name].put(builders[p.name].out.take())
            if final:
                builder = builders[p.name]
                builder.finish(others, erased)
                builder.out.add(p.positions, positions_rows(p, topics, seen, now))
                await writers[p.name].put(builder.out.take())
        for writer in writers.values():
            await writer.close()
    finally:
        for writer in writers.values():
            writer.cancel()
        for conn in conns.values():
            await conn.close()


def _groups(projections: Sequence[Projection], workers: int) -> list[list[Projection]]:
    """Projections dealt to `workers` processes, the costliest first (rows per learner)."""
    cost = {"portfolio": 5, "recipes": 5, "mentorship": 3, "analytics": 3, "missions": 2}
    ordered = sorted(projections, key=lambda p: -cost.get(p.name, 3))
    groups: list[list[Projection]] = [[] for _ in range(min(workers, len(projections)))]
    loads = [0] * len(groups)
    for p in ordered:
        i = loads.index(min(loads))
        groups[i].append(p)
        loads[i] += cost.get(p.name, 3)
    return groups


def _fork(work: Callable[[BulkStats], Any]) -> tuple[int, int]:
    """Run `asyncio.run(work(stats))` in a forked child (copy-on-write: it sees the fold
    without copying it); the child writes its row counts to the returned pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_end)
            asyncio.events._set_running_loop(None)  # the parent's loop is not running here
            stats = BulkStats()
            asyncio.run(work(stats))
            os.write(write_end, json.dumps(stats.rows).encode())
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)  # no cleanup of the parent's inherited connections
    os.close(write_end)
    return pid, read_end


async def _join(children: list[tuple[int, int]], stats: BulkStats) -> None:
    try:
        for pid, read_end in children:
            _, status, usage = await asyncio.to_thread(os.wait4, pid, 0)
            with os.fdopen(read_end, "rb") as pipe:
                counts = pipe.read()
            if os.waitstatus_to_exitcode(status) != 0:
                raise RuntimeError(f"bulk row process {pid} failed (exit status {status})")
            for name, n in json.loads(counts or b"{}").items():
                stats.rows[name] = stats.rows.get(name, 0) + n
            stats.cpu["rows_and_copy_children"] = round(
                stats.cpu.get("rows_and_copy_children", 0.0) + usage.ru_utime + usage.ru_stime, 2)
            stats.child_peak_rss_mb = max(stats.child_peak_rss_mb, usage.ru_maxrss / 1024)
    except BaseException:
        for pid, _ in children:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        raise


async def load(
    settings: Settings,
    projections: Sequence[Projection],
    ends: Mapping[tuple[str, int], tuple[int, int]],
    *,
    passes: int = 1,
    workers: int = 1,
    on_records: Callable[[int], None] | None = None,
) -> BulkStats:
    """Fold and COPY every selected projection into its `target_schema`, with constraints and
    positions; nothing live is touched (`swap` makes them live).

    The cyclic garbage collector is off meanwhile: the fold creates millions of objects that
    live until the end and no cycles, and each full collection would walk all of them
    (measured: about a third of the CPU at 50k events). With `workers` > 1 (and one pass) the
    rows are computed and COPYed by that many forked processes, each for some projections,
    sharing the folded states copy-on-write; the read and the fold stay in this one."""
    stats = BulkStats(passes=passes)
    now = datetime.now(UTC)
    builders: dict[str, BulkRows] = {p.name: p.bulk(now) for p in projections}
    seen: dict[tuple[str, int], PartitionSeen] = {}
    erased: dict[str, datetime] = {}
    others: list = []
    conns = {
        p.name: await asyncpg.connect(plain_dsn(settings.database_url)) for p in projections
    }
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for p in projections:
            await create_empty(conns[p.name], p, target_schema(p))
        for pass_no in range(passes):
            fold = BulkFold(projections)
            started, cpu = time.perf_counter(), time.process_time()
            await read_pass(settings, projections, fold, seen, stats, passes=passes,
                            pass_no=pass_no, ends=ends, on_records=on_records)
            stats.read_s += time.perf_counter() - started
            stats.add_cpu("read_fold", cpu)
            erased.update(fold.erased_at())
            others += fold.others
            final = pass_no == passes - 1
            started, cpu = time.perf_counter(), time.process_time()
            if workers > 1 and passes == 1:
                children = [
                    _fork(functools.partial(
                        _rows_and_copy, settings, group, fold, builders, seen, now=now,
                        final=True, others=others, erased=erased))
                    for group in _groups(projections, workers)
                ]
                await _join(children, stats)
            else:
                await _rows_and_copy(settings, projections, fold, builders, seen, stats,
                                     now=now, final=final, others=others, erased=erased)
            stats.rows_s += time.perf_counter() - started
            stats.add_cpu("rows_and_copy", cpu)
            del fold
        started = time.perf_counter()
        await asyncio.gather(*(add_constraints(conns[p.name], p, target_schema(p))
                               for p in projections))
        stats.index_s = time.perf_counter() - started
    finally:
        if gc_was_enabled:
            gc.enable()
        for conn in conns.values():
            await conn.close()
    return stats
