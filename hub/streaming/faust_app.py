"""Builds the faust-streaming app of one projection: its own consumer group, one agent.

Positions live in PostgreSQL (see `hub.streaming.applier`). faust's own offset commits are
only a hint: when partitions are assigned, the positions stored with the projection are
committed to the group before faust seeks to the group's committed offsets, so a worker
always resumes exactly after what its projection holds, whatever faust acked or committed
(faust-streaming #189/#315: events are acked even when processing fails or is cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import tempfile
from collections.abc import Awaitable, Callable, Set

import faust
from faust.types import TP

from hub.lag import end_offsets, lag_by_partition
from hub.metrics import CONSUMER_LAG
from hub.settings import Settings
from hub.streaming.arrivals import Arrivals, ArrivalsClosed
from hub.streaming.crash_points import CrashPoints
from hub.streaming.faults import backoff_seconds, is_transient
from hub.streaming.projection import Projection
from hub.streaming.records import Record, from_faust
from hub.streaming.runtime import WorkerRuntime

log = logging.getLogger(__name__)
LAG_INTERVAL_SECONDS = 5.0


def group_id(projection: Projection, settings: Settings) -> str:
    return f"{settings.group_prefix}-{projection.name}"


class PositionedApp(faust.App):
    """A faust App that resumes from the projection's stored positions.

    faust's recovery seeks to the group's committed offsets as soon as partitions are
    assigned (before the `on_partitions_assigned` signal fires), so the stored positions are
    committed first, here, ahead of faust's own handling.
    """

    positions_for: Callable[[Set[TP]], Awaitable[dict[TP, int]]] | None = None

    async def _on_partitions_assigned(self, assigned: Set[TP], generation_id: int = 0) -> None:
        if self.positions_for is not None and assigned and not self.should_stop:
            offsets = await self.positions_for(assigned)
            if offsets:
                await self.consumer._commit(offsets)  # noqa: SLF001 - no public call in faust
            log.info("resuming from stored positions",
                     extra={"positions": {f"{tp.topic}:{tp.partition}": o
                                          for tp, o in offsets.items()}})
        await super()._on_partitions_assigned(assigned, generation_id)


def create_app(projection: Projection, settings: Settings) -> faust.App:
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
    )
    runtime = WorkerRuntime(projection, settings)
    topic = app.topic(*projection.topics(settings), value_serializer="raw", key_serializer="raw")
    crash_points = CrashPoints.from_environ()  # test-only; inert unless HUB_TEST_* is set

    @app.agent(topic, concurrency=1, name=f"{projection.name}-agent")
    async def apply_batches(stream):
        applier = await runtime.applier()
        arrivals: Arrivals[Record] = Arrivals(settings.batch_size)

        async def apply_arrivals() -> None:
            try:
                while True:
                    records = await arrivals.take()
                    crash_points.before_batch()
                    await applier.apply(records)
                    crash_points.after_commit()
            finally:
                arrivals.close()

        # Events keep arriving while a batch is applied; they make the next batch. faust acks
        # them on arrival, which is safe: positions stored with the projection decide where a
        # worker resumes (see PositionedApp).
        applying = asyncio.ensure_future(apply_arrivals())
        agent = asyncio.current_task()
        # A failed batch stops the agent at once, not at the next arrival.
        applying.add_done_callback(
            lambda done: agent.cancel() if not done.cancelled() and done.exception() else None
        )
        try:
            async for event in stream.events():
                try:
                    await arrivals.put(from_faust(event.message))
                except ArrivalsClosed:
                    applying.result()  # re-raise what stopped the batches
                    raise
        finally:
            applying.cancel()
            with contextlib.suppress(asyncio.CancelledError, ArrivalsClosed):
                await applying
            await runtime.close()

    async def positions_for(assigned: Set[TP]) -> dict[TP, int]:
        topics = projection.topics(settings)
        stored = await _stored_positions(runtime, settings)
        return {tp: stored[(tp.topic, tp.partition)] for tp in assigned
                if tp.topic in topics and (tp.topic, tp.partition) in stored}

    app.positions_for = positions_for
    @app.timer(interval=LAG_INTERVAL_SECONDS)
    async def report_lag() -> None:
        """Export lag (end offsets against stored positions) as a gauge; best effort."""
        try:
            applier = await runtime.applier()
            ends = await end_offsets(settings.kafka_bootstrap, projection.topics(settings))
            stored = await applier.stored_positions()
        except Exception as exc:  # the worker's own retries report the outage
            log.debug("lag not measured", extra={"error": repr(exc)})
            return
        for (topic, partition), behind in lag_by_partition(ends, stored).items():
            CONSUMER_LAG.labels(projection.name, f"{topic}:{partition}").set(behind)

    return app


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
