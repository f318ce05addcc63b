"""`hub relay`: publishes the outbox to Kafka, marking rows sent only once Kafka has them.

One batch is one database transaction: claim pending rows (`FOR UPDATE SKIP LOCKED`, oldest
first), publish them with the idempotent, acks=all `Publisher`, await every acknowledgement,
set `sent_at` and commit. A failure anywhere rolls the transaction back, so the rows stay
pending and are retried with backoff: a Kafka outage only delays events. A crash after publish
and before commit publishes the batch again; the copies keep their `event_id`, and consumers
apply an event once.

Per-key order with several relays at once: a relay first takes the transaction-scoped advisory
lock of each key it will publish (`pg_try_advisory_xact_lock(hashtext(key))`, tried in id order
over pending rows, skipping keys another relay holds: that is what lets relays work side by
side), and only then selects and locks (`FOR UPDATE`) the pending rows of the keys it holds,
oldest first. So one key is published by one relay at a time; the row select runs after the
lock is held, so it sees the key's oldest pending row whatever the previous holder did (it
released the key only by committing its rows as sent or rolling them back to pending); and
each row of a key is acknowledged before the next is published. A plain `SKIP LOCKED` on rows
alone would not keep order: a second relay would skip a key's locked older row and publish a
newer one. (Rows are ordered by id, i.e. by insert time: two business transactions writing
the same key concurrently are in order only among the rows committed when a relay looks.)
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import KafkaError
from sqlalchemy import Select, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import create_engine
from hub.settings import Settings
from hub.streaming.faults import backoff_seconds, is_transient
from producers.outbox import outbox
from producers.publisher import EventPublisher, Publisher, PublishError

log = logging.getLogger(__name__)

# First key of the two-key advisory lock, so the relay's locks cannot meet another user's.
LOCK_CLASS = 4_808_001


@dataclass(frozen=True)
class Pending:
    id: int
    topic: str
    key: str
    value: bytes
    headers: dict[str, str]


def lock_keys(limit: int) -> Select[Any]:
    """Keys of the oldest pending rows, up to `limit` rows, whose advisory lock this transaction
    took. The sort sits behind `OFFSET 0` (a planner fence), so the lock is tried row by row in
    id order and only until `limit` rows qualified, whatever plan PostgreSQL picks."""
    ordered = (
        select(outbox.c.id, outbox.c.key)
        .where(outbox.c.sent_at.is_(None))
        .order_by(outbox.c.id)
        .offset(literal_column("0"))
        .subquery("ordered")
    )
    return (
        select(ordered.c.key)
        .where(func.pg_try_advisory_xact_lock(LOCK_CLASS, func.hashtext(ordered.c.key)))
        .limit(limit)
    )


def claim(keys: set[str], limit: int) -> Select[Any]:
    """The oldest pending rows of keys this transaction holds, locked until commit."""
    return (
        select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers)
        .where(outbox.c.sent_at.is_(None), outbox.c.key.in_(keys))
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update()
    )


def in_key_order(rows: Iterable[Pending]) -> dict[str, list[Pending]]:
    """The claimed rows per key, in id order."""
    by_key: dict[str, list[Pending]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        by_key.setdefault(row.key, []).append(row)
    return by_key


async def publish_in_order(publisher: EventPublisher, by_key: dict[str, list[Pending]]) -> None:
    """Publishes each key's rows one after another (each acknowledged before the next), keys
    side by side; raises `PublishError` once every key has settled if any publish failed."""

    async def one_key(rows: Sequence[Pending]) -> None:
        for row in rows:
            headers = [(name, value.encode()) for name, value in row.headers.items()]
            await publisher.publish(row.topic, row.key, row.value, headers)

    outcomes = await asyncio.gather(*(one_key(rs) for rs in by_key.values()),
                                    return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    if errors:
        raise PublishError(errors, len(by_key)) from errors[0]


async def relay_batch(engine: AsyncEngine, publisher: EventPublisher, limit: int) -> int:
    """One transaction: lock keys, claim up to `limit` of their rows, publish, mark them sent;
    returns how many rows it published."""
    async with engine.begin() as conn:
        keys = set((await conn.execute(lock_keys(limit))).scalars())
        if not keys:
            return 0
        rows = [Pending(*r) for r in (await conn.execute(claim(keys, limit))).all()]
        await publish_in_order(publisher, in_key_order(rows))
        if rows:
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([row.id for row in rows]))
                .values(sent_at=func.now())
            )
        return len(rows)


async def run_relay(
    settings: Settings,
    stop: asyncio.Event,
    *,
    batch: int = 500,
    once: bool = False,
    interval: float = 1.0,
    request_timeout_ms: int = 10_000,
) -> int:
    """Relays until `stop` is set (or, with `once`, until nothing is left to claim); returns
    how many rows it published. Kafka and database faults are retried with backoff."""
    engine = create_engine(settings, pool_size=1)
    publisher: Publisher | None = None
    rng = random.Random()
    attempt = sent = 0
    try:
        while not stop.is_set():
            try:
                if publisher is None:
                    publisher = Publisher(settings.kafka_bootstrap, client_id="profiler-hub-relay",
                                          request_timeout_ms=request_timeout_ms)
                    await publisher.start()
                published = await relay_batch(engine, publisher, batch)
            except Exception as exc:
                if not (isinstance(exc, (KafkaError, PublishError)) or is_transient(exc)):
                    raise
                delay = backoff_seconds(attempt, settings.retry_initial_seconds,
                                        settings.retry_max_seconds, rng)
                attempt += 1
                log.warning("relay batch failed, rows stay pending; retrying in %.1fs: %r",
                            delay, exc)
                # A fresh producer after a failure: no half-failed idempotence state carried on.
                publisher = await _discard(publisher)
                await _wait(stop, delay)
                continue
            attempt = 0
            sent += published
            if published == 0 and once:
                break
            if published < batch and not once:
                await _wait(stop, interval)
    finally:
        await _discard(publisher)
        await engine.dispose()
    return sent


async def _discard(publisher: Publisher | None) -> None:
    if publisher is not None:
        try:
            await publisher.stop()
        except Exception as exc:  # the broker being away is why we discard it
            log.warning("closing the relay's producer failed: %r", exc)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


def serve(settings: Settings, *, batch: int, once: bool, interval: float) -> int:
    """Runs the relay in this process until SIGTERM/SIGINT (or drained, with `once`)."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return await run_relay(settings, stop, batch=batch, once=once, interval=interval)

    return asyncio.run(main())
