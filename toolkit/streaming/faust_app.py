"""Builds the faust-streaming app of one projection: its own consumer group, one agent.

Positions live in PostgreSQL (see `toolkit.streaming.applier`). faust's own offset commits are
only a hint: when partitions are assigned, the positions stored with the projection are
committed to the group before faust seeks to the group's committed offsets, so a worker
always resumes exactly after what its projection holds, whatever faust acked or committed
(faust-streaming #189/#315: events are acked even when processing fails or is cancelled).

Records reach the batches without faust's per-event stream machinery: `BatchConsumer` hands
each Kafka fetch to the worker's `Arrivals` as one list (faust's own drain awaits a callback
per record, through the conductor, the topic's queue, the stream and the agent: most of a
worker's CPU per event, measured with py-spy under bench/e2e_latency.py). faust still runs
the consumer group, the fetcher, seeking and offset commits; the agent applies the batches.
A record is acked once its batch's transaction has committed, so faust's commits never run
ahead of the projection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Set
from typing import cast

import faust
from faust.tables import TableManager
from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message, TopicT

from toolkit.lag import EndOffsets, lag_by_partition
from toolkit.metrics import CONSUMER_LAG
from toolkit.settings import Settings
from toolkit.streaming.arrivals import Arrivals
from toolkit.streaming.crash_points import CrashPoints
from toolkit.streaming.faults import backoff_seconds, is_transient
from toolkit.streaming.projection import Projection
from toolkit.streaming.records import from_faust
from toolkit.streaming.runtime import WorkerRuntime

log = logging.getLogger(__name__)
LAG_INTERVAL_SECONDS = 5.0
# A worker whose batches come out full is behind (a backlog at start-up, after an outage):
# it takes batches up to this size, as the bulk path does (toolkit.streaming.bulk), and returns
# to HUB_BATCH_SIZE once a batch is not full.
BACKLOG_BATCH_RECORDS = 20_000

BatchSink = Callable[[list[Message]], Awaitable[None]]


# How long the broker may hold a fetch for more data, and how much it waits for. faust asks
# for every record at once (fetch.min.bytes 1), so at a few hundred events/s each fetch
# brought a handful and cost a fetch cycle in both threads; coalesced fetches cost a
# lone event at most FETCH_MAX_WAIT_MS more.
# Measured with bench/e2e_latency.py --projections missions at 500 ev/s, two runs each:
# 391–450 µs CPU/event against 522–581 with faust's (1 byte, 1.5 s), p50 similar.
FETCH_MIN_BYTES = 16 * 1024
FETCH_MAX_WAIT_MS = 50


class BatchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_min_bytes = FETCH_MIN_BYTES  # noqa: SLF001 - faust passes no setting
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # noqa: SLF001
        return consumer


class BatchConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer, delivering each fetch as one list to `app.batch_sink`.

    The same loop as faust's `Consumer._drain_messages` (read offsets, gaps, commit every N
    acks, flow suspended on rebalance), with one await per fetch instead of one per record.
    """

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher) -> None:  # pragma: no cover - faust's loop
        sink: BatchSink | None = getattr(self.app, "batch_sink", None)
        if sink is None:
            await super()._drain_messages(fetcher)
            return
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set  # noqa: SLF001 - as faust's own loop
        read_offset = self._read_offset
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                fetched: list[Message] = []
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in getmany(timeout=1.0):
                        offset = message.offset
                        r_offset = read_offset[tp]
                        if r_offset is None or offset >= r_offset:
                            if r_offset and offset - r_offset > 1 and acks_enabled_for(
                                message.topic
                            ):
                                await self._add_gap(tp, r_offset + 1, offset)
                            fetched.append(message)
                            read_offset[tp] = offset
                    if fetched:
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await self.wait_first(sink(fetched), self.suspend_flow.wait())
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


class BatchTransport(faust_aiokafka.Transport):
    Consumer = BatchConsumer


class TablelessManager(TableManager):
    """faust's table manager without its fixed one-second pause at start (time for tables
    to register): a projection keeps no faust tables, and that second delayed every
    worker's group join (measured from the worker's own log: Conductor "waiting for tables"
    to Recovery "starting", 1.0 s)."""

    async def on_start(self) -> None:
        if self.data:  # some table was registered after all: keep faust's behaviour
            await super().on_start()
            return
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


def group_id(projection: Projection, settings: Settings) -> str:
    return f"{settings.group_prefix}-{projection.name}"


class PositionedApp(faust.App):
    """A faust App that resumes from the projection's stored positions.

    faust's recovery seeks to the group's committed offsets as soon as partitions are
    assigned (before the `on_partitions_assigned` signal fires), so the stored positions are
    committed first, here, ahead of faust's own handling.
    """

    positions_for: Callable[[Set[TP]], Awaitable[dict[TP, int]]] | None = None
    batch_sink: BatchSink | None = None

    def _new_transport(self):
        return BatchTransport(self.conf.broker_consumer, self)

    async def _on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        if self.positions_for is not None and assigned and not self.should_stop:
            offsets = await self.positions_for(assigned)
            if offsets:
                # faust types `consumer` as ConsumerT, which does not declare `_commit`.
                consumer = cast(Consumer, self.consumer)
                await consumer._commit(offsets)  # noqa: SLF001 - no public call in faust
            log.info("resuming from stored positions",
                     extra={"positions": {f"{tp.topic}:{tp.partition}": o
                                          for tp, o in offsets.items()}})
        await super()._on_partitions_assigned(assigned, generation_id)


def create_app(projection: Projection, settings: Settings,
               runtime: WorkerRuntime | None = None) -> faust.App:
    """The projection's faust app; `runtime` builds its engine and dead-letter producer
    (default: the toolkit's own factories)."""
    app = PositionedApp(
        group_id(projection, settings),
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap.split(",")],
        value_serializer="raw",
        key_serializer="raw",
        web_enabled=False,
        store="memory://",
        # faust creates a data directory even with in-memory tables; keep it out of the cwd.
        datadir=os.path.join(tempfile.gettempdir(), f"faust-{group_id(projection, settings)}"),
        topic_allow_declare=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=settings.batch_size,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        stream_buffer_maxsize=max(4096, settings.batch_size * 2),
        logging_config=None,
        TableManager=TablelessManager,
    )
    runtime = runtime or WorkerRuntime(projection, settings)
    topic = app.topic(*projection.topics(settings), value_serializer="raw", key_serializer="raw")
    crash_points = CrashPoints.from_environ()  # test-only; inert unless HUB_TEST_* is set

    arrivals: Arrivals[Message] = Arrivals(settings.batch_size,
                                           settings.batch_interval_ms / 1000)
    app.batch_sink = arrivals.put_many
    # Subscribe to the topic as iterating it would (faust's `Topic.__aiter__`); the agent's
    # own stream is never iterated, so nothing else would.
    app.topics.add(cast(TopicT, topic.clone(is_iterator=True)))

    @app.agent(topic, concurrency=1, name=f"{projection.name}-agent")
    async def apply_batches(stream):
        # The stream stays empty: BatchConsumer puts each fetch in `arrivals` (see above).
        # Events keep arriving while a batch is applied; they make the next batch.
        applier = await runtime.applier()
        ack = app.consumer.ack
        inbound = app.monitor.stream_inbound_time  # faust's "is the stream alive" check
        try:
            while True:
                messages = await arrivals.take()
                now = time.monotonic()
                for tp in {m.tp for m in messages}:
                    inbound[tp] = now
                arrivals.max_batch = batch_size_after(
                    len(messages), len(arrivals), arrivals.max_batch, settings.batch_size
                )
                crash_points.before_batch()
                await _apply_until_done(applier, [from_faust(m) for m in messages], settings)
                crash_points.after_commit()
                for message in messages:
                    ack(message)
        finally:
            await ends_probe.close()
            await runtime.close()

    async def positions_for(assigned: Set[TP]) -> dict[TP, int]:
        topics = projection.topics(settings)
        stored = await _stored_positions(runtime, settings)
        return {tp: stored[(tp.topic, tp.partition)] for tp in assigned
                if tp.topic in topics and (tp.topic, tp.partition) in stored}

    app.positions_for = positions_for
    # One Kafka client for the worker's life, not one per reading.
    ends_probe = EndOffsets(settings.kafka_bootstrap)

    @app.timer(interval=LAG_INTERVAL_SECONDS)
    async def report_lag() -> None:
        """Export lag (end offsets against stored positions) as a gauge; best effort."""
        try:
            applier = await runtime.applier()
            ends = await ends_probe.read(projection.topics(settings))
            stored = await applier.stored_positions()
        except Exception as exc:  # the worker's own retries report the outage
            log.debug("lag not measured", extra={"error": repr(exc)})
            return
        for (topic, partition), behind in lag_by_partition(ends, stored).items():
            CONSUMER_LAG.labels(projection.name, f"{topic}:{partition}").set(behind)

    return app


async def _apply_until_done(applier, records: list, settings: Settings) -> None:
    """`applier.apply`, tried again with backoff if it raises (it retries transient faults and
    dead-letters bad records itself, so this is for the unforeseen). The batch is never
    dropped: its records' offsets are behind those of every later batch, so applying a later
    one first would move the positions past them for good."""
    rng = random.Random()
    attempt = 0
    while True:
        try:
            await applier.apply(records)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = backoff_seconds(attempt, settings.retry_initial_seconds,
                                    settings.retry_max_seconds, rng)
            log.error("batch failed, trying it again",
                      extra={"consumer": applier.projection.name, "attempt": attempt + 1,
                             "delay_s": round(delay, 3), "error": repr(exc)})
            attempt += 1
            await asyncio.sleep(delay)


def batch_size_after(taken: int, waiting: int, current: int, configured: int) -> int:
    """The next batch's size: a full batch with more waiting means a backlog, so grow towards
    bulk-sized batches (fewer, larger transactions catch up faster); otherwise the
    configured size."""
    if taken >= current and waiting:
        return min(max(current * 4, configured), max(BACKLOG_BATCH_RECORDS, configured))
    return configured


async def _stored_positions(runtime: WorkerRuntime, settings: Settings):
    """The projection's positions, waiting out a database that is not reachable yet."""
    rng = random.Random()
    attempt = 0
    while True:
        try:
            applier = await runtime.applier()
            return await applier.stored_positions()
        except Exception as exc:
            if not is_transient(exc):
                raise
            await asyncio.sleep(
                backoff_seconds(attempt, settings.retry_initial_seconds,
                                settings.retry_max_seconds, rng)
            )
            attempt += 1
